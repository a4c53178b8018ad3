/**
 * `tf.variableGrads` with early release (issue 8 "release activations as soon as the backward pass no longer needs
 * them"). tfjs 4.22's `engine.gradients` runs the whole backward pass inside one tidy and frees the tape's saved
 * tensors only at the end, so at the backward peak every forward activation the tape saved *and* every activation
 * gradient ever computed are alive together (about twice the activations). Here the same tape is walked in the same
 * order with the same gradient functions and the same accumulation (so the numbers are bit-identical), but
 *  - a node's saved tensors are freed right after its gradient ran (nothing else reads them: every node saves its own
 *    clones, engine.saveTensorsForBackwardMode), and
 *  - the gradient of a node's outputs is freed once the node has turned it into gradients of its inputs (a tensor's
 *    gradient is complete when its producer is reached, because the tape is in execution order), as are the partial
 *    sums replaced while accumulating.
 * It uses the engine's tape internals (activeTape, startTape/endTape, scopedRun), which are stable across tfjs 4.x
 * but not public API; with nested gradients (higher order) it falls back to tf.variableGrads.
 * `setGradientMode('stock')` switches back to tf.variableGrads for comparisons (bench/memory.ts).
 */
import * as tf from '@tensorflow/tfjs';

export type GradientMode = 'tape' | 'stock';
let mode: GradientMode = 'tape';
export function setGradientMode(m: GradientMode): void {
  mode = m;
}
export function getGradientMode(): GradientMode {
  return mode;
}

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

/** Nodes on a path from one of `xs` to `y`, with inputs not depending on `xs` pruned (same rule as tfjs' tape). */
function pathNodes(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodeToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodeFromX.has(node.id) || !nodeToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[k] = t;
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * Same contract as `tf.variableGrads(f, varList)` with an explicit list: value and gradients keyed by variable name
 * (variables without a path to the loss get none). Non-trainable variables are skipped, as in tfjs.
 */
export function variableGrads(f: () => tf.Scalar, varList: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = tf.engine() as unknown as EngineInternals;
  if (mode === 'stock' || engine.state.gradientDepth > 0) return tf.variableGrads(f, varList);
  const xs = varList.filter((v) => v.trainable);
  if (xs.length === 0) throw new Error('variableGrads: none of the variables is trainable');

  const y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => engine.tidy('forward', f));
  const tape = engine.state.activeTape ?? [];
  let grads: tf.NamedTensorMap;
  // On any failure (a non-scalar loss, a missing gradient, an out-of-memory) the tape's saved activations and the loss
  // are freed and the tape closed, so a failed step leaks nothing.
  try {
    if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error('variableGrads: the loss function must return a scalar');
    const nodes = pathNodes(tape, xs, y);
    const xIds = new Set(xs.map((x) => x.id));

    grads = engine.tidy('backward', () => {
      const acc = new Map<number, tf.Tensor>();
      acc.set(y.id, tf.onesLike(y));
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i];
        if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
        const inputGrads = node.gradient(dys);
        for (const [name, x] of Object.entries(node.inputs)) {
          if (!(name in inputGrads)) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}`);
          let dx = tf.tidy(() => inputGrads[name]());
          if (dx.dtype !== 'float32') throw new Error(`gradient of ${node.kernelName} input ${name} is ${dx.dtype}, not float32`);
          if (!tf.util.arraysEqual(dx.shape, x.shape))
            throw new Error(`gradient of ${node.kernelName} input ${name} has shape [${dx.shape}], the input [${x.shape}]`);
          // A gradient function may hand back dy itself; own a separate handle so freeing dy below keeps it.
          if (dys.includes(dx)) dx = tf.clone(dx);
          const cur = acc.get(x.id);
          if (cur === undefined) acc.set(x.id, dx);
          else {
            acc.set(x.id, tf.add(cur, dx));
            cur.dispose();
            dx.dispose();
          }
        }
        // This node was the producer of its outputs: their gradients are complete and now consumed.
        for (const o of node.outputs) {
          if (xIds.has(o.id)) continue;
          acc.get(o.id)?.dispose();
          acc.delete(o.id);
        }
        if (node.saved) for (const t of node.saved) t.dispose();
      }
      const out: tf.NamedTensorMap = {};
      for (const x of xs) {
        const g = acc.get(x.id);
        if (g) out[x.name] = g;
      }
      return out;
    });
  } catch (e) {
    tf.dispose(y);
    throw e;
  } finally {
    // Free what the remaining (off-path) nodes saved and close the tape, as engine.gradients does at depth 0.
    for (const node of tape) if (node.saved) for (const t of node.saved) t.dispose();
    engine.state.activeTape = null;
  }
  if (Object.keys(grads).length === 0) {
    y.dispose();
    throw new Error('variableGrads: no variable is connected to the loss');
  }
  return { value: y, grads };
}

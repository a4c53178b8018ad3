/**
 * DFL's optimizers (spec §C.8, `core/leras/optimizers/{AdaBelief,RMSprop,OptimizerBase}.py`), in plain tfjs:
 *
 *   AdaBelief: m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·(g − m)²;  w ← w − lr_t·m / (√v + ε)
 *   RMSprop:   a ← ρ·a + (1−ρ)·g²;                             w ← w − lr_t·g / (√a + ε)
 *
 * with β1 0.9, β2 0.999, ρ 0.9, ε = 1e-6 (NumPy's float32 "resolution", outside the root), **no bias correction**
 * (§J.4 quirk 6), lr 5e-5. Options, as DFL wires them in `Model_SAEHD.on_initialize`:
 * - lr_dropout (`lrDropout` = 0.3 when on, 1 = off): each step a fresh Bernoulli(0.3) mask per weight element
 *   multiplies the update (the slots are updated unmasked), and
 * - lr_cos (`lrCos` = 500 when lr_dropout is on, 0 = off): lr_t = lr·(cos(2π·iter/500) + 1)/2 (§J.4 quirk 5).
 *   DFL reads its `iters` variable in the same graph step that increments it, without an ordering constraint; we use
 *   the value *before* the increment (0 on the first step, so the first step runs at the full lr).
 * - clipnorm (`clipNorm` = 1 with clipgrad): the global L2 norm over all gradients handed to this optimizer; when
 *   ‖g‖ ≥ clip every gradient is scaled by clip/‖g‖.
 *
 * State is exposed under DFL's `…_opt.npy` keys (§C.11): `iters:0`, and per variable `ms_<name>` / `vs_<name>`
 * (AdaBelief) or `acc_<name>` (RMSprop), where <name> is the full TF variable name with ':' → '_' plus ':0',
 * e.g. variable `encoder/down1/downs_0/conv1/weight:0` → `ms_encoder/down1/downs_0/conv1/weight_0:0`.
 * The LR-dropout masks are drawn on the CPU (like DFL's `lr_dropout = cpu`) from a seeded PRNG and uploaded as bool
 * tensors; tfjs has no on-device random kernels on every backend.
 *
 * Where the state lives (`models_opt_on_gpu`, §C.1 option table, §C.8; issue 8 memory): on the training backend as
 * tf.Variables (default), or — with the option off — as Float32Arrays in the worker's own memory, which takes the
 * 2× (AdaBelief) or 1× (RMSprop) model size out of the GPU (the 227 MiB of the seed model, spec "GPU memory" verdict).
 * The host update reads each gradient back, runs the same formulas in JS with every operation rounded to float32
 * (Math.fround after each +, −, ×, ÷, √ of float32 operands is exactly IEEE float32, as the backend computes), and
 * uploads only the masked update, which is added to the weight on the backend. Same LR-dropout stream, same clip factor.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOptimizerUpdate, webgpuKernelsUsable, type FusedUpdateItem } from '../webgpu/webgpuKernels.ts';
import { createRng, type Rng } from './rng.ts';

export type OptimizerKind = 'adabelief' | 'rmsprop';

export interface OptimizerConfig {
  kind: OptimizerKind;
  /** Learning rate; DFL uses 5e-5 for every SAEHD optimizer. */
  lr?: number;
  /** Keep-probability of the LR-dropout mask: 0.3 when lr_dropout is on, 1.0 (default) for off. */
  lrDropout?: number;
  /** Period of the cosine LR cycle in iterations: 500 when lr_dropout is on, 0 (default) for off. */
  lrCos?: number;
  /** Global-norm clip: 1.0 with clipgrad, 0 (default) for off. */
  clipNorm?: number;
  /** Seed of the LR-dropout mask stream. */
  seed?: number;
  /** `models_opt_on_gpu`: false keeps the state in host Float32Arrays instead of backend tensors (default true). */
  onBackend?: boolean;
}

export const DFL_LR = 5e-5;
const EPSILON = 1e-6; // np.finfo(np.float32).resolution
const BETA1 = 0.9;
const BETA2 = 0.999;
const RHO = 0.9;
/** DFL writes π as this literal in the lr_cos factor. */
const DFL_PI = 3.1415926535;
/** Elements per fused-update submit on WebGPU (bounds the LR-dropout masks alive at once). */
const FUSED_CHUNK = 1 << 22;

/** DFL's slot-name mangling: `ms_` + variable name with ':' → '_' + ':0' (TF appends the output index). */
export function slotKey(prefix: 'ms' | 'vs' | 'acc', varName: string): string {
  return `${prefix}_${varName.replace(/:/g, '_')}:0`;
}

/** lr multiplier of DFL's lr_cos schedule at iteration `iter` (period 0 = off → 1). */
export function lrCosFactor(iter: number, period: number): number {
  if (!period) return 1;
  return (Math.cos(iter * ((2 * DFL_PI) / period)) + 1) / 2;
}

/**
 * Bernoulli(p) mask (1 with probability p) of the given shape, drawn from `rng` on the CPU. Returned as a bool tensor
 * (1 byte per element to upload); multiply after casting.
 */
export function bernoulliMask(shape: number[], p: number, rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(size);
  const threshold = Math.floor(p * 4294967296);
  for (let i = 0; i < size; i++) out[i] = rng.nextUint32() < threshold ? 1 : 0;
  return tf.tensor(out, shape, 'bool');
}

/**
 * DFL's global-norm clipping (`OptimizerBase.tf_clip_norm` with the norm over all gradients): if ‖g‖ ≥ clip, every
 * gradient is multiplied by clip/‖g‖. Stays on the device (no readback): the factor is selected with `where`.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], clipNorm: number): tf.Tensor[] {
  if (!(clipNorm > 0) || grads.length === 0) return grads.map((g) => tf.clone(g));
  return tf.tidy(() => {
    const scale = clipScale(grads, clipNorm);
    return grads.map((g) => tf.mul(g, scale));
  });
}

/** The factor of `clipByGlobalNorm`: clip/‖g‖ when ‖g‖ ≥ clip, else 1 (a scalar on the device). */
function clipScale(grads: tf.Tensor[], clipNorm: number): tf.Scalar {
  return tf.tidy(() => {
    const sq = grads.map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(sq.length === 1 ? sq[0] : tf.addN(sq));
    return tf.where(tf.greaterEqual(norm, clipNorm), tf.div(clipNorm, norm), tf.onesLike(norm)) as tf.Scalar;
  });
}

/** Shape and element count of one slot (what checkpoint and DFL-import checks compare against). */
export interface SlotInfo {
  shape: number[];
  size: number;
}

/** Optimizer state as plain arrays, for checkpoints; keys are DFL's (see the module comment). */
export interface OptimizerStateData {
  iters: number;
  slots: Map<string, { shape: number[]; data: Float32Array }>;
}

export class DflOptimizer {
  /** Before/after switch for bench/memory.ts: true = the former update, every weight inside one tidy (same numbers). */
  static singleTidy = false;
  readonly kind: OptimizerKind;
  readonly lr: number;
  readonly lrDropout: number;
  readonly lrCos: number;
  readonly clipNorm: number;
  /** DFL's `iters` variable: number of applied updates. */
  iterations = 0;
  private readonly vars: Map<string, tf.Variable>;
  /** false = `models_opt_on_gpu` off: the slots are host arrays (`hostSlots`), not backend variables (`slotVars`). */
  readonly onBackend: boolean;
  /** Slots per variable name: [m, v] for AdaBelief, [acc] for RMSprop. Backend mode only. */
  private readonly slotVars = new Map<string, tf.Variable[]>();
  /** The same slots as host arrays (host mode only). */
  private readonly hostSlots = new Map<string, Float32Array[]>();
  /** DFL slot key → variable name and slot index. */
  private readonly keyIndex = new Map<string, { name: string; index: number }>();
  private readonly rng: Rng;
  private disposed = false;

  /**
   * @param vars every weight the optimizer keeps state for, keyed by full DFL variable name
   *   (e.g. `encoder/down1/downs_0/conv1/weight:0`). DFL creates slots for all saveable weights even when some are
   *   frozen (LIAE inter_AB without random warp); pass gradients only for the trainable ones.
   */
  constructor(vars: Map<string, tf.Variable>, config: OptimizerConfig) {
    this.kind = config.kind;
    this.lr = config.lr ?? DFL_LR;
    this.lrDropout = config.lrDropout ?? 1;
    this.lrCos = config.lrCos ?? 0;
    this.clipNorm = config.clipNorm ?? 0;
    this.rng = createRng(config.seed ?? 0x5eed);
    this.onBackend = config.onBackend ?? true;
    this.vars = new Map(vars);
    for (const [name, v] of this.vars) {
      const n = this.kind === 'adabelief' ? 2 : 1;
      this.slotKeys(name).forEach((k, index) => this.keyIndex.set(k, { name, index }));
      if (!this.onBackend) {
        this.hostSlots.set(name, Array.from({ length: n }, () => new Float32Array(v.size)));
        continue;
      }
      const slots: tf.Variable[] = [];
      // tidy frees the zeros tensor the variable was initialised from (the variable keeps its own reference).
      for (let i = 0; i < n; i++) slots.push(tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
      this.slotVars.set(name, slots);
    }
  }

  /** The DFL file keys of the slots of one variable. */
  slotKeys(varName: string): string[] {
    return this.kind === 'adabelief' ? [slotKey('ms', varName), slotKey('vs', varName)] : [slotKey('acc', varName)];
  }

  /**
   * Live slot variables keyed by DFL file key (owned by the optimizer: do not dispose). Backend mode only; code that
   * must work in both modes uses slotInfo / slotData / setSlotData / readState / loadState.
   */
  slots(): Map<string, tf.Variable> {
    if (!this.onBackend) throw new Error('optimizer state is in host memory (models_opt_on_gpu off): use slotData()');
    const out = new Map<string, tf.Variable>();
    for (const [name, s] of this.slotVars) {
      const keys = this.slotKeys(name);
      keys.forEach((k, i) => out.set(k, s[i]));
    }
    return out;
  }

  /** Shape and size of every slot keyed by DFL file key, in either mode. */
  slotInfo(): Map<string, SlotInfo> {
    const out = new Map<string, SlotInfo>();
    for (const [name, v] of this.vars) for (const k of this.slotKeys(name)) out.set(k, { shape: v.shape.slice(), size: v.size });
    return out;
  }

  /** Variable name and slot index of a DFL slot key, or null. */
  private slotOf(key: string): { name: string; index: number } | null {
    return this.keyIndex.get(key) ?? null;
  }

  /** A copy of one slot's values (either mode); throws for an unknown key. */
  async slotData(key: string): Promise<Float32Array> {
    const at = this.slotOf(key);
    if (!at) throw new Error(`optimizer has no slot ${key}`);
    if (!this.onBackend) return this.hostSlots.get(at.name)![at.index].slice();
    // A copy: the cpu backend hands out its live buffer.
    return ((await this.slotVars.get(at.name)![at.index].data()) as Float32Array).slice();
  }

  /** Overwrite one slot (either mode); only the element count must match, as in loadState. */
  setSlotData(key: string, data: ArrayLike<number>): void {
    const at = this.slotOf(key);
    if (!at) throw new Error(`optimizer has no slot ${key}`);
    this.writeSlot(key, at, data);
  }

  private writeSlot(key: string, at: { name: string; index: number }, data: ArrayLike<number>): void {
    const size = this.vars.get(at.name)!.size;
    if (data.length !== size) throw new Error(`optimizer slot ${key}: ${data.length} values for shape [${this.vars.get(at.name)!.shape}]`);
    if (!this.onBackend) {
      this.hostSlots.get(at.name)![at.index].set(data);
      return;
    }
    const v = this.slotVars.get(at.name)![at.index];
    tf.tidy(() => v.assign(tf.tensor(Float32Array.from(data), v.shape, 'float32')));
  }

  /**
   * One update, in either mode: the host path (models_opt_on_gpu off) reads gradients back, so it is asynchronous;
   * the backend path is `applyGradients`. Same arguments and ownership rules as `applyGradients`.
   */
  async update(grads: Map<string, tf.Tensor>, consume = false): Promise<void> {
    if (this.onBackend) this.applyGradients(grads, consume);
    else await this.applyGradientsHost(grads, consume);
  }

  /**
   * One update. `grads` maps variable names to gradients (of the loss summed over the batch, §C.5); variables
   * without a gradient are left alone (frozen). The caller keeps ownership of `grads` unless `consume` is set, in
   * which case each gradient is disposed as soon as its weight is updated.
   */
  applyGradients(grads: Map<string, tf.Tensor>, consume = false): void {
    if (this.disposed) throw new Error('optimizer disposed');
    if (!this.onBackend) throw new Error('optimizer state is in host memory (models_opt_on_gpu off): use update()');
    const names = [...grads.keys()];
    for (const n of names) if (!this.vars.has(n)) throw new Error(`optimizer has no variable ${n}`);
    const lrT = this.lr * lrCosFactor(this.iterations, this.lrCos);
    // Issue 8 (memory): one tidy per weight, so each weight's ~8 full-size temporaries die before the next weight's
    // are made (one tidy over all weights kept ~8× the model size alive at the end of the update). The clip factor is
    // one scalar computed first; g·factor per weight is the same multiplication clipByGlobalNorm does.
    const scale = this.clipNorm > 0 && names.length > 0 ? tf.tidy(() => clipScale(names.map((n) => grads.get(n)!), this.clipNorm)) : null;
    try {
      if (webgpuKernelsUsable() && !DflOptimizer.singleTidy) {
        this.applyFused(names, grads, lrT, scale, consume);
        this.iterations++;
        return;
      }
      const update = (fn: (name: string) => void) =>
        DflOptimizer.singleTidy ? tf.tidy(() => names.forEach(fn)) : names.forEach((n) => tf.tidy(() => fn(n)));
      update((name) => {
        const raw = grads.get(name)!;
        const g = scale ? tf.mul(raw, scale) : raw;
        const w = this.vars.get(name)!;
        const slots = this.slotVars.get(name)!;
        let diff: tf.Tensor;
        if (this.kind === 'adabelief') {
          const [ms, vs] = slots;
          const m = tf.add(tf.mul(ms, BETA1), tf.mul(g, 1 - BETA1));
          const v = tf.add(tf.mul(vs, BETA2), tf.mul(tf.square(tf.sub(g, m)), 1 - BETA2));
          diff = tf.div(tf.mul(m, -lrT), tf.add(tf.sqrt(v), EPSILON));
          ms.assign(m);
          vs.assign(v);
        } else {
          const [acc] = slots;
          const a = tf.add(tf.mul(acc, RHO), tf.mul(tf.square(g), 1 - RHO));
          diff = tf.div(tf.mul(g, -lrT), tf.add(tf.sqrt(a), EPSILON));
          acc.assign(a);
        }
        if (this.lrDropout !== 1) diff = tf.mul(diff, tf.cast(bernoulliMask(w.shape, this.lrDropout, this.rng), 'float32'));
        w.assign(tf.add(w, diff));
        // The caller handed the gradient over: free it now rather than after every weight is updated.
        if (consume && !DflOptimizer.singleTidy) grads.get(name)!.dispose();
      });
    } finally {
      scale?.dispose();
    }
    this.iterations++;
  }

  /**
   * The backend path on WebGPU: one in-place dispatch per weight (src/core/webgpu/webgpuKernels.ts), same formulas and
   * float32 steps as the ops above. Weights go in chunks of at most FUSED_CHUNK elements so the LR-dropout masks of
   * one chunk only are alive at a time; the masks are drawn in the same order as the op path's.
   */
  private applyFused(names: string[], grads: Map<string, tf.Tensor>, lrT: number, scale: tf.Tensor | null, consume: boolean): void {
    const consts = { kind: this.kind, negLr: -lrT, beta1: BETA1, beta2: BETA2, rho: RHO, eps: EPSILON };
    let chunk: FusedUpdateItem[] = [];
    let size = 0;
    const flush = () => {
      try {
        fusedOptimizerUpdate(chunk, consts, scale);
      } finally {
        for (const it of chunk) {
          it.mask?.dispose();
          if (consume) it.g.dispose();
        }
        chunk = [];
        size = 0;
      }
    };
    for (const name of names) {
      const w = this.vars.get(name)!;
      const mask = this.lrDropout !== 1 ? bernoulliMask(w.shape, this.lrDropout, this.rng) : null;
      chunk.push({ w, slots: this.slotVars.get(name)!, g: grads.get(name)!, mask });
      size += w.size;
      if (size >= FUSED_CHUNK) flush();
    }
    if (chunk.length) flush();
  }

  /**
   * The host path of `update` (§C.8 formulas, float32 rounding as on the backend; see the module comment). Per weight:
   * read the gradient back, free it when consumed, update the host slots in place, upload the masked update and add it
   * to the weight on the backend (2 weight-sized backend temporaries instead of the backend path's ~8).
   */
  private async applyGradientsHost(grads: Map<string, tf.Tensor>, consume: boolean): Promise<void> {
    if (this.disposed) throw new Error('optimizer disposed');
    const names = [...grads.keys()];
    for (const n of names) if (!this.vars.has(n)) throw new Error(`optimizer has no variable ${n}`);
    const f = Math.fround;
    // The backend multiplies by these scalars as float32 tensors; round them the same way.
    const negLr = f(-(this.lr * lrCosFactor(this.iterations, this.lrCos)));
    const b1 = f(BETA1);
    const ob1 = f(1 - BETA1);
    const b2 = f(BETA2);
    const ob2 = f(1 - BETA2);
    const rho = f(RHO);
    const orho = f(1 - RHO);
    const eps = f(EPSILON);
    // The global clip factor needs every gradient: computed on the backend exactly as there, one scalar read back.
    let scale = 1;
    let clip = false;
    if (this.clipNorm > 0 && names.length > 0) {
      const s = tf.tidy(() => clipScale(names.map((n) => grads.get(n)!), this.clipNorm));
      try {
        scale = (await s.data())[0];
      } finally {
        s.dispose();
      }
      clip = true;
    }
    const dropout = this.lrDropout !== 1;
    const threshold = Math.floor(this.lrDropout * 4294967296);
    for (const name of names) {
      const gt = grads.get(name)!;
      const g = (await gt.data()) as Float32Array;
      if (consume) gt.dispose();
      const w = this.vars.get(name)!;
      const slots = this.hostSlots.get(name)!;
      const diff = new Float32Array(g.length);
      if (this.kind === 'adabelief') {
        const [ms, vs] = slots;
        for (let i = 0; i < g.length; i++) {
          const gi = clip ? f(g[i] * scale) : g[i];
          const m = f(f(ms[i] * b1) + f(gi * ob1));
          const d = f(gi - m);
          const v = f(f(vs[i] * b2) + f(f(d * d) * ob2));
          ms[i] = m;
          vs[i] = v;
          diff[i] = f(f(m * negLr) / f(f(Math.sqrt(v)) + eps));
        }
      } else {
        const [acc] = slots;
        for (let i = 0; i < g.length; i++) {
          const gi = clip ? f(g[i] * scale) : g[i];
          const a = f(f(acc[i] * rho) + f(f(gi * gi) * orho));
          acc[i] = a;
          diff[i] = f(f(gi * negLr) / f(f(Math.sqrt(a)) + eps));
        }
      }
      // Same draws, in the same order, as bernoulliMask on the backend path; a dropped element's update is ±0.
      if (dropout) for (let i = 0; i < diff.length; i++) if (!(this.rng.nextUint32() < threshold)) diff[i] *= 0;
      tf.tidy(() => w.assign(tf.add(w, tf.tensor(diff, w.shape, 'float32'))));
    }
    this.iterations++;
  }

  /** Bytes of optimizer state held as tensors of the training backend (issue 8 memory accounting); 0 in host mode. */
  backendSlotBytes(): number {
    let n = 0;
    for (const s of this.slotVars.values()) for (const v of s) n += v.size * 4;
    return n;
  }

  /** Bytes of optimizer state held in host memory (models_opt_on_gpu off); 0 in backend mode. */
  hostSlotBytes(): number {
    let n = 0;
    for (const s of this.hostSlots.values()) for (const a of s) n += a.byteLength;
    return n;
  }

  /** Read the state back (asynchronously) for saving; the arrays are copies. */
  async readState(): Promise<OptimizerStateData> {
    const slots = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [key, info] of this.slotInfo()) slots.set(key, { shape: info.shape, data: await this.slotData(key) });
    return { iters: this.iterations, slots };
  }

  /**
   * Load saved state. Slots whose key is missing stay as they are (DFL re-initialises missing keys; a fresh optimizer
   * has zeros); arrays are reshaped to the slot's shape as DFL does, so only the element count must match.
   * The counter comes from `iters` or, as in a DFL `…_opt.npy` dict, from a `iters:0` entry among the slots.
   */
  loadState(state: { iters?: number; slots: ReadonlyMap<string, { data: ArrayLike<number | bigint> }> }): void {
    let iters = state.iters;
    for (const [key, { data }] of state.slots) {
      if (key === 'iters:0') {
        // DFL stores the counter as an int64 scalar in the same file (§C.8, §C.11).
        if (iters === undefined && data.length > 0) iters = Number(data[0]);
        continue;
      }
      const at = this.slotOf(key);
      if (!at) continue;
      this.writeSlot(key, at, data as ArrayLike<number>);
    }
    if (iters !== undefined) this.iterations = iters;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.slotVars.values()) for (const v of s) v.dispose();
    this.slotVars.clear();
    this.hostSlots.clear();
  }
}

/// <reference lib="webworker" />
/**
 * The training studio's worker (studio.protocol.ts). The model, trainer and sample workers are set up as in
 * trainer.worker.ts; a checkpoint is restored with restoreState and captured with captureState (src/core/checkpoint/
 * modelState.ts), so the page's checkpoints and the command line's model files are one format.
 */
import * as tf from '@tensorflow/tfjs';
import { SaehdError } from '../src/core/errors.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../src/core/checkpoint/checkpointFile.ts';
import { captureState, restoreState } from '../src/core/checkpoint/modelState.ts';
import { createSaehd, type SaehdModel } from '../src/core/model/saehd.ts';
import type { ModelOptions } from '../src/core/model/options.ts';
import { probeBackendEnv, setupBackend, type BackendEnv, type BackendName } from '../src/core/train/backend.ts';
import { createTrainer, type TrainBatch, type Trainer } from '../src/core/train/trainStep.ts';
import { WorkerCallError, WorkerClient } from '../src/ui/lib/workerClient.ts';
import { serve } from './lib/serve.ts';
import { describeAdapter, prepareWasm, sideOptions, type Side } from './lib/tfjsSetup.ts';
import type { SampleBatchMessage, SamplesCalls } from './samples.protocol.ts';
import type { StudioCalls, StudioInitRequest, StudioInitResult, StudioPreview } from './studio.protocol.ts';


interface Session {
  options: ModelOptions;
  backend: BackendName;
  model: SaehdModel;
  trainer: Trainer;
  samples: Record<Side, WorkerClient<SamplesCalls>>;
  pending: { src: Promise<SampleBatchMessage>; dst: Promise<SampleBatchMessage> } | null;
  lossHistory: [number, number][];
  /** Fixed preview faces (targets of the first batch of each side), so previews and the timelapse compare like with like. */
  previewFaces: { src: Float32Array; dst: Float32Array; n: number } | null;
}

let session: Session | null = null;
let backendEnv: BackendEnv | null = null;

/** One step, one capture or one preview at a time. */
let lock: Promise<unknown> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = lock.then(fn, fn);
  lock = run.catch(() => undefined);
  return run;
}

class NotInitialisedError extends SaehdError {
  constructor() {
    super('trainer-not-initialised', 'the trainer has no model yet: open or create a model and start training');
  }
}

function need(): Session {
  if (!session) throw new NotInitialisedError();
  return session;
}

function closeSession(): void {
  if (!session) return;
  const s = session;
  session = null;
  s.pending?.src.catch(() => undefined);
  s.pending?.dst.catch(() => undefined);
  s.samples.src.terminate();
  s.samples.dst.terminate();
  s.trainer.dispose();
  s.model.dispose();
}



function spawnSamples(side: Side): WorkerClient<SamplesCalls> {
  return new WorkerClient<SamplesCalls>(new Worker(new URL('./samples.worker.ts', import.meta.url), { type: 'module', name: `studio-samples-${side}` }));
}

function requestPair(s: Session): NonNullable<Session['pending']> {
  const p = { src: s.samples.src.call('next', {}), dst: s.samples.dst.call('next', {}) };
  p.src.catch(() => undefined);
  p.dst.catch(() => undefined);
  return p;
}

async function takePair(s: Session): Promise<TrainBatch> {
  s.pending ??= requestPair(s);
  const pair = s.pending;
  const [src, dst] = await Promise.all([pair.src, pair.dst]).catch((e: unknown) => {
    s.pending = null;
    throw e instanceof WorkerCallError ? new SaehdError(e.code, e.message) : e;
  });
  s.pending = requestPair(s);
  return { src, dst };
}


async function init(req: StudioInitRequest): Promise<StudioInitResult> {
  await exclusive(async () => closeSession());
  backendEnv ??= await probeBackendEnv();
  const env = backendEnv;
  if (req.backend === 'auto' || req.backend === 'wasm') await prepareWasm();
  const choice = await setupBackend(req.backend, { env });
  const seed = req.seed >>> 0;
  const prefetch = Math.max(1, req.prefetch ?? 3);
  let model: SaehdModel;
  let trainer: Trainer;
  let options: ModelOptions;
  let lossHistory: [number, number][] = [];
  let extra: Record<string, unknown> = {};
  let notes: string[] = [];
  if (req.checkpoint) {
    // Decoding checks the CRC; restoreState checks every shape: a bad file throws here and nothing is kept.
    const r = await restoreState(decodeCheckpoint(req.checkpoint), { seed, overrides: req.overrides ?? {} });
    model = r.model;
    trainer = r.trainer!;
    options = r.options;
    lossHistory = r.lossHistory;
    extra = r.extra;
    notes = [...r.changed.map((c) => `changed: ${c}`), ...r.kept, ...r.notes];
  } else {
    options = req.options;
    model = createSaehd(options, seed);
    try {
      trainer = createTrainer(model, options, { seed });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const samples = { src: spawnSamples('src'), dst: spawnSamples('dst') };
  const s: Session = { options, backend: choice.backend, model, trainer, samples, pending: null, lossHistory, previewFaces: null };
  session = s;
  try {
    const start = (side: Side, id: string) =>
      samples[side].call('init', { options: sideOptions(options, side, id, seed, prefetch) }).catch((e: unknown) => {
        const code = e instanceof WorkerCallError ? e.code : 'samples';
        throw new SaehdError(code, `${side === 'src' ? 'source' : 'destination'} faceset: ${e instanceof Error ? e.message : String(e)}`);
      });
    const [src, dst] = await Promise.all([start('src', req.srcFacesetId), start('dst', req.dstFacesetId)]);
    const { adapter, software } = await describeAdapter(choice.backend, env);
    return {
      backend: choice.backend,
      reason: choice.reason,
      adapter,
      softwareAdapter: software,
      params: model.paramCount(),
      options,
      iter: trainer.iter,
      lossHistory: lossHistory.slice(),
      extra,
      notes,
      srcFaces: src.faces,
      dstFaces: dst.faces,
      numTensors: tf.memory().numTensors,
    };
  } catch (e) {
    closeSession();
    throw e;
  }
}

async function ensurePreviewFaces(s: Session): Promise<NonNullable<Session['previewFaces']>> {
  if (s.previewFaces) return s.previewFaces;
  const b = await takePair(s);
  const one = s.options.resolution ** 2 * s.options.channels;
  const n = Math.min(4, s.options.batch_size);
  s.previewFaces = { src: b.src.target.slice(0, n * one), dst: b.dst.target.slice(0, n * one), n };
  return s.previewFaces;
}

async function renderPreview(s: Session, rows: number): Promise<StudioPreview> {
  const f = await ensurePreviewFaces(s);
  const o = s.options;
  const res = o.resolution;
  const ch = o.channels;
  const n = Math.max(1, Math.min(rows, f.n));
  const one = res * res * ch;
  const outs = tf.tidy(() => {
    const src = tf.tensor4d(f.src.subarray(0, n * one), [n, res, res, ch]);
    const dst = tf.tensor4d(f.dst.subarray(0, n * one), [n, res, res, ch]);
    const ss = s.model.predict(src, 'src_src');
    const dd = s.model.predict(dst, 'dst_dst');
    const sd = s.model.predict(dst, 'src_dst');
    const rgb = (t: tf.Tensor4D) => (ch === 3 ? tf.reverse(t, 3) : t);
    return [src, ss.image, dst, dd.image, sd.image].map(rgb).concat([ss.mask, dd.mask, sd.mask]).map((t) => tf.keep(t));
  });
  try {
    const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    const rowsOut: StudioPreview['rows'] = [];
    for (let r = 0; r < n; r++) {
      const img = (k: number) => data[k].slice(r * one, (r + 1) * one);
      const msk = (k: number) => data[k].slice(r * res * res, (r + 1) * res * res);
      rowsOut.push({ images: [0, 1, 2, 3, 4].map(img), masks: [5, 6, 7].map(msk) });
    }
    return { iter: s.trainer.iter, resolution: res, channels: ch, rows: rowsOut, numTensors: 0 };
  } finally {
    tf.dispose(outs);
  }
}

serve<StudioCalls>({
  init,

  async train(req, ctx) {
    const s = need();
    const iterations = Math.max(0, Math.floor(req.iterations));
    let steps = 0;
    while (steps < iterations && !ctx.signal.aborted) {
      const p = await exclusive(async () => {
        if (session !== s) throw new NotInitialisedError();
        const t0 = performance.now();
        const batch = await takePair(s);
        const waitMs = performance.now() - t0;
        if (!s.previewFaces) {
          const one = s.options.resolution ** 2 * s.options.channels;
          const n = Math.min(4, s.options.batch_size);
          s.previewFaces = { src: batch.src.target.slice(0, n * one), dst: batch.dst.target.slice(0, n * one), n };
        }
        const r = await s.trainer.step(batch);
        s.lossHistory.push([r.srcLoss, r.dstLoss]);
        return { iter: r.iter, srcLoss: r.srcLoss, dstLoss: r.dstLoss, msPerIter: performance.now() - t0, waitMs, numTensors: tf.memory().numTensors };
      });
      steps++;
      ctx.progress(p);
    }
    return { iter: s.trainer.iter, steps, numTensors: tf.memory().numTensors };
  },

  async preview(req) {
    const s = need();
    const p = await exclusive(() => renderPreview(s, req.rows ?? 4));
    return { ...p, numTensors: tf.memory().numTensors };
  },

  async capture(req, ctx) {
    const s = need();
    const bytes = await exclusive(async () =>
      encodeCheckpoint(await captureState(s.model, s.trainer, s.options, s.lossHistory, req.extra)),
    );
    ctx.transfer(bytes.buffer as ArrayBuffer);
    return { bytes, iter: s.trainer.iter, numTensors: tf.memory().numTensors };
  },

  async verify(req) {
    if (session) throw new SaehdError('busy', 'verify runs in a worker of its own, not in a training one');
    await setupBackend('cpu');
    const r = await restoreState(decodeCheckpoint(req.checkpoint), {});
    try {
      return { iter: r.iter, params: r.model.paramCount(), notes: r.notes };
    } finally {
      r.trainer?.dispose();
      r.model.dispose();
    }
  },

  async tensors() {
    return { numTensors: tf.memory().numTensors };
  },

  async dispose() {
    await exclusive(async () => closeSession());
    return { numTensors: tf.memory().numTensors };
  },
});

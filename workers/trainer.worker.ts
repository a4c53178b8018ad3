/// <reference lib="webworker" />
/**
 * Trainer worker (trainer.protocol.ts): every tensor of the model lives here, on the backend `init` chose
 * (src/core/train/backend.ts; WebGPU / WebGL / wasm / cpu). Batches come from two nested sample workers, one per side,
 * each with its own queue of ready batches, so decoding and warping overlap the GPU step (issue 3 "Samples").
 *
 * Per iteration: take the src and dst batches (ready in the queues), ask for the next pair right away (the
 * postMessage round trip then overlaps the step), run the step (its losses come back through `await data()`,
 * never a synchronous read-back; a NaN/Inf loss rejects with NonFiniteLossError and ends the call as an error).
 */
import * as tf from '@tensorflow/tfjs';
import { SaehdError, throwIfAborted } from '../src/core/errors.ts';
import { createSaehd, type SaehdModel } from '../src/core/model/saehd.ts';
import type { ModelOptions } from '../src/core/model/options.ts';
import { probeBackendEnv, setupBackend, type BackendEnv, type BackendName } from '../src/core/train/backend.ts';
import { createTrainer, type TrainBatch, type Trainer } from '../src/core/train/trainStep.ts';
import { WorkerCallError, WorkerClient } from '../src/ui/lib/workerClient.ts';
import { serve } from './lib/serve.ts';
import { describeAdapter, prepareWasm, sideOptions, type Side } from './lib/tfjsSetup.ts';
import type { SampleBatchMessage, SamplesCalls } from './samples.protocol.ts';
import type { TrainerCalls, TrainerInitRequest, TrainerInitResult, TrainPreview } from './trainer.protocol.ts';


interface Session {
  options: ModelOptions;
  backend: BackendName;
  model: SaehdModel;
  trainer: Trainer;
  samples: Record<Side, WorkerClient<SamplesCalls>>;
  /** The next batch of each side, already requested. */
  pending: { src: Promise<SampleBatchMessage>; dst: Promise<SampleBatchMessage> } | null;
}

let session: Session | null = null;
/** Facts from the first probe (the adapter does not change while the worker lives). */
let backendEnv: BackendEnv | null = null;

class NotInitialisedError extends SaehdError {
  constructor() {
    super('trainer-not-initialised', 'the trainer has no model yet: start it with a model and two facesets');
  }
}

function closeSession(): void {
  if (!session) return;
  const s = session;
  session = null;
  // Queued batch requests die with their workers; their rejections are expected.
  s.pending?.src.catch(() => undefined);
  s.pending?.dst.catch(() => undefined);
  s.samples.src.terminate();
  s.samples.dst.terminate();
  s.trainer.dispose();
  s.model.dispose();
}

function gpuBytesAllocated(backend: BackendName): number | null {
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number; numBytesInGPUAllocated?: number };
  // webgpu: every GPUBuffer its buffer manager created (in use or pooled); webgl: the texture pool's bytes.
  if (backend === 'webgpu') return m.numBytesAllocatedInGPU ?? null;
  if (backend === 'webgl') return m.numBytesInGPUAllocated ?? null;
  return null;
}

/**
 * Peak bytes held by live GPU buffers during a step. tfjs-backend-webgpu pools buffers by exact (size, usage) and
 * never frees them (buffer_manager.js), so numBytesAllocatedInGPU is the footprint the pool keeps while this peak is
 * what the step actually needs at once; both matter for a 2 GB card. Tracked by observing `acquireBuffer`, the one
 * place numBytesUsed grows; behaviour is unchanged.
 */
let inUsePeak = 0;
const observedManagers = new WeakSet<object>();
function observeGpuBuffers(): void {
  const bm = (tf.backend() as unknown as { bufferManager?: { numBytesUsed: number; acquireBuffer: (...a: unknown[]) => unknown } }).bufferManager;
  if (!bm || typeof bm.acquireBuffer !== 'function' || observedManagers.has(bm)) return;
  observedManagers.add(bm);
  const acquire = bm.acquireBuffer.bind(bm);
  bm.acquireBuffer = (...a: unknown[]) => {
    const buffer = acquire(...a);
    if (bm.numBytesUsed > inUsePeak) inUsePeak = bm.numBytesUsed;
    return buffer;
  };
}



function spawnSamples(side: Side): WorkerClient<SamplesCalls> {
  return new WorkerClient<SamplesCalls>(new Worker(new URL('./samples.worker.ts', import.meta.url), { type: 'module', name: `samples-${side}` }));
}

function requestPair(s: Session): NonNullable<Session['pending']> {
  const p = { src: s.samples.src.call('next', {}), dst: s.samples.dst.call('next', {}) };
  // Kept for a later `train` call if this one is cancelled; never an unhandled rejection.
  p.src.catch(() => undefined);
  p.dst.catch(() => undefined);
  return p;
}

/** DFL's preview columns for the first sample of the batch (model outputs are BGR with 3 channels → RGB). */
function makePreview(s: Session, batch: TrainBatch, iter: number): Promise<TrainPreview> {
  const o = s.options;
  const res = o.resolution;
  const ch = o.channels;
  const one = res * res * ch;
  const images = tf.tidy(() => {
    const srcT = tf.tensor4d(batch.src.target.subarray(0, one), [1, res, res, ch]);
    const dstT = tf.tensor4d(batch.dst.target.subarray(0, one), [1, res, res, ch]);
    const out = [srcT, s.model.predict(srcT, 'src_src').image, dstT, s.model.predict(dstT, 'dst_dst').image, s.model.predict(dstT, 'src_dst').image];
    return out.map((t) => (ch === 3 ? tf.reverse(t, 3) : t)).map((t) => tf.keep(t));
  });
  return Promise.all(images.map((t) => t.data() as Promise<Float32Array>)).then((data) => {
    tf.dispose(images);
    return { iter, resolution: res, channels: ch, images: data };
  });
}



async function init(req: TrainerInitRequest): Promise<TrainerInitResult> {
  closeSession();
  backendEnv ??= await probeBackendEnv();
  const env = backendEnv;
  if (req.backend === 'auto' || req.backend === 'wasm') await prepareWasm();
  // setupBackend calls tf.setBackend (and, for wasm, setWasmPaths with <origin>/wasm/ first, as workers need an absolute URL).
  const choice = await setupBackend(req.backend, { env });
  if (choice.backend === 'webgpu') observeGpuBuffers();
  const o = req.options;
  const seed = req.seed >>> 0;
  const prefetch = Math.max(1, req.prefetch ?? 3);
  const model = createSaehd(o, seed);
  let trainer: Trainer;
  try {
    trainer = createTrainer(model, o, { seed });
  } catch (e) {
    model.dispose();
    throw e;
  }
  const samples = { src: spawnSamples('src'), dst: spawnSamples('dst') };
  const s: Session = { options: o, backend: choice.backend, model, trainer, samples, pending: null };
  session = s;
  try {
    // Name the side in errors, so "the faceset is empty" says which one.
    const start = (side: Side, id: string) =>
      samples[side].call('init', { options: sideOptions(o, side, id, seed, prefetch) }).catch((e: unknown) => {
        const code = e instanceof WorkerCallError ? e.code : 'samples';
        throw new SaehdError(code, `${side === 'src' ? 'source' : 'destination'} faceset: ${e instanceof Error ? e.message : String(e)}`);
      });
    const [src, dst] = await Promise.all([start('src', req.srcFacesetId), start('dst', req.dstFacesetId)]);
    const { adapter, software } = await describeAdapter(choice.backend, env);
    return {
      backend: choice.backend,
      reason: choice.reason,
      params: model.paramCount(),
      adapter,
      softwareAdapter: software,
      srcFaces: src.faces,
      dstFaces: dst.faces,
      numTensors: tf.memory().numTensors,
    };
  } catch (e) {
    closeSession();
    throw e;
  }
}

serve<TrainerCalls>({
  init,

  async train(req, ctx) {
    const s = session;
    if (!s) throw new NotInitialisedError();
    const iterations = Math.max(0, Math.floor(req.iterations));
    let steps = 0;
    let last: { srcLoss: number; dstLoss: number } | null = null;
    let peak: number | null = null;
    let peakInUse: number | null = null;
    s.pending ??= requestPair(s);
    while (steps < iterations && !ctx.signal.aborted) {
      const t0 = performance.now();
      const pair = s.pending;
      const [src, dst] = await Promise.all([pair.src, pair.dst]).catch((e: unknown) => {
        throw e instanceof WorkerCallError ? new SaehdError(e.code, e.message) : e;
      });
      const waitMs = performance.now() - t0;
      s.pending = requestPair(s);
      const batch: TrainBatch = { src, dst };
      inUsePeak = 0;
      const r = await s.trainer.step(batch);
      const stepInUse = s.backend === 'webgpu' ? inUsePeak : null;
      if (stepInUse !== null) peakInUse = Math.max(peakInUse ?? 0, stepInUse);
      const msPerIter = performance.now() - t0;
      steps++;
      last = { srcLoss: r.srcLoss, dstLoss: r.dstLoss };
      const gpu = gpuBytesAllocated(s.backend);
      if (gpu !== null) peak = Math.max(peak ?? 0, gpu);
      const preview = req.previewEvery && r.iter % req.previewEvery === 0 ? await makePreview(s, batch, r.iter) : undefined;
      ctx.progress({
        iter: r.iter, srcLoss: r.srcLoss, dstLoss: r.dstLoss, msPerIter, waitMs,
        numTensors: tf.memory().numTensors, gpuBytesAllocated: gpu, gpuBytesInUsePeak: stepInUse, ...(preview ? { preview } : {}),
      });
    }
    return { iter: s.trainer.iter, lastLosses: last, steps, cancelled: steps < iterations, peakGpuBytes: peak, peakGpuBytesInUse: peakInUse };
  },

  async matmul(req, ctx) {
    if (!session) throw new NotInitialisedError();
    const n = Math.max(1, Math.floor(req.size));
    const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
    const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
    try {
      const run = async () => {
        const c = tf.matMul(a, b);
        try {
          await c.data(); // waits for the GPU; the copy of n² floats is small next to the 2n³ FLOP
        } finally {
          c.dispose();
        }
      };
      await run(); // shader compilation and buffer allocation
      const reps = Math.max(1, Math.floor(req.reps));
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) {
        throwIfAborted(ctx.signal);
        await run();
      }
      const ms = (performance.now() - t0) / reps;
      return { gflops: (2 * n * n * n) / (ms * 1e6), msPerRun: ms };
    } finally {
      tf.dispose([a, b]);
    }
  },

  async sampleRate(req) {
    if (!session) throw new NotInitialisedError();
    return session.samples.src.call('measure', { batches: req.batches });
  },

  async dispose() {
    closeSession();
    return { numTensors: tf.memory().numTensors };
  },
});

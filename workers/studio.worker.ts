/// <reference lib="webworker" />
/**
 * The training worker (studio.protocol.ts). Every tensor of the model lives here, on the backend `init` chose
 * (src/core/train/backend.ts; WebGPU / WebGL / wasm / cpu). Batches come from two nested sample workers, one per side,
 * each with its own queue of ready batches, so decoding and warping overlap the GPU step (issue 3 "Samples").
 *
 * Per iteration: take the src and dst batches (ready in the queues), ask for the next pair right away (the postMessage
 * round trip then overlaps the step), run the step (its losses come back through `await data()`, never a synchronous
 * read-back; a NaN/Inf loss rejects with NonFiniteLossError and ends the call as an error).
 *
 * A checkpoint is restored with restoreState and captured with captureState (src/core/checkpoint/modelState.ts), so the
 * page's checkpoints and the command line's model files are one format. The fixed preview faces travel in the
 * checkpoint as attachments (issue 5: previews after a reload show the same faces), as does an imported DFL model's
 * data.dat (issue 4: its other keys go back out on export).
 *
 * WebGPU device loss (a driver reset, a removed or sleeping GPU): the device's `lost` promise settles; from then on
 * every call fails with DEVICE_LOST_CODE, and the studio replaces this worker and resumes from the last good save.
 * Nothing on a lost device can be read back, so nothing is captured here after it.
 */
import * as tf from '@tensorflow/tfjs';
import { SaehdError, throwIfAborted } from '../src/core/errors.ts';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointContent } from '../src/core/checkpoint/checkpointFile.ts';
import { captureState, restoreState } from '../src/core/checkpoint/modelState.ts';
import {
  dflClassFor, dflFileName, dflModelNameFor, exportDflModel, parseWeightsFile, readDflModel, unzipDflModel, zipDflModel,
  type DflAuxState, type DflModel,
} from '../src/core/formats/dflModel.ts';
import { parsePickle } from '../src/core/formats/pickle.ts';
import type { PyDict } from '../src/core/formats/pyValue.ts';
import { loadDflModel } from '../src/core/model/loadDfl.ts';
import { createSaehd, type SaehdModel } from '../src/core/model/saehd.ts';
import type { ModelOptions } from '../src/core/model/options.ts';
import { probeBackendEnv, setupBackend, type BackendEnv, type BackendName } from '../src/core/train/backend.ts';
import { setWebgpuKernels, webgpuKernelsUsable } from '../src/core/webgpu/webgpuKernels.ts';
import { watchWebgpuPool, type PoolWatch } from '../src/core/webgpu/webgpuPool.ts';
import { createTrainer, type TrainBatch, type Trainer } from '../src/core/train/trainStep.ts';
import { WorkerCallError, WorkerClient } from '../src/ui/lib/workerClient.ts';
import { serve } from './lib/serve.ts';
import { describeAdapter, prepareWasm, sideOptions, type Side } from './lib/tfjsSetup.ts';
import type { SampleBatchMessage, SamplesCalls } from './samples.protocol.ts';
import {
  DEVICE_LOST_CODE, type DflImportResult, type StudioCalls, type StudioInitRequest, type StudioInitResult, type StudioPreview,
  type StudioProgress,
} from './studio.protocol.ts';

/** Fixed preview faces: the targets of the first batch of each side, `n` faces of res×res×ch (issue 5, §C.10). */
interface PreviewFaces {
  src: Float32Array;
  dst: Float32Array;
  n: number;
}

interface Session {
  options: ModelOptions;
  backend: BackendName;
  model: SaehdModel;
  trainer: Trainer;
  samples: Record<Side, WorkerClient<SamplesCalls>>;
  /** The next batch of each side, already requested. */
  pending: { src: Promise<SampleBatchMessage>; dst: Promise<SampleBatchMessage> } | null;
  lossHistory: [number, number][];
  previewFaces: PreviewFaces | null;
  /** Attachments of the checkpoint this session started from (an imported DFL data.dat…), carried into captures. */
  attachments: Map<string, Uint8Array>;
  /** The checkpoint's `extra` (e.g. an imported model's DFL name and pickle protocol), under the caller's own keys. */
  extra: Record<string, unknown>;
}

let session: Session | null = null;
/** Facts from the first probe (the adapter does not change while the worker lives). */
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

class DeviceLostError extends SaehdError {
  constructor(detail: string) {
    super(DEVICE_LOST_CODE, `the GPU device was lost (${detail})`);
  }
}

// ---- WebGPU device loss ------------------------------------------------------------------------------------------------

interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
  destroy(): void;
}

/** Set once the device of this worker's webgpu backend is lost; every later call fails with it. */
let deviceLost: DeviceLostError | null = null;
/** Rejects when the device is lost (never settles otherwise); raced against every GPU call. */
let deviceLostSignal: Promise<never> = new Promise<never>(() => undefined);

function gpuDevice(): GpuDeviceLike | null {
  const d = (tf.backend() as unknown as { device?: GpuDeviceLike }).device;
  return d && typeof d.destroy === 'function' && d.lost instanceof Promise ? d : null;
}

const watchedDevices = new WeakSet<object>();
function watchDevice(): void {
  const d = gpuDevice();
  if (!d || watchedDevices.has(d)) return;
  watchedDevices.add(d);
  deviceLostSignal = d.lost.then((info) => {
    deviceLost = new DeviceLostError([info?.reason, info?.message].filter(Boolean).join(': ') || 'unknown reason');
    throw deviceLost;
  });
  deviceLostSignal.catch(() => undefined);
}

function checkDevice(): void {
  if (deviceLost) throw deviceLost;
}

/**
 * `p`, unless the device is lost first. A call on a lost device may also fail on its own first (a buffer read-back
 * rejects) while `lost` settles a moment later: such a failure is reported as the device loss it is.
 */
async function unlessLost<T>(p: Promise<T>): Promise<T> {
  checkDevice();
  try {
    return await Promise.race([p, deviceLostSignal]);
  } catch (e) {
    if (!deviceLost && session?.backend === 'webgpu') await new Promise((r) => setTimeout(r, 100));
    if (deviceLost) throw deviceLost;
    throw e;
  }
}

// ---- GPU memory ----------------------------------------------------------------------------------------------------------

function gpuBytesAllocated(backend: BackendName): number | null {
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number; numBytesInGPUAllocated?: number };
  // webgpu: every GPUBuffer its buffer manager created (in use or pooled); webgl: the texture pool's bytes.
  if (backend === 'webgpu') return m.numBytesAllocatedInGPU ?? null;
  if (backend === 'webgl') return m.numBytesInGPUAllocated ?? null;
  return null;
}

/**
 * The WebGPU buffer pool (src/core/webgpu/webgpuPool.ts): tfjs-backend-webgpu keeps every released buffer for reuse by
 * exact size and never frees one, so its footprint grows past what a step needs at once (seed model on an H200: 1596
 * MiB allocated for a 915.9 MiB in-use peak). The watch records the in-use peak per step and caps the pool: a new
 * buffer that would take it past `gpuMemoryLimitMiB` first destroys free ones (seed model: 1228.8 MiB allocated, 83 →
 * 110 ms per iteration; bench/gpuNode.ts, issue 8).
 */
let pool: PoolWatch | null = null;
const DEFAULT_GPU_LIMIT_MIB = 1.2 * 1024;

/** Watch (and cap) the pool of the webgpu backend just set up; returns the cap in MiB (null: none). */
function watchGpuPool(limitMiB: number | null | undefined): number | null {
  const capMiB = limitMiB === null ? null : (limitMiB ?? DEFAULT_GPU_LIMIT_MIB);
  pool?.unwatch();
  pool = watchWebgpuPool(tf.backend(), { capBytes: capMiB === null ? null : capMiB * 2 ** 20 });
  return pool ? capMiB : null;
}

// ---- session ---------------------------------------------------------------------------------------------------------------

function need(): Session {
  checkDevice();
  if (!session) throw new NotInitialisedError();
  return session;
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
  // On a lost device the buffers are gone already; disposing only drops tfjs' bookkeeping.
  try {
    s.trainer.dispose();
    s.model.dispose();
  } catch {
    // a lost device may refuse; the worker is about to be replaced
  }
}

function spawnSamples(side: Side): WorkerClient<SamplesCalls> {
  return new WorkerClient<SamplesCalls>(new Worker(new URL('./samples.worker.ts', import.meta.url), { type: 'module', name: `samples-${side}` }));
}

function requestPair(s: Session): NonNullable<Session['pending']> {
  const p = { src: s.samples.src.call('next', {}), dst: s.samples.dst.call('next', {}) };
  // A request may be left pending when training stops or the session is closed; never an unhandled rejection.
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

// ---- preview faces in the checkpoint ------------------------------------------------------------------------------------

const PREVIEW_SRC = 'preview/src';
const PREVIEW_DST = 'preview/dst';
/** DFL shows up to four faces per side in its preview (§C.10). */
const PREVIEW_FACES = 4;

function previewFacesFrom(b: TrainBatch, o: ModelOptions): PreviewFaces {
  const one = o.resolution ** 2 * o.channels;
  const n = Math.min(PREVIEW_FACES, o.batch_size);
  return { src: b.src.target.slice(0, n * one), dst: b.dst.target.slice(0, n * one), n };
}

const floatBytes = (a: Float32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

/** The preview faces stored in a checkpoint, when they fit the model's resolution and channels; else null. */
function previewFacesOf(content: CheckpointContent, o: ModelOptions): PreviewFaces | null {
  const meta = content.extra.previewFaces as { n?: unknown; resolution?: unknown; channels?: unknown } | undefined;
  const src = content.attachments?.get(PREVIEW_SRC);
  const dst = content.attachments?.get(PREVIEW_DST);
  if (!meta || !src || !dst || meta.resolution !== o.resolution || meta.channels !== o.channels) return null;
  const n = Number(meta.n);
  const bytes = 4 * n * o.resolution ** 2 * o.channels;
  if (!Number.isInteger(n) || n < 1 || n > PREVIEW_FACES || src.length !== bytes || dst.length !== bytes) return null;
  const f = (b: Uint8Array) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return { src: f(src), dst: f(dst), n };
}

// ---- calls -----------------------------------------------------------------------------------------------------------------

async function init(req: StudioInitRequest): Promise<StudioInitResult> {
  checkDevice();
  await exclusive(async () => closeSession());
  backendEnv ??= await probeBackendEnv();
  const env = backendEnv;
  if (req.backend === 'auto' || req.backend === 'wasm') await prepareWasm();
  // setupBackend calls tf.setBackend (and, for wasm, setWasmPaths with <origin>/wasm/ first, as workers need an absolute URL).
  const choice = await setupBackend(req.backend, { env });
  setWebgpuKernels(req.webgpuKernels ?? 'auto');
  let gpuPoolCapMiB: number | null | undefined;
  if (choice.backend === 'webgpu') {
    watchDevice();
    gpuPoolCapMiB = watchGpuPool(req.gpuMemoryLimitMiB);
  }
  const seed = req.seed >>> 0;
  const prefetch = Math.max(1, req.prefetch ?? 3);
  let model: SaehdModel;
  let trainer: Trainer;
  let options: ModelOptions;
  let lossHistory: [number, number][] = [];
  let extra: Record<string, unknown> = {};
  let notes: string[] = [];
  let previewFaces: PreviewFaces | null = null;
  let attachments = new Map<string, Uint8Array>();
  if (req.checkpoint) {
    // Decoding checks the CRC; restoreState checks every shape: a bad file throws here and nothing is kept.
    const content = decodeCheckpoint(req.checkpoint);
    const r = await restoreState(content, { seed, overrides: req.overrides ?? {} });
    model = r.model;
    trainer = r.trainer!;
    options = r.options;
    lossHistory = r.lossHistory;
    const { previewFaces: _meta, ...rest } = r.extra;
    extra = rest;
    notes = [...r.changed.map((c) => `changed: ${c}`), ...r.kept, ...r.notes];
    previewFaces = previewFacesOf(content, options);
    attachments = new Map([...(content.attachments ?? [])].filter(([k]) => k !== PREVIEW_SRC && k !== PREVIEW_DST));
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
  const s: Session = { options, backend: choice.backend, model, trainer, samples, pending: null, lossHistory, previewFaces, attachments, extra };
  session = s;
  try {
    // Name the side in errors, so "the faceset is empty" says which one.
    const start = (side: Side, id: string) =>
      samples[side].call('init', { options: sideOptions(options, side, id, seed, prefetch, req.dstFacesetId) }).catch((e: unknown) => {
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
      ...(gpuPoolCapMiB !== undefined ? { gpuPoolCapMiB } : {}),
      webgpuKernels: webgpuKernelsUsable(),
      params: model.paramCount(),
      options,
      iter: trainer.iter,
      lossHistory: lossHistory.slice(),
      extra,
      notes,
      previewFacesRestored: previewFaces !== null,
      srcFaces: src.faces,
      dstFaces: dst.faces,
      numTensors: tf.memory().numTensors,
    };
  } catch (e) {
    closeSession();
    throw e;
  }
}

async function ensurePreviewFaces(s: Session): Promise<PreviewFaces> {
  s.previewFaces ??= previewFacesFrom(await takePair(s), s.options);
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
    // Model images are BGR with 3 channels → RGB for display.
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

async function capture(s: Session, extra: Record<string, unknown>): Promise<Uint8Array> {
  const f = s.previewFaces;
  const content = await captureState(s.model, s.trainer, s.options, s.lossHistory, {
    ...s.extra,
    ...extra,
    ...(f ? { previewFaces: { n: f.n, resolution: s.options.resolution, channels: s.options.channels } } : {}),
  });
  const attachments = new Map(s.attachments);
  if (f) {
    attachments.set(PREVIEW_SRC, floatBytes(f.src));
    attachments.set(PREVIEW_DST, floatBytes(f.dst));
  }
  if (attachments.size) content.attachments = attachments;
  return encodeCheckpoint(content);
}

// ---- DeepFaceLab folders (issue 4, spec §C.11) ----------------------------------------------------------------------------

const DFL_DATA = 'dfl/data.dat';
/** Discriminator files an import keeps as they are, so an export hands them back when this run does not use them. */
const DFL_AUX_PARTS = ['code_discriminator', 'D_code_opt', 'GAN', 'GAN_opt'] as const;

async function importDfl(req: { files?: { name: string; bytes: Uint8Array }[]; zip?: Uint8Array; modelName?: string }): Promise<DflImportResult> {
  if (session) throw new SaehdError('busy', 'import runs in a worker of its own, not in a training one');
  const files = req.zip ? unzipDflModel(req.zip, req.modelName) : (req.files ?? []);
  // File-level problems (missing, damaged, unsupported class or options) throw DflModelError with the full list.
  const dfl = readDflModel(files, { modelName: req.modelName });
  await setupBackend('cpu');
  // Shape problems throw DflModelError 'dfl-weights'; loadDflModel disposes what it built.
  const loaded = loadDflModel(dfl, { seed: 1 });
  try {
    const trainer = loaded.trainer!;
    const content = await captureState(loaded.model, trainer, loaded.options, loaded.lossHistory, {
      seed: 1,
      dfl: { modelName: dfl.modelName, modelClass: dfl.modelClass, dataProtocol: dfl.dataProtocol },
    });
    const attachments = new Map<string, Uint8Array>();
    const byBase = new Map(files.map((f) => [f.name.split(/[\\/]/).pop()!, f.bytes]));
    const data = byBase.get(dflFileName(dfl.modelName, dfl.modelClass, 'data'));
    if (data) attachments.set(DFL_DATA, data);
    for (const part of DFL_AUX_PARTS) {
      const b = byBase.get(dflFileName(dfl.modelName, dfl.modelClass, part));
      if (b) attachments.set(`dfl/${part}.npy`, b);
    }
    content.attachments = attachments;
    return {
      checkpoint: encodeCheckpoint(content),
      modelName: dfl.modelName,
      modelClass: dfl.modelClass,
      iter: trainer.iter,
      params: loaded.model.paramCount(),
      notes: loaded.notes,
    };
  } finally {
    loaded.trainer?.dispose();
    loaded.model.dispose();
  }
}

/** The DFL source an export keeps: data.dat's other keys and discriminator files this run does not use. */
function dflSourceOf(content: CheckpointContent): Pick<DflModel, 'data' | 'dataProtocol' | 'codeDiscriminator' | 'gan'> | undefined {
  const a = content.attachments;
  const data = a?.get(DFL_DATA);
  if (!a || !data) return undefined;
  const meta = (content.extra.dfl ?? {}) as { dataProtocol?: unknown };
  const parsed = parsePickle(data);
  const problems: string[] = [];
  const aux = (w: string, o: string): DflAuxState | null => {
    const wb = a.get(`dfl/${w}.npy`);
    const ob = a.get(`dfl/${o}.npy`);
    const weights = wb ? parseWeightsFile(wb, w, problems).arrays : null;
    const opt = ob ? parseWeightsFile(ob, o, problems) : null;
    return weights || opt ? { weights, optimizer: opt ? { iters: opt.iters ?? 0, slots: opt.arrays } : null } : null;
  };
  return {
    data: parsed instanceof Map ? (parsed as PyDict) : new Map(),
    dataProtocol: meta.dataProtocol === 4 ? 4 : 3,
    codeDiscriminator: aux('code_discriminator', 'D_code_opt'),
    gan: aux('GAN', 'GAN_opt'),
  };
}

async function exportDfl(req: { checkpoint: Uint8Array; name: string }) {
  if (session) throw new SaehdError('busy', 'export runs in a worker of its own, not in a training one');
  await setupBackend('cpu');
  const content = decodeCheckpoint(req.checkpoint);
  const r = await restoreState(content, {});
  try {
    const meta = (content.extra.dfl ?? {}) as { modelName?: unknown };
    const modelName = typeof meta.modelName === 'string' ? meta.modelName : dflModelNameFor(req.name);
    const files = await exportDflModel(r.model, r.trainer, r.options, r.iter, r.lossHistory, modelName, { source: dflSourceOf(content) });
    return { zip: zipDflModel(files), modelName: dflModelNameFor(modelName), modelClass: dflClassFor(r.options.channels), files: files.map((f) => f.name) };
  } finally {
    r.trainer?.dispose();
    r.model.dispose();
  }
}

serve<StudioCalls>({
  init,

  async train(req, ctx) {
    const s = need();
    const iterations = Math.max(0, Math.floor(req.iterations));
    let steps = 0;
    let last: { srcLoss: number; dstLoss: number } | null = null;
    let peak: number | null = null;
    let peakInUse: number | null = null;
    while (steps < iterations && !ctx.signal.aborted) {
      const p: StudioProgress = await unlessLost(
        exclusive(async () => {
          if (session !== s) throw new NotInitialisedError();
          checkDevice();
          const t0 = performance.now();
          const batch = await takePair(s);
          const waitMs = performance.now() - t0;
          s.previewFaces ??= previewFacesFrom(batch, s.options);
          pool?.resetPeaks();
          const r = await s.trainer.step(batch);
          s.lossHistory.push([r.srcLoss, r.dstLoss]);
          const msPerIter = performance.now() - t0;
          const gpu = gpuBytesAllocated(s.backend);
          const peakInStep = s.backend === 'webgpu' && pool ? pool.stats().usedPeak : null;
          const every = req.previewEvery ?? 0;
          const preview = every > 0 && r.iter % every === 0 ? await renderPreview(s, PREVIEW_FACES) : undefined;
          return {
            iter: r.iter, srcLoss: r.srcLoss, dstLoss: r.dstLoss, msPerIter, waitMs,
            numTensors: tf.memory().numTensors, gpuBytesAllocated: gpu, gpuBytesInUsePeak: peakInStep,
            ...(preview ? { preview: { ...preview, numTensors: tf.memory().numTensors } } : {}),
          };
        }),
      );
      steps++;
      last = { srcLoss: p.srcLoss, dstLoss: p.dstLoss };
      if (p.gpuBytesAllocated !== null) peak = Math.max(peak ?? 0, p.gpuBytesAllocated);
      if (p.gpuBytesInUsePeak !== null) peakInUse = Math.max(peakInUse ?? 0, p.gpuBytesInUsePeak);
      ctx.progress(p);
    }
    return {
      iter: s.trainer.iter, steps, lastLosses: last, cancelled: steps < iterations, peakGpuBytes: peak, peakGpuBytesInUse: peakInUse,
      numTensors: tf.memory().numTensors,
    };
  },

  async preview(req) {
    const s = need();
    const p = await unlessLost(exclusive(() => renderPreview(s, req.rows ?? PREVIEW_FACES)));
    return { ...p, numTensors: tf.memory().numTensors };
  },

  async capture(req, ctx) {
    const s = need();
    const bytes = await unlessLost(exclusive(() => capture(s, req.extra)));
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

  async importDfl(req, ctx) {
    const r = await importDfl(req);
    ctx.transfer(r.checkpoint.buffer as ArrayBuffer);
    return r;
  },

  async exportDfl(req, ctx) {
    const r = await exportDfl(req);
    ctx.transfer(r.zip.buffer as ArrayBuffer);
    return r;
  },

  async matmul(req, ctx) {
    need();
    const n = Math.max(1, Math.floor(req.size));
    const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
    const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
    try {
      const run = async () => {
        const c = tf.matMul(a, b);
        try {
          await unlessLost(c.data()); // waits for the GPU; the copy of n² floats is small next to the 2n³ FLOP
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
    return need().samples.src.call('measure', { batches: req.batches });
  },

  async loseDevice() {
    const d = session?.backend === 'webgpu' ? gpuDevice() : null;
    if (!d) throw new SaehdError('not-webgpu', 'the training worker does not run on a WebGPU device');
    d.destroy();
    return { destroyed: true };
  },

  async tensors() {
    return { numTensors: tf.memory().numTensors };
  },

  async dispose() {
    await exclusive(async () => closeSession());
    return { numTensors: tf.memory().numTensors };
  },
});

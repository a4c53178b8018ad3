/**
 * The training studio's state (issue 5): one open model, its training worker (workers/studio.worker.ts), the numbers
 * it reports, previews and the persisted preview history (timelapse), the loss history, and the checkpoint logic —
 * saves as new generations in the CheckpointStore, autosave, save when the tab is hidden or closed, the autobackup
 * ring, the best-loss backup, download and upload — plus DeepFaceLab model import/export (issue 4) and recovery from a
 * lost WebGPU device (the worker is replaced and training resumes from the last good save). The UI never touches
 * tensors.
 */
import { decodeCheckpoint } from '../../core/checkpoint/checkpointFile.ts';
import type { CheckpointStore } from '../../core/checkpoint/checkpointStore.ts';
import { TimelapseStore } from '../../core/checkpoint/timelapseStore.ts';
import { storedOptionsOf } from '../../core/checkpoint/modelState.ts';
import { QuotaError, SaehdError, toUserMessage } from '../../core/errors.ts';
import { OPTIONS_SCHEMA_VERSION, type ModelOptions } from '../../core/model/options.ts';
import type { BackendPref } from '../../core/train/backend.ts';
import type { FacesetInfo } from '../../core/faceset/types.ts';
import {
  DEVICE_LOST_CODE, type StudioCalls, type StudioInitResult, type StudioPreview, type StudioProgress,
} from '../../../workers/studio.protocol.ts';
import { WorkerCallError, WorkerClient } from '../lib/workerClient.ts';
import { downloadBlob, downloadBytes } from '../lib/download.ts';
import { previewFramePng, zipFrames } from '../lib/timelapse.ts';
import {
  autosaveDue,
  backupDue,
  backupId,
  bestId,
  chooseBackupSlot,
  isNewBest,
  iterationsToTarget,
  meanLossSince,
  modelSummary,
  newModelId,
  nextLossRange,
  previewHistoryPeriod,
  targetReached,
  type LossRange,
  type StudioAction,
} from '../lib/studio.ts';

export type StudioStatus = 'closed' | 'idle' | 'starting' | 'training' | 'pausing';

/** What the checkpoint's `extra` holds for the studio (beside modelState's own `trainState`). */
interface StudioExtra {
  seed: number;
  timeTrainedMs: number;
  best: [number, number] | null;
}

/** One finished iteration as the tests and anyone who wants the numbers read them (`data-history`). */
export interface StepEntry {
  iter: number;
  src: number;
  dst: number;
  ms: number;
  tensors: number;
}
const STEP_LOG_LIMIT = 500;
/** More device losses than this within DEVICE_LOSS_WINDOW_MS stop the automatic restarts (a GPU that keeps failing). */
const DEVICE_LOSS_LIMIT = 3;
const DEVICE_LOSS_WINDOW_MS = 10 * 60_000;

const isDeviceLost = (e: unknown): e is WorkerCallError => e instanceof WorkerCallError && e.code === DEVICE_LOST_CODE;

/** A worker of its own for one conversion call (verify, DFL import/export): on the cpu backend, never the training one. */
function oneShotWorker(name: string): WorkerClient<StudioCalls> {
  return new WorkerClient<StudioCalls>(new Worker(new URL('../../../workers/studio.worker.ts', import.meta.url), { type: 'module', name }));
}

/** Files of a dropped/picked DFL model folder worth reading: model files, not the backups or preview history inside it. */
export function isDflModelFile(path: string): boolean {
  const parts = path.split(/[\\/]/);
  if (parts.slice(0, -1).some((d) => /_(autobackups|history)$/.test(d))) return false;
  return /\.(npy|dat)$/i.test(parts[parts.length - 1]);
}

function readExtra(x: Record<string, unknown>): StudioExtra {
  const best = Array.isArray(x.best) && x.best.length === 2 && x.best.every((v) => typeof v === 'number') ? (x.best as [number, number]) : null;
  return {
    seed: typeof x.seed === 'number' ? x.seed : 1,
    timeTrainedMs: typeof x.timeTrainedMs === 'number' ? x.timeTrainedMs : 0,
    best,
  };
}

/** One line for the studio: a worker's own message as it is (problem lists joined), else toUserMessage. */
export function describeError(e: unknown): string {
  const m = e instanceof WorkerCallError ? e.message : toUserMessage(e);
  return m.replace(/:\n\s*-\s*/g, ': ').replace(/\n\s*(-|…)\s*/g, '; ').replace(/\n/g, ' ');
}


/** Free bytes the storage estimate reports, or null when unknown. */
async function freeBytes(): Promise<number | null> {
  const est = await navigator.storage?.estimate?.().catch(() => null);
  if (!est || !est.quota) return null;
  return est.quota - (est.usage ?? 0);
}

function webgpuKernelsParam(): 'auto' | 'on' | 'off' {
  const v = typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('webgpu-kernels');
  return v === 'on' || v === 'off' ? v : 'auto';
}

export class StudioState {
  modelId = $state<string | null>(null);
  name = $state('');
  options = $state.raw<ModelOptions | null>(null);
  /** Saved at least once (exists in the store). */
  stored = $state(false);
  iter = $state(0);
  /** Grows in place while training (no copy per step over days of history); `lossVersion` marks each change. */
  lossHistory = $state.raw<[number, number][]>([]);
  lossVersion = $state(0);
  params = $state<number | null>(null);
  status = $state<StudioStatus>('closed');
  busy = $state<string | null>(null);
  message = $state<string | null>(null);
  error = $state<string | null>(null);
  /** A note about storage (quota, persistence) that comes with the download offer. */
  storageNote = $state<string | null>(null);
  info = $state.raw<StudioInitResult | null>(null);
  last = $state.raw<StudioProgress | null>(null);
  preview = $state.raw<StudioPreview | null>(null);
  /** Iterations of the persisted preview-history frames of the open model (the frames stay in IndexedDB). */
  timelapse = $state.raw<number[]>([]);
  /** The last iterations (for tests and numbers: iteration, losses, ms, tensor count), newest last. */
  steps = $state.raw<StepEntry[]>([]);
  /** Times a training worker was initialised for the open model (a Start that continues does not add one). */
  workerInits = $state(0);
  /** What happened on the last GPU device loss (shown until the model is closed). */
  recoveryNote = $state<string | null>(null);
  /** What an imported DFL model's options and files could not keep as they were (issue 4). */
  importNotes = $state.raw<string[]>([]);
  showMasks = $state(false);
  lossRange = $state<LossRange>(1000);
  helpOpen = $state(false);
  backend = $state<BackendPref>('auto');
  /** WebGPU buffer-pool cap in MiB as the select's value, or 'none' (studio.protocol gpuMemoryLimitMiB). */
  gpuMemoryLimit = $state('1228.8');
  /** The project's WebGPU kernels: the page's `?webgpu-kernels=on|off` (a way around a misbehaving driver), else auto. */
  readonly webgpuKernels = webgpuKernelsParam();
  autosaveMinutes = $state(10);
  backupSlots = $state(3);
  previewSeconds = $state(15);
  /** Timelapse frame every N iterations (DFL: 10·max(1, res // 64)); set when a model opens. */
  timelapseEvery = $state(10);
  timeTrainedMs = $state(0);
  lastSavedAt = $state<number | null>(null);
  savedIter = $state<number | null>(null);
  /** The last save: wall time from capture to manifest flip, and the checkpoint's size. */
  lastSave = $state<{ ms: number; bytes: number } | null>(null);
  /** Tensor count after the last train/preview/capture call (leak checks). */
  numTensors = $state<number | null>(null);

  private client: WorkerClient<StudioCalls> | null = null;
  /** Bytes to restore from when the worker next starts (an opened or uploaded checkpoint). */
  private pendingCheckpoint: Uint8Array | null = null;
  /** Options to change when the worker next restores the checkpoint (§C.1: only those not fixed at creation). */
  private pendingOverrides: Record<string, unknown> | null = null;
  private abort: AbortController | null = null;
  private seed = 1;
  private best: [number, number] | null = null;
  private savedHistoryLen = 0;
  private lastSaveClock = 0;
  private lastBackupClock = 0;
  private lastPreviewClock = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private saving: Promise<boolean> | null = null;
  private deviceLosses: number[] = [];
  private recovering: Promise<boolean> | null = null;

  constructor(
    readonly store: CheckpointStore,
    private readonly facesets: () => { src: FacesetInfo | null; dst: FacesetInfo | null },
    private readonly changed: () => void = () => undefined,
    readonly frames: TimelapseStore = new TimelapseStore(),
  ) {}

  get running(): boolean {
    return this.status === 'starting' || this.status === 'training' || this.status === 'pausing';
  }

  // ---- opening ------------------------------------------------------------------------------------------------------

  private reset(): void {
    this.shutdown();
    this.error = null;
    this.message = null;
    this.storageNote = null;
    this.preview = null;
    this.timelapse = [];
    this.steps = [];
    this.workerInits = 0;
    this.recoveryNote = null;
    this.importNotes = [];
    this.deviceLosses = [];
    this.lastSave = null;
    this.last = null;
    this.info = null;
    this.pendingCheckpoint = null;
    this.savedHistoryLen = 0;
  }

  /** A new model from the option form; it is stored at its first save. */
  create(name: string, options: ModelOptions): void {
    if (this.running) return;
    this.reset();
    this.modelId = newModelId();
    this.name = name.trim() || 'new model';
    this.options = options;
    this.stored = false;
    this.iter = 0;
    this.lossHistory = [];
    this.params = null;
    this.seed = 1;
    this.best = null;
    this.timeTrainedMs = 0;
    this.lastSavedAt = null;
    this.savedIter = null;
    this.timelapseEvery = previewHistoryPeriod(options.resolution);
    this.status = 'idle';
  }

  /** Open a stored model: load (verifying every chunk, falling back when needed) and show where it stands. */
  async open(id: string): Promise<void> {
    if (this.running) return;
    this.reset();
    try {
      const loaded = await this.store.load(id);
      const m = await this.store.manifest(id);
      this.adopt(id, m?.name ?? id, loaded.bytes, true);
      this.lastSavedAt = loaded.generation.savedAt;
      this.timelapse = await this.frames.list(id).catch(() => []);
      if (loaded.fellBack) this.message = `Loaded an older save: ${loaded.fellBack}.`;
      else this.message = `Opened at iteration ${this.iter}.`;
    } catch (e) {
      this.error = describeError(e);
      this.status = 'closed';
      this.modelId = null;
    }
  }

  /** Take a verified checkpoint file as the open model (throws for a bad one, before anything changes). */
  private adopt(id: string, name: string, bytes: Uint8Array, stored: boolean): void {
    const content = decodeCheckpoint(bytes);
    if (!(content.optionsSchemaVersion <= OPTIONS_SCHEMA_VERSION))
      throw new Error(`the checkpoint comes from a newer version (option schema ${content.optionsSchemaVersion})`);
    const options = storedOptionsOf(content.options);
    const extra = readExtra(content.extra);
    this.modelId = id;
    this.name = name;
    this.options = options;
    this.stored = stored;
    this.iter = content.iter;
    this.lossHistory = content.lossHistory.map(([s, d]) => [s, d]);
    this.savedHistoryLen = this.lossHistory.length;
    this.params = null;
    this.seed = extra.seed;
    this.best = extra.best;
    this.timeTrainedMs = extra.timeTrainedMs;
    this.savedIter = content.iter;
    this.pendingCheckpoint = bytes;
    this.timelapseEvery = previewHistoryPeriod(options.resolution);
    this.status = 'idle';
  }

  /** Upload a checkpoint file as a new model. A corrupt, truncated or incompatible file is refused; nothing changes. */
  async upload(file: File): Promise<boolean> {
    if (this.running) return false;
    let bytes: Uint8Array;
    let options: ModelOptions;
    let iter: number;
    try {
      bytes = new Uint8Array(await file.arrayBuffer());
      const content = decodeCheckpoint(bytes);
      if (!(content.optionsSchemaVersion <= OPTIONS_SCHEMA_VERSION))
        throw new Error(`it comes from a newer version (option schema ${content.optionsSchemaVersion})`);
      options = storedOptionsOf(content.options);
      iter = content.iter;
      // Every weight and optimizer slot must fit the model its options describe: restore it once, off the page.
      const check = oneShotWorker('studio-verify');
      try {
        await check.call('verify', { checkpoint: bytes.slice() });
      } finally {
        check.terminate();
      }
    } catch (e) {
      this.error = `Upload refused: ${file.name}: ${describeError(e).replace(/^unexpected problem: /, '')}. Nothing was changed.`;
      return false;
    }
    const id = newModelId();
    const name = file.name.replace(/\.[^.]*$/, '') || 'uploaded model';
    try {
      await this.ensureRoom(bytes.length);
      await this.store.save(id, name, bytes, { iter, summary: modelSummary(options, null) });
    } catch (e) {
      this.error = `Upload not stored: ${toUserMessage(e)}`;
      return false;
    }
    this.changed();
    await this.open(id);
    this.message = `Uploaded ${file.name} (iteration ${iter}).`;
    return true;
  }

  // ---- training -----------------------------------------------------------------------------------------------------

  private ensuring: Promise<void> | null = null;
  /** Start the worker with the open model once; concurrent callers (Start, Refresh preview) share the start. */
  private ensureWorker(): Promise<void> {
    if (this.client && this.info) return Promise.resolve();
    this.ensuring ??= this.startWorker().finally(() => (this.ensuring = null));
    return this.ensuring;
  }

  private async startWorker(): Promise<void> {
    const { src, dst } = this.facesets();
    if (!src?.faces.length || !dst?.faces.length)
      throw new SaehdError('no-faces', `Import faces into the ${!src?.faces.length ? 'source' : 'destination'} faceset first.`);
    const o = this.options;
    if (!o) throw new SaehdError('no-model', 'Create or open a model first.');
    this.client = new WorkerClient<StudioCalls>(
      new Worker(new URL('../../../workers/studio.worker.ts', import.meta.url), { type: 'module', name: 'studio' }),
    );
    const checkpoint = this.pendingCheckpoint ?? undefined;
    const client = this.client;
    let info: Awaited<ReturnType<typeof client.call<'init'>>>;
    try {
      info = await client.call('init', {
        options: o,
        checkpoint: checkpoint ? checkpoint.slice() : undefined,
        overrides: checkpoint && this.pendingOverrides ? this.pendingOverrides : undefined,
        backend: this.backend,
        gpuMemoryLimitMiB: this.gpuMemoryLimit === 'none' ? null : Number(this.gpuMemoryLimit),
        webgpuKernels: this.webgpuKernels,
        srcFacesetId: src.id,
        dstFacesetId: dst.id,
        seed: this.seed,
      });
    } catch (e) {
      // A worker whose init failed is of no use: stop it here, so the next start does not leave it running.
      client.terminate();
      if (this.client === client) this.client = null;
      throw e;
    }
    this.pendingCheckpoint = null;
    this.pendingOverrides = null;
    this.workerInits++;
    this.info = info;
    this.options = info.options;
    this.params = info.params;
    this.iter = info.iter;
    this.lossHistory = info.lossHistory;
    this.numTensors = info.numTensors;
    if (info.notes.length) this.message = info.notes.join('; ');
  }

  async start(): Promise<void> {
    // Not while options are being applied (the worker is about to restart with them) or a lost device is handled.
    if (this.running || !this.options || this.busy === 'applying options' || this.recovering) return;
    this.error = null;
    let lost: WorkerCallError | null = null;
    this.status = 'starting';
    try {
      await this.ensureWorker();
      const target = this.options.target_iter;
      if (targetReached(this.iter, target)) {
        this.message = `The target iteration ${target} is reached: raise target_iter to train on.`;
        return;
      }
      const client = this.client!;
      this.abort = new AbortController();
      this.status = 'training';
      const now = Date.now();
      this.lastSaveClock = this.lastSaveClock || now;
      this.lastBackupClock = this.lastBackupClock || now;
      this.lastPreviewClock = 0;
      this.startTimer();
      if (!this.preview) void this.refreshPreview();
      const r = await client.call(
        'train',
        { iterations: iterationsToTarget(this.iter, target), previewEvery: this.options.write_preview_history ? this.timelapseEvery : 0 },
        { signal: this.abort.signal, onProgress: (p) => this.onProgress(p) },
      );
      this.numTensors = r.numTensors;
      if (targetReached(this.iter, target)) {
        this.message = `Target iteration ${target} reached: training stopped.`;
        this.stopTimer();
        this.status = 'idle';
        await this.save('target');
      }
    } catch (e) {
      if (isDeviceLost(e)) lost = e;
      else if (!(e instanceof Error && e.name === 'AbortError')) this.error = describeError(e);
      if (!this.info || (e instanceof WorkerCallError && e.code === 'worker-crash')) this.shutdown();
    } finally {
      this.stopTimer();
      this.abort = null;
      this.status = this.modelId ? 'idle' : 'closed';
    }
    if (lost) await this.deviceLost(lost, true);
  }

  /**
   * The WebGPU device was lost (issue 9; a driver reset, an unplugged or sleeping GPU): nothing on it can be read
   * back, so the state since the last save is gone, but every stored generation is intact. Replace the worker, reopen
   * the last good save (verified, with fallback) and, when training was running, train on from there.
   */
  /** A call outside training met the lost device: recover now when idle; a running training loop meets it too and recovers itself. */
  private workerLost(e: WorkerCallError): void {
    if (!this.running) void this.deviceLost(e, false);
  }

  private async deviceLost(e: WorkerCallError, resume: boolean): Promise<void> {
    if (this.recovering) {
      await this.recovering;
      return;
    }
    this.recovering = this.recover(e, resume);
    let again = false;
    try {
      again = await this.recovering;
    } finally {
      this.recovering = null;
    }
    if (again) void this.start();
  }

  /** Reopen the last good save after a device loss; true when training should go on. */
  private async recover(e: WorkerCallError, resume: boolean): Promise<boolean> {
    const at = this.iter;
    const id = this.modelId;
    this.shutdown();
    if (!id || !this.options) return false;
    const now = Date.now();
    this.deviceLosses = [...this.deviceLosses.filter((t) => now - t < DEVICE_LOSS_WINDOW_MS), now];
    const what = `${e.message.replace(/^the GPU device was lost/, 'The GPU device was lost')} at iteration ${at}`;
    let from: string;
    try {
      if (this.stored) {
        const loaded = await this.store.load(id);
        const name = this.name;
        this.adopt(id, name, loaded.bytes, true);
        this.lastSavedAt = loaded.generation.savedAt;
        from = `the last good save (iteration ${this.iter}${loaded.fellBack ? `; ${loaded.fellBack}` : ''})`;
      } else {
        // Never saved: nothing survives but the options; the model starts again from iteration 0.
        this.iter = 0;
        this.lossHistory = [];
        this.savedHistoryLen = 0;
        this.timeTrainedMs = 0;
        from = 'the start (the model had not been saved yet)';
      }
      this.lossVersion++;
      this.preview = null;
    } catch (x) {
      this.error = `${what}, and the last save could not be loaded: ${describeError(x)}.`;
      return false;
    }
    const again = resume && this.deviceLosses.length <= DEVICE_LOSS_LIMIT;
    this.recoveryNote =
      `${what}. The training worker was restarted from ${from}` +
      (again ? '; training resumes.' : resume ? `; the device was lost ${this.deviceLosses.length} times in ${DEVICE_LOSS_WINDOW_MS / 60_000} minutes, so training stays paused.` : '.');
    return again;
  }

  /** Stop after the running step; the model stays loaded. */
  async pause(): Promise<void> {
    if (!this.abort) return;
    this.status = 'pausing';
    this.abort.abort();
    while (this.status === 'pausing') await new Promise((r) => setTimeout(r, 20));
  }

  /** Pause and save (Enter; the Stop button; DFL saves on exit). */
  async stop(): Promise<void> {
    await this.pause();
    await this.save('stop');
  }

  private onProgress(p: StudioProgress): void {
    this.last = p;
    this.iter = p.iter;
    this.numTensors = p.numTensors;
    this.timeTrainedMs += p.msPerIter;
    this.lossHistory.push([p.srcLoss, p.dstLoss]);
    this.lossVersion++;
    const log = this.steps.length >= STEP_LOG_LIMIT ? this.steps.slice(1) : this.steps.slice();
    log.push({ iter: p.iter, src: p.srcLoss, dst: p.dstLoss, ms: p.msPerIter, tensors: p.numTensors });
    this.steps = log;
    // DFL saves right after iteration 1, so a new model is in the list (and safe) from its first step on.
    if (!this.stored && !this.saving && this.status === 'training') void this.save('first');
    if (p.preview && this.modelId) {
      // A preview-history frame, rendered by the worker right after this step (write_preview_history).
      this.preview = p.preview;
      this.lastPreviewClock = Date.now();
      void this.keepFrame(this.modelId, p.preview);
    }
  }

  private startTimer(): void {
    this.stopTimer();
    this.timer = setInterval(() => this.tick(), 1000);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (this.status !== 'training' || this.busy) return;
    const now = Date.now();
    if (autosaveDue(this.lastSaveClock, this.autosaveMinutes, now)) void this.save('auto');
    else if (this.options && backupDue(this.lastBackupClock, this.options.autobackup_hour, now)) void this.backup();
    if (this.previewSeconds > 0 && now - this.lastPreviewClock >= this.previewSeconds * 1000) void this.refreshPreview();
  }

  async refreshPreview(): Promise<void> {
    this.lastPreviewClock = Date.now();
    try {
      if (!this.client || !this.info) {
        if (this.status !== 'idle' || this.recovering) return;
        await this.ensureWorker();
      }
      const p = await this.client!.call('preview', { rows: 4 });
      this.preview = p;
      this.numTensors = p.numTensors;
    } catch (e) {
      if (isDeviceLost(e)) this.workerLost(e);
      else if (!(e instanceof Error && e.name === 'AbortError')) this.error = describeError(e);
    }
  }

  /** `write_preview_history`: the grid as a PNG into IndexedDB; only the index of frames stays in memory. */
  private async keepFrame(id: string, p: StudioPreview): Promise<void> {
    try {
      const png = await previewFramePng(p);
      const index = await this.frames.add(id, p.iter, png);
      if (this.modelId === id) this.timelapse = index;
    } catch (e) {
      this.error = `Preview history frame not kept: ${describeError(e)}`;
    }
  }

  /** The PNG of one preview-history frame (read when shown; nothing else is held). */
  timelapseFrame(iter: number): Promise<Uint8Array | undefined> {
    return this.modelId ? this.frames.frame(this.modelId, iter) : Promise.resolve(undefined);
  }

  /** A zip of every kept preview-history frame, streamed one frame at a time. */
  async downloadTimelapse(): Promise<void> {
    const id = this.modelId;
    if (!id) return;
    try {
      const blob = await zipFrames(await this.frames.list(id), (it) => this.frames.frame(id, it));
      downloadBlob(blob, `${this.name.replace(/[^\w.-]+/g, '_')}-history.zip`);
    } catch (e) {
      this.error = `Preview history download failed: ${describeError(e)}`;
    }
  }

  // ---- checkpoints --------------------------------------------------------------------------------------------------

  private extra(): Record<string, unknown> {
    return { seed: this.seed, timeTrainedMs: this.timeTrainedMs, best: this.best } satisfies StudioExtra;
  }

  /** The checkpoint file of the model as it is now (the live worker's state, else the stored one). */
  async checkpointBytes(): Promise<Uint8Array | null> {
    if (this.client && this.info) {
      const r = await this.client.call('capture', { extra: this.extra() });
      this.numTensors = r.numTensors;
      return r.bytes;
    }
    if (this.pendingCheckpoint) return this.pendingCheckpoint;
    if (this.modelId && this.stored) return (await this.store.load(this.modelId)).bytes;
    return null;
  }

  private async ensureRoom(bytes: number): Promise<void> {
    const free = await freeBytes();
    // A new generation is written before the one before the previous is dropped: it needs its full size free.
    if (free !== null && free < bytes) throw new QuotaError(`the save needs ${(bytes / 2 ** 20).toFixed(1)} MiB, ${(free / 2 ** 20).toFixed(1)} MiB are free`);
  }

  private askedPersistence = false;
  private async persistence(): Promise<void> {
    const st = navigator.storage;
    if (this.askedPersistence || !st?.persisted || !st.persist) return;
    this.askedPersistence = true;
    if (await st.persisted().catch(() => true)) return;
    const ok = await st.persist().catch(() => false);
    if (!ok)
      this.storageNote =
        'The browser did not grant persistent storage, so it may evict saved models under disk pressure. Download the checkpoint to keep a copy.';
  }

  /** Save a new generation (never touching the last good one until it is complete). Returns true when stored. */
  save(reason: 'manual' | 'auto' | 'first' | 'stop' | 'target' | 'close' = 'manual'): Promise<boolean> {
    if (this.saving) return this.saving;
    this.saving = this.doSave(reason).finally(() => (this.saving = null));
    return this.saving;
  }

  private async doSave(reason: string): Promise<boolean> {
    if (!this.modelId || !this.options) return false;
    if (!this.client || !this.info) {
      // Nothing trained since opening: the stored generation is already the model.
      if (this.stored) return true;
    }
    const id = this.modelId;
    this.busy = 'saving';
    const t0 = performance.now();
    try {
      const bytes = await this.checkpointBytes();
      if (!bytes) return false;
      await this.ensureRoom(bytes.length);
      const iter = this.iter;
      const summary = modelSummary(this.options, this.params);
      const mean = meanLossSince(this.lossHistory, this.savedHistoryLen);
      await this.store.save(id, this.name, bytes, { iter, summary });
      this.stored = true;
      this.savedIter = iter;
      this.lastSave = { ms: performance.now() - t0, bytes: bytes.length };
      this.lastSavedAt = Date.now();
      this.lastSaveClock = this.lastSavedAt;
      this.savedHistoryLen = this.lossHistory.length;
      this.message = `Saved at iteration ${iter}${reason === 'auto' || reason === 'first' ? ' (autosave)' : reason === 'close' ? ' (the tab was hidden or closed)' : ''}.`;
      if (isNewBest(mean, this.best)) {
        this.best = mean;
        // The best-loss backup (faceswap's .bk rule) lives apart from the model: `<id>~best`.
        await this.store.save(bestId(id), `${this.name} (best loss)`, bytes, { iter, summary: { ...summary, best: mean } });
      }
      void this.persistence();
      this.changed();
      return true;
    } catch (e) {
      if (isDeviceLost(e)) this.workerLost(e);
      const quota = e instanceof QuotaError;
      this.error = `${quota ? 'Not saved' : 'Save failed'}: ${describeError(e)}. The last good save is kept${this.savedIter !== null ? ` (iteration ${this.savedIter})` : ''}; download the checkpoint to keep this state.`;
      this.storageNote = this.error;
      return false;
    } finally {
      this.busy = null;
    }
  }

  /**
   * The tab is being hidden or closed (`visibilitychange` → hidden, `pagehide`): start a save of unsaved progress,
   * best effort — the page may be gone before it completes, which the store's manifest flip makes harmless (the
   * last good generation stays the one that loads). A save already running is not doubled.
   */
  saveOnHide(): void {
    if (!this.modelId || !this.options || !this.client || !this.info || this.busy === 'applying options') return;
    if (this.stored && this.iter === this.savedIter) return;
    void this.save('close');
  }

  /** A backup into the ring (`<id>~bk<k>`, K slots, oldest overwritten). */
  async backup(): Promise<boolean> {
    if (!this.modelId || !this.options || this.busy) return false;
    const id = this.modelId;
    this.busy = 'backing up';
    try {
      const bytes = await this.checkpointBytes();
      if (!bytes) return false;
      await this.ensureRoom(bytes.length);
      const k = Math.max(1, Math.floor(this.backupSlots));
      const slots: { slot: number; savedAt: number | null }[] = [];
      for (let i = 0; i < k; i++) slots.push({ slot: i, savedAt: (await this.store.manifest(backupId(id, i)))?.current.savedAt ?? null });
      const slot = chooseBackupSlot(slots, k);
      const bid = backupId(id, slot);
      // A ring slot holds one backup: drop the old one entirely, then write.
      if (slots[slot].savedAt !== null) await this.store.delete(bid);
      await this.store.save(bid, `${this.name} (backup ${slot + 1})`, bytes, { iter: this.iter, summary: modelSummary(this.options, this.params) });
      this.lastBackupClock = Date.now();
      this.message = `Backup ${slot + 1} of ${k} written at iteration ${this.iter}.`;
      this.changed();
      return true;
    } catch (e) {
      this.error = `Backup failed: ${describeError(e)}`;
      return false;
    } finally {
      this.busy = null;
    }
  }

  async download(): Promise<void> {
    try {
      const bytes = await this.checkpointBytes();
      if (!bytes) {
        this.error = 'Nothing to download yet: train or open a model first.';
        return;
      }
      downloadBytes(bytes, `${this.name.replace(/[^\w.-]+/g, '_')}-iter${this.iter}.saehdbw`);
    } catch (e) {
      this.error = `Download failed: ${describeError(e)}`;
    }
  }

  // ---- DeepFaceLab models (issue 4, spec §C.11) -------------------------------------------------------------------------

  /**
   * Import a DFL model folder (its files, e.g. from a folder input or a dropped folder) or a zip as a new model. The
   * files are parsed and checked against the network in a worker of its own; on any problem the list is shown and
   * nothing is stored. What the page changes or cannot honour is listed in `importNotes`.
   */
  async importDfl(files: File[]): Promise<boolean> {
    if (this.running || this.busy) return false;
    const label = files.length === 1 ? files[0].name : `${files.length} files`;
    const path = (f: File) => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const zip = files.length === 1 && /\.zip$/i.test(files[0].name) ? files[0] : null;
    this.busy = 'importing';
    this.error = null;
    let result;
    try {
      const worker = oneShotWorker('studio-import');
      try {
        if (zip) result = await worker.call('importDfl', { zip: new Uint8Array(await zip.arrayBuffer()) });
        else {
          const picked = files.filter((f) => isDflModelFile(path(f)));
          const read = await Promise.all(picked.map(async (f) => ({ name: path(f), bytes: new Uint8Array(await f.arrayBuffer()) })));
          result = await worker.call('importDfl', { files: read }, { transfer: read.map((f) => f.bytes.buffer as ArrayBuffer) });
        }
      } finally {
        worker.terminate();
      }
    } catch (e) {
      this.error = `Import refused: ${label}: ${describeError(e).replace(/^unexpected problem: /, '')}. Nothing was stored.`;
      return false;
    } finally {
      this.busy = null;
    }
    const id = newModelId();
    try {
      const c = decodeCheckpoint(result.checkpoint);
      await this.ensureRoom(result.checkpoint.length);
      await this.store.save(id, result.modelName, result.checkpoint, { iter: result.iter, summary: modelSummary(storedOptionsOf(c.options), result.params) });
    } catch (e) {
      this.error = `Import not stored: ${describeError(e)}`;
      return false;
    }
    this.changed();
    await this.open(id);
    this.importNotes = result.notes;
    this.message = `Imported the DeepFaceLab model ${result.modelName} (${result.modelClass}) at iteration ${result.iter}.`;
    return true;
  }

  /** Download the open model as a zip in DFL's layout and naming (§C.11), for desktop DeepFaceLab. */
  async exportDfl(): Promise<void> {
    if (this.busy) return;
    try {
      const bytes = await this.checkpointBytes();
      if (!bytes) {
        this.error = 'Nothing to export yet: train or open a model first.';
        return;
      }
      this.busy = 'exporting';
      const worker = oneShotWorker('studio-export');
      try {
        // Copied, not transferred: the bytes may be the open model's pending checkpoint.
        const r = await worker.call('exportDfl', { checkpoint: bytes, name: this.name });
        downloadBytes(r.zip, `${r.modelName}_${r.modelClass}.zip`, 'application/zip');
        this.message = `Exported ${r.files.length} DeepFaceLab files (${r.modelName}_${r.modelClass}) at iteration ${this.iter}.`;
      } finally {
        worker.terminate();
      }
    } catch (e) {
      if (isDeviceLost(e)) this.workerLost(e);
      this.error = `DFL export failed: ${describeError(e)}`;
    } finally {
      this.busy = null;
    }
  }

  /** Test-only (the `?testhooks` page): destroy the training worker's WebGPU device, as a driver reset would. */
  async loseDeviceForTest(): Promise<boolean> {
    if (!this.client) return false;
    return (await this.client.call('loseDevice', {})).destroyed;
  }

  /** Change the options that may change on resume; the worker restarts from the current state with them. */
  async applyOptions(options: ModelOptions): Promise<void> {
    if (this.running || !this.options || this.busy) return;
    this.busy = 'applying options';
    try {
      const bytes = this.client && this.info ? await this.checkpointBytes() : this.pendingCheckpoint;
      this.shutdown();
      if (bytes) {
        this.pendingCheckpoint = bytes;
        this.pendingOverrides = { ...options };
      }
      this.options = options;
      this.message = 'Options changed: they apply from the next iteration.';
    } catch (e) {
      this.error = describeError(e);
    } finally {
      this.busy = null;
    }
  }

  // ---- keys ---------------------------------------------------------------------------------------------------------

  act(a: StudioAction): void {
    if (a === 'help') this.helpOpen = !this.helpOpen;
    else if (a === 'cycleLoss') this.lossRange = nextLossRange(this.lossRange);
    if (!this.modelId) return;
    if (a === 'save') void this.save('manual');
    else if (a === 'preview') void this.refreshPreview();
    else if (a === 'backup') void this.backup();
    else if (a === 'saveStop') void this.stop();
  }

  /** Terminate the worker (its model and sample workers go with it). */
  shutdown(): void {
    this.stopTimer();
    this.abort?.abort();
    this.client?.terminate();
    this.client = null;
    this.info = null;
  }

  close(): void {
    this.reset();
    this.modelId = null;
    this.options = null;
    this.status = 'closed';
  }
}

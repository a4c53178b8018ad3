import type { BackendPref } from '../../core/train/backend.ts';
import { toUserMessage } from '../../core/errors.ts';
import type { FacesetInfo } from '../../core/faceset/types.ts';
import type { TrainerCalls, TrainerInitResult, TrainPreview, TrainProgress } from '../../../workers/trainer.protocol.ts';
import { WorkerCallError, WorkerClient } from '../lib/workerClient.ts';
import { trainPreset, type TrainPresetId } from '../lib/trainPresets.ts';

/** One finished iteration, as the loss chart and the browser test read them. */
export interface HistoryEntry {
  iter: number;
  src: number;
  dst: number;
  ms: number;
  tensors: number;
}

export type TrainStatus = 'idle' | 'starting' | 'training' | 'stopping';

/** Kept for the chart: enough to see a trend, small enough to re-render every step. */
const HISTORY_LIMIT = 2000;

/**
 * The training panel's state: the choices (preset, backend, how many iterations), the trainer worker, and what it
 * reports. The worker and its model survive Stop, so Start continues the same model while the choices and the two
 * facesets stay the same; changing any of them builds a fresh model.
 */
export class TrainState {
  preset = $state<TrainPresetId>('quick');
  backend = $state<BackendPref>('auto');
  /** Iterations per Start; 0 = until Stop. */
  iterations = $state(0);
  /** A preview every N iterations; 0 = none. */
  previewEvery = $state(10);
  status = $state<TrainStatus>('idle');
  info = $state<TrainerInitResult | null>(null);
  last = $state<TrainProgress | null>(null);
  history = $state.raw<HistoryEntry[]>([]);
  preview = $state.raw<TrainPreview | null>(null);
  error = $state<string | null>(null);

  private client: WorkerClient<TrainerCalls> | null = null;
  private sessionKey: string | null = null;
  private abort: AbortController | null = null;

  constructor(private readonly facesets: () => { src: FacesetInfo | null; dst: FacesetInfo | null }) {}

  get running(): boolean {
    return this.status !== 'idle';
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.error = null;
    const { src, dst } = this.facesets();
    if (!src?.faces.length || !dst?.faces.length) {
      this.error = `Import faces into the ${!src?.faces.length ? 'source' : 'destination'} faceset first.`;
      return;
    }
    const preset = trainPreset(this.preset);
    const key = JSON.stringify([this.preset, this.backend, src.id, src.faces.length, dst.id, dst.faces.length]);
    this.status = 'starting';
    try {
      if (!this.client || key !== this.sessionKey) {
        this.shutdown();
        this.client = new WorkerClient<TrainerCalls>(
          new Worker(new URL('../../../workers/trainer.worker.ts', import.meta.url), { type: 'module', name: 'trainer' }),
        );
        this.history = [];
        this.last = null;
        this.preview = null;
        this.info = await this.client.call('init', {
          options: preset.options,
          backend: this.backend,
          srcFacesetId: src.id,
          dstFacesetId: dst.id,
          seed: 1,
        });
        this.sessionKey = key;
      }
      this.abort = new AbortController();
      this.status = 'training';
      await this.client.call(
        'train',
        { iterations: this.iterations > 0 ? this.iterations : Number.MAX_SAFE_INTEGER, previewEvery: this.previewEvery || undefined },
        { signal: this.abort.signal, onProgress: (p) => this.onProgress(p) },
      );
    } catch (e) {
      this.error = toUserMessage(e);
      // A failed init or a crashed worker leaves nothing to continue; after a failed step (e.g. a non-finite loss)
      // the model is still good, because the step's update was skipped, so Start may go on from it.
      if (this.sessionKey !== key || (e instanceof WorkerCallError && e.code === 'worker-crash')) this.shutdown();
    } finally {
      this.abort = null;
      this.status = 'idle';
    }
  }

  stop(): void {
    if (!this.abort) return;
    this.status = 'stopping';
    this.abort.abort();
  }

  /** Terminate the worker (its model and sample workers go with it). */
  shutdown(): void {
    this.client?.terminate();
    this.client = null;
    this.sessionKey = null;
    this.info = null;
  }

  private onProgress(p: TrainProgress): void {
    const { preview, ...rest } = p;
    this.last = rest;
    if (preview) this.preview = preview;
    const h = this.history.length >= HISTORY_LIMIT ? this.history.slice(-HISTORY_LIMIT + 1) : this.history.slice();
    h.push({ iter: p.iter, src: p.srcLoss, dst: p.dstLoss, ms: p.msPerIter, tensors: p.numTensors });
    this.history = h;
  }
}

/**
 * The merge panel's state (issue 6; spec §F): which model, frames and dst faceset; the merge settings (saved per
 * model); the live preview (debounced, a newer request cancels the older one); the batch merge with progress, cancel
 * and resume; and the zip download of the merged frames. The model and the pixels live in the merge worker.
 */
import { createStore, get, set, type UseStore } from 'idb-keyval';
import { CheckpointStore } from '../../core/checkpoint/checkpointStore.ts';
import { colorTransferModesFor } from '../../core/color/index.ts';
import { toUserMessage } from '../../core/errors.ts';
import { framesFromFiles } from '../../core/frames/frameFiles.ts';
import { FrameStore, naturalCompare, type FrameSetInfo } from '../../core/frames/frameStore.ts';
import type { FramePlan } from '../../core/frames/matchFrames.ts';
import type { MergeAllResult, MergeFormat } from '../../core/frames/mergeJob.ts';
import { defaultMergeSettings, normalizeMergeSettings, type MergeSettings } from '../../core/merge/index.ts';
import type { BackendPref } from '../../core/train/backend.ts';
import type { MergeCalls, MergeModelLoaded, MergePreviewResult } from '../../../workers/merge.protocol.ts';
import { downloadBlob, zipStored } from '../lib/download.ts';
import { isAuxId } from '../lib/studio.ts';
import { WorkerCallError, WorkerClient } from '../lib/workerClient.ts';
import type { AppState } from './app.svelte.ts';

export interface MergeModelRow {
  id: string;
  name: string;
  iter: number;
}

/** What is saved per model (`merge-settings/<modelId>`): the settings, and the output format with its quality. */
interface SavedMergeSettings {
  settings: MergeSettings;
  format: MergeFormat;
  quality: number;
}

/** A worker's message is already a user message; anything else goes through toUserMessage (never a stack trace). */
function describe(e: unknown): string {
  return e instanceof WorkerCallError ? e.message : toUserMessage(e);
}

const isImageName = (n: string) => /\.(png|jpe?g)$/i.test(n);
/** Files added per storage transaction (bounded memory for long sequences). */
const ADD_BATCH = 24;
const PREVIEW_DEBOUNCE_MS = 120;

export class MergeState {
  models = $state.raw<MergeModelRow[]>([]);
  frameSets = $state.raw<FrameSetInfo[]>([]);
  modelId = $state('');
  frameSetId = $state('');
  backend = $state<BackendPref>('auto');
  loaded = $state.raw<MergeModelLoaded | null>(null);
  loading = $state(false);
  settings = $state<MergeSettings>(defaultMergeSettings(1));
  format = $state<MergeFormat>('png');
  quality = $state(95);
  /** Side-by-side gray / luma preview for a one-channel model on colour frames. */
  compare = $state(true);
  plan = $state.raw<FramePlan | null>(null);
  frameIndex = $state(0);
  preview = $state.raw<MergePreviewResult | null>(null);
  /** The settings (JSON) the shown preview was made with. */
  previewSettings = $state('');
  previewBusy = $state(false);
  previewError = $state<string | null>(null);
  busy = $state<{ label: string; done: number; total: number; abort: AbortController | null } | null>(null);
  result = $state.raw<MergeAllResult | null>(null);
  /** The merged frame set of the chosen frames, and the names it holds. */
  output = $state.raw<FrameSetInfo | null>(null);
  outputNames = $state.raw<Set<string>>(new Set());
  message = $state<string | null>(null);
  error = $state<string | null>(null);
  addReport = $state.raw<{ added: number; failed: { name: string; reason: string }[] } | null>(null);

  private client: WorkerClient<MergeCalls> | null = null;
  private readonly checkpoints = new CheckpointStore();
  private readonly frames = new FrameStore();
  private readonly settingsDb: UseStore = createStore('saehdbw-merge', 'settings');
  private previewTimer: ReturnType<typeof setTimeout> | null = null;
  private previewAbort: AbortController | null = null;
  private previewSeq = 0;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly getApp: () => AppState) {}

  private get app(): AppState {
    return this.getApp();
  }

  get facesetId(): string | null {
    return this.app.dst.info?.id ?? null;
  }

  get frameNames(): string[] {
    return this.plan?.frames.map((f) => f.name) ?? [];
  }

  get currentFrame(): string | null {
    return this.plan?.frames[this.frameIndex]?.name ?? null;
  }

  /** Merge colour transfers the loaded model can use (spec §E.9: grayscale models none, lct, sot-m). */
  get colorTransfers(): string[] {
    return colorTransferModesFor(this.loaded?.channels ?? 1, 'merge').map((m) => m.name);
  }

  private worker(): WorkerClient<MergeCalls> {
    this.client ??= new WorkerClient<MergeCalls>(new Worker(new URL('../../../workers/merge.worker.ts', import.meta.url), { type: 'module', name: 'merge' }));
    return this.client;
  }

  // ---- lists ------------------------------------------------------------------------------------------------------

  /** Models (not their backups) and frame sets; cheap, so the panel refreshes them when it is used. */
  async refreshLists(): Promise<void> {
    try {
      const ms = (await this.checkpoints.list()).filter((m) => !isAuxId(m.id));
      const rows = ms.map((m) => ({ id: m.id, name: m.name, iter: m.current.iter }));
      if (JSON.stringify(rows) !== JSON.stringify(this.models)) this.models = rows;
      const sets = (await this.frames.listSets()).filter((s) => s.kind === 'frames');
      if (JSON.stringify(sets) !== JSON.stringify(this.frameSets)) this.frameSets = sets;
      if (this.frameSetId && !sets.some((s) => s.id === this.frameSetId)) await this.chooseFrames('');
      if (this.modelId && !rows.some((r) => r.id === this.modelId)) {
        this.modelId = '';
        this.loaded = null;
      }
    } catch (e) {
      this.error = describe(e);
    }
  }

  async start(): Promise<void> {
    await this.refreshLists();
    const last = await get<{ modelId?: string; frameSetId?: string; backend?: BackendPref }>('merge-ui/last', this.settingsDb).catch(() => undefined);
    if (last?.backend) this.backend = last.backend;
    if (last?.frameSetId && this.frameSets.some((s) => s.id === last.frameSetId)) await this.chooseFrames(last.frameSetId);
    if (last?.modelId && this.models.some((m) => m.id === last.modelId)) await this.chooseModel(last.modelId);
  }

  private rememberChoice(): void {
    void set('merge-ui/last', { modelId: this.modelId, frameSetId: this.frameSetId, backend: this.backend }, this.settingsDb).catch(() => undefined);
  }

  // ---- model ------------------------------------------------------------------------------------------------------

  async chooseModel(id: string): Promise<void> {
    if (this.busy) return;
    this.modelId = id;
    this.loaded = null;
    this.preview = null;
    this.error = null;
    this.rememberChoice();
    if (!id) return;
    this.loading = true;
    try {
      const loaded = await this.worker().call('load', { modelId: id, backend: this.backend });
      if (this.modelId !== id) return;
      const saved = await get<SavedMergeSettings>(`merge-settings/${id}`, this.settingsDb).catch(() => undefined);
      try {
        this.settings = normalizeMergeSettings(saved?.settings, loaded.channels);
      } catch (e) {
        this.settings = defaultMergeSettings(loaded.channels);
        this.message = `The saved merge settings of this model were not usable (${toUserMessage(e)}); defaults are shown.`;
      }
      this.format = saved?.format === 'jpeg' ? 'jpeg' : 'png';
      this.quality = typeof saved?.quality === 'number' ? Math.min(100, Math.max(1, saved.quality)) : 95;
      this.loaded = loaded;
      if (loaded.notes.length) this.message = loaded.notes.join(' ');
      await this.refreshOutput();
      this.requestPreview();
    } catch (e) {
      if (this.modelId === id) this.error = `Could not load the model: ${describe(e)}`;
    } finally {
      this.loading = false;
    }
  }

  async chooseBackend(b: BackendPref): Promise<void> {
    this.backend = b;
    if (this.modelId) await this.chooseModel(this.modelId);
    else this.rememberChoice();
  }

  /** Save the settings for this model a moment after the last change. */
  saveSettingsSoon(): void {
    const id = this.modelId;
    if (!id || !this.loaded) return;
    const saved: SavedMergeSettings = { settings: $state.snapshot(this.settings) as MergeSettings, format: this.format, quality: this.quality };
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => void set(`merge-settings/${id}`, saved, this.settingsDb).catch((e) => (this.error = describe(e))), 300);
  }

  resetSettings(): void {
    this.settings = defaultMergeSettings(this.loaded?.channels ?? 1);
  }

  // ---- frames -----------------------------------------------------------------------------------------------------

  async chooseFrames(id: string): Promise<void> {
    if (this.busy) return;
    this.frameSetId = id;
    this.frameIndex = 0;
    this.preview = null;
    this.result = null;
    this.rememberChoice();
    await this.refreshPlan();
    await this.refreshOutput();
  }

  /** Add frame files as a new frame set (named after their folder) and choose it. */
  async addFrames(files: File[]): Promise<void> {
    if (this.busy) return;
    const picked = files.filter((f) => isImageName(f.name)).sort((a, b) => naturalCompare(a.name, b.name));
    const ignored = files.filter((f) => !isImageName(f.name)).map((f) => ({ name: f.name, reason: 'not a PNG or JPEG frame' }));
    if (!picked.length) {
      this.addReport = { added: 0, failed: ignored };
      return;
    }
    const folder = (picked[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0];
    const abort = new AbortController();
    this.busy = { label: `Adding ${picked.length} frames`, done: 0, total: picked.length, abort };
    this.error = null;
    const failed = [...ignored];
    let added = 0;
    let setId = '';
    try {
      await this.app.askPersistenceOnce();
      const s = await this.frames.createSet({ name: folder || `${picked.length} frames from ${picked[0].name}`, kind: 'frames', width: 0, height: 0, source: folder || picked[0].name });
      setId = s.id;
      for (let i = 0; i < picked.length && !abort.signal.aborted; i += ADD_BATCH) {
        const part = picked.slice(i, i + ADD_BATCH);
        const read = await Promise.all(part.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
        const r = framesFromFiles(read);
        failed.push(...r.failed);
        await this.frames.putFrames(setId, r.frames);
        added += r.frames.length;
        this.busy = { ...this.busy!, done: Math.min(picked.length, i + part.length) };
      }
      if (!added) {
        await this.frames.deleteSet(setId);
        setId = '';
      }
    } catch (e) {
      this.error = `Adding frames stopped: ${describe(e)}. The frames stored before are kept.`;
    } finally {
      this.busy = null;
      this.addReport = { added, failed };
      await this.refreshLists();
      if (setId) await this.chooseFrames(setId);
      await this.app.refreshStorage();
    }
  }

  async deleteFrames(): Promise<void> {
    const id = this.frameSetId;
    if (!id || this.busy) return;
    // Every merged set made from these frames goes with them.
    for (const s of await this.frames.listSets()) if (s.kind === 'merged' && s.sourceSetId === id) await this.frames.deleteSet(s.id);
    await this.frames.deleteSet(id);
    await this.chooseFrames('');
    await this.refreshLists();
  }

  /** Match the dst faceset's faces to the chosen frames (by source_filename, §F.1). */
  async refreshPlan(): Promise<void> {
    const facesetId = this.facesetId;
    if (!this.frameSetId || !facesetId) {
      this.plan = null;
      return;
    }
    try {
      const plan = await this.worker().call('plan', { facesetId, frameSetId: this.frameSetId });
      this.plan = plan;
      if (this.frameIndex >= plan.frames.length) this.frameIndex = Math.max(0, plan.frames.length - 1);
      // Start the preview on a frame that has a face.
      if (!this.preview && plan.frames.length && !plan.frames[this.frameIndex]?.faces.length) {
        const k = plan.frames.findIndex((f) => f.faces.length > 0);
        if (k >= 0) this.frameIndex = k;
      }
      this.requestPreview();
    } catch (e) {
      this.error = describe(e);
    }
  }

  /** The merged set shown for the chosen frames: `preferId` (the last Merge all's), else the newest one. */
  async refreshOutput(preferId?: string): Promise<void> {
    const id = this.frameSetId;
    if (!id) {
      this.output = null;
      this.outputNames = new Set();
      return;
    }
    const merged = (await this.frames.listSets()).filter((s) => s.kind === 'merged' && s.sourceSetId === id);
    const out = merged.find((s) => s.id === preferId) ?? merged.sort((a, b) => b.createdAt - a.createdAt)[0] ?? null;
    this.output = out;
    this.outputNames = new Set(out ? await this.frames.frameNames(out.id) : []);
  }

  // ---- preview ----------------------------------------------------------------------------------------------------

  /** Ask for a preview of the current frame with the current settings, after a short pause (typing, dragging). */
  requestPreview(): void {
    if (this.previewTimer) clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => void this.runPreview(), PREVIEW_DEBOUNCE_MS);
  }

  private async runPreview(): Promise<void> {
    const frame = this.currentFrame;
    const facesetId = this.facesetId;
    if (!this.loaded || !frame || !facesetId || !this.frameSetId) return;
    this.previewAbort?.abort();
    const ac = new AbortController();
    this.previewAbort = ac;
    const seq = ++this.previewSeq;
    const settings = $state.snapshot(this.settings) as MergeSettings;
    this.previewBusy = true;
    try {
      const r = await this.worker().call('preview', { facesetId, frameSetId: this.frameSetId, frame, settings, compare: this.compare }, { signal: ac.signal });
      if (seq !== this.previewSeq) return;
      this.preview = r;
      this.previewSettings = JSON.stringify(settings);
      this.previewError = null;
    } catch (e) {
      if (seq === this.previewSeq && !ac.signal.aborted) this.previewError = describe(e);
    } finally {
      if (seq === this.previewSeq) this.previewBusy = false;
    }
  }

  // ---- batch ------------------------------------------------------------------------------------------------------

  async mergeAll(): Promise<void> {
    const facesetId = this.facesetId;
    if (!this.loaded || !this.frameSetId || !facesetId || this.busy) return;
    const abort = new AbortController();
    const total = this.plan?.frames.length ?? 0;
    this.busy = { label: 'Merging', done: 0, total, abort };
    this.error = null;
    this.message = null;
    try {
      const model = this.models.find((m) => m.id === this.modelId);
      const r = await this.worker().call(
        'mergeAll',
        { facesetId, frameSetId: this.frameSetId, settings: $state.snapshot(this.settings) as MergeSettings, format: this.format, quality: this.quality, label: model?.name ?? this.modelId },
        { signal: abort.signal, onProgress: (p) => (this.busy = { ...this.busy!, done: p.done, total: p.total }) },
      );
      this.result = r;
      const parts = [`${r.merged} merged`, `${r.copied} without a face copied`];
      if (r.skipped) parts.push(`${r.skipped} already merged (resumed)`);
      if (r.failed.length) parts.push(`${r.failed.length} failed`);
      const conv = r.frameConversion === 'gray' ? ' Colour frames were converted to gray (one-channel model).' : r.frameConversion === 'luma' ? ' Colour frames kept their colour; only the luminance inside the mask was replaced.' : '';
      this.message = `${r.cancelled ? 'Cancelled' : 'Done'}: ${parts.join(', ')} of ${r.total} frames.${r.cancelled ? ' Merge all resumes where it stopped.' : ''}${conv}`;
    } catch (e) {
      this.error = `Merge stopped: ${describe(e)}. The frames merged before are kept; Merge all resumes.`;
    } finally {
      this.busy = null;
      await this.refreshOutput(this.result?.outputSetId).catch(() => undefined);
      await this.app.refreshStorage();
    }
  }

  cancel(): void {
    this.busy?.abort?.abort();
  }

  /** A zip of the merged frames (already compressed images: stored, not deflated), named like the input frames. */
  async downloadZip(): Promise<void> {
    const out = this.output;
    if (!out || this.busy) return;
    this.busy = { label: 'Packing merged frames', done: 0, total: out.count, abort: null };
    try {
      const names = await this.frames.frameNames(out.id);
      const zip = await zipStored(names, async (n) => (await this.frames.getFrame(out.id, n)).bytes, (done) => {
        this.busy = { ...this.busy!, done };
      });
      const base = (this.frameSets.find((s) => s.id === this.frameSetId)?.name ?? 'frames').replace(/[^\w.-]+/g, '_');
      downloadBlob(zip, `${base}-merged.zip`);
    } catch (e) {
      this.error = `Download failed: ${describe(e)}`;
    } finally {
      this.busy = null;
    }
  }

  shutdown(): void {
    this.previewAbort?.abort();
    if (this.previewTimer) clearTimeout(this.previewTimer);
    this.client?.terminate();
    this.client = null;
  }
}

import { toUserMessage } from '../../core/errors.ts';
import type { FaceScore, SortKey } from '../../core/extract/sortFaces.ts';
import type { FacesetRole } from '../../core/faceset/types.ts';
import { FrameStore } from '../../core/frames/frameStore.ts';
import type { ExtractCalls, ExtractFaceReview } from '../../../workers/extract.protocol.ts';
import { WorkerClient } from '../lib/workerClient.ts';
import type { AppState } from './app.svelte.ts';

export interface ReviewFace extends ExtractFaceReview {
  removed: boolean;
}

/** One frame in the review list: the frame (object URL of the picked file) with its detections. */
export interface ReviewFrame {
  frame: string;
  url: string | null;
  width: number;
  height: number;
  faces: ReviewFace[];
  error: string | null;
}

export interface SortedView {
  key: SortKey;
  role: FacesetRole;
  facesetId: string;
  items: FaceScore[];
  trash: FaceScore[];
}

/** A stored frame set (a decoded video, issue 7) to extract from instead of picked files. */
export interface FrameSetSource {
  id: string;
  name: string;
  count: number;
}

/**
 * The video panel hands a frame set over here ("Extract faces"): ExtractPanel picks the request up, extracts with its
 * own options into `role`'s faceset and shows the review as for picked frames.
 */
export const extractHandOff = $state<{ request: (FrameSetSource & { role: FacesetRole }) | null }>({ request: null });

/** Review images of a frame set are made for the frames the review list shows (ExtractPanel shows 200). */
const SET_REVIEW_URLS = 200;

const isFrameFile = (f: File) => /\.(jpe?g|png|webp|bmp|gif)$/i.test(f.name) || f.type.startsWith('image/');

/**
 * The "Extract faces from frames" section: frames picked by the user, options, the extraction job in the extract
 * worker (writing into the chosen faceset), the review list and DFL's blur / yaw sort of the target faceset.
 */
export class ExtractState {
  frames = $state<File[]>([]);
  /** When set, frames come from this stored frame set instead of `frames`. */
  frameSet = $state<FrameSetSource | null>(null);
  target = $state<FacesetRole>('dst');
  faceType = $state('whole_face');
  size = $state(256);
  gray = $state(false);
  largestOnly = $state(true);
  busy = $state<{ label: string; done: number; total: number; abort: AbortController } | null>(null);
  reviews = $state<ReviewFrame[]>([]);
  summary = $state<string | null>(null);
  /** Throughput of the last run (frames per second), for the summary line and the benchmark. */
  stats = $state<{ detectFps: number; writeFps: number; backend: string } | null>(null);
  error = $state<string | null>(null);
  sorted = $state<SortedView | null>(null);
  private client: WorkerClient<ExtractCalls> | null = null;

  /** `app` is read through a getter so a component can pass its (reactive) prop. */
  constructor(private readonly getApp: () => AppState) {}

  private get app(): AppState {
    return this.getApp();
  }

  /** The worker is started on first use (it loads tfjs and ~6 MB of face-api weights). */
  private worker(): WorkerClient<ExtractCalls> {
    this.client ??= new WorkerClient<ExtractCalls>(
      new Worker(new URL('../../../workers/extract.worker.ts', import.meta.url), { type: 'module', name: 'extract' }),
    );
    return this.client;
  }

  addFrames(files: File[]): void {
    this.frameSet = null;
    const picked = files.filter(isFrameFile);
    const known = new Set(this.frames.map((f) => f.name));
    this.frames = [...this.frames, ...picked.filter((f) => !known.has(f.name))].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  }

  /** Extract from a stored frame set (replaces picked frames). */
  useFrameSet(set: FrameSetSource): void {
    this.frames = [];
    this.frameSet = set;
  }

  clearFrames(): void {
    this.frames = [];
    this.frameSet = null;
    this.clearReview();
  }

  clearReview(): void {
    for (const r of this.reviews) if (r.url) URL.revokeObjectURL(r.url);
    this.reviews = [];
    this.summary = null;
  }

  private panel(role: FacesetRole) {
    return role === 'src' ? this.app.src : this.app.dst;
  }

  async extract(): Promise<void> {
    if (this.busy || (!this.frames.length && !this.frameSet)) return;
    await this.app.askPersistenceOnce();
    const role = this.target;
    const panel = this.panel(role);
    const info = panel.info ?? (await this.app.store.forRole(role));
    const set = this.frameSet;
    const frames = set ? [] : this.frames.slice();
    const byName = new Map(frames.map((f) => [f.name, f]));
    const frameStore = set ? new FrameStore() : null;
    const total = set ? set.count : frames.length;
    this.clearReview();
    this.error = null;
    this.stats = null;
    const abort = new AbortController();
    this.busy = { label: `Extracting faces from ${total} frame${total === 1 ? '' : 's'}${set ? ` of ${set.name}` : ''}`, done: 0, total, abort };
    let lastRefresh = performance.now();
    try {
      const res = await this.worker().call(
        'extract',
        { frames, frameSetId: set?.id, faceType: this.faceType, size: this.size, gray: this.gray, largestOnly: this.largestOnly, targetFacesetId: info.id },
        {
          signal: abort.signal,
          onProgress: (p) => {
            if (this.busy) this.busy = { ...this.busy, done: p.done, total: p.total };
            if (p.frame) {
              const file = byName.get(p.frame.frame);
              const url = file && !p.frame.error ? URL.createObjectURL(file) : null;
              this.reviews = [...this.reviews, { ...p.frame, url, faces: p.frame.faces.map((f) => ({ ...f, removed: false })) }];
              if (set && frameStore && !p.frame.error && this.reviews.length <= SET_REVIEW_URLS) void this.setReviewUrl(frameStore, set.id, p.frame.frame);
            }
            if (performance.now() - lastRefresh > 1500) {
              lastRefresh = performance.now();
              void panel.refresh();
            }
          },
        },
      );
      const n = this.reviews.filter((r) => !r.error).length;
      this.stats = { detectFps: res.detectSeconds > 0 ? n / res.detectSeconds : 0, writeFps: res.writeSeconds > 0 ? n / res.writeSeconds : 0, backend: res.backend };
      const fps = (s: number) => (s > 0 ? `${(n / s).toFixed(1)} frames/s` : '–');
      const parts = [
        `${res.faces} face${res.faces === 1 ? '' : 's'} from ${this.reviews.length} of ${res.frames} frames into the ${role === 'src' ? 'source' : 'destination'} faceset`,
        `detection + landmarks ${fps(res.detectSeconds)}, alignment + writing ${fps(res.writeSeconds)} (${res.backend})`,
      ];
      if (res.failed.length) parts.push(`${res.failed.length} frame${res.failed.length === 1 ? '' : 's'} unreadable`);
      if (res.cancelled) parts.push('cancelled: the faces stored before the cancel are kept');
      if (res.stopped) parts.push(res.stopped);
      this.summary = parts.join(' · ');
    } catch (e) {
      this.error = toUserMessage(e);
    } finally {
      this.busy = null;
      await panel.refresh().catch(() => undefined);
      await this.app.refreshStorage();
    }
  }

  /** A stored frame's image for the review list (read from IndexedDB on this thread). */
  private async setReviewUrl(frameStore: FrameStore, setId: string, name: string): Promise<void> {
    const f = await frameStore.getFrame(setId, name).catch(() => null);
    if (!f) return;
    const url = URL.createObjectURL(new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: f.type }));
    let used = false;
    this.reviews = this.reviews.map((r) => (r.frame === name && !r.url ? ((used = true), { ...r, url }) : r));
    if (!used) URL.revokeObjectURL(url);
  }

  cancel(): void {
    this.busy?.abort.abort();
  }

  /** Remove a wrongly detected face from the faceset it was stored in. */
  async removeFace(name: string, role: FacesetRole = this.target): Promise<void> {
    const panel = this.panel(role);
    const info = panel.info;
    if (!info) return;
    try {
      await this.app.store.removeFaces(info.id, [name]);
    } catch (e) {
      this.error = toUserMessage(e);
      return;
    }
    this.reviews = this.reviews.map((r) => ({ ...r, faces: r.faces.map((f) => (f.name === name ? { ...f, removed: true } : f)) }));
    if (this.sorted)
      this.sorted = { ...this.sorted, items: this.sorted.items.filter((s) => s.name !== name), trash: this.sorted.trash.filter((s) => s.name !== name) };
    await panel.refresh();
  }

  /** DFL's `sort_by_blur` / `sort_by_face_yaw` values for the target faceset, shown in DFL's order. */
  async sort(key: SortKey): Promise<void> {
    if (this.busy) return;
    const role = this.target;
    const info = this.panel(role).info;
    if (!info || !info.faces.length) return;
    this.error = null;
    const abort = new AbortController();
    this.busy = { label: `Sorting ${info.faces.length} faces by ${key}`, done: 0, total: info.faces.length, abort };
    try {
      const res = await this.worker().call('scores', { facesetId: info.id, key }, {
        signal: abort.signal,
        onProgress: (p) => {
          if (this.busy) this.busy = { ...this.busy, done: p.done, total: p.total };
        },
      });
      this.sorted = { key, role, facesetId: info.id, items: res.sorted, trash: res.trash };
      if (res.failed.length) this.error = `${res.failed.length} face(s) could not be scored: ${res.failed[0].name}: ${res.failed[0].reason}`;
    } catch (e) {
      this.error = toUserMessage(e);
    } finally {
      this.busy = null;
    }
  }

  thumb(role: FacesetRole, name: string): string | undefined {
    return this.panel(role).thumbs[name];
  }

  shutdown(): void {
    this.client?.terminate();
    this.client = null;
    this.clearReview();
  }
}

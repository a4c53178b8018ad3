import { toUserMessage } from '../../core/errors.ts';
import type { FacesetRole } from '../../core/faceset/types.ts';
import { FrameStore, type FrameSetInfo } from '../../core/frames/frameStore.ts';
import { codecLabel } from '../../core/video/codecs.ts';
import { isVideoFile } from '../../core/video/frames.ts';
import { VIDEO_META_KEY, decodeVideoMeta } from '../../core/video/meta.ts';
import type { DecodeResult, EncodeResult, VideoCalls } from '../../../workers/video.protocol.ts';
import { downloadBlob } from '../lib/download.ts';
import { WorkerClient } from '../lib/workerClient.ts';
import { extractHandOff } from './extract.svelte.ts';
import type { AppState } from './app.svelte.ts';

/** A frame set as the list shows it: the stored info plus what is known of its source video. */
export interface FrameSetRow extends FrameSetInfo {
  /** Audio codec kept with the set (or with its source set, for a merged set), or null. */
  audio: string | null;
}

export interface MadeVideo extends Omit<EncodeResult, 'bytes'> {
  setId: string;
  blob: Blob;
  url: string;
  size: number;
}

/** Frame-rate choices offered when decoding: every frame, or a rate (DFL's extractor asks the same question). */
export const FPS_CHOICES = ['every', '1', '2', '5', '10', '12', '15', '24', '25', '30'] as const;

/**
 * The "Video" section (issue 7): videos decoded into frame sets in the video worker, the list of frame sets, the
 * hand-off of a set to face extraction, and frames → video with the source's audio.
 */
export class VideoState {
  fps = $state<string>('every');
  extractRole = $state<FacesetRole>('dst');
  busy = $state<{ label: string; done: number; total: number; abort: AbortController } | null>(null);
  sets = $state<FrameSetRow[]>([]);
  /** The last decode's result, for the summary line and the benchmark. */
  decoded = $state<(DecodeResult & { file: string }) | null>(null);
  made = $state<MadeVideo | null>(null);
  error = $state<string | null>(null);
  private client: WorkerClient<VideoCalls> | null = null;
  private readonly frames = new FrameStore();

  constructor(private readonly getApp: () => AppState) {}

  private get app(): AppState {
    return this.getApp();
  }

  private worker(): WorkerClient<VideoCalls> {
    this.client ??= new WorkerClient<VideoCalls>(
      new Worker(new URL('../../../workers/video.worker.ts', import.meta.url), { type: 'module', name: 'video' }),
    );
    return this.client;
  }

  async refresh(): Promise<void> {
    try {
      const sets = await this.frames.listSets();
      const byId = new Map(sets.map((s) => [s.id, s]));
      const audioOf = async (s: FrameSetInfo): Promise<string | null> => {
        for (const id of [s.id, s.sourceSetId]) {
          if (!id || !byId.has(id)) continue;
          const meta = await this.frames.getBlob(id, VIDEO_META_KEY);
          if (meta) {
            try {
              // The audio file is stored before the meta that names its codec (video.worker.ts), so the meta is enough.
              const m = decodeVideoMeta(meta);
              if (m.audioCodec) return m.audioCodec;
            } catch {
              /* damaged side data: shown as no audio */
            }
          }
        }
        return null;
      };
      this.sets = await Promise.all(sets.map(async (s) => ({ ...s, audio: await audioOf(s) })));
    } catch (e) {
      this.error = toUserMessage(e);
    }
  }

  /** Decode each picked or dropped video into a new frame set, one after another. */
  async addFiles(files: File[]): Promise<void> {
    if (this.busy) return;
    this.error = null;
    const videos = files.filter((f) => isVideoFile(f.name, f.type));
    const others = files.filter((f) => !isVideoFile(f.name, f.type));
    if (others.length) this.error = `${others.map((f) => f.name).join(', ')}: not a video file (MP4, MOV, WebM or MKV)`;
    if (!videos.length) return;
    await this.app.askPersistenceOnce();
    const fps = this.fps === 'every' ? null : Number(this.fps);
    for (const file of videos) {
      const abort = new AbortController();
      this.busy = { label: `Decoding ${file.name}${fps ? ` at ${fps} fps` : ', every frame'}`, done: 0, total: 0, abort };
      try {
        const res = await this.worker().call(
          'decode',
          { file, fps },
          {
            signal: abort.signal,
            onProgress: (p) => {
              if (this.busy) this.busy = { ...this.busy, done: p.done, total: p.total };
            },
          },
        );
        // The list first, so the new set is in it when the summary names it.
        await this.refresh();
        this.decoded = { ...res, file: file.name };
        if (res.cancelled) break;
      } catch (e) {
        const msg = toUserMessage(e);
        this.error = msg.includes(file.name) ? msg : `${file.name}: ${msg}`;
      } finally {
        this.busy = null;
        await this.refresh();
        await this.app.refreshStorage();
      }
    }
  }

  /** Hand a frame set to face extraction (the extraction panel's options, into the chosen faceset). */
  extractFaces(set: FrameSetInfo): void {
    extractHandOff.request = { id: set.id, name: set.name, count: set.count, role: this.extractRole };
  }

  async makeVideo(set: FrameSetInfo): Promise<void> {
    if (this.busy) return;
    this.error = null;
    const abort = new AbortController();
    this.busy = { label: `Making a video of ${set.name}`, done: 0, total: set.count, abort };
    try {
      const res = await this.worker().call('encode', { setId: set.id }, {
        signal: abort.signal,
        onProgress: (p) => {
          if (this.busy) this.busy = { ...this.busy, done: p.done, total: p.total };
        },
      });
      const { bytes, ...rest } = res;
      const blob = new Blob([bytes], { type: res.mimeType });
      this.clearMade();
      this.made = { ...rest, setId: set.id, blob, url: URL.createObjectURL(blob), size: bytes.byteLength };
    } catch (e) {
      this.error = `${set.name}: ${toUserMessage(e)}`;
    } finally {
      this.busy = null;
    }
  }

  download(): void {
    if (this.made) downloadBlob(this.made.blob, this.made.fileName);
  }

  async deleteSet(set: FrameSetInfo): Promise<void> {
    if (this.busy) return;
    try {
      await this.frames.deleteSet(set.id);
    } catch (e) {
      this.error = toUserMessage(e);
    }
    if (this.made?.setId === set.id) this.clearMade();
    await this.refresh();
    await this.app.refreshStorage();
  }

  cancel(): void {
    this.busy?.abort.abort();
  }

  summary(): string | null {
    const d = this.decoded;
    if (!d) return null;
    const parts = [`${d.file}: ${d.kept} frame${d.kept === 1 ? '' : 's'} stored as ${d.set.name} (${d.description})`];
    parts.push(d.audioCodec ? `audio: ${codecLabel(d.audioCodec)} kept for video out` : `no audio: ${d.audioNote ?? 'none'}`);
    if (d.seconds > 0) parts.push(`${(d.kept / d.seconds).toFixed(1)} frames/s`);
    if (d.cancelled) parts.push('cancelled: the frames stored before the cancel are kept');
    if (d.stopped) parts.push(d.stopped);
    return parts.join(' · ');
  }

  private clearMade(): void {
    if (this.made) URL.revokeObjectURL(this.made.url);
    this.made = null;
  }

  shutdown(): void {
    this.client?.terminate();
    this.client = null;
    this.clearMade();
  }
}

/**
 * What a frame set decoded from a video remembers about its source (stored beside the frames with
 * FrameStore.putBlob), so frames → video can restore the frame rate and carry the audio over (issue 7, "Video out").
 * Pure: parsing is defensive because the bytes come back from storage.
 */
import { SaehdError } from '../errors.ts';

/** FrameStore blob keys of a decoded video's side data. */
export const VIDEO_META_KEY = 'video.json';
/** The source's audio track, its packets copied unchanged into an audio-only Matroska file. */
export const AUDIO_KEY = 'audio.mka';

export interface VideoSourceMeta {
  /** The video file's name. */
  file: string;
  /** Container format name as detected (e.g. 'MP4', 'WebM', 'QuickTime'). */
  container: string;
  videoCodec: string | null;
  /** The source video's own frame rate (frames per second, estimated from timestamps). */
  sourceFps: number;
  /** The rate frames were sampled at, or null for every frame. */
  sampledFps: number | null;
  /** Timestamp (seconds) of the first video frame: audio is shifted by it so the two stay in sync. */
  start: number;
  /** Seconds from the first to past the last kept frame. */
  duration: number;
  /** Frames decoded, and frames kept. */
  decodedFrames: number;
  keptFrames: number;
  /** The audio codec stored under AUDIO_KEY, or null when there is none. */
  audioCodec: string | null;
  /** Why the audio was not kept (no track, or a codec nothing can carry), for the UI. */
  audioNote: string | null;
}

export class VideoMetaError extends SaehdError {
  constructor(detail: string) {
    super('bad-video-meta', `stored video information is damaged: ${detail}`);
  }
}

export function encodeVideoMeta(meta: VideoSourceMeta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

const num = (v: unknown, what: string, min = 0): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new VideoMetaError(`${what} is not a number ≥ ${min}`);
  return v;
};
const strOrNull = (v: unknown, what: string): string | null => {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new VideoMetaError(`${what} is not text`);
  return v;
};

export function decodeVideoMeta(bytes: Uint8Array): VideoSourceMeta {
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new VideoMetaError('not JSON');
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new VideoMetaError('not an object');
  const r = o as Record<string, unknown>;
  const sampled = r.sampledFps === null || r.sampledFps === undefined ? null : num(r.sampledFps, 'sampledFps');
  return {
    file: strOrNull(r.file, 'file') ?? 'video',
    container: strOrNull(r.container, 'container') ?? '',
    videoCodec: strOrNull(r.videoCodec, 'videoCodec'),
    sourceFps: num(r.sourceFps, 'sourceFps'),
    sampledFps: sampled,
    start: num(r.start, 'start', -Infinity),
    duration: num(r.duration, 'duration'),
    decodedFrames: num(r.decodedFrames, 'decodedFrames'),
    keptFrames: num(r.keptFrames, 'keptFrames'),
    audioCodec: strOrNull(r.audioCodec, 'audioCodec'),
    audioNote: strOrNull(r.audioNote, 'audioNote'),
  };
}

/**
 * The frame rate to write a set at: its own (the rate it was sampled at, or the merge's copy of it), else its source
 * set's, else 25 (DFL's merger default when the frames have no video) — with where it came from, for the UI.
 */
export function outputFps(own: number | undefined, sourceSet: number | undefined): { fps: number; from: 'set' | 'source' | 'default' } {
  if (own && own > 0 && Number.isFinite(own)) return { fps: own, from: 'set' };
  if (sourceSet && sourceSet > 0 && Number.isFinite(sourceSet)) return { fps: sourceSet, from: 'source' };
  return { fps: 25, from: 'default' };
}

import type { FrameSetInfo } from '../src/core/frames/frameStore.ts';
import type { AudioPlan, Container, VideoCodecName } from '../src/core/video/codecs.ts';

export interface DecodeResult {
  set: FrameSetInfo;
  /** Frames decoded from the video, and frames kept (stored) at the chosen rate. */
  decoded: number;
  kept: number;
  /** The source's own frame rate (estimated from its timestamps). */
  sourceFps: number;
  /** E.g. 'MP4 · H.264 video 426×240'. */
  description: string;
  /** The audio codec kept for video out, or null. */
  audioCodec: string | null;
  /** Why no audio was kept, when none was. */
  audioNote: string | null;
  cancelled: boolean;
  /** Set when decoding stopped early (storage full); the frames stored before are kept. */
  stopped: string | null;
  /** Seconds waiting on the decoder, drawing + PNG encoding, and storing; and the whole call. */
  decodeSeconds: number;
  pngSeconds: number;
  storeSeconds: number;
  seconds: number;
}

export interface EncodeResult {
  bytes: ArrayBuffer;
  fileName: string;
  mimeType: string;
  container: Container;
  videoCodec: VideoCodecName;
  audio: AudioPlan;
  /** One line for the UI: container, codecs, what happened to the audio. */
  description: string;
  frames: number;
  fps: number;
  /** Where the frame rate came from (the set, its source set, or DFL's default 25). */
  fpsFrom: 'set' | 'source' | 'default';
  width: number;
  height: number;
  seconds: number;
}

/** The video worker: video → frames (mediabunny over WebCodecs) into the FrameStore, and a frame set → video. */
export type VideoCalls = {
  decode: {
    /** `fps`: sample at this rate; null keeps every frame. */
    request: { file: File; fps: number | null };
    progress: { done: number; total: number; kept: number };
    result: DecodeResult;
  };
  encode: {
    /** `container`: 'auto' picks H.264/MP4 where the browser encodes it, else WebM. */
    request: { setId: string; container?: Container | 'auto' };
    progress: { done: number; total: number };
    result: EncodeResult;
  };
};

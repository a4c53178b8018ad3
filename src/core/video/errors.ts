/**
 * Video errors (issue 7): each names the file and says what the person can do. Kept beside the video code, as
 * frameStore.ts keeps its own, so the shared errors.ts is not edited by two efforts at once.
 */
import { SaehdError } from '../errors.ts';

/** The file is not a video this browser can read: unknown container, no video track, or a codec it cannot decode. */
export class UnsupportedVideoError extends SaehdError {
  constructor(readonly file: string, detail: string) {
    super('unsupported-video', `${file}: cannot read this video: ${detail}`);
  }
}

/** The browser can encode none of H.264, VP9, VP8 through WebCodecs. */
export class NoVideoEncoderError extends SaehdError {
  constructor(detail: string) {
    super('no-video-encoder', `cannot make a video in this browser: ${detail}`);
  }
}

/** A frame set with no frames, or a frame that cannot be drawn, when making a video. */
export class FrameSetVideoError extends SaehdError {
  constructor(set: string, detail: string) {
    super('frameset-video', `frame set ${set}: ${detail}`);
  }
}

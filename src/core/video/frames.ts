/**
 * Frame naming and frame-rate sampling for video → frames (issue 7, "Frames and faces in"). Pure: no DOM, no codec.
 *
 * DeepFaceLab cuts a video with ffmpeg into `data_dst/%05d.png` (1-based, five digits, wider when there are more
 * than 99,999 frames), and its extractor writes `source_filename` from that name; the aligned faces are then named
 * `<stem>_<i>.jpg`. We name frames the same way so faces, merged frames and DFL's own tools line up.
 */

/** DFL's frame name for the `index`-th kept frame (0-based in, 1-based out): 0 → `00001.png`. */
export function frameName(index: number, ext = 'png'): string {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`frame index ${index} is not a non-negative integer`);
  return `${String(index + 1).padStart(5, '0')}.${ext}`;
}

/** The 1-based number in a DFL frame name (`00042.png` → 42), or null for any other name. */
export function frameNumber(name: string): number | null {
  const m = /^(\d{5,})\.(png|jpe?g)$/i.exec(name);
  return m ? Number(m[1]) : null;
}

/** Timestamps closer than this (seconds) count as equal: container time bases round to micro- or milliseconds. */
const EPS = 1e-6;

/**
 * Which decoded frames to keep at `fps` frames per second (null: every frame).
 *
 * The output clock ticks at t0 + k/fps (t0 = the first frame's timestamp). A source frame is kept when a tick falls
 * inside the time it is on screen, [timestamp, timestamp + duration): it is the frame a viewer sees at that tick,
 * which is what ffmpeg's `-r` output option (DFL's `extract_video --fps`) picks up to rounding. Each source frame is
 * kept at most once: asking for more frames per second than the video has gives every frame, not duplicates (the
 * extractor would only find the same faces twice). Frames must come in presentation order, as a decoder gives them.
 */
export class FrameSampler {
  private t0: number | null = null;
  private k = 0;
  /** Frames seen and kept so far. */
  seen = 0;
  kept = 0;

  constructor(readonly fps: number | null) {
    if (fps !== null && !(Number.isFinite(fps) && fps > 0)) throw new RangeError(`frame rate ${fps} is not a positive number`);
  }

  private tick(k: number): number {
    return (this.t0 ?? 0) + k / (this.fps ?? 1);
  }

  /** Feed one frame (seconds); true when it is kept. */
  take(timestamp: number, duration: number): boolean {
    this.seen++;
    if (this.fps === null) {
      this.kept++;
      return true;
    }
    this.t0 ??= timestamp;
    // A frame with no duration (some containers give none for the last frame) is on screen for an instant.
    const end = duration > 0 ? timestamp + duration : timestamp + EPS * 2;
    // Ticks that fell in a gap before this frame (dropped frames, a timestamp jump) belong to it: the viewer would
    // still see the previous frame there, but that one is gone, and skipping the tick would lose a sample.
    let keep = false;
    if (this.tick(this.k) < end - EPS) {
      keep = true;
      while (this.tick(this.k) < end - EPS) this.k++;
    }
    if (keep) this.kept++;
    return keep;
  }
}

/**
 * How many frames a sampler keeps from a constant-rate video of `sourceFrames` frames at `sourceFps`, for progress
 * bars before decoding (the real count comes from the sampler).
 */
export function expectedKeptFrames(sourceFrames: number, sourceFps: number, fps: number | null): number {
  if (sourceFrames <= 0) return 0;
  if (fps === null || !(sourceFps > 0) || fps >= sourceFps) return sourceFrames;
  const duration = sourceFrames / sourceFps;
  return Math.min(sourceFrames, Math.floor(duration * fps - EPS) + 1);
}

/** Video files the frame decoder accepts by name or MIME type (what the browser decodes is checked when reading). */
export function isVideoFile(name: string, type = ''): boolean {
  return /\.(mp4|m4v|mov|webm|mkv)$/i.test(name) || type.startsWith('video/');
}

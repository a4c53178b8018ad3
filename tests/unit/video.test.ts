import { describe, expect, it } from 'vitest';
import {
  CONTAINER_AUDIO,
  chooseVideoOutput,
  describeOutput,
  evenSize,
  outputFileName,
  planAudio,
  videoBitrate,
} from '../../src/core/video/codecs.ts';
import { FrameSampler, expectedKeptFrames, frameName, frameNumber, isVideoFile } from '../../src/core/video/frames.ts';
import { VideoMetaError, decodeVideoMeta, encodeVideoMeta, outputFps, type VideoSourceMeta } from '../../src/core/video/meta.ts';

describe('frame names (DFL: ffmpeg %05d.png, 1-based)', () => {
  it('numbers frames from 00001 and widens past 99999', () => {
    expect(frameName(0)).toBe('00001.png');
    expect(frameName(41)).toBe('00042.png');
    expect(frameName(99998)).toBe('99999.png');
    expect(frameName(99999)).toBe('100000.png');
    expect(frameName(2, 'jpg')).toBe('00003.jpg');
    expect(() => frameName(-1)).toThrow(RangeError);
    expect(() => frameName(1.5)).toThrow(RangeError);
  });
  it('reads the number back and sorts as text in frame order', () => {
    expect(frameNumber('00042.png')).toBe(42);
    expect(frameNumber('100000.png')).toBe(100000);
    expect(frameNumber('frame42.png')).toBeNull();
    const names = [9, 0, 10, 99, 100].map((i) => frameName(i));
    expect([...names].sort()).toEqual([0, 9, 10, 99, 100].map((i) => frameName(i)));
  });
  it('recognises video files by extension or MIME type', () => {
    expect(isVideoFile('clip.MP4')).toBe(true);
    expect(isVideoFile('clip.mov')).toBe(true);
    expect(isVideoFile('clip.webm')).toBe(true);
    expect(isVideoFile('clip', 'video/quicktime')).toBe(true);
    expect(isVideoFile('00001.png', 'image/png')).toBe(false);
  });
});

/** Independent reference: the frame on screen at each tick of a constant-rate video, each frame once. */
function shownAtTicks(frames: number, srcFps: number, fps: number): number[] {
  const out: number[] = [];
  const duration = frames / srcFps;
  for (let k = 0; k / fps < duration - 1e-9; k++) {
    // integer arithmetic where possible: tick k at k/fps s shows frame floor(k * srcFps / fps)
    const idx = Math.floor((k * srcFps) / fps + 1e-9);
    if (idx < frames && out[out.length - 1] !== idx) out.push(idx);
  }
  return out;
}

function sample(timestamps: number[], durations: number[], fps: number | null): number[] {
  const s = new FrameSampler(fps);
  const kept: number[] = [];
  timestamps.forEach((t, i) => {
    if (s.take(t, durations[i])) kept.push(i);
  });
  expect(s.kept).toBe(kept.length);
  expect(s.seen).toBe(timestamps.length);
  return kept;
}

const cfr = (n: number, fps: number, t0 = 0) => ({ ts: Array.from({ length: n }, (_, i) => t0 + i / fps), dur: Array(n).fill(1 / fps) as number[] });

describe('FrameSampler (which source frames to keep at N fps)', () => {
  it('keeps every frame when asked for every frame, or for the source rate or more', () => {
    const v = cfr(91, 5);
    expect(sample(v.ts, v.dur, null)).toHaveLength(91);
    expect(sample(v.ts, v.dur, 5)).toHaveLength(91);
    // more than the source rate: still each frame once, never duplicates
    expect(sample(v.ts, v.dur, 30)).toEqual(Array.from({ length: 91 }, (_, i) => i));
  });

  it('matches the frame on screen at each tick of the output clock', () => {
    for (const [n, src, fps] of [
      [259, 30, 5],
      [259, 30, 1],
      [259, 30, 12],
      [91, 5, 2],
      [300, 29.97, 10],
      [250, 25, 24],
      [100, 24, 0.5],
    ] as const) {
      const v = cfr(n, src, 3.2); // a non-zero start: ticks count from the first frame
      expect(sample(v.ts, v.dur, fps), `${n} frames @${src} → ${fps}`).toEqual(shownAtTicks(n, src, fps));
    }
  });

  it('gives expectedKeptFrames for constant-rate video', () => {
    for (const [n, src, fps] of [
      [259, 30, 5],
      [91, 5, 2],
      [91, 5, 1],
      [300, 29.97, 10],
      [91, 5, null],
      [91, 5, 60],
    ] as const) {
      const v = cfr(n, src);
      expect(expectedKeptFrames(n, src, fps), `${n}@${src}→${fps}`).toBe(sample(v.ts, v.dur, fps).length);
    }
    expect(expectedKeptFrames(0, 30, 5)).toBe(0);
  });

  it('gives a tick that falls in a gap (dropped frames) to the next frame, and handles frames without duration', () => {
    // 10 fps with frames 3..6 missing; sampling at 5 fps: ticks at 0, .2, .4, .6, .8
    const ts = [0, 0.1, 0.2, 0.7, 0.8, 0.9];
    const dur = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    // tick .4 and .6 fall in the gap → frame at .7 takes them (once); .8 → frame .8
    expect(sample(ts, dur, 5)).toEqual([0, 2, 3, 4]);
    // zero durations: a frame is kept when a tick is at (or before) its timestamp
    expect(sample([0, 0.5, 1, 1.5, 2], [0, 0, 0, 0, 0], 1)).toEqual([0, 2, 4]);
  });

  it('refuses a frame rate that is not positive', () => {
    expect(() => new FrameSampler(0)).toThrow(RangeError);
    expect(() => new FrameSampler(-2)).toThrow(RangeError);
    expect(() => new FrameSampler(Number.NaN)).toThrow(RangeError);
  });
});

describe('video output decisions', () => {
  it('prefers H.264 in MP4, then VP9, then VP8 in WebM', () => {
    expect(chooseVideoOutput(['avc', 'vp9', 'vp8'])).toEqual({ container: 'mp4', codec: 'avc' });
    expect(chooseVideoOutput(['vp9', 'vp8'])).toEqual({ container: 'webm', codec: 'vp9' });
    expect(chooseVideoOutput(['vp8'])).toEqual({ container: 'webm', codec: 'vp8' });
    expect(chooseVideoOutput(['avc', 'vp8'], 'webm')).toEqual({ container: 'webm', codec: 'vp8' });
    expect(chooseVideoOutput(['vp9'], 'mp4')).toBeNull();
    expect(chooseVideoOutput([])).toBeNull();
  });

  it('copies audio the container carries, re-encodes the rest, and says why when it cannot', () => {
    expect(planAudio('mp4', { codec: 'aac', decodable: true }, [])).toEqual({ mode: 'copy', codec: 'aac' });
    expect(planAudio('mp4', { codec: 'opus', decodable: true }, [])).toEqual({ mode: 'copy', codec: 'opus' });
    expect(planAudio('webm', { codec: 'opus', decodable: false }, [])).toEqual({ mode: 'copy', codec: 'opus' });
    // AAC cannot go into WebM: re-encoded to Opus
    expect(planAudio('webm', { codec: 'aac', decodable: true }, ['opus'])).toEqual({ mode: 'encode', from: 'aac', codec: 'opus' });
    // Vorbis into MP4: AAC when the browser encodes it, else Opus (Debian's Chromium has no AAC encoder)
    expect(planAudio('mp4', { codec: 'vorbis', decodable: true }, ['aac', 'opus'])).toEqual({ mode: 'encode', from: 'vorbis', codec: 'aac' });
    expect(planAudio('mp4', { codec: 'vorbis', decodable: true }, ['opus'])).toEqual({ mode: 'encode', from: 'vorbis', codec: 'opus' });
    expect(planAudio('mp4', { codec: 'pcm-s16', decodable: true }, ['opus'])).toEqual({ mode: 'encode', from: 'pcm-s16', codec: 'opus' });
    const noEnc = planAudio('webm', { codec: 'aac', decodable: true }, []);
    expect(noEnc.mode).toBe('none');
    expect(noEnc.mode === 'none' && noEnc.reason).toMatch(/cannot encode Opus audio for WebM/);
    const noDec = planAudio('webm', { codec: 'ac3', decodable: false }, ['opus']);
    expect(noDec.mode === 'none' && noDec.reason).toMatch(/cannot decode the source audio \(AC-3\)/);
    expect(planAudio('mp4', null, ['aac'])).toEqual({ mode: 'none', reason: 'the source video has no audio track' });
    // every copy target is a codec the container lists
    for (const c of ['mp4', 'webm'] as const) for (const a of CONTAINER_AUDIO[c]) expect(planAudio(c, { codec: a, decodable: false }, []).mode).toBe('copy');
  });

  it('crops to even sizes, bounds the bitrate and names the file', () => {
    expect(evenSize(426, 240)).toEqual({ width: 426, height: 240 });
    expect(evenSize(513, 389)).toEqual({ width: 512, height: 388 });
    expect(evenSize(1, 1)).toEqual({ width: 2, height: 2 });
    expect(videoBitrate(1280, 720, 30)).toBe(Math.round(1280 * 720 * 30 * 0.2));
    expect(videoBitrate(64, 64, 5)).toBe(1e6);
    expect(videoBitrate(7680, 4320, 60)).toBe(40e6);
    expect(outputFileName('faceswap_test.mp4', 'x', 'merged', 'mp4')).toBe('faceswap_test_merged.mp4');
    expect(outputFileName(undefined, 'my set', 'frames', 'webm')).toBe('my_set_frames.webm');
    expect(describeOutput('mp4', 'avc', { mode: 'copy', codec: 'aac' })).toBe('MP4 · H.264 video · AAC audio copied from the source');
    expect(describeOutput('webm', 'vp9', { mode: 'encode', from: 'aac', codec: 'opus' })).toBe('WebM · VP9 video · Opus audio re-encoded from the source\'s AAC');
  });
});

describe('stored video information', () => {
  const meta: VideoSourceMeta = {
    file: 'clip.mp4',
    container: 'MP4',
    videoCodec: 'avc',
    sourceFps: 29.97,
    sampledFps: null,
    start: 0.033,
    duration: 8.6,
    decodedFrames: 259,
    keptFrames: 259,
    audioCodec: 'aac',
    audioNote: null,
  };
  it('round-trips and refuses damaged bytes', () => {
    expect(decodeVideoMeta(encodeVideoMeta(meta))).toEqual(meta);
    expect(() => decodeVideoMeta(new Uint8Array([0xff, 0xfe]))).toThrow(VideoMetaError);
    expect(() => decodeVideoMeta(new TextEncoder().encode('[1]'))).toThrow(VideoMetaError);
    expect(() => decodeVideoMeta(encodeVideoMeta({ ...meta, sourceFps: -1 }))).toThrow(/sourceFps/);
    expect(() => decodeVideoMeta(new TextEncoder().encode(JSON.stringify({ ...meta, audioCodec: 5 })))).toThrow(/audioCodec/);
  });
  it('picks the output frame rate from the set, then its source, then 25', () => {
    expect(outputFps(12, 30)).toEqual({ fps: 12, from: 'set' });
    expect(outputFps(undefined, 30)).toEqual({ fps: 30, from: 'source' });
    expect(outputFps(0, undefined)).toEqual({ fps: 25, from: 'default' });
  });
});

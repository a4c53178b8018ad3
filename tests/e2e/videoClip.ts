/**
 * Test videos made in the browser with WebCodecs (through mediabunny's own browser bundle), so the video tests have a
 * clip with sound without committing one, and the benchmark has a 720p clip without a 720p file in the shared data.
 *
 * The clip is made in a separate browser context that bypasses the app's CSP (the bundle is injected as a script
 * tag); the app under test runs in its own, normal context and receives the clip as a picked file.
 */
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type { Browser, Page } from '@playwright/test';

// The package's exports map hides its bundles; they sit beside its Node entry (dist/bundles/mediabunny.node.cjs).
const bundle = join(dirname(createRequire(import.meta.url).resolve('mediabunny')), 'mediabunny.min.cjs');

export interface SyntheticClip {
  container: 'webm' | 'mp4' | 'mov';
  /** mediabunny codec names: 'vp8' | 'vp9' | 'avc' */
  codec: string;
  width: number;
  height: number;
  frames: number;
  fps: number;
  /** A sine sweep over the whole clip, Opus unless `audioCodec` says otherwise (e.g. 'pcm-s16' in MOV). */
  audio: boolean;
  audioCodec?: string;
}

/** A page on the app's origin with mediabunny's bundle loaded; `close` ends its context. */
async function clipPage(browser: Browser, baseURL: string): Promise<{ page: Page; close: () => Promise<void> }> {
  const context = await browser.newContext({ baseURL, bypassCSP: true });
  const page = await context.newPage();
  // Any same-origin document will do (a secure context for WebCodecs); a small JSON file keeps the app from starting.
  await page.goto('/models/face-api/face_landmark_68_model-weights_manifest.json');
  await page.addScriptTag({ path: bundle });
  return { page, close: () => context.close() };
}

/** A clip of moving gradient frames (each frame different) with an optional Opus sine; returns the file bytes. */
export async function makeSyntheticClip(browser: Browser, baseURL: string, clip: SyntheticClip): Promise<Buffer> {
  const { page, close } = await clipPage(browser, baseURL);
  const b64 = await page.evaluate(
    async ({ clip }) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const M = (globalThis as any).Mediabunny;
      const output = new M.Output({
        format:
          clip.container === 'webm'
            ? new M.WebMOutputFormat()
            : clip.container === 'mov'
              ? new M.MovOutputFormat({ fastStart: 'in-memory' })
              : new M.Mp4OutputFormat({ fastStart: 'in-memory' }),
        target: new M.BufferTarget(),
      });
      const canvas = new OffscreenCanvas(clip.width, clip.height);
      const ctx = canvas.getContext('2d')!;
      const video = new M.CanvasSource(canvas, { codec: clip.codec, bitrate: 1e6, keyFrameInterval: 1 });
      output.addVideoTrack(video, { frameRate: clip.fps });
      const audio = clip.audio ? new M.AudioSampleSource({ codec: clip.audioCodec ?? 'opus', bitrate: 64000 }) : null;
      if (audio) output.addAudioTrack(audio);
      await output.start();
      if (audio) {
        const rate = 48000;
        const n = Math.round((clip.frames / clip.fps) * rate);
        const data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = 0.3 * Math.sin((2 * Math.PI * (220 + (440 * i) / n) * i) / rate);
        const sample = new M.AudioSample({ data, format: 'f32', numberOfChannels: 1, sampleRate: rate, timestamp: 0 });
        await audio.add(sample);
        sample.close();
        audio.close();
      }
      for (let i = 0; i < clip.frames; i++) {
        const g = ctx.createLinearGradient(0, 0, clip.width, clip.height);
        g.addColorStop(0, `hsl(${(i * 37) % 360} 80% 50%)`);
        g.addColorStop(1, `hsl(${(i * 37 + 180) % 360} 80% 40%)`);
        ctx.fillStyle = g;
        ctx.fillRect(0, 0, clip.width, clip.height);
        ctx.fillStyle = '#fff';
        ctx.fillRect(((i * 7) % clip.width), clip.height / 3, clip.width / 8, clip.height / 3);
        await video.add(i / clip.fps, 1 / clip.fps);
      }
      video.close();
      await output.finalize();
      const u8 = new Uint8Array(output.target.buffer);
      let s = '';
      for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
      return btoa(s);
    },
    { clip },
  ).finally(close);
  return Buffer.from(b64, 'base64');
}

/** Re-encode a clip at another size (H.264/MP4 where the browser encodes it, else VP9/WebM), keeping its audio. */
export async function scaleClip(
  browser: Browser,
  baseURL: string,
  bytes: Uint8Array,
  width: number,
  height: number,
): Promise<{ bytes: Buffer; container: 'mp4' | 'webm'; codec: string }> {
  const { page, close } = await clipPage(browser, baseURL);
  const out = await page.evaluate(
    async ({ b64, width, height }) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const M = (globalThis as any).Mediabunny;
      const bin = atob(b64);
      const u8 = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
      const avc = await M.canEncodeVideo('avc', { width, height });
      const input = new M.Input({ source: new M.BufferSource(u8), formats: M.ALL_FORMATS });
      const output = new M.Output({
        format: avc ? new M.Mp4OutputFormat({ fastStart: 'in-memory' }) : new M.WebMOutputFormat(),
        target: new M.BufferTarget(),
      });
      const conversion = await M.Conversion.init({ input, output, video: { width, height, fit: 'fill', codec: avc ? 'avc' : 'vp9', bitrate: 4e6 } });
      await conversion.execute();
      const res = new Uint8Array(output.target.buffer);
      let s = '';
      for (let i = 0; i < res.length; i += 0x8000) s += String.fromCharCode(...res.subarray(i, i + 0x8000));
      return { b64: btoa(s), container: avc ? 'mp4' : 'webm', codec: avc ? 'avc' : 'vp9' } as const;
    },
    { b64: Buffer.from(bytes).toString('base64'), width, height },
  ).finally(close);
  return { bytes: Buffer.from(out.b64, 'base64'), container: out.container, codec: out.codec };
}

/**
 * Extraction throughput (issue 7, "Accuracy and speed"): frames per second for detection + 68 landmarks (face-api
 * SSD-MobileNetV1 + landmark net) and for alignment + writing (warpAffine, JPEG q90, DFL metadata), on the obama
 * frames (512×388) when the shared data is there, else on self-made frames (no faces: detection cost only).
 * Measured in Node (tfjs wasm backend) and in the built app (extraction worker, its own backend choice).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from '@playwright/test';
import { extractFrameFaces, extractedToNewFace } from '../src/core/extract/extract.ts';
import { decodeJpeg, encodeJpeg } from '../src/core/image/jpegCodec.ts';
import type { RawImage } from '../src/core/image/rawImage.ts';
import { hasSharedData, sharedDataDir } from '../tests/e2e/data.ts';
import { openApp } from '../tests/e2e/page.ts';
import { nodeFaceDetector } from '../tests/unit/extractNode.ts';
import { startApp } from './server.ts';

export interface ExtractBenchRow {
  name: string;
  where: 'browser' | 'node';
  backend: string;
  frames: number;
  frame_px: string;
  seconds: number;
  frames_per_s: number;
  data: string;
}

const FRAMES = 40;

async function benchFrames(): Promise<{ name: string; bytes: Uint8Array }[]> {
  if (hasSharedData) {
    const dir = join(sharedDataDir, 'facesets/obama/frames');
    return readdirSync(dir)
      .filter((n) => n.endsWith('.jpg'))
      .sort()
      .slice(0, FRAMES)
      .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
  }
  const out: { name: string; bytes: Uint8Array }[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const w = 512, h = 388;
    const img: RawImage = { width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3) };
    for (let p = 0; p < w * h; p++) img.data.fill(((p % w) * 3 + i * 7 + Math.floor(p / w)) & 255, 3 * p, 3 * p + 3);
    out.push({ name: `${String(i + 1).padStart(5, '0')}.jpg`, bytes: await encodeJpeg(img, 90) });
  }
  return out;
}

export async function benchExtract(): Promise<ExtractBenchRow[]> {
  const det = await nodeFaceDetector(); // also initialises the JPEG codec
  const frames = await benchFrames();
  const data = hasSharedData ? 'obama frames 512x388 (shared data)' : 'self-made 512x388 frames, no faces';
  const images: RawImage[] = [];
  for (const f of frames) images.push(await decodeJpeg(f.bytes));
  const px = `${images[0].width}x${images[0].height}`;
  const rows: ExtractBenchRow[] = [];
  const tf = await import('@tensorflow/tfjs');
  const backend = tf.getBackend();

  await det.detect(images[0]); // warm-up (kernel compilation, first allocations)
  let t = performance.now();
  const found = [];
  for (const img of images) found.push(await det.detect(img, { largestOnly: true }));
  let s = (performance.now() - t) / 1000;
  rows.push({ name: 'detection + 68 landmarks', where: 'node', backend, frames: images.length, frame_px: px, seconds: s, frames_per_s: images.length / s, data });

  t = performance.now();
  for (let i = 0; i < images.length; i++) {
    const { faces } = await extractFrameFaces(images[i], frames[i].name, found[i], { faceType: 'whole_face', size: 256 });
    for (const f of faces) await extractedToNewFace(f);
  }
  s = (performance.now() - t) / 1000;
  rows.push({ name: 'alignment + writing (whole_face 256, q90, thumb)', where: 'node', backend: 'js', frames: images.length, frame_px: px, seconds: s, frames_per_s: images.length / s, data });

  const app = await startApp();
  try {
    const page = await (await app.browser.newContext({ baseURL: app.url })).newPage();
    await openApp(page);
    const section = page.getByRole('region', { name: 'Extract faces from frames' });
    await section.getByLabel('Add frames to extract').setInputFiles(frames.map((f) => ({ name: f.name, mimeType: 'image/jpeg', buffer: Buffer.from(f.bytes) })));
    t = performance.now();
    await section.getByRole('button', { name: 'Extract', exact: true }).click();
    const summary = section.getByTestId('extract-summary');
    await expect(summary).toBeVisible({ timeout: 600_000 });
    s = (performance.now() - t) / 1000;
    const detectFps = Number(await summary.getAttribute('data-detect-fps'));
    const writeFps = Number(await summary.getAttribute('data-write-fps'));
    const be = (await summary.getAttribute('data-backend')) ?? '';
    rows.push({ name: 'detection + 68 landmarks (incl. first-frame warm-up)', where: 'browser', backend: be, frames: frames.length, frame_px: px, seconds: frames.length / detectFps, frames_per_s: detectFps, data });
    rows.push({ name: 'alignment + writing + storing', where: 'browser', backend: 'js', frames: frames.length, frame_px: px, seconds: frames.length / writeFps, frames_per_s: writeFps, data });
    rows.push({ name: 'whole run (click → summary, incl. model load)', where: 'browser', backend: be, frames: frames.length, frame_px: px, seconds: s, frames_per_s: frames.length / s, data });
  } finally {
    await app.stop();
  }
  return rows;
}

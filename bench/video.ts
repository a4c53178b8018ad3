/**
 * Video throughput (issue 7, "Accuracy and speed"): frames per second on a 720p clip for
 *   decode: the video worker (mediabunny demux + WebCodecs decode → canvas → PNG → IndexedDB), every frame;
 *   detection + 68 landmarks, and alignment + writing: the extraction worker on a frame set sampled from the clip;
 *   encode: the frame set back to video (H.264/MP4 or VP9/WebM).
 * The shared data has no 720p clip, so one is made in the page: dflive_Obama_speaking.mp4 (512x388, 30 fps) is
 * upscaled to 1280x720 with WebCodecs (tests/e2e/videoClip.ts); without the shared data a synthetic 720p clip
 * (no faces: detection cost only) is used. Everything runs in the built app in Chromium, driven through its UI.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, type Page } from '@playwright/test';
import { hasSharedData, sharedDataDir } from '../tests/e2e/data.ts';
import { openApp } from '../tests/e2e/page.ts';
import { makeSyntheticClip, scaleClip } from '../tests/e2e/videoClip.ts';
import { startApp } from './server.ts';

export interface VideoBenchRow {
  name: string;
  backend: string;
  frames: number;
  frame_px: string;
  seconds: number;
  frames_per_s: number;
  data: string;
}

/** Rate the face-extraction step samples the clip at (detection on every 720p frame would take minutes). */
const EXTRACT_FPS = '2';

async function decode(page: Page, name: string, bytes: Buffer, fps: string) {
  const s = page.getByRole('region', { name: 'Video' });
  await s.getByLabel('Frame rate').selectOption(fps);
  const summary = s.getByTestId('video-summary');
  const before = (await summary.count()) ? await summary.getAttribute('data-set') : null;
  await s.getByLabel('Add video').setInputFiles({ name, mimeType: name.endsWith('.webm') ? 'video/webm' : 'video/mp4', buffer: bytes });
  await expect(summary).toHaveAttribute('data-set', before ? new RegExp(`^(?!${before}$)`) : /./, { timeout: 900_000 });
  await expect(s).toHaveAttribute('data-busy', 'false', { timeout: 60_000 });
  const num = async (a: string) => Number(await summary.getAttribute(a));
  const setId = (await summary.getAttribute('data-set'))!;
  return {
    setId,
    kept: await num('data-kept'),
    seconds: await num('data-seconds'),
    decodeSeconds: await num('data-decode-seconds'),
    pngSeconds: await num('data-png-seconds'),
    storeSeconds: await num('data-store-seconds'),
  };
}

export async function benchVideo(): Promise<VideoBenchRow[]> {
  const app = await startApp();
  const rows: VideoBenchRow[] = [];
  try {
    const W = 1280, H = 720;
    let clip: { bytes: Buffer; name: string; data: string };
    if (hasSharedData) {
      const src = readFileSync(join(sharedDataDir, 'video', 'dflive_Obama_speaking.mp4'));
      const scaled = await scaleClip(app.browser, app.url, src, W, H);
      clip = { bytes: scaled.bytes, name: `obama_720p.${scaled.container}`, data: `dflive_Obama_speaking.mp4 upscaled in the page to ${W}x${H} ${scaled.codec} (259 frames, 30 fps)` };
    } else {
      const bytes = await makeSyntheticClip(app.browser, app.url, { container: 'webm', codec: 'vp9', width: W, height: H, frames: 90, fps: 30, audio: true });
      clip = { bytes, name: 'synthetic_720p.webm', data: `synthetic ${W}x${H} VP9 clip made in the page (90 frames, 30 fps, no faces)` };
    }
    const px = `${W}x${H}`;
    const page = await (await app.browser.newContext({ baseURL: app.url })).newPage();
    await openApp(page);

    const all = await decode(page, clip.name, clip.bytes, 'every');
    rows.push({ name: 'decode → PNG → IndexedDB (whole call, every frame)', backend: 'WebCodecs', frames: all.kept, frame_px: px, seconds: all.seconds, frames_per_s: all.kept / all.seconds, data: clip.data });
    rows.push({ name: '  of which waiting on the decoder', backend: 'WebCodecs', frames: all.kept, frame_px: px, seconds: all.decodeSeconds, frames_per_s: all.kept / all.decodeSeconds, data: clip.data });
    rows.push({ name: '  of which drawing + PNG encoding', backend: 'OffscreenCanvas', frames: all.kept, frame_px: px, seconds: all.pngSeconds, frames_per_s: all.kept / all.pngSeconds, data: clip.data });
    rows.push({ name: '  of which storing', backend: 'IndexedDB', frames: all.kept, frame_px: px, seconds: all.storeSeconds, frames_per_s: all.kept / all.storeSeconds, data: clip.data });

    // Faces from a sampled set through the same hand-off a person uses ("Extract faces").
    const sampled = await decode(page, clip.name, clip.bytes, EXTRACT_FPS);
    const vs = page.getByRole('region', { name: 'Video' });
    await vs.getByLabel('Extract faces into').selectOption('dst');
    await vs.locator(`li[data-set="${sampled.setId}"]`).getByRole('button', { name: /^Extract faces from/ }).click();
    const ex = page.getByRole('region', { name: 'Extract faces from frames' });
    const summary = ex.getByTestId('extract-summary');
    await expect(summary).toBeVisible({ timeout: 1_800_000 });
    const detectFps = Number(await summary.getAttribute('data-detect-fps'));
    const writeFps = Number(await summary.getAttribute('data-write-fps'));
    const be = (await summary.getAttribute('data-backend')) ?? '';
    const data = `${clip.data}; sampled at ${EXTRACT_FPS} fps; ${(await summary.textContent())?.split(' · ')[0]}`;
    rows.push({ name: 'detection + 68 landmarks (incl. first-frame warm-up)', backend: be, frames: sampled.kept, frame_px: px, seconds: sampled.kept / detectFps, frames_per_s: detectFps, data });
    rows.push({ name: 'alignment + writing + storing (whole_face 256)', backend: 'js', frames: sampled.kept, frame_px: px, seconds: sampled.kept / writeFps, frames_per_s: writeFps, data });

    // And back: the whole set to video.
    await vs.locator(`li[data-set="${all.setId}"]`).getByRole('button', { name: 'Make video' }).click();
    const made = vs.getByTestId('video-made');
    await expect(made).toBeVisible({ timeout: 900_000 });
    const text = (await made.textContent()) ?? '';
    const secs = Number(/made in ([\d.]+) s/.exec(text)?.[1] ?? NaN);
    rows.push({ name: 'frames → video (read, draw, encode, mux)', backend: (await made.getAttribute('data-container')) + '/' + (await made.getAttribute('data-codec')), frames: all.kept, frame_px: px, seconds: secs, frames_per_s: all.kept / secs, data: clip.data });
  } finally {
    await app.stop();
  }
  return rows;
}

/**
 * Issue 6, the merger in headless Chromium: a tiny one-channel model made in Node and uploaded as a checkpoint, real
 * dst faces with the frames they were cut from (../shared/data/facesets/obama; self-made faces and frames otherwise),
 * the live preview with the colour-transfer modes a grayscale model has, the batch merge into PNGs and the zip.
 * The tiny model is untrained: what is checked is where the merge writes and what it leaves alone, not the likeness.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { checkpointBytes } from '../../src/core/checkpoint/modelState.ts';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { decodeJpeg, encodeJpeg } from '../../src/core/image/jpegCodec.ts';
import type { RawImage } from '../../src/core/image/rawImage.ts';
import { mergeGeometry } from '../../src/core/merge/index.ts';
import { squareFrameRect } from '../../src/core/merge/masks.ts';
import { createSaehd } from '../../src/core/model/saehd.ts';
import { createTrainer } from '../../src/core/train/trainStep.ts';
import { tinyTest } from '../../src/ui/lib/trainPresets.ts';
import { decodePng } from '../fixtures/decodePng.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { hasSharedData, readDir, sharedDataDir } from './data.ts';
import { dropFiles, openApp, panel } from './page.ts';

interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/** Frames 1–4 and the faces of frames 1–3 and 5: frame 4 has no face (copied), face 5 has no frame (listed). */
async function material(): Promise<{ frames: NamedBytes[]; faces: NamedBytes[]; note: string }> {
  await initNodeJpegCodec();
  if (hasSharedData) {
    const dir = join(sharedDataDir, 'facesets/obama');
    const frames = readDir(join(dir, 'frames'), 4);
    const faces = readDir(join(dir, 'aligned'), 5).filter((f) => !f.name.startsWith('00004'));
    return { frames, faces, note: 'real faces and frames: obama' };
  }
  // Self-made: tests/fixtures/makeFaces.ts puts face i at (aligned × 1.5 + (40, 30)) of frame 0000(i+1).jpg.
  const all = await makeDflFaces(5, { size: 128 });
  const faces = all.filter((f) => !f.name.startsWith('00004'));
  const frames: NamedBytes[] = [];
  for (let i = 1; i <= 4; i++) {
    const W = 320, H = 260, data = new Uint8Array(W * H * 3);
    for (let p = 0; p < W * H; p++) for (let c = 0; c < 3; c++) data[3 * p + c] = ((p % W) * 3 + Math.floor(p / W) * 5 + c * 60 + i * 9) % 256;
    frames.push({ name: `${String(i).padStart(5, '0')}.jpg`, bytes: await encodeJpeg({ width: W, height: H, channels: 3, data }, 95) });
  }
  return { frames, faces, note: 'self-made faces and frames: ../shared/data absent' };
}

/** A tiny one-channel checkpoint file, as the studio's download would give (iteration 0). */
async function tinyCheckpoint(): Promise<Uint8Array> {
  const opts = { ...tinyTest };
  const model = createSaehd(opts, 5);
  const trainer = createTrainer(model, opts, { seed: 5 });
  try {
    return await checkpointBytes(model, trainer, opts, []);
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

const mergeOf = (page: Page) => page.getByRole('region', { name: 'Merge frames', exact: true });

async function previewPixels(region: Locator): Promise<{ width: number; height: number; rgba: number[] }> {
  return region.locator('canvas').first().evaluate((c: HTMLCanvasElement) => ({
    width: c.width,
    height: c.height,
    rgba: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
  }));
}

test('merge: upload a model, add frames, live preview, merge all, download the zip', async ({ page }, info) => {
  test.setTimeout(240_000);
  const { frames, faces, note } = await material();
  info.annotations.push({ type: 'data', description: note });
  const ckpt = await tinyCheckpoint();

  await openApp(page);
  await dropFiles(page, 'dst', faces);
  await expect(panel(page, 'dst').getByTestId('face-count')).toHaveText(String(faces.length), { timeout: 60_000 });
  await page.getByLabel('Upload checkpoint').setInputFiles({ name: 'tiny-merge.saehdbw', mimeType: 'application/octet-stream', buffer: Buffer.from(ckpt) });

  const m = mergeOf(page);
  await m.getByLabel('Merge backend').selectOption('wasm');
  const modelSelect = m.getByLabel('Merge model');
  await expect(modelSelect.locator('option', { hasText: 'tiny-merge' })).toHaveCount(1, { timeout: 30_000 });
  await modelSelect.selectOption({ index: 1 });
  await expect(m.getByTestId('merge-model')).toContainText('32 px', { timeout: 60_000 });
  await expect(m.getByTestId('merge-model')).toContainText('wasm');

  // The colour transfers of a grayscale model, by their DFL names.
  const ct = m.getByLabel('Colour transfer', { exact: true });
  const options = await ct.locator('option').allTextContents();
  expect(options).toEqual(expect.arrayContaining(['none', 'lct', 'sot-m']));
  expect(options).not.toContain('rct');

  await m.getByLabel('Add frames', { exact: true }).setInputFiles(frames.map((f) => ({ name: f.name, mimeType: 'image/jpeg', buffer: Buffer.from(f.bytes) })));
  await expect(m.getByTestId('merge-add-report')).toContainText('Added 4 frames');
  await expect(m.getByTestId('merge-plan')).toContainText('4 frames: 3 with faces, 1 without a face');
  await expect(m.getByRole('list', { name: 'Faces whose frame is missing' })).toContainText('00005_0.jpg');

  // Live preview: settings change → a new preview with them; a one-channel model on colour frames shows gray and luma.
  const preview = m.getByRole('region', { name: 'Merge preview' });
  await ct.selectOption('lct');
  await m.getByLabel('Grayscale model on colour frames').selectOption('luma');
  await m.getByLabel('Blur mask').fill('30');
  await expect(preview).toHaveAttribute('data-settings', /"color_transfer_mode":"lct"/, { timeout: 60_000 });
  await expect(preview).toHaveAttribute('data-settings', /"bw_colour_frames":"luma"/);
  await expect(preview).toHaveAttribute('data-settings', /"blur_mask_modifier":30/);
  await expect(preview).toHaveAttribute('data-busy', 'false');
  await expect(preview.locator('canvas')).toHaveCount(2);
  await expect(preview.locator('canvas').nth(0)).toHaveAttribute('data-conversion', 'luma');
  await expect(preview.locator('canvas').nth(1)).toHaveAttribute('data-conversion', 'gray');
  const previewFrame = (await preview.getAttribute('data-frame'))!;
  expect(previewFrame).toBe('00001.jpg');
  const shown = await previewPixels(preview);

  // Settings are saved with the model: a reload restores them.
  await page.waitForTimeout(600);
  await page.reload();
  await expect(page.locator('main[data-ready="true"]')).toBeVisible({ timeout: 60_000 });
  const m2 = mergeOf(page);
  await expect(m2.getByTestId('merge-model')).toContainText('32 px', { timeout: 60_000 });
  await expect(m2.getByLabel('Colour transfer', { exact: true })).toHaveValue('lct');
  await expect(m2.getByLabel('Blur mask')).toHaveValue('30');
  await expect(m2.getByLabel('Frame set')).not.toHaveValue('');

  // Merge all, PNG.
  await m2.getByRole('button', { name: 'Merge all' }).click();
  await expect(m2.getByTestId('merge-message')).toContainText('Done: 3 merged, 1 without a face copied', { timeout: 120_000 });
  await expect(m2.getByTestId('merge-message')).toContainText('kept their colour');
  await expect(m2.locator('ol[aria-label="Merged frames"] li[data-state="merged"]')).toHaveCount(4);

  const [dl] = await Promise.all([page.waitForEvent('download'), m2.getByRole('button', { name: 'Download merged frames' }).click()]);
  const zip = unzipSync(new Uint8Array(readFileSync((await dl.path())!)));
  expect(Object.keys(zip).sort()).toEqual(['00001.png', '00002.png', '00003.png', '00004.png']);

  for (const f of frames) {
    const stem = f.name.replace(/\.jpg$/, '');
    const out = decodePng(zip[`${stem}.png`]);
    const input: RawImage = await decodeJpeg(f.bytes);
    expect([out.width, out.height], f.name).toEqual([input.width, input.height]);
    const face = faces.find((x) => x.name.startsWith(stem));
    if (!face) {
      // no face: the frame's own pixels (PNG of the decoded JPEG)
      expect(Buffer.from(out.data).equals(Buffer.from(input.data)), f.name).toBe(true);
      continue;
    }
    const meta = readDflJpg(face.bytes).meta;
    const g = mergeGeometry({ source_landmarks: meta.source_landmarks }, { resolution: 32, faceType: tinyTest.face_type, channels: 1 });
    const square = squareFrameRect(g.faceMaskOutputMat, g.maskSize, input.width, input.height, 4)!;
    // Outside the face square (where the blurred mask can reach) every pixel is the input's; inside, the face changed.
    let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1, outside = 0;
    for (let y = 0; y < input.height; y++)
      for (let x = 0; x < input.width; x++) {
        const p = (y * input.width + x) * 3;
        const changed = out.data[p] !== input.data[p] || out.data[p + 1] !== input.data[p + 1] || out.data[p + 2] !== input.data[p + 2];
        if (!changed) continue;
        if (x < square.x0 || x >= square.x1 || y < square.y0 || y >= square.y1) outside++;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    expect(outside, `${f.name}: changed pixels outside the face square`).toBe(0);
    expect(x1, `${f.name}: nothing merged`).toBeGreaterThan(x0);
    const [l, t, r, b] = meta.source_rect!;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    expect(cx > l && cx < r && cy > t && cy < b, `${f.name}: face centre (${cx}, ${cy}) inside source_rect ${meta.source_rect}`).toBe(true);

    if (f.name === previewFrame) {
      // The live preview showed exactly these pixels.
      expect([shown.width, shown.height]).toEqual([out.width, out.height]);
      let diff = 0;
      for (let i = 0; i < out.width * out.height; i++) for (let c = 0; c < 3; c++) if (shown.rgba[4 * i + c] !== out.data[3 * i + c]) diff++;
      expect(diff, 'preview vs batch pixels').toBe(0);
    }
  }
  await expect(m2.getByRole('alert')).toHaveCount(0);
  await m2.screenshot({ path: info.outputPath('merge.png') });
});

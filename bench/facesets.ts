/**
 * Import and conversion throughput: in the built app (drop → stored and listed; Convert to grayscale → new
 * version listed), and of the core functions alone in Node for comparison.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from '@playwright/test';
import { initNodeJpegCodec } from '../cli/nodeCodec.ts';
import { convertFace } from '../src/core/faceset/convert.ts';
import { prepareFace } from '../src/core/faceset/importFaces.ts';
import { makeDflFaces } from '../tests/fixtures/makeFaces.ts';
import { hasSharedData, readDir, sharedDataDir } from '../tests/e2e/data.ts';
import { dropFiles, openApp, panel } from '../tests/e2e/page.ts';
import { startApp } from './server.ts';

export interface FacesetBenchRow {
  name: string;
  where: 'browser' | 'node';
  faces: number;
  face_px: number;
  seconds: number;
  faces_per_s: number;
  data: string;
}

async function faces256(): Promise<{ name: string; bytes: Uint8Array; data: string }[]> {
  if (hasSharedData) {
    const dir = join(sharedDataDir, 'facesets/obama/aligned');
    return readDir(dir).map((f) => ({ ...f, bytes: new Uint8Array(f.bytes), data: 'real DFL 256 px (obama)' }));
  }
  await initNodeJpegCodec();
  return (await makeDflFaces(200, { size: 256 })).map((f) => ({ ...f, data: 'self-made 256 px' }));
}

export async function benchFacesets(): Promise<FacesetBenchRow[]> {
  const faces = await faces256();
  const rows: FacesetBenchRow[] = [];
  const data = faces[0].data;

  await initNodeJpegCodec();
  let t = performance.now();
  for (const f of faces) await prepareFace(f);
  let s = (performance.now() - t) / 1000;
  rows.push({ name: 'import (parse+decode+thumbnail)', where: 'node', faces: faces.length, face_px: 256, seconds: s, faces_per_s: faces.length / s, data });
  t = performance.now();
  for (const f of faces) await convertFace(f.bytes, { size: 128, gray: true });
  s = (performance.now() - t) / 1000;
  rows.push({ name: 'convert gray 256→128', where: 'node', faces: faces.length, face_px: 256, seconds: s, faces_per_s: faces.length / s, data });

  const app = await startApp();
  try {
    const page = await (await app.browser.newContext({ baseURL: app.url })).newPage();
    await openApp(page);
    const src = panel(page, 'src');
    t = performance.now();
    await dropFiles(page, 'src', faces);
    await expect(src.getByTestId('face-count')).toHaveText(String(faces.length), { timeout: 600_000 });
    s = (performance.now() - t) / 1000;
    rows.push({ name: 'import (drop → stored, listed)', where: 'browser', faces: faces.length, face_px: 256, seconds: s, faces_per_s: faces.length / s, data });
    await src.getByLabel('Converted size').selectOption('128');
    t = performance.now();
    await src.getByRole('button', { name: 'Convert to grayscale' }).click();
    await expect(src.getByTestId('faceset-stats')).toContainText('128 px', { timeout: 600_000 });
    s = (performance.now() - t) / 1000;
    rows.push({ name: 'convert gray 256→128 (stored)', where: 'browser', faces: faces.length, face_px: 256, seconds: s, faces_per_s: faces.length / s, data });
  } finally {
    await app.stop();
  }
  return rows;
}

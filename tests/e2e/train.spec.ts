/**
 * Issue 3, browser side: the tiny model trains in the trainer worker, fed by the sample workers from the IndexedDB
 * facesets, and its loss goes down. WebGPU here is SwiftShader (shared/notes/webgpu-on-this-machine.md): the first
 * step compiles shaders (~5 s for this net), later steps take ~0.2 s.
 */
import { expect, test, type Page } from '@playwright/test';
import { join } from 'node:path';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { hasSharedData, readDir, sharedDataDir } from './data.ts';
import { dropFiles, openApp, panel } from './page.ts';

interface HistoryEntry {
  iter: number;
  src: number;
  dst: number;
  ms: number;
  tensors: number;
}

const FACES = 16;
const dataNote = hasSharedData ? 'real faces: obama → faceswap_clip' : 'self-made faces: ../shared/data absent';

async function faces(): Promise<{ src: { name: string; bytes: Uint8Array }[]; dst: { name: string; bytes: Uint8Array }[] }> {
  if (hasSharedData)
    return {
      src: readDir(join(sharedDataDir, 'facesets/obama/aligned'), FACES),
      dst: readDir(join(sharedDataDir, 'facesets/faceswap_clip/aligned'), FACES),
    };
  await initNodeJpegCodec();
  const all = await makeDflFaces(2 * FACES, { size: 128 });
  return { src: all.slice(0, FACES), dst: all.slice(FACES) };
}

async function importFaces(page: Page): Promise<void> {
  const f = await faces();
  await dropFiles(page, 'src', f.src);
  await expect(panel(page, 'src').getByTestId('face-count')).toHaveText(String(FACES), { timeout: 60_000 });
  await dropFiles(page, 'dst', f.dst);
  await expect(panel(page, 'dst').getByTestId('face-count')).toHaveText(String(FACES), { timeout: 60_000 });
}

/** Train the tiny preset for `steps` iterations on `backend` through the panel; returns the per-iteration history. */
async function trainTiny(page: Page, backend: 'webgpu' | 'wasm', steps: number): Promise<HistoryEntry[]> {
  const train = page.getByRole('region', { name: 'Training' });
  await train.getByLabel('Model').selectOption('tiny');
  await train.getByLabel('Backend').selectOption(backend);
  await train.getByLabel('Iterations').fill(String(steps));
  await train.getByLabel('Preview every').selectOption('0');
  await train.getByRole('button', { name: 'Start training' }).click();
  await expect(train.getByTestId('train-backend')).toContainText(`${backend}:`, { timeout: 60_000 });
  await expect(train.getByTestId('train-iter')).toHaveText(String(steps), { timeout: 150_000 });
  await expect(train.getByRole('button', { name: 'Start training' })).toBeVisible();
  await expect(train.getByRole('alert')).toHaveCount(0);
  for (const id of ['train-src-loss', 'train-dst-loss', 'train-ms']) await expect(train.getByTestId(id)).not.toHaveText('–');
  return JSON.parse((await train.getAttribute('data-history'))!) as HistoryEntry[];
}

function check(history: HistoryEntry[], steps: number, label: string): void {
  expect(history.map((h) => h.iter)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
  const loss = history.map((h) => h.src + h.dst);
  expect(loss.every(Number.isFinite)).toBe(true);
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const first = mean(loss.slice(0, 5));
  const last = mean(loss.slice(-5));
  const ms = history.slice(1).map((h) => h.ms).sort((a, b) => a - b);
  console.log(
    `${label}: ${steps} steps, loss (src+dst) mean of first 5 ${first.toFixed(4)} → last 5 ${last.toFixed(4)}; ` +
      `first step ${Math.round(history[0].ms)} ms, median ${Math.round(ms[ms.length >> 1])} ms; tensors ${history[0].tensors} → ${history[history.length - 1].tensors}`,
  );
  expect(last).toBeLessThan(first);
  // No leak: the tensor count is the same after every step once the first step has created the optimizer slots.
  expect(new Set(history.slice(1).map((h) => h.tensors)).size).toBe(1);
}

test(`the tiny model trains on WebGPU in the worker: loss goes down, no tensor leak (${dataNote})`, async ({ page }) => {
  test.setTimeout(180_000);
  await openApp(page);
  await importFaces(page);
  const steps = 30;
  check(await trainTiny(page, 'webgpu', steps), steps, 'webgpu');
  const train = page.getByRole('region', { name: 'Training' });
  await expect(train.getByTestId('train-gpu-bytes')).not.toHaveText('–');
});

test(`the tiny model trains on the wasm backend (im2col filter gradient) and Start continues the same model (${dataNote})`, async ({ page }) => {
  test.setTimeout(120_000);
  await openApp(page);
  await importFaces(page);
  const steps = 40;
  check(await trainTiny(page, 'wasm', steps), steps, 'wasm');
  // A second Start with the same choices continues the same model: iterations go on from 40.
  const train = page.getByRole('region', { name: 'Training' });
  await train.getByLabel('Iterations').fill('5');
  await train.getByRole('button', { name: 'Start training' }).click();
  await expect(train.getByTestId('train-iter')).toHaveText(String(steps + 5), { timeout: 60_000 });
});

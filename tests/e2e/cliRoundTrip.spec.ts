/**
 * Issue 10, "a model moves freely between a terminal and a browser": the command line trains the Quick-test preset
 * (`saehdbw train`, wasm in Node) on faceswap_clip (src) → obama (dst), the checkpoint file it writes is uploaded into
 * the studio in headless Chromium and trained on there, the page's download goes back to the terminal and trains on
 * again. Each hop must continue exactly where the other stopped: iteration, loss history and options carried over.
 * Without ../shared/data the same trip runs on self-made DFL faces written to temporary folders.
 */
import { expect, test, type Locator } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { decodeCheckpoint } from '../../src/core/checkpoint/checkpointFile.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { hasSharedData, readDir, sharedDataDir } from './data.ts';
import { dropFiles, openApp, panel } from './page.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const FACES = 8;

/** Runs the real `saehdbw` entry point; returns stdout. Throws (with stderr) on a non-zero exit. */
function saehdbw(args: string[]): string {
  return execFileSync(process.execPath, [join(repo, 'cli/saehdbw.mjs'), ...args], { cwd: repo, encoding: 'utf8', timeout: 300_000 });
}

async function faceFolders(work: string): Promise<{ src: string; dst: string }> {
  if (hasSharedData) return { src: join(sharedDataDir, 'facesets/faceswap_clip/aligned'), dst: join(sharedDataDir, 'facesets/obama/aligned') };
  await initNodeJpegCodec();
  const all = await makeDflFaces(2 * FACES, { size: 128 });
  const dirs = { src: join(work, 'src'), dst: join(work, 'dst') };
  for (const [k, list] of [['src', all.slice(0, FACES)], ['dst', all.slice(FACES)]] as const) {
    mkdirSync(dirs[k], { recursive: true });
    for (const f of list) writeFileSync(join(dirs[k], f.name), f.bytes);
  }
  return dirs;
}

const iterOf = (s: Locator) => s.getByRole('status', { name: 'Iteration' });

test(`terminal → page → terminal: a Quick-test checkpoint trains on in each place (${hasSharedData ? 'faceswap_clip → obama' : 'self-made faces'})`, async ({ page }, info) => {
  test.setTimeout(420_000);
  const work = mkdtempSync(join(tmpdir(), 'saehdbw-roundtrip-'));
  const dirs = await faceFolders(work);
  const file = join(work, 'quick.saehdbw');

  // 1. Terminal: a new Quick-test model, 3 iterations.
  saehdbw(['train', '--src', dirs.src, '--dst', dirs.dst, '--model', file, '--preset', 'quickTest', '--iters', '3', '--json']);
  const fromCli = decodeCheckpoint(new Uint8Array(readFileSync(file)));
  expect(fromCli.iter).toBe(3);
  expect(fromCli.lossHistory).toHaveLength(3);
  expect(fromCli.options.resolution).toBe(64);

  // 2. Page: import faces, upload the terminal's file, train on, save, download.
  await openApp(page);
  const srcFaces = readDir(dirs.src, FACES);
  const dstFaces = readDir(dirs.dst, FACES);
  await dropFiles(page, 'src', srcFaces);
  await expect(panel(page, 'src').getByTestId('face-count')).toHaveText(String(srcFaces.length), { timeout: 60_000 });
  await dropFiles(page, 'dst', dstFaces);
  await expect(panel(page, 'dst').getByTestId('face-count')).toHaveText(String(dstFaces.length), { timeout: 60_000 });
  const s = page.getByRole('region', { name: 'Studio', exact: true });
  await s.getByLabel('Upload checkpoint').setInputFiles(file);
  await expect(iterOf(s)).toHaveText('3');
  await expect(s.getByRole('alert')).toHaveCount(0);
  await expect(s.getByRole('region', { name: 'Loss graph' })).toHaveAttribute('data-points', '3');
  await s.getByLabel('Backend').selectOption('wasm');
  await s.getByRole('button', { name: 'Start training' }).click();
  await expect.poll(async () => Number(await iterOf(s).textContent()), { timeout: 240_000 }).toBeGreaterThanOrEqual(5);
  await s.getByRole('button', { name: 'Pause training' }).click();
  await expect(s.getByRole('button', { name: 'Start training' })).toBeEnabled({ timeout: 60_000 });
  const inPage = Number(await iterOf(s).textContent());
  await s.getByRole('button', { name: 'Save now' }).click();
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${inPage}`, { timeout: 60_000 });
  const [dl] = await Promise.all([page.waitForEvent('download'), s.getByRole('button', { name: 'Download checkpoint' }).click()]);
  const back = info.outputPath('from-page.saehdbw');
  await dl.saveAs(back);
  const fromPage = decodeCheckpoint(new Uint8Array(readFileSync(back)));
  expect(fromPage.iter).toBe(inPage);
  expect(fromPage.lossHistory).toHaveLength(inPage);
  // The terminal's history is the start of the page's: the page continued the same run, it did not restart it.
  expect(fromPage.lossHistory.slice(0, 3)).toEqual(fromCli.lossHistory);
  expect(fromPage.options).toEqual(fromCli.options);
  // Training changed the weights.
  const name = [...fromCli.weights.keys()][0];
  expect(fromPage.weights.get(name)!.data).not.toEqual(fromCli.weights.get(name)!.data);

  // 3. Terminal again: resume the page's file for 2 more iterations.
  saehdbw(['train', '--src', dirs.src, '--dst', dirs.dst, '--model', back, '--iters', '2', '--json']);
  const again = decodeCheckpoint(new Uint8Array(readFileSync(back)));
  expect(again.iter).toBe(inPage + 2);
  expect(again.lossHistory.slice(0, inPage)).toEqual(fromPage.lossHistory);
  expect(again.options).toEqual(fromPage.options);
  // The studio's preview faces (checkpoint attachments) survive the terminal's save untouched.
  expect(fromPage.attachments?.size ?? 0).toBeGreaterThan(0);
  expect(again.attachments).toEqual(fromPage.attachments);
  for (const [, l] of again.lossHistory.slice(inPage)) expect(Number.isFinite(l)).toBe(true);

  // 4. The terminal's eval scores the page-trained file (JSON with SSIM in [−1, 1]).
  const ev = JSON.parse(saehdbw(['eval', '--model', back, '--faces', dirs.dst])) as { iter: number; faces: number; ssim: number; psnr: number };
  expect(ev.iter).toBe(inPage + 2);
  expect(ev.faces).toBeGreaterThanOrEqual(FACES);
  expect(ev.ssim).toBeGreaterThan(-1);
  expect(ev.ssim).toBeLessThanOrEqual(1);
  expect(Number.isFinite(ev.psnr)).toBe(true);
});

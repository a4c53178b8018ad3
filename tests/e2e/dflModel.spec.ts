/**
 * Issue 4 in the studio (headless Chromium): a DeepFaceLab model folder written in Node by a writer independent of the
 * project's exporter (tests/fixtures/dflFolder.ts: DFL key names and shapes from the spec tables, random float32
 * arrays, a data.dat made by CPython) is picked as a folder, stored as a new model, exported again without training
 * (weights and optimizer slots bit-identical to what was written), trained on from its iteration, loss history and
 * optimizer state, exported, and the export re-imports in Node; the zip is dropped back in. Folders with missing or
 * mis-shaped arrays and unsupported model classes are refused with the list of problems, and nothing is stored.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import { parseWeightsFile, zipDflModel, type DflFile } from '../../src/core/formats/dflModel.ts';
import { parsePickle } from '../../src/core/formats/pickle.ts';
import { writePickle } from '../../src/core/formats/pickleWriter.ts';
import { ndarray, type PyDict } from '../../src/core/formats/pyValue.ts';
import { importDflModel } from '../../src/core/model/loadDfl.ts';
import { CPYTHON_DATA_DAT_HEX, hex, independentFolder } from '../fixtures/dflFolder.ts';
import { facesNote, importFaces } from './faces.ts';
import { openApp } from './page.ts';

const FACES = 8;
const dataNote = facesNote;
const MODULES = ['encoder', 'inter', 'decoder_src', 'decoder_dst'];

function writeFolder(dir: string, files: DflFile[]): string {
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f.name), f.bytes);
  return dir;
}

/** Drop one file on the studio the way a drag does (a DataTransfer built in the page). */
async function dropOnStudio(page: Page, name: string, bytes: Uint8Array): Promise<void> {
  const dt = await page.evaluateHandle(
    ({ name, b64 }) => {
      const bin = atob(b64);
      const u8 = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
      const d = new DataTransfer();
      d.items.add(new File([u8], name, { type: 'application/zip' }));
      return d;
    },
    { name, b64: Buffer.from(bytes).toString('base64') },
  );
  const zone = page.locator('[data-dropzone="model"]');
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
}

async function exportZip(page: Page, s: Locator, out: string): Promise<Map<string, Uint8Array>> {
  const [dl] = await Promise.all([page.waitForEvent('download'), s.getByRole('button', { name: 'Export DFL model' }).click()]);
  expect(dl.suggestedFilename()).toBe('indep_SAEHDBW.zip');
  await dl.saveAs(out);
  return new Map(Object.entries(unzipSync(new Uint8Array(readFileSync(out)))));
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const iterNow = async (s: Locator) => Number(await s.getByRole('status', { name: 'Iteration' }).textContent());

test(`a DeepFaceLab folder from an independent writer imports, exports unchanged, trains on and goes back out (${dataNote})`, async ({ page }) => {
  test.setTimeout(240_000);
  const work = mkdtempSync(join(tmpdir(), 'saehdbw-dfl-e2e-'));
  const { files, weights } = independentFolder('indep');
  const good = writeFolder(join(work, 'indep_model'), files);
  // DFL's model folder also holds the preview history and backups: not read.
  writeFolder(join(good, 'indep_SAEHDBW_history'), [{ name: '00000.jpg', bytes: new Uint8Array([1, 2, 3]) }]);
  // A broken copy: one array missing, one mis-shaped, one optimizer slot mis-shaped.
  const broken = independentFolder('bad').files.map((f) => {
    const edit = (fn: (d: PyDict) => void) => {
      const d = parsePickle(f.bytes) as PyDict;
      fn(d);
      return { name: f.name, bytes: writePickle(d, 4) };
    };
    if (f.name.endsWith('_inter.npy')) return edit((d) => d.delete('dense1/bias:0'));
    if (f.name.endsWith('_decoder_src.npy')) return edit((d) => d.set('res1/conv2/weight:0', ndarray('f4', [3, 3, 16, 8], new Float32Array(1152))));
    return f;
  });
  const bad = writeFolder(join(work, 'bad_model'), broken);

  await openApp(page);
  await importFaces(page, FACES);
  const s = page.getByRole('region', { name: 'Studio', exact: true });
  const rows = s.getByRole('table', { name: 'Models' }).locator('tr[data-model-id]');

  // Refusals: the list of what is wrong, nothing stored.
  await s.getByLabel('Import DFL model folder').setInputFiles(bad);
  const alert = s.getByRole('alert');
  await expect(alert).toContainText('Import refused');
  await expect(alert).toContainText('bad_SAEHDBW_inter.npy: missing dense1/bias:0 (16)');
  await expect(alert).toContainText('bad_SAEHDBW_decoder_src.npy: res1/conv2/weight:0 is 3×3×16×8, the model needs 3×3×16×16');
  await expect(alert).toContainText('Nothing was stored');
  await dropOnStudio(page, 'amp.zip', zipDflModel([{ name: 'x_AMP_data.dat', bytes: hex(CPYTHON_DATA_DAT_HEX) }]));
  await expect(alert).toContainText('Import refused: amp.zip');
  await expect(alert).toContainText('model class AMP is not implemented');
  await expect(rows).toHaveCount(0);

  // The good folder: a new model at its iteration with its loss history; what the page changed is named.
  await s.getByLabel('Import DFL model folder').setInputFiles(good);
  await expect(s.getByTestId('studio-message')).toContainText('Imported the DeepFaceLab model indep (SAEHDBW) at iteration 3');
  await expect(alert).toHaveCount(0);
  await expect(s.getByTestId('dfl-notes')).toContainText("ae_dims 16 is outside DFL's prompt range; kept as stored");
  await expect(s.getByRole('status', { name: 'Iteration' })).toHaveText('3');
  await expect(s.getByRole('region', { name: 'Loss graph' })).toHaveAttribute('data-points', '3');
  await expect(s.getByTestId('info-line')).toContainText('SAEHDBW B:2 df-ud f R:32 AEDM[16|4|4|4]');
  await expect(rows).toHaveCount(1);

  // Export without training: every weight and optimizer slot bit-identical to what the independent writer wrote.
  const first = await exportZip(page, s, join(work, 'export0.zip'));
  expect([...first.keys()].sort()).toEqual(
    ['data.dat', 'decoder_dst.npy', 'decoder_src.npy', 'encoder.npy', 'inter.npy', 'src_dst_opt.npy', 'summary.txt'].map((p) => `indep_SAEHDBW_${p}`),
  );
  for (const m of MODULES) {
    const got = parseWeightsFile(first.get(`indep_SAEHDBW_${m}.npy`)!, m, []).arrays;
    const want = weights.get(m)!;
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, v] of want) expect(bits(got.get(k)!.data).equals(bits(v)), `${m}/${k}`).toBe(true);
  }
  const optIn = parseWeightsFile(files.find((f) => f.name.endsWith('_src_dst_opt.npy'))!.bytes, 'opt', []);
  const opt0 = parseWeightsFile(first.get('indep_SAEHDBW_src_dst_opt.npy')!, 'opt', []);
  expect(opt0.iters).toBe(3);
  expect(opt0.arrays.size).toBe(optIn.arrays.size);
  for (const [k, v] of optIn.arrays) expect(bits(opt0.arrays.get(k)!.data).equals(bits(v.data)), k).toBe(true);
  const data0 = parsePickle(first.get('indep_SAEHDBW_data.dat')!) as PyDict;
  expect(data0.get('iter')).toBe(3);
  expect(data0.get('choosed_gpu_indexes')).toEqual([0]);
  expect((data0.get('sample_for_preview') as unknown[]).length).toBe(2);

  // Renaming the model in the page keeps its DFL name for the export (data.dat's model name travels in the checkpoint).
  const list = s.getByRole('table', { name: 'Models' });
  await list.getByRole('button', { name: 'Rename indep' }).click();
  await list.getByLabel('New name').fill('my desktop model');
  await list.getByLabel('New name').press('Enter');
  await expect(list.getByRole('button', { name: 'Open my desktop model', exact: true })).toBeVisible();

  // Train on from iteration 3 with its optimizer state.
  await s.getByLabel('Backend').selectOption('wasm');
  await s.getByRole('button', { name: 'Start training' }).click();
  await expect.poll(() => iterNow(s), { timeout: 120_000 }).toBeGreaterThanOrEqual(5);
  await s.getByRole('button', { name: 'Pause training' }).click();
  await expect(s.getByRole('button', { name: 'Start training' })).toBeEnabled({ timeout: 30_000 });
  const n = await iterNow(s);
  await expect(s.getByRole('alert')).toHaveCount(0);

  // The export re-imports in Node: iteration, loss history (the first 3 entries as written), optimizer counter, and
  // weights that moved by the steps' small updates only.
  const trained = await exportZip(page, s, join(work, 'export1.zip'));
  await tf.setBackend('cpu');
  const back = importDflModel([...trained].map(([name, bytes]) => ({ name, bytes })), { seed: 1 });
  try {
    expect(back.iter).toBe(n);
    expect(back.lossHistory).toHaveLength(n);
    expect(back.lossHistory.slice(0, 3)).toEqual([[1.25, 2.5], [1.125, 2.375], [1.0625, 2.25]]);
    expect(back.trainer!.srcDstOpt.iterations).toBe(n);
    let changed = 0;
    let maxDiff = 0;
    for (const [m, vars] of back.model.weights()) {
      for (const [k, v] of vars) {
        const was = weights.get(m)!.get(k)!;
        const now = v.dataSync() as Float32Array;
        for (let i = 0; i < now.length; i++) maxDiff = Math.max(maxDiff, Math.abs(now[i] - was[i]));
        if (!bits(now).equals(bits(was))) changed++;
      }
    }
    console.log(`DFL import → ${n - 3} steps → export: ${changed} arrays changed, max |Δw| ${maxDiff.toExponential(2)}`);
    expect(changed).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(0.01 * (n - 3));
  } finally {
    back.trainer?.dispose();
    back.model.dispose();
  }

  // The exported zip dropped back in is a second model at the trained iteration.
  await dropOnStudio(page, 'indep_SAEHDBW.zip', readFileSync(join(work, 'export1.zip')));
  await expect(s.getByTestId('studio-message')).toContainText(`Imported the DeepFaceLab model indep (SAEHDBW) at iteration ${n}`);
  await expect(rows).toHaveCount(2);
});

/**
 * Issue 5, the training studio in headless Chromium with the tiny configuration (32 px, dims 4, batch 2, wasm backend:
 * faster than SwiftShader WebGPU for a net this small). One session as a new user would do it: import faces, create
 * the tiny model, train, see previews and the preview history (timelapse), save, reload, resume at the same iteration
 * with the same preview faces and the stored timelapse, download the checkpoint; then a save when the tab is closed,
 * a damaged chunk (load falls back and says so), closing the page during saves (a verified generation always loads),
 * and a fresh browser context with OTHER faces that uploads the downloaded file, shows the checkpoint's own preview
 * faces and continues. Refused uploads change nothing.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { readFileSync, writeFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/core/checkpoint/checkpointFile.ts';
import { facesNote, importFaces } from './faces.ts';
import { openApp } from './page.ts';

const FACES = 8;
const dataNote = facesNote;

const studioOf = (page: Page) => page.getByRole('region', { name: 'Studio', exact: true });
const iterOf = (s: Locator) => s.getByRole('status', { name: 'Iteration' });

async function iterNow(s: Locator): Promise<number> {
  return Number(await iterOf(s).textContent());
}

/** Start, wait until at least `atLeast` iterations, pause; returns the iteration reached. */
async function trainTo(s: Locator, atLeast: number): Promise<number> {
  await s.getByRole('button', { name: 'Start training' }).click();
  await expect.poll(() => iterNow(s), { timeout: 120_000 }).toBeGreaterThanOrEqual(atLeast);
  await s.getByRole('button', { name: 'Pause training' }).click();
  await expect(s.getByRole('button', { name: 'Start training' })).toBeEnabled({ timeout: 30_000 });
  return iterNow(s);
}

async function saveNow(s: Locator): Promise<number> {
  const it = await iterNow(s);
  await s.getByRole('button', { name: 'Save now' }).click();
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${it}`, { timeout: 30_000 });
  return it;
}

/**
 * The pixels of the preview's input columns (src and dst, every face row): the fixed preview faces themselves, which do
 * not depend on the weights. A compact fingerprint: the sum and a position-weighted sum of the red channel per canvas.
 */
async function previewFaces(s: Locator): Promise<string> {
  const preview = s.getByRole('region', { name: 'Preview', exact: true });
  return preview.evaluate((el) => {
    const out: string[] = [];
    for (const row of Array.from(el.querySelectorAll('tbody tr'))) {
      const cells = row.querySelectorAll('canvas');
      for (const k of [0, 2]) {
        const c = cells[k] as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let a = 0;
        let b = 0;
        for (let i = 0; i < d.length; i += 4) {
          a += d[i];
          b = (b + d[i] * (i + 1)) % 1_000_003;
        }
        out.push(`${a}:${b}`);
      }
    }
    return out.join(' ');
  });
}

async function openModel(page: Page, name: string): Promise<Locator> {
  const s = studioOf(page);
  await s.getByRole('button', { name: `Open ${name}`, exact: true }).click();
  return s;
}

test(`studio: create, train, preview, save, reload, resume, fall back, survive closing mid-save, download, upload elsewhere (${dataNote})`, async ({ page, browser }, info) => {
  test.setTimeout(240_000);
  await openApp(page);
  await importFaces(page, FACES);
  let s = studioOf(page);

  // Create the tiny model through the option form.
  await s.getByRole('button', { name: 'New model' }).click();
  const form = s.getByRole('form', { name: 'New model options' });
  await form.getByLabel('Preset').selectOption('tiny');
  await form.getByLabel('Model name').fill('tiny');
  // y/n fields take 1/0.
  await form.locator('#opt-random_warp').fill('1');
  await form.locator('#opt-write_preview_history').fill('1');
  await form.getByRole('button', { name: 'Create model' }).click();
  await expect(s.getByTestId('info-line')).toContainText('R:32 AEDM[16|4|4|4]');
  await s.getByLabel('Backend').selectOption('wasm');

  // Train, pause, look at the preview and the loss graph.
  const n0 = await trainTo(s, 10);
  await expect(s.getByTestId('studio-backend')).toContainText('wasm:');
  await s.getByRole('button', { name: 'Refresh preview' }).click();
  const preview = s.getByRole('region', { name: 'Preview', exact: true });
  await expect(preview.locator('canvas')).toHaveCount(2 * 5); // batch 2 → 2 faces × 5 columns
  // The pictures are real: the src target column is not flat.
  const spread = await preview.locator('canvas').first().evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let lo = 255, hi = 0;
    for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
    return hi - lo;
  });
  expect(spread).toBeGreaterThan(20);
  await s.getByLabel('Show masks').check();
  await expect(preview.locator('canvas')).toHaveCount(2 * 8);
  const graph = s.getByRole('region', { name: 'Loss graph' });
  await expect(graph).toHaveAttribute('data-points', String(n0));
  await expect(graph.locator('canvas')).toHaveCount(1);

  // write_preview_history: a frame every 10 iterations at 32 px, kept in IndexedDB, played/scrubbed and downloadable.
  await expect(s.getByText(/Preview history \(\d+ frames?, every 10 iterations\)/)).toBeVisible({ timeout: 30_000 });
  await s.getByText(/Preview history \(/).click();
  const frame = s.getByRole('figure', { name: 'Preview history' }).getByRole('img');
  await s.getByLabel('Timelapse frame').fill('0');
  await expect(s.getByTestId('timelapse-iter')).toHaveText('iteration 10');
  await expect(frame).toHaveAttribute('data-iter', '10');
  // One frame is the whole grid: 5 columns × 2 faces of 32 px.
  await expect.poll(() => frame.evaluate((i: HTMLImageElement) => `${i.naturalWidth}×${i.naturalHeight}`)).toBe('160×64');
  const frames = Number(await s.locator('details.timelapse').getAttribute('data-frames'));
  expect(frames).toBeGreaterThanOrEqual(1);
  // Play runs to the newest frame (every 10 iterations: 10, 20, …).
  await s.getByRole('button', { name: 'Play preview history' }).click();
  await expect(s.getByTestId('timelapse-iter')).toHaveText(`iteration ${10 * frames}`);
  await expect(frame).toHaveAttribute('data-iter', String(10 * frames));
  await expect(s.getByRole('button', { name: 'Play preview history' })).toBeVisible();
  const [tl] = await Promise.all([page.waitForEvent('download'), s.getByRole('button', { name: 'Download preview history' }).click()]);
  expect(tl.suggestedFilename()).toBe('tiny-history.zip');
  const tlZip = unzipSync(new Uint8Array(readFileSync((await tl.path())!)));
  const pngs = Object.keys(tlZip).sort();
  expect(pngs.length).toBeGreaterThanOrEqual(frames);
  expect(pngs[0]).toBe('0000010.png');
  expect([...tlZip[pngs[0]].subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  console.log(`preview history: ${pngs.length} frames, ${Math.round(Object.values(tlZip).reduce((a, b) => a + b.length, 0) / pngs.length)} bytes per 160×64 PNG frame`);

  // No tensor leaks across training, preview and save: the worker's count is the same after each.
  const tensorsAfterTrain = await s.getAttribute('data-tensors');
  const n1 = await saveNow(s);
  expect(n1).toBe(n0);
  await s.getByRole('button', { name: 'Refresh preview' }).click();
  await expect(preview).toHaveAttribute('data-iter', String(n1));
  await s.getByRole('button', { name: 'Save now' }).click();
  await expect(s).toHaveAttribute('data-busy', '');
  expect(await s.getAttribute('data-tensors')).toBe(tensorsAfterTrain);

  // Keys: '1' cycles the loss range, '?' shows the overlay.
  await page.locator('body').press('1');
  await expect(graph.getByRole('button', { name: 'last 10k' })).toHaveAttribute('aria-pressed', 'true');
  await page.locator('body').press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toContainText('save the model now');
  await page.locator('body').press('?');
  // 'b' writes a backup into the ring, beside the best-loss backup of the first save: both show in the model's row.
  await page.locator('body').press('b');
  await expect(s.getByTestId('studio-message')).toContainText('Backup 1 of 3 written');
  await expect(s.getByRole('table', { name: 'Models' })).toContainText('(2 bk)');
  // Typing in a field is not a key command.
  await s.getByLabel('Backup slots').press('b');
  await expect(s.getByTestId('studio-message')).toContainText('Backup 1 of 3 written');

  // Second generation.
  await trainTo(s, n1 + 2);
  expect(tensorsAfterTrain).not.toBe('');
  expect(await s.getAttribute('data-tensors')).toBe(tensorsAfterTrain);
  const n2 = await saveNow(s);
  await page.screenshot({ path: info.outputPath('studio.png'), fullPage: true });
  const historyLen = await s.getByRole('region', { name: 'Loss graph' }).getAttribute('data-points');
  const faces = await previewFaces(s);
  const framesSaved = await s.locator('details.timelapse').getAttribute('data-frames');

  // Reload: the model is listed; opening it resumes at the same iteration with the same loss history.
  await page.reload();
  await expect(page.locator('main[data-ready="true"]')).toBeVisible({ timeout: 60_000 });
  s = await openModel(page, 'tiny');
  await expect(iterOf(s)).toHaveText(String(n2));
  await expect(s.getByRole('region', { name: 'Loss graph' })).toHaveAttribute('data-points', historyLen!);
  await expect(s.getByTestId('studio-message')).toContainText(`Opened at iteration ${n2}`);
  // The preview history is still there (IndexedDB), and the preview shows the same fixed faces.
  await expect(s.locator('details.timelapse')).toHaveAttribute('data-frames', framesSaved!);
  await s.getByLabel('Backend').selectOption('wasm'); // before the preview starts the worker
  await s.getByRole('button', { name: 'Refresh preview' }).click();
  await expect(s.getByRole('region', { name: 'Preview', exact: true })).toHaveAttribute('data-iter', String(n2));
  expect(await previewFaces(s)).toBe(faces);

  // Download the checkpoint (one file).
  const [dl] = await Promise.all([page.waitForEvent('download'), s.getByRole('button', { name: 'Download checkpoint' }).click()]);
  const file = info.outputPath('tiny.saehdbw');
  await dl.saveAs(file);
  const bytes = readFileSync(file);
  expect(bytes.subarray(0, 8).toString('latin1')).toBe('SAEHDBWC');

  // Resume training from the reloaded model.
  const n3 = await trainTo(s, n2 + 1);
  expect(n3).toBeGreaterThan(n2);
  // Closing the tab (pagehide) saves the unsaved progress.
  await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false })));
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${n3}`);

  // Corrupt one stored chunk of the newest generation: load falls back to the previous one and says so.
  const modelId = (await s.getAttribute('data-model-id'))!;
  await page.reload();
  await expect(page.locator('main[data-ready="true"]')).toBeVisible({ timeout: 60_000 });
  const damaged = await page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open('saehdbw-models');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const tx = db.transaction('checkpoints', 'readwrite');
    const st = tx.objectStore('checkpoints');
    const m = await new Promise<{ current: { chunks: { key: string }[] } }>((res) => {
      const r = st.get(`model/${id}/manifest`);
      r.onsuccess = () => res(r.result);
    });
    const key = m.current.chunks[0].key;
    const chunk = await new Promise<Uint8Array>((res) => {
      const r = st.get(key);
      r.onsuccess = () => res(r.result);
    });
    const bad = chunk.slice();
    bad[bad.length >> 1] ^= 0xff;
    st.put(bad, key);
    await new Promise((res) => (tx.oncomplete = res));
    db.close();
    return key;
  }, modelId);
  expect(damaged).toContain(`model/${modelId}/gen/`);
  s = await openModel(page, 'tiny');
  await expect(s.getByTestId('studio-message')).toContainText('Loaded an older save');
  await expect(s.getByTestId('studio-message')).toContainText('fails its checksum');
  await expect(iterOf(s)).toHaveText(String(n2));

  // Close the page while a save is running, twice: every reopen loads a verified generation.
  const ctx = page.context();
  let p = page;
  for (let round = 0; round < 3; round++) {
    await s.getByLabel('Backend').selectOption('wasm');
    const before = await iterNow(s);
    await trainTo(s, before + 1);
    const after = await iterNow(s);
    await s.getByRole('button', { name: 'Save now' }).click();
    await p.waitForTimeout([0, 15, 60][round]);
    await p.close();
    p = await ctx.newPage();
    await openApp(p);
    s = await openModel(p, 'tiny');
    await expect(s.getByTestId('studio-message')).toBeVisible();
    await expect(s.getByRole('alert')).toHaveCount(0);
    const got = await iterNow(s);
    expect([n2, before, after]).toContain(got);
  }

  // Storage full (the estimate says so): the save is refused with a message, the last good generation is kept and
  // a download is offered.
  await s.getByLabel('Backend').selectOption('wasm');
  const kept = await iterNow(s);
  await trainTo(s, kept + 1);
  const savedBefore = await s.getByTestId('studio-saved').textContent();
  await p.evaluate(() => {
    Object.defineProperty(navigator.storage, 'estimate', { value: async () => ({ quota: 50_000, usage: 49_000 }) });
  });
  await s.getByRole('button', { name: 'Save now' }).click();
  await expect(s.getByRole('alert')).toContainText('Not saved: browser storage is full');
  await expect(s.getByRole('alert')).toContainText('The last good save is kept');
  await expect(s.getByTestId('studio-saved')).toHaveText(savedBefore!);
  await expect(s.getByTestId('storage-note').getByRole('button', { name: 'Save a copy to disk' })).toBeVisible();
  await p.reload();
  await expect(p.locator('main[data-ready="true"]')).toBeVisible({ timeout: 60_000 });
  s = await openModel(p, 'tiny');
  await expect(s.getByRole('alert')).toHaveCount(0);
  expect(`iteration ${await iterNow(s)}`).toBe(savedBefore);

  // A fresh browser context (empty storage): refused uploads change nothing; the downloaded file continues.
  const fresh = await browser.newContext();
  const q = await fresh.newPage();
  try {
    await openApp(q);
    await importFaces(q, FACES, FACES);
    const t = studioOf(q);
    const input = t.getByLabel('Upload checkpoint');
    const truncated = info.outputPath('truncated.saehdbw');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    await input.setInputFiles(truncated);
    await expect(t.getByRole('alert')).toContainText('Upload refused');
    const corrupt = info.outputPath('corrupt.saehdbw');
    const c = Buffer.from(bytes);
    c[c.length >> 1] ^= 0x55;
    writeFileSync(corrupt, c);
    await input.setInputFiles(corrupt);
    await expect(t.getByRole('alert')).toContainText('Upload refused: corrupt.saehdbw');
    await expect(t.getByRole('alert')).toContainText('checksum');
    // Incompatible: a valid file whose weights do not fit its model (one missing), and one from a newer version.
    const content = decodeCheckpoint(new Uint8Array(bytes));
    const dropped = [...content.weights.keys()][0];
    content.weights.delete(dropped);
    const incompatible = info.outputPath('incompatible.saehdbw');
    writeFileSync(incompatible, encodeCheckpoint(content));
    await input.setInputFiles(incompatible);
    await expect(t.getByRole('alert')).toContainText('Upload refused: incompatible.saehdbw');
    await expect(t.getByRole('alert')).toContainText(`missing ${dropped}`);
    const newer = info.outputPath('newer.saehdbw');
    writeFileSync(newer, encodeCheckpoint({ ...decodeCheckpoint(new Uint8Array(bytes)), optionsSchemaVersion: 99 }));
    await input.setInputFiles(newer);
    await expect(t.getByRole('alert')).toContainText('Upload refused: newer.saehdbw');
    await expect(t.getByRole('alert')).toContainText('newer version');
    await expect(t.getByRole('table', { name: 'Models' }).locator('tr[data-model-id]')).toHaveCount(0);

    await input.setInputFiles(file);
    await expect(iterOf(t)).toHaveText(String(n2));
    await expect(t.getByRole('alert')).toHaveCount(0);
    // Other faces here, yet the preview shows the checkpoint's own fixed faces.
    await t.getByLabel('Backend').selectOption('wasm');
    await t.getByRole('button', { name: 'Refresh preview' }).click();
    await expect(t.getByRole('region', { name: 'Preview', exact: true })).toHaveAttribute('data-iter', String(n2));
    expect(await previewFaces(t)).toBe(faces);
    await expect(t.getByRole('table', { name: 'Models' }).locator('tr[data-model-id]')).toHaveCount(1);
    const n4 = await trainTo(t, n2 + 1);
    expect(n4).toBeGreaterThan(n2);
    await expect(t.getByRole('alert')).toHaveCount(0);

    // Change an option that may change on resume: target_iter. Training stops there by itself and saves.
    await t.getByRole('button', { name: 'Options' }).click();
    const opts = t.getByRole('form', { name: 'Training options' });
    await expect(opts.locator('#opt-resolution')).toBeDisabled(); // fixed at creation
    // A multiple of 10, so the run also keeps a preview-history frame here (write_preview_history at 32 px).
    const target = Math.ceil((n4 + 1) / 10) * 10;
    await opts.locator('#opt-target_iter').fill(String(target));
    await opts.getByRole('button', { name: 'Apply options' }).click();
    await expect(t.getByTestId('studio-message')).toContainText('Options changed');
    await t.getByRole('button', { name: 'Start training' }).click();
    await expect(t.getByTestId('studio-eta')).not.toHaveText('no target');
    await expect(iterOf(t)).toHaveText(String(target), { timeout: 60_000 });
    await expect(t.getByTestId('studio-message')).toContainText(`Saved at iteration ${target}`, { timeout: 30_000 });
    await expect(t.getByTestId('studio-status')).toHaveText('idle');
    await expect(t.getByRole('table', { name: 'Models' })).toContainText(String(target));

    // Rename and delete in the model list (delete asks first and removes the backups too).
    const list = t.getByRole('table', { name: 'Models' });
    await list.getByRole('button', { name: 'Rename tiny' }).click();
    await list.getByLabel('New name').fill('renamed');
    await list.getByLabel('New name').press('Enter');
    await expect(list.getByRole('button', { name: 'Open renamed', exact: true })).toBeVisible();
    await expect(t.locator('details.timelapse')).toHaveAttribute('data-frames', /^[1-9]\d*$/);
    q.once('dialog', (d) => void d.accept());
    await list.getByRole('button', { name: 'Delete renamed' }).click();
    await expect(list.locator('tr[data-model-id]')).toHaveCount(0);
    // Its preview history went with it.
    const left = await q.evaluate(
      () =>
        new Promise<number>((res, rej) => {
          const r = indexedDB.open('saehdbw-timelapse');
          r.onerror = () => rej(r.error);
          r.onsuccess = () => {
            const c = r.result.transaction('frames').objectStore('frames').count();
            c.onsuccess = () => res(c.result);
          };
        }),
    );
    expect(left).toBe(0);
  } finally {
    await fresh.close();
  }
});

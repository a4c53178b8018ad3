import { expect, test } from '@playwright/test';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { encodeJpeg } from '../../src/core/image/jpegCodec.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { dropFiles, openApp, panel } from './page.ts';

test('no request leaves the page origin while importing, converting and exporting faces', async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  // Workers' requests are reported through the context.
  page.context().on('request', (r) => requests.push(r.url()));
  await initNodeJpegCodec();
  const faces = await makeDflFaces(4, { size: 128 });
  await openApp(page);
  const src = panel(page, 'src');
  await dropFiles(page, 'src', faces);
  await expect(src.getByTestId('face-count')).toHaveText('4');
  await src.getByLabel('Converted size').selectOption('96');
  await src.getByRole('button', { name: 'Convert to grayscale' }).click();
  await expect(src.getByTestId('faceset-stats')).toContainText('96 px');
  const dl = page.waitForEvent('download');
  await src.getByRole('button', { name: 'Export faceset' }).click();
  await dl;
  const response = await page.request.get('/');
  expect(response.headers()['content-security-policy']).toContain("default-src 'self'");
  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
  expect(requests.length).toBeGreaterThan(3);
  expect(foreign).toEqual([]);
});

/**
 * Issue 9 "private by construction": a whole session — import both facesets, create and train a tiny model, preview,
 * save, merge frames, download merged frames, the checkpoint and a faceset — with every request of the page and its
 * workers recorded. Any request to another origin fails the test.
 */
test('a full session (import, train, preview, save, merge, export) makes no request off the page origin', async ({ page, baseURL }) => {
  test.setTimeout(300_000);
  const origin = new URL(baseURL!).origin;
  const requests: string[] = [];
  page.context().on('request', (r) => requests.push(r.url()));
  await initNodeJpegCodec();
  const faces = await makeDflFaces(8, { size: 128 });
  await openApp(page);
  await dropFiles(page, 'src', faces.slice(0, 4));
  await expect(panel(page, 'src').getByTestId('face-count')).toHaveText('4');
  await dropFiles(page, 'dst', faces.slice(4));
  await expect(panel(page, 'dst').getByTestId('face-count')).toHaveText('4');

  const s = page.getByRole('region', { name: 'Studio', exact: true });
  await s.getByRole('button', { name: 'New model' }).click();
  const form = s.getByRole('form', { name: 'New model options' });
  await form.getByLabel('Preset').selectOption('tiny');
  await form.getByLabel('Model name').fill('private');
  await form.getByRole('button', { name: 'Create model' }).click();
  await s.getByLabel('Backend').selectOption('wasm');
  await s.getByRole('button', { name: 'Start training' }).click();
  const iter = s.getByRole('status', { name: 'Iteration' });
  await expect.poll(async () => Number(await iter.textContent()), { timeout: 120_000 }).toBeGreaterThanOrEqual(3);
  await s.getByRole('button', { name: 'Pause training' }).click();
  await expect(s.getByRole('button', { name: 'Start training' })).toBeEnabled({ timeout: 30_000 });
  await s.getByRole('button', { name: 'Refresh preview' }).click();
  await expect(s.getByRole('region', { name: 'Preview', exact: true }).locator('canvas').first()).toBeVisible({ timeout: 60_000 });
  const it = await iter.textContent();
  await s.getByRole('button', { name: 'Save now' }).click();
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${it}`, { timeout: 60_000 });
  const ckpt = page.waitForEvent('download');
  await s.getByRole('button', { name: 'Download checkpoint' }).click();
  await ckpt;

  // Merge the dst faces back onto frames made here (makeFaces puts face i into frame 0000(i+1)).
  const m = page.getByRole('region', { name: 'Merge frames', exact: true });
  await m.getByLabel('Merge backend').selectOption('wasm');
  const modelSelect = m.getByLabel('Merge model');
  await expect(modelSelect.locator('option', { hasText: 'private' })).toHaveCount(1, { timeout: 30_000 });
  await modelSelect.selectOption({ label: (await modelSelect.locator('option', { hasText: 'private' }).textContent())! });
  const frames = [];
  for (let i = 5; i <= 8; i++) {
    const W = 320, H = 260, data = new Uint8Array(W * H * 3).map((_, k) => (k * 7 + i) % 256);
    frames.push({ name: `${String(i).padStart(5, '0')}.jpg`, mimeType: 'image/jpeg', buffer: Buffer.from(await encodeJpeg({ width: W, height: H, channels: 3, data }, 90)) });
  }
  await m.getByLabel('Add frames', { exact: true }).setInputFiles(frames);
  await expect(m.getByTestId('merge-add-report')).toContainText('Added 4 frames');
  await expect(m.getByRole('region', { name: 'Merge preview' }).locator('canvas').first()).toBeVisible({ timeout: 60_000 });
  await m.getByRole('button', { name: 'Merge all' }).click();
  await expect(m.getByTestId('merge-message')).toContainText('Done:', { timeout: 120_000 });
  const merged = page.waitForEvent('download');
  await m.getByRole('button', { name: 'Download merged frames' }).click();
  await merged;
  const exported = page.waitForEvent('download');
  await panel(page, 'dst').getByRole('button', { name: 'Export faceset' }).click();
  await exported;

  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
  expect(requests.length).toBeGreaterThan(10);
  expect(foreign).toEqual([]);
});

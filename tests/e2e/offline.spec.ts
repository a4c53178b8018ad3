/**
 * Issue 9, offline: after one visit the app works with the network off. First visit online; the service worker
 * (src/sw/sw.ts) installs and caches the whole build — checked here against the build folder on disk, file by file —
 * then the context goes offline, the page reloads from the cache (still cross-origin isolated, so the headers came
 * back with the cached responses), faces are imported into both facesets, the tiny model is created and trained, and
 * its iteration counter advances. Every response after going offline came from the service worker, and no request
 * in the whole session left the page's origin.
 */
import { expect, test } from '@playwright/test';
import { resolve } from 'node:path';
import { precacheManifest } from '../../build/serviceWorker.ts';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { dropFiles, openApp, panel } from './page.ts';

const FACES = 4;

test('after one visit the app loads, imports faces and trains with the network off', async ({ page, context, baseURL }) => {
  test.setTimeout(240_000);
  const origin = new URL(baseURL!).origin;
  const requests: string[] = [];
  let offline = false;
  const offlineFromNetwork: string[] = [];
  // Context-level events also carry the workers' and the service worker's own requests.
  context.on('request', (r) => requests.push(r.url()));
  context.on('response', (r) => {
    if (offline && /^https?:/.test(r.url()) && !r.fromServiceWorker()) offlineFromNetwork.push(r.url());
  });

  // CSP refusals (tightened policy, vite.config.ts): requests the policy blocked, in the page and its workers, and any
  // violation event in the document (inline styles and scripts make no request). The one expected refusal is the wasm
  // backend's probe of a blob: script (workers/lib/tfjsSetup.ts), which is how it learns to run single-threaded.
  const violations: string[] = [];
  context.on('requestfailed', (r) => {
    if (r.failure()?.errorText === 'csp' && !r.url().startsWith('blob:')) violations.push(`${r.url()} refused`);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const w = window as unknown as { cspViolations?: string[] };
      if (!(e.effectiveDirective === 'script-src-elem' && e.blockedURI === 'blob')) (w.cspViolations ??= []).push(`${e.effectiveDirective} ${e.blockedURI}`);
    });
  });
  let blobProbeRefused = false;
  context.on('requestfailed', (r) => {
    if (r.failure()?.errorText === 'csp' && r.url().startsWith('blob:')) blobProbeRefused = true;
  });

  // 1. First visit, online: the worker installs and reports every file of this build cached.
  await openApp(page);
  const status = page.getByTestId('offline-status');
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(status).toHaveText(/Available offline/);
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  // Independent of the worker's own count: the cache holds exactly the files the build folder has.
  const expected = Object.keys(precacheManifest(resolve(process.env.SAEHDBW_DIST ?? 'dist')).files).sort();
  const cached = await page.evaluate(async () => {
    const names = (await caches.keys()).filter((n) => n.startsWith('saehdbw-app-'));
    const out: string[] = [];
    for (const n of names) for (const r of await (await caches.open(n)).keys()) out.push(new URL(r.url).pathname);
    return { names, paths: out.sort() };
  });
  expect(cached.names).toHaveLength(1);
  expect(cached.paths).toEqual(expected);
  for (const kind of ['/wasm/', '/models/face-api/', 'worker']) expect(expected.some((p) => p.includes(kind))).toBe(true);

  // 2. Network off, reload: the page, its chunks and workers come from the cache, with COOP/COEP/CSP restored.
  await context.setOffline(true);
  offline = true;
  await page.reload();
  await expect(page.locator('main[data-ready="true"]')).toBeVisible({ timeout: 60_000 });
  await expect(status).toHaveText(/Available offline · network off/);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  // The network really is off: a file that is not cached cannot be fetched.
  expect(await page.evaluate(() => fetch('/not-cached.txt').then(() => 'fetched', () => 'failed'))).toBe('failed');

  // 3. Import self-made faces into both facesets.
  await initNodeJpegCodec();
  const faces = await makeDflFaces(2 * FACES, { size: 128 });
  await dropFiles(page, 'src', faces.slice(0, FACES));
  await expect(panel(page, 'src').getByTestId('face-count')).toHaveText(String(FACES), { timeout: 60_000 });
  await dropFiles(page, 'dst', faces.slice(FACES));
  await expect(panel(page, 'dst').getByTestId('face-count')).toHaveText(String(FACES), { timeout: 60_000 });

  // 4. Create the tiny model and train (the backend is the app's choice: wasm on a software GPU, else WebGPU).
  const s = page.getByRole('region', { name: 'Studio', exact: true });
  await s.getByRole('button', { name: 'New model' }).click();
  const form = s.getByRole('form', { name: 'New model options' });
  await form.getByLabel('Preset').selectOption('tiny');
  await form.getByLabel('Model name').fill('offline');
  await form.getByRole('button', { name: 'Create model' }).click();
  const iter = s.getByRole('status', { name: 'Iteration' });
  await expect(iter).toBeVisible({ timeout: 30_000 });
  const before = Number(await iter.textContent());
  await s.getByRole('button', { name: 'Start training' }).click();
  await expect.poll(async () => Number(await iter.textContent()), { timeout: 150_000 }).toBeGreaterThanOrEqual(before + 2);
  await s.getByRole('button', { name: 'Pause training' }).click();
  await expect(s.getByRole('button', { name: 'Start training' })).toBeEnabled({ timeout: 30_000 });

  // Everything after going offline was answered by the service worker; nothing ever left the origin; no CSP refusal.
  violations.push(...(await page.evaluate(() => (window as unknown as { cspViolations?: string[] }).cspViolations ?? [])));
  expect(violations).toEqual([]);
  // The refusal check itself works: the expected blob: probe was seen refused.
  expect(blobProbeRefused).toBe(true);
  expect(offlineFromNetwork).toEqual([]);
  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
  expect(requests.length).toBeGreaterThan(10);
  expect(foreign).toEqual([]);
  await context.setOffline(false);
});

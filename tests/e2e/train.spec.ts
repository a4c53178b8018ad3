/**
 * Issue 3, browser side, through the training studio (issue 5) and its one training worker (workers/studio.worker.ts):
 * the tiny model trains in the worker, fed by the sample workers from the IndexedDB facesets, and its loss goes down
 * with a flat tensor count, on WebGPU and on wasm (whose conv filter gradient is the project's im2col kernel). Start
 * after Pause continues the same model in the same worker. The seed's keys act as the issue lists them, and hiding or
 * closing the tab saves. On WebGPU, a lost device (simulated with `GPUDevice.destroy()` through the page's test hook)
 * is reported, the worker is replaced and training resumes from the last good save (issue 9).
 * WebGPU here is SwiftShader (shared/notes/webgpu-on-this-machine.md): the first step compiles shaders.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { facesNote, importFaces } from './faces.ts';

interface StepEntry {
  iter: number;
  src: number;
  dst: number;
  ms: number;
  tensors: number;
}

const FACES = 16;
const dataNote = facesNote;

async function open(page: Page, query = ''): Promise<void> {
  // ?testhooks: the studio exposes its worker's test-only calls (device loss) on window.saehdbwStudio.
  await page.goto(`/?testhooks${query}`);
  await expect(page.locator('main[data-ready="true"]')).toBeVisible({ timeout: 60_000 });
}

const studioOf = (page: Page) => page.getByRole('region', { name: 'Studio', exact: true });
const iterNow = async (s: Locator) => Number(await s.getByRole('status', { name: 'Iteration' }).textContent());
const historyOf = async (s: Locator) => JSON.parse((await s.getAttribute('data-history'))!) as StepEntry[];

/** The tiny preset through the option form, on `backend`. */
async function createTiny(s: Locator, backend: 'webgpu' | 'wasm'): Promise<void> {
  await s.getByRole('button', { name: 'New model' }).click();
  const form = s.getByRole('form', { name: 'New model options' });
  await form.getByLabel('Preset').selectOption('tiny');
  await form.getByLabel('Model name').fill(`tiny-${backend}`);
  await form.getByRole('button', { name: 'Create model' }).click();
  await s.getByLabel('Backend').selectOption(backend);
}

/** Start (or continue), wait for at least `atLeast` iterations, pause; returns the iteration reached. */
async function trainTo(s: Locator, atLeast: number, timeout = 150_000): Promise<number> {
  await s.getByRole('button', { name: 'Start training' }).click();
  await expect.poll(() => iterNow(s), { timeout }).toBeGreaterThanOrEqual(atLeast);
  await s.getByRole('button', { name: 'Pause training' }).click();
  await expect(s.getByRole('button', { name: 'Start training' })).toBeEnabled({ timeout: 60_000 });
  return iterNow(s);
}

/** Loss goes down and the tensor count is flat once the first step has made the optimizer slots. */
function check(history: StepEntry[], label: string): void {
  expect(history.map((h) => h.iter)).toEqual(Array.from({ length: history.length }, (_, i) => i + 1));
  const loss = history.map((h) => h.src + h.dst);
  expect(loss.every(Number.isFinite)).toBe(true);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(loss.slice(0, 5));
  const last = mean(loss.slice(-5));
  const ms = history.slice(1).map((h) => h.ms).sort((a, b) => a - b);
  console.log(
    `${label}: ${history.length} steps, loss (src+dst) mean of first 5 ${first.toFixed(4)} → last 5 ${last.toFixed(4)}; ` +
      `first step ${Math.round(history[0].ms)} ms, median ${Math.round(ms[ms.length >> 1])} ms; tensors ${history[0].tensors} → ${history[history.length - 1].tensors}`,
  );
  expect(last).toBeLessThan(first);
  expect(new Set(history.slice(1).map((h) => h.tensors)).size).toBe(1);
}

/** The last save's wall time (capture → manifest flip) and checkpoint size, for the log. */
async function logSave(s: Locator, label: string): Promise<void> {
  const saved = s.getByTestId('studio-saved');
  await expect(saved).toHaveAttribute('data-ms', /\d/);
  console.log(`${label}: save ${await saved.getAttribute('data-ms')} ms, checkpoint ${await saved.getAttribute('data-bytes')} bytes`);
}

async function saveNow(s: Locator): Promise<number> {
  const it = await iterNow(s);
  await s.getByRole('button', { name: 'Save now' }).click();
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${it}`, { timeout: 30_000 });
  return it;
}

test(`the tiny model trains on WebGPU in the studio's worker: loss goes down, no tensor leak; a lost device resumes from the last save (${dataNote})`, async ({ page }) => {
  test.setTimeout(420_000);
  await open(page);
  await importFaces(page, FACES);
  const s = studioOf(page);
  await createTiny(s, 'webgpu');
  await trainTo(s, 30, 240_000);
  await expect(s.getByTestId('studio-backend')).toContainText('webgpu:');
  // The studio's default GPU memory limit reached the worker's buffer pool (issue 8).
  await expect(s.getByTestId('studio-backend')).toContainText('GPU pool capped at 1.2 GB');
  check((await historyOf(s)).slice(0, 30), 'webgpu');
  await expect(s.getByTestId('studio-gpu-bytes')).not.toHaveText('–');
  const tensors = (await historyOf(s))[1].tensors;

  // The device is lost while training: reported, a new worker, training resumes from the last good save.
  const saved = await saveNow(s);
  await logSave(s, 'webgpu');
  await s.getByRole('button', { name: 'Start training' }).click();
  await expect.poll(() => iterNow(s), { timeout: 60_000 }).toBeGreaterThanOrEqual(saved + 2);
  expect(await page.evaluate(() => (window as unknown as { saehdbwStudio: { loseDevice(): Promise<boolean> } }).saehdbwStudio.loseDevice())).toBe(true);
  const note = s.getByTestId('studio-recovery');
  await expect(note).toContainText('The GPU device was lost (destroyed');
  await expect(note).toContainText(`restarted from the last good save (iteration ${saved})`);
  await expect(note).toContainText('training resumes');
  await expect(s).toHaveAttribute('data-inits', '2');
  await expect.poll(async () => (await historyOf(s)).some((h, i, a) => i > 0 && h.iter <= a[i - 1].iter), { timeout: 120_000 }).toBe(true);
  await expect.poll(() => iterNow(s), { timeout: 240_000 }).toBeGreaterThanOrEqual(saved + 3);
  await s.getByRole('button', { name: 'Pause training' }).click();
  await expect(s.getByRole('button', { name: 'Start training' })).toBeEnabled({ timeout: 60_000 });
  const h = await historyOf(s);
  const restart = h.findIndex((e, i) => i > 0 && e.iter <= h[i - 1].iter);
  // The first step after the loss is the one after the saved iteration: the model is the saved one.
  expect(h[restart].iter).toBe(saved + 1);
  expect(h[restart - 1].iter).toBeGreaterThan(saved);
  await expect(s.getByTestId('studio-backend')).toContainText('webgpu:');
  await expect(s.getByRole('region', { name: 'Loss graph' })).toHaveAttribute('data-points', String(await iterNow(s)));
  // The new worker's model has as many tensors as the old one had (no leak, nothing extra kept).
  expect(h[h.length - 1].tensors).toBe(tensors);
  await expect(s.getByRole('alert')).toHaveCount(0);
});

test(`the tiny model trains with the project's WebGPU kernels forced on (filter gradient, optimizer, uploads, leaky-ReLU backward, dx as a forward conv) in the studio's worker (${dataNote})`, async ({ page }) => {
  test.setTimeout(420_000);
  // SwiftShader is a software adapter, where 'auto' keeps tfjs' ops: ?webgpu-kernels=on runs the project's kernels.
  await open(page, '&webgpu-kernels=on');
  await importFaces(page, FACES);
  const s = studioOf(page);
  await createTiny(s, 'webgpu');
  await trainTo(s, 30, 300_000);
  await expect(s.getByTestId('studio-backend')).toContainText('project WebGPU kernels');
  check((await historyOf(s)).slice(0, 30), 'webgpu, project kernels');
  await expect(s.getByRole('alert')).toHaveCount(0);
});

test(`the tiny model trains on wasm (im2col filter gradient); Start continues the same model; keys and hiding the tab save (${dataNote})`, async ({ page }) => {
  test.setTimeout(240_000);
  await open(page);
  await importFaces(page, FACES);
  const s = studioOf(page);
  await createTiny(s, 'wasm');
  const n = await trainTo(s, 40);
  await expect(s.getByTestId('studio-backend')).toContainText('wasm:');
  // A second Start continues the same model in the same worker: iterations go on from n.
  const m = await trainTo(s, n + 5);
  await expect(s).toHaveAttribute('data-inits', '1');
  const history = await historyOf(s);
  expect(history).toHaveLength(m);
  check(history, 'wasm');

  // The stable names of issue 5.
  for (const name of ['New model', 'Start training', 'Save now', 'Download checkpoint']) await expect(s.getByRole('button', { name, exact: true })).toBeVisible();
  await expect(s.getByLabel('Upload checkpoint')).toHaveAttribute('type', 'file');
  await expect(s.getByRole('region', { name: 'Preview', exact: true })).toBeVisible();
  await expect(s.getByRole('region', { name: 'Loss graph' })).toBeVisible();

  // Keys (§I.4): s saves, p and 3–9 refresh the preview, l cycles the loss range, Enter saves and stops.
  const body = page.locator('body');
  await body.press('s');
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${m}`);
  await logSave(s, 'wasm');
  const preview = s.getByRole('region', { name: 'Preview', exact: true });
  const m2 = await trainTo(s, m + 1);
  await body.press('p');
  await expect(preview).toHaveAttribute('data-iter', String(m2));
  const m3 = await trainTo(s, m2 + 1);
  await body.press('7');
  await expect(preview).toHaveAttribute('data-iter', String(m3));
  const graph = s.getByRole('region', { name: 'Loss graph' });
  await expect(graph.getByRole('button', { name: 'last 1k' })).toHaveAttribute('aria-pressed', 'true');
  await body.press('l');
  await expect(graph.getByRole('button', { name: 'last 10k' })).toHaveAttribute('aria-pressed', 'true');
  await body.press('1');
  await expect(graph.getByRole('button', { name: 'last 100k' })).toHaveAttribute('aria-pressed', 'true');
  await s.getByRole('button', { name: 'Start training' }).click();
  await expect.poll(() => iterNow(s), { timeout: 60_000 }).toBeGreaterThan(m3);
  await body.press('Enter');
  await expect(s.getByTestId('studio-status')).toHaveText('idle', { timeout: 60_000 });
  const stopped = await iterNow(s);
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${stopped}`);
  await body.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  for (const k of ['2 or s', '3–9 or p', '1 or l', 'b or 0', 'Enter', '?']) await expect(help.getByText(k, { exact: true })).toBeVisible();
  await body.press('?');
  await expect(help).toHaveCount(0);

  // Hiding the tab saves unsaved progress (visibilitychange → hidden), and so does closing it (pagehide).
  const h1 = await trainTo(s, stopped + 1);
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${h1}`);
  await expect(s.getByTestId('studio-message')).toContainText('the tab was hidden or closed');
  await page.evaluate(() => Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true }));
  const h2 = await trainTo(s, h1 + 1);
  await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false })));
  await expect(s.getByTestId('studio-saved')).toHaveText(`iteration ${h2}`);
  await expect(s.getByRole('alert')).toHaveCount(0);
});

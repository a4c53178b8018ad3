/**
 * Per-kernel profile of one training step on WebGPU in headless Chromium (SwiftShader on a GPU-less box), issue 8.
 * Bundles bench/profilePage.ts with esbuild, serves it from a routed origin (no server, nothing leaves the machine),
 * runs `steps` warm-up steps (the first compiles shaders) and one step under tf.profile, and prints the top 10 kernels.
 *
 *   node --import tsx bench/profileWebgpu.ts [mem-tiny|mem-96] [im2col|stock] [warm-up steps, default 1] [filter-grad split: auto|1|N]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { formatKernelTable, type KernelTable } from './kernelTable.ts';

const [config = 'mem-tiny', convGrad = 'im2col', stepsArg = '1', splitArg = 'auto'] = process.argv.slice(2);
const split = splitArg === 'auto' ? 'auto' : Number(splitArg);
const dir = mkdtempSync(join(tmpdir(), 'perf-webgpu-'));
const js = join(dir, 'profile.js');
execFileSync('npx', ['esbuild', 'bench/profilePage.ts', '--bundle', '--format=esm', `--outfile=${js}`, '--log-level=warning'], { stdio: 'inherit' });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--disable-quic', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.route('http://127.0.0.1:4185/**', (r) =>
    r.request().url().endsWith('.js')
      ? r.fulfill({ contentType: 'text/javascript', body: readFileSync(js, 'utf8') })
      : r.fulfill({ contentType: 'text/html', body: '<!doctype html><script type="module" src="/profile.js"></script>' }),
  );
  page.on('console', (m) => console.log(`  [page] ${m.text()}`));
  await page.goto('http://127.0.0.1:4185/'); // a routed loopback origin: a secure context, so navigator.gpu exists
  await page.waitForFunction(() => 'perfProfile' in window);
  const r = await page.evaluate(
    ([c, g, s, k]) => (window as unknown as { perfProfile(c: string, g: string, s: number, k: number | 'auto'): Promise<unknown> }).perfProfile(c, g, s, k),
    [config, convGrad, Number(stepsArg), split] as const,
  ) as { warm: number[]; wall: number; agg: KernelTable; peakBytes: number; adapter: string };
  console.log(`${config} webgpu (${r.adapter}), ${convGrad} split ${splitArg}: warm-up ${r.warm.map(Math.round).join(', ')} ms; profiled step ${Math.round(r.wall)} ms wall; peak live ${(r.peakBytes / 2 ** 20).toFixed(1)} MiB`);
  for (const line of formatKernelTable(r.agg)) console.log(line);
} finally {
  await browser.close();
}

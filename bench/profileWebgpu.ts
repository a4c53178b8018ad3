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
  ) as { warm: number[]; wall: number; agg: Record<string, { calls: number; ms: number }>; peakBytes: number; adapter: string };
  const total = Object.values(r.agg).reduce((s, a) => s + a.ms, 0);
  console.log(`${config} webgpu (${r.adapter}), ${convGrad} split ${splitArg}: warm-up ${r.warm.map(Math.round).join(', ')} ms; profiled step ${Math.round(r.wall)} ms wall, kernels ${Math.round(total)} ms; peak live ${(r.peakBytes / 2 ** 20).toFixed(1)} MiB`);
  // Filter-gradient kernels: the stock op, or im2col's patch building (Slice/StridedSlice/Concat/Pad are all im2col's
  // in the backward pass, but Pad and Slice also run elsewhere, so this share is an upper bound) + matmul + split-K sum.
  const fg = ['Conv2DBackpropFilter', 'BatchMatMul (filter grad)', 'BatchMatMul (split-K sum)', 'Concat', 'Slice', 'StridedSlice'];
  const fgMs = fg.reduce((s, k) => s + (r.agg[k]?.ms ?? 0), 0);
  console.log(`filter-gradient kernels (${fg.join(' + ')}): ${Math.round(fgMs)} ms, ${((100 * fgMs) / total).toFixed(1)} %`);
  console.log('kernel | calls | ms | share');
  for (const [k, a] of Object.entries(r.agg).sort((x, y) => y[1].ms - x[1].ms).slice(0, 14))
    console.log(`${k} | ${a.calls} | ${Math.round(a.ms)} | ${((100 * a.ms) / total).toFixed(1)} %`);
} finally {
  await browser.close();
}

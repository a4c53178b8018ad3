/**
 * Issue 8: every custom WebGPU kernel (src/core/webgpu/webgpuKernels.ts) against the stock tfjs op it replaces, on
 * random inputs, in Chromium's WebGPU (relative error ≤ 1e-5 of the output's largest magnitude). The page script is
 * bundled with esbuild and served from a routed loopback origin, so the test needs no app build.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';

interface Result {
  usable: boolean;
  checks: Array<{ name: string; maxRelErr: number; refMax: number }>;
  tensorsBefore: number;
  tensorsAfter: number;
}

test('the filter-gradient and fused optimizer kernels, uploads, reduction gradients, leaky-ReLU backward and kernel rotation match the stock tfjs ops on WebGPU', async ({ page }) => {
  test.setTimeout(300_000);
  const js = join(mkdtempSync(join(tmpdir(), 'kernels-')), 'kernels.js');
  execFileSync('npx', ['esbuild', 'tests/e2e/webgpuKernelsPage.ts', '--bundle', '--format=esm', `--outfile=${js}`, '--log-level=warning'], { stdio: 'inherit' });
  await page.route('http://127.0.0.1:4186/**', (r) =>
    r.request().url().endsWith('.js')
      ? r.fulfill({ contentType: 'text/javascript', body: readFileSync(js, 'utf8') })
      : r.fulfill({ contentType: 'text/html', body: '<!doctype html><script type="module" src="/kernels.js"></script>' }),
  );
  await page.goto('http://127.0.0.1:4186/');
  await page.waitForFunction(() => 'kernelChecks' in window);
  const r = (await page.evaluate(() => (window as unknown as { kernelChecks(): Promise<unknown> }).kernelChecks())) as Result;
  for (const c of r.checks) console.log(`${c.name}: max rel err ${c.maxRelErr.toExponential(2)}`);
  // The kernels really ran (not the ops fallback), on outputs that are not trivially zero.
  expect(r.usable).toBe(true);
  expect(r.checks.length).toBeGreaterThanOrEqual(23);
  for (const c of r.checks) {
    expect(c.refMax, c.name).toBeGreaterThan(1e-3);
    expect(c.maxRelErr, c.name).toBeLessThanOrEqual(1e-5);
  }
  expect(r.tensorsAfter).toBe(r.tensorsBefore);
});

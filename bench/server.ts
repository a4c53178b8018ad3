import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from '@playwright/test';
import { chromiumLaunchOptions } from '../tests/e2e/chromium.ts';

/**
 * Build, serve with `vite preview`, and open Chromium with WebGPU on. The build runs every time so a benchmark never
 * measures a stale bundle; SAEHDBW_BENCH_NO_BUILD=1 reuses the existing one (when it exists). SAEHDBW_DIST picks the
 * build folder, as for the e2e tests.
 */
export async function startApp(): Promise<{ url: string; browser: Browser; stop: () => Promise<void> }> {
  const outDir = process.env.SAEHDBW_DIST ?? 'dist';
  if (process.env.SAEHDBW_BENCH_NO_BUILD !== '1' || !existsSync(`${outDir}/index.html`)) await run('npx', ['vite', 'build', '--outDir', outDir]);
  const port = 4310 + Math.floor(Math.random() * 500);
  const server: ChildProcess = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort', '--outDir', outDir], {
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const browser = await chromium.launch(chromiumLaunchOptions());
  return {
    url,
    browser,
    stop: async () => {
      await browser.close();
      server.kill();
    },
  };
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

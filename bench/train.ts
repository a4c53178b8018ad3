/**
 * Training benchmark (issue 3 "Benchmark"): drives the BUILT app in Chromium. Faces go into the src and dst facesets
 * through the app's own drop zones, then bench.html runs each configuration in a fresh training worker: the sample
 * generator's throughput, warm-up iterations (the first compiles shaders), timed iterations, then a 1024³ matMul
 * (one untimed run, three timed) for the backend's own throughput — after training, so its buffers stay out of the
 * training's GPU-memory peak.
 *
 * Options (after `npm run bench --`): `--only NAME` (suite `train` or one configuration), `--backend B` (default
 * webgpu: the table is about the WebGPU adapter; `auto`, `wasm`, `webgl`, `cpu` for comparison), `--iters N` timed
 * iterations (default 20 for tiny; for the seed model up to 5 within a 120 s budget but at least 1, so a software
 * adapter that needs many minutes per iteration runs one), `--warmup N` (default 3 tiny, 1 seed), `--faces N` per side.
 */
import { join } from 'node:path';
import { expect, type Page } from '@playwright/test';
import { initNodeJpegCodec } from '../cli/nodeCodec.ts';
import { gflopPerIter } from '../src/core/model/counts.ts';
import { archiString } from '../src/core/model/options.ts';
import type { BackendPref } from '../src/core/train/backend.ts';
import type { TrainBenchRequest, TrainBenchResult } from '../src/ui/lib/benchTypes.ts';
import { BENCH_CONFIGS } from '../src/ui/lib/trainPresets.ts';
import { makeDflFaces } from '../tests/fixtures/makeFaces.ts';
import { hasSharedData, readDir, sharedDataDir } from '../tests/e2e/data.ts';
import { dropFiles, openApp, panel } from '../tests/e2e/page.ts';
import { startApp } from './server.ts';

/** One row per configuration; exactly the keys issue 3 asks for (the JSON written by `--json`). */
export interface TrainBenchRow {
  name: string;
  archi: string;
  resolution: number;
  channels: number;
  batch: number;
  params: number;
  ms_per_iter: number;
  gflop_per_iter: number;
  achieved_gflops: number;
  matmul_gflops: number;
  /** Max over the run of the backend's allocated GPU bytes (webgpu: tf.memory().numBytesAllocatedInGPU); null off the GPU. */
  peak_gpu_bytes: number | null;
  /** Sample generator, every face decoded for every sample (uncached), this configuration's resolution and channels. */
  samples_per_s: number;
  adapter: string;
}

export const TRAIN_BENCH_CONFIGS: readonly string[] = BENCH_CONFIGS.map((c) => c.name);

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function intFlag(argv: string[], name: string): number | undefined {
  const v = flag(argv, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a whole number, got "${v}"`);
  return n;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function facesFor(count: number): Promise<{ src: { name: string; bytes: Uint8Array }[]; dst: { name: string; bytes: Uint8Array }[]; data: string }> {
  if (hasSharedData)
    return {
      src: readDir(join(sharedDataDir, 'facesets/obama/aligned'), count),
      dst: readDir(join(sharedDataDir, 'facesets/faceswap_clip/aligned'), count),
      data: 'real DFL faces, 256 px whole_face (obama → faceswap_clip)',
    };
  await initNodeJpegCodec();
  const all = await makeDflFaces(2 * count, { size: 256 });
  return { src: all.slice(0, count), dst: all.slice(count), data: 'self-made 256 px faces' };
}

async function importFaces(page: Page, count: number): Promise<string> {
  const f = await facesFor(count);
  for (const [role, list] of [['src', f.src], ['dst', f.dst]] as const) {
    await dropFiles(page, role, list);
    await expect(panel(page, role).getByTestId('face-count')).toHaveText(String(list.length), { timeout: 300_000 });
  }
  return `${f.src.length} + ${f.dst.length} ${f.data}`;
}

export async function benchTrain(opts: { only: string | null; argv: string[] }): Promise<TrainBenchRow[]> {
  const { only, argv } = opts;
  const names = only ? [only] : TRAIN_BENCH_CONFIGS;
  for (const n of names) if (!TRAIN_BENCH_CONFIGS.includes(n)) throw new Error(`unknown configuration ${n} (known: ${TRAIN_BENCH_CONFIGS.join(', ')})`);
  const backend = (flag(argv, '--backend') ?? 'webgpu') as BackendPref;
  if (!['auto', 'webgpu', 'webgl', 'wasm', 'cpu'].includes(backend)) throw new Error(`--backend must be auto, webgpu, webgl, wasm or cpu, not ${backend}`);
  const iters = intFlag(argv, '--iters');
  const warmup = intFlag(argv, '--warmup');
  const faces = intFlag(argv, '--faces') ?? 32;

  const app = await startApp();
  const rows: TrainBenchRow[] = [];
  try {
    const page = await (await app.browser.newContext({ baseURL: app.url })).newPage();
    page.on('console', (m) => {
      if (m.text().startsWith('[bench]')) console.log(`  ${new Date().toISOString().slice(11, 19)} ${m.text()}`);
    });
    await openApp(page);
    console.log(`  faces: ${await importFaces(page, faces)}`);
    await page.goto('/bench.html');
    await page.waitForFunction(() => 'saehdBench' in window);
    for (const name of names) {
      const cfg = BENCH_CONFIGS.find((c) => c.name === name)!;
      const o = cfg.options;
      const small = name === 'tiny';
      const req: TrainBenchRequest = {
        config: name,
        backend,
        warmup: warmup ?? (small ? 3 : 1),
        iters: Math.max(1, iters ?? (small ? 20 : 5)),
        budgetS: iters !== undefined || small ? null : 120,
        matmulSize: 1024,
        matmulReps: 3,
        sampleBatches: small ? 20 : 4,
      };
      const r = await page.evaluate(
        (q) => (window as unknown as { saehdBench: { run(q: TrainBenchRequest): Promise<TrainBenchResult> } }).saehdBench.run(q),
        req,
      );
      const ms = median(r.msPerIter);
      const gflop = gflopPerIter(o, o.batch_size);
      rows.push({
        name,
        archi: o.archi,
        resolution: o.resolution,
        channels: o.channels,
        batch: o.batch_size,
        params: r.params,
        ms_per_iter: ms,
        gflop_per_iter: gflop,
        achieved_gflops: gflop / (ms / 1000),
        matmul_gflops: r.matmulGflops,
        peak_gpu_bytes: r.peakGpuBytes,
        samples_per_s: r.samplesPerS,
        adapter: r.adapter,
      });
      const l0 = r.losses[0];
      const l1 = r.losses[r.losses.length - 1];
      console.log(
        `  ${name} (${archiString(o)}, batch ${o.batch_size}) on ${r.backend}: warm-up ${r.warmupMs.map((x) => Math.round(x)).join(', ')} ms; ` +
          `timed ${r.msPerIter.map((x) => Math.round(x)).join(', ')} ms; waited for samples max ${Math.round(Math.max(...r.waitMs.slice(1), 0))} ms; ` +
          `samples/s ${r.samplesPerS.toFixed(1)} uncached, ${r.samplesPerSCached.toFixed(1)} cached; ` +
          `GPU bytes: pool allocated ${r.peakGpuBytes ?? '-'}, live peak ${r.peakGpuBytesInUse ?? '-'}; tensors ${r.numTensors[0]} → ${r.numTensors[r.numTensors.length - 1]}; ` +
          `loss ${l0 ? (l0.src + l0.dst).toFixed(4) : '-'} → ${l1 ? (l1.src + l1.dst).toFixed(4) : '-'}`,
      );
    }
  } finally {
    await app.stop();
  }
  return rows;
}

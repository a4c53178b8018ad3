/**
 * Issue 8 on a real GPU without a browser: tfjs-backend-webgpu on Dawn in Node (the `webgpu` npm package, dawn.node,
 * the WebGPU implementation Chromium itself uses), so a machine with a GPU but no Chromium can run the seed model.
 * Everything is measured on one adapter in one run:
 *
 *   - matmul: tfjs' own f32 matmul throughput on this adapter (GFLOP/s, best of a few square sizes): the yardstick
 *     of "half of the adapter's own measured matmul throughput";
 *   - `checks`: every custom WebGPU kernel against the stock tfjs op on random inputs (tests/fixtures/webgpuKernelChecks);
 *   - per configuration and variant: ms and CPU ms per training step (median of the timed steps after warm-up),
 *     achieved GFLOP/s from the model's FLOP count (counts.ts gflopPerIter), its fraction of the matmul rate, the peak
 *     of live tensor bytes, and the WebGPU buffer pool's peaks (bytes in use, bytes allocated; webgpuPool.ts);
 *   - a per-kernel table (timestamp queries) of one step for `ours`, `dx-stock`, `ops` and `stock` (--kernels);
 *   - `numerics:CONFIG`: weights and AdaBelief slots after one step of `ours` and `dx-stock` against `stock` from the
 *     same initial weights and batch (the first slot is 0.1·g: the gradients);
 *   - `--cpu-profile DIR`: a main-thread CPU profile of the `ours` steps, summarised in the log.
 *
 * Variants: `ours` (tape-walk backward, fused conv+bias+leaky-ReLU, every custom kernel and fast path of
 * src/core/webgpu/webgpuKernels.ts, optimizer on the GPU: what the app runs on a hardware adapter, without the pool
 * cap); `capped` (ours with the buffer pool capped at 1.2 GiB: the app's default); `host-opt` (capped, with
 * models_opt_on_gpu = false); `dx-stock` (ours with tfjs' Conv2DBackpropInput for every input gradient); `ops` (the
 * custom kernels off: im2col filter gradient from slices + concat + matmul, optimizer from tfjs ops); `stock` (tfjs' own
 * kernels and gradients: Conv2DBackpropFilter, tf.variableGrads, unfused layers, one tidy over the update: the code
 * before issue 8). Experiments: `bounded` (the pool's free list held to 64 MiB), `submit64` (a submit every 64
 * dispatches instead of tfjs' 15), `split-auto` (ops with the split-K im2col matmul).
 *
 *   npm i --no-save webgpu@0.6.2     (optional; not a dependency of the app)
 *   node --import tsx bench/gpuNode.ts [--plan 'checks;mem-seed:ours,capped,stock;numerics:mem-96'] [--matmul 1024,2048,4096]
 *        [--steps 5] [--warmup 2] [--kernels mem-seed] [--cpu-profile DIR] [--dawn 'flag flag'] [--json FILE]
 *
 * Results print as they come and, with --json, are rewritten to FILE after each one, so a run cut short keeps them.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setupNodeBackend } from '../cli/commands/train.ts';
import { gflopPerIter, memoryEstimate } from '../src/core/model/counts.ts';
import { setConvGradMode, setDxViaConv, setFilterGradSplit, setFusedLayers } from '../src/core/model/layers.ts';
import { archiString, type ModelOptions } from '../src/core/model/options.ts';
import { createSaehd } from '../src/core/model/saehd.ts';
import { setGradientMode } from '../src/core/train/gradients.ts';
import { DflOptimizer } from '../src/core/train/optimizers.ts';
import { createTrainer, type TrainBatch } from '../src/core/train/trainStep.ts';
import { setWebgpuKernels } from '../src/core/webgpu/webgpuKernels.ts';
import { watchWebgpuPool, type PoolWatch } from '../src/core/webgpu/webgpuPool.ts';
import { checkElementwise, checkFilterGrad, checkFusedUpdate, checkUploadsAndReductions } from '../tests/fixtures/webgpuKernelChecks.ts';
import { syntheticSide } from '../tests/fixtures/syntheticBatch.ts';
import { formatKernelTable, kernelTable } from './kernelTable.ts';
import { MEMORY_BENCH_CONFIGS } from './memoryConfigs.ts';

const MIB = 2 ** 20;
let argv: string[] = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
/** What to run, in order: `checks` (custom kernels vs stock ops), `config:variant,…` (ours, ops, capped, host-opt and
 *  stock when none are named), or `numerics:config`. */
const DEFAULT_PLAN = 'checks;mem-tiny:ours,ops;mem-seed:ours,dx-stock,ops,capped,host-opt,stock;numerics:mem-96;mem-96:ours,ops,stock';
let plan: string[] = [];
let steps = 5;
let warmup = 2;
let kernelConfigs: string[] = [];
let jsonOut = '';
let cpuProfileDir = '';
function configure(args: string[]): void {
  cpuProfileDir = flag('--cpu-profile', '');
  argv = args;
  plan = flag('--plan', DEFAULT_PLAN).split(';').filter(Boolean);
  steps = Number(flag('--steps', '5'));
  warmup = Number(flag('--warmup', '2'));
  kernelConfigs = flag('--kernels', 'mem-seed').split(',');
  jsonOut = flag('--json', '');
}
const BOUND = 64 * MIB;
/** The issue's goal for the seed model's peak GPU allocation: 1.2 GiB. */
const CAP = 1.2 * 1024 * MIB;

const results: Record<string, unknown> = { started: new Date().toISOString(), argv };
const save = () => {
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
};
const log = (s: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${s}`);
const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

type Variant = 'ours' | 'dx-stock' | 'submit64' | 'ops' | 'capped' | 'bounded' | 'host-opt' | 'split-auto' | 'stock';
function applyVariant(v: Variant): void {
  const stock = v === 'stock';
  setWebgpuKernels(!stock && v !== 'ops' && v !== 'split-auto' ? 'on' : 'off');
  setGradientMode(stock ? 'stock' : 'tape');
  DflOptimizer.singleTidy = stock;
  setFusedLayers(!stock);
  setConvGradMode(stock ? 'stock' : 'im2col');
  setFilterGradSplit(v === 'split-auto' ? 'auto' : 1);
  setDxViaConv(v !== 'dx-stock');
  // tfjs submits its command encoder every N dispatches (default 15).
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', v === 'submit64' ? 64 : 15);
}

function batchFor(o: ModelOptions): TrainBatch {
  return { src: syntheticSide(o.batch_size, o.resolution, o.channels, 0), dst: syntheticSide(o.batch_size, o.resolution, o.channels, 5) };
}

async function matmulRate(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of flag('--matmul', '1024,2048,4096').split(',').map(Number)) {
    const a = tf.randomUniform([n, n]);
    const b = tf.randomUniform([n, n]);
    const reps = n >= 4096 ? 10 : 20;
    for (let i = 0; i < 2; i++) tf.tidy(() => tf.matMul(a, b)).dispose();
    await tf.tidy(() => tf.sum(tf.matMul(a, b))).data();
    const t0 = performance.now();
    const outs: tf.Tensor[] = [];
    for (let i = 0; i < reps; i++) outs.push(tf.matMul(a, b));
    const s = tf.sum(outs[reps - 1]);
    await s.data();
    const ms = performance.now() - t0;
    s.dispose();
    outs.forEach((t) => t.dispose());
    const kernel = await tf.time(() => tf.tidy(() => tf.matMul(a, b)).dispose());
    a.dispose();
    b.dispose();
    out[`wall_${n}`] = (2 * n ** 3 * reps) / (ms / 1000) / 1e9;
    out[`kernel_${n}`] = typeof kernel.kernelMs === 'number' ? (2 * n ** 3) / (kernel.kernelMs / 1000) / 1e9 : NaN;
    log(`matmul ${n}³ f32: ${out[`wall_${n}`].toFixed(1)} GFLOP/s wall over ${reps}, ${out[`kernel_${n}`].toFixed(1)} GFLOP/s kernel time`);
  }
  out.best = Math.max(...Object.values(out).filter(Number.isFinite));
  return out;
}

/**
 * `--cpu-profile DIR`: a V8 CPU profile of the main thread over the timed steps of each `ours` variant, written to
 * DIR and summarised (self time per step by function and by where the time goes: tfjs, this project, Dawn calls,
 * waiting for the GPU) so the answer to "is the step bound by JavaScript?" is in the log.
 */
async function startCpuProfile() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return {
    async stop(file: string, n: number) {
      const { profile } = (await session.post('Profiler.stop')) as unknown as {
        profile: { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[]; timeDeltas: number[] };
      };
      session.disconnect();
      writeFileSync(file, JSON.stringify(profile));
      const byId = new Map(profile.nodes.map((x) => [x.id, x]));
      const fn = new Map<string, number>();
      const area = new Map<string, number>();
      profile.samples.forEach((id, i) => {
        const cf = byId.get(id)!.callFrame;
        const us = profile.timeDeltas[i] ?? 0;
        const where = cf.url.includes('tfjs') || cf.url.includes('tf-') ? 'tfjs' : cf.url.includes('/src/') || cf.url.includes('gpuNode') ? 'project' : cf.url ? 'node' : cf.functionName || 'native';
        const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').pop()}:${cf.lineNumber}`;
        fn.set(key, (fn.get(key) ?? 0) + us);
        area.set(where, (area.get(where) ?? 0) + us);
      });
      const per = (us: number) => (us / 1000 / n).toFixed(1);
      log(`  cpu profile → ${file}; ms per step by area: ${[...area].sort((a, b) => b[1] - a[1]).map(([k, us]) => `${k} ${per(us)}`).join(', ')}`);
      for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, 25)) log(`    ${per(us)} ms  ${k}`);
    },
  };
}

async function runVariant(name: string, o0: ModelOptions, v: Variant, pool: PoolWatch | null, mm: number) {
  applyVariant(v);
  const o: ModelOptions = { ...o0, models_opt_on_gpu: v !== 'host-opt' };
  pool?.trim(0);
  pool?.setMaxFreeBytes(v === 'bounded' ? BOUND : null);
  pool?.setCapBytes(v === 'capped' || v === 'host-opt' ? CAP : null);
  pool?.resetPeaks();
  const n0 = tf.memory().numTensors;
  const model = createSaehd(o, 1);
  const params = model.paramCount();
  const trainer = createTrainer(model, o, { seed: 1 });
  const batch = batchFor(o);
  const warm: number[] = [];
  const timed: number[] = [];
  const losses: number[] = [];
  const cpu: number[] = [];
  let livePeak = 0;
  let kernels: string[] | undefined;
  try {
    for (let i = 0; i < warmup; i++) {
      const t0 = performance.now();
      const r = await trainer.step(batch);
      warm.push(performance.now() - t0);
      losses.push(r.srcLoss + r.dstLoss);
    }
    const cpuProf = cpuProfileDir && v === 'ours' ? await startCpuProfile() : null;
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const r = await trainer.step(batch);
      timed.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      losses.push(r.srcLoss + r.dstLoss);
    }
    if (cpuProf) await cpuProf.stop(`${cpuProfileDir}/${name}-${v}.cpuprofile`, steps);
    const prof = await tf.profile(async () => {
      await trainer.step(batch);
    });
    livePeak = prof.peakBytes;
    if (kernelConfigs.includes(name) && (v === 'ours' || v === 'dx-stock' || v === 'ops' || v === 'stock')) {
      kernels = formatKernelTable(await kernelTable(prof), 16);
      for (const l of kernels) log(`  ${l}`);
    }
  } finally {
    trainer.dispose();
    model.dispose();
  }
  const ps = pool?.stats();
  const ms = median(timed);
  const gflop = gflopPerIter(o, o.batch_size);
  const row = {
    config: name,
    variant: v,
    archi: archiString(o),
    batch: o.batch_size,
    params,
    warmup_ms: warm.map(Math.round),
    step_ms: timed.map(Math.round),
    ms_per_iter: Math.round(ms * 10) / 10,
    /** CPU time of the process per timed step (JS encoding, Dawn, driver threads): near ms_per_iter means CPU-bound. */
    cpu_ms_per_iter: Math.round(median(cpu)),
    gflop_per_iter: Math.round(gflop * 10) / 10,
    achieved_gflops: Math.round(gflop / (ms / 1000)),
    fraction_of_matmul: Math.round((gflop / (ms / 1000) / mm) * 1000) / 1000,
    live_peak_mib: Math.round((livePeak / MIB) * 10) / 10,
    pool_used_peak_mib: ps ? Math.round((ps.usedPeak / MIB) * 10) / 10 : null,
    pool_allocated_peak_mib: ps ? Math.round((ps.allocatedPeak / MIB) * 10) / 10 : null,
    buffers_created: ps?.created ?? null,
    estimate_mib: Math.round(memoryEstimate(o, o.batch_size).totalMiB),
    tensors_leaked: tf.memory().numTensors - n0,
    loss_first_last: [losses[0], losses[losses.length - 1]].map((x) => Math.round(x * 1e4) / 1e4),
    kernels,
  };
  log(`${name} ${v}: ${JSON.stringify({ ...row, kernels: undefined })}`);
  return row;
}

/** Weights and AdaBelief slots after one step from the same start; slot m = 0.1·g compares the gradients. */
async function numerics(name: string, o: ModelOptions) {
  const run = async (v: Variant) => {
    applyVariant(v);
    const model = createSaehd(o, 7);
    const trainer = createTrainer(model, o, { seed: 3 });
    try {
      await trainer.step(batchFor(o));
      const values = new Map<string, Float32Array>();
      for (const [k, t] of model.allVariables()) values.set(`w:${k}`, (await t.data()) as Float32Array);
      for (const [k, t] of trainer.srcDstOpt.slots()) values.set(`s:${k}`, (await t.data()) as Float32Array);
      return values;
    } finally {
      trainer.dispose();
      model.dispose();
    }
  };
  const b = await run('stock');
  /** Largest |a − stock| / max|stock| per group: weights, AdaBelief m (= 0.1·g after one step: the gradients) and v. */
  const compare = (a: Map<string, Float32Array>) => {
    const worst: Record<string, number> = { weights: 0, grads_m: 0, v: 0 };
    for (const [k, x] of a) {
      const y = b.get(k)!;
      let scale = 0;
      for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(y[i]));
      let d = 0;
      for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]) / Math.max(scale, 1e-30));
      const group = k.startsWith('w:') ? 'weights' : k.startsWith('s:ms_') ? 'grads_m' : 'v';
      worst[group] = Math.max(worst[group], d);
    }
    return worst;
  };
  const row = { config: name, tensors: b.size, ours_vs_stock: compare(await run('ours')), dx_stock_vs_stock: compare(await run('dx-stock')) };
  log(`numerics ${name}: ${JSON.stringify(row)}`);
  return row;
}

async function main() {
  const dawnFlags = flag('--dawn', '');
  if (dawnFlags) process.env.SAEHDBW_DAWN_FLAGS = dawnFlags;
  log(await setupNodeBackend('webgpu'));
  const backend = tf.backend() as unknown as { adapterInfo?: Record<string, unknown>; device?: { limits?: Record<string, number>; features?: Set<string> } };
  const info = backend.adapterInfo ?? {};
  results.adapter = { ...info, features: [...(backend.device?.features ?? [])] };
  log(`adapter: ${JSON.stringify(results.adapter)}`);
  const pool = watchWebgpuPool(tf.backend());
  const mm = await matmulRate();
  results.matmul = mm;
  save();
  const rows: unknown[] = (results.rows = []);
  const num: unknown[] = (results.numerics = []);
  for (const item of plan) {
    if (item === 'checks') {
      const checks = [...(await checkFilterGrad()), ...(await checkFusedUpdate()), ...(await checkUploadsAndReductions()), ...(await checkElementwise())];
      for (const c of checks) log(`check ${c.name}: max rel err ${c.maxRelErr.toExponential(2)} (ref max ${c.refMax.toFixed(3)})`);
      results.checks = checks;
      save();
      continue;
    }
    const [head, rest] = item.split(':');
    const c = head === 'numerics' ? rest : head;
    const cfg = MEMORY_BENCH_CONFIGS.find((x) => x.name === c);
    if (!cfg) throw new Error(`unknown configuration ${c} (known: ${MEMORY_BENCH_CONFIGS.map((x) => x.name).join(', ')})`);
    if (head === 'numerics') {
      try {
        num.push(await numerics(c, cfg.options));
      } catch (e) {
        log(`numerics ${c} failed: ${(e as Error).message}`);
        num.push({ config: c, error: String((e as Error).message) });
      }
      save();
      continue;
    }
    for (const v of (rest ?? 'ours,ops,capped,host-opt,stock').split(',')) {
      try {
        rows.push(await runVariant(c, cfg.options, v as Variant, pool, mm.best));
      } catch (e) {
        log(`${c} ${v} failed: ${(e as Error).message}`);
        rows.push({ config: c, variant: v, error: String((e as Error).message) });
      }
      save();
    }
  }
  results.finished = new Date().toISOString();
  save();
}

/** The `gpu` suite of `npm run bench` (bench/main.ts): the same run, its rows returned for the table and JSON. */
export async function benchGpuNode(opts: { argv: string[] }): Promise<Record<string, string | number | null>[]> {
  configure(opts.argv);
  await main();
  const rows = (results.rows as Array<Record<string, unknown>>).map(({ kernels, warmup_ms, step_ms, loss_first_last, ...r }) => r);
  return rows as Record<string, string | number | null>[];
}

// Run directly (node --import tsx bench/gpuNode.ts, or the bundled copy): dawn.node keeps Node alive, so exit.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  configure(process.argv.slice(2));
  await main();
  process.exit(0);
}

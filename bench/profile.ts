/**
 * Per-kernel profile of one training step (issue 8 "Profile the step per kernel"), in Node on the wasm or cpu backend:
 * one warm-up step, then one step under `tf.profile`; kernel times are summed by kernel name, top 10 printed.
 * Kernels called from inside other kernels (the wasm wrappers of cli/wasmKernels.ts) are counted in their caller.
 *
 *   npm run bench -- --only prof-tiny [--backend wasm|cpu] [--conv-grad im2col|stock]   (stock: cpu only, wasm has no
 *   Conv2DBackpropFilter)
 */
import * as tf from '@tensorflow/tfjs';
import { setupNodeBackend } from '../cli/commands/train.ts';
import { setConvGradMode } from '../src/core/model/layers.ts';
import { createSaehd } from '../src/core/model/saehd.ts';
import { createTrainer, type TrainBatch } from '../src/core/train/trainStep.ts';
import { MEMORY_BENCH_CONFIGS } from './memory.ts';

export interface KernelRow {
  config: string;
  backend: string;
  conv_grad: string;
  kernel: string;
  calls: number;
  ms: number;
  share: number;
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function batchFor(n: number, res: number, ch: number): TrainBatch {
  const mk = (phase: number) => {
    const img = new Float32Array(n * res * res * ch).map((_, i) => 0.5 + 0.4 * Math.sin(i / 7 + phase));
    return { warped: img, target: img.slice(), targetMask: new Float32Array(n * res * res).fill(1) };
  };
  return { src: mk(0), dst: mk(3) };
}

export async function benchProfile(opts: { only: string | null; argv: string[] }): Promise<KernelRow[]> {
  const backend = flag(opts.argv, '--backend') ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu') throw new Error(`--backend must be wasm or cpu, not ${backend}`);
  const convGrad = flag(opts.argv, '--conv-grad') === 'stock' ? 'stock' : 'im2col';
  console.log(`  ${await setupNodeBackend(backend)}`);
  const names = opts.only ? [opts.only] : ['prof-tiny', 'prof-96'];
  const rows: KernelRow[] = [];
  for (const name of names) {
    const cfg = MEMORY_BENCH_CONFIGS.find((c) => c.name === name.replace('prof-', 'mem-'))!;
    const o = cfg.options;
    setConvGradMode(convGrad);
    const model = createSaehd(o, 1);
    const trainer = createTrainer(model, o, { seed: 1 });
    try {
      const b = batchFor(o.batch_size, o.resolution, o.channels);
      await trainer.step(b);
      const t0 = performance.now();
      const prof = await tf.profile(async () => {
        await trainer.step(b);
      });
      const wall = performance.now() - t0;
      const agg = new Map<string, { calls: number; ms: number }>();
      for (const k of prof.kernels) {
        const ms = (await k.kernelTimeMs) as number | { error: string };
        const a = agg.get(k.name) ?? { calls: 0, ms: 0 };
        a.calls++;
        a.ms += typeof ms === 'number' ? ms : 0;
        agg.set(k.name, a);
      }
      const total = [...agg.values()].reduce((s, a) => s + a.ms, 0);
      console.log(`  ${name} (${backend}, ${convGrad}): step ${Math.round(wall)} ms under the profiler, kernels ${Math.round(total)} ms, ${prof.kernels.length} kernel calls`);
      const top = [...agg].sort((x, y) => y[1].ms - x[1].ms).slice(0, 10);
      for (const [kernel, a] of top)
        rows.push({ config: name, backend, conv_grad: convGrad, kernel, calls: a.calls, ms: Math.round(a.ms), share: Math.round((1000 * a.ms) / total) / 10 });
    } finally {
      trainer.dispose();
      model.dispose();
      setConvGradMode('im2col');
    }
  }
  return rows;
}

/**
 * Memory accounting of one training step without a GPU (issue 8 "Memory"): builds a configuration in Node on the cpu
 * or wasm backend, runs one warm-up step, then one step under `tf.profile`, and splits the engine's peak of live tensor
 * bytes into weights, optimizer slots, the uploaded batch, gradients, and the rest (activations kept for backward plus
 * the activation gradients and temporaries alive at the peak).
 *
 * What is counted: tfjs' own tensor bytes (`engine.state.numBytes`, what `tf.memory().numBytes` reports), which on the
 * WebGPU backend is what lives in GPU buffers (the buffer *pool* can be larger; kernel workspaces outside tensors, e.g.
 * XNNPACK's on wasm or WebGPU uniforms, are not counted). The phases are found by hooking the engine's `endTape` (end
 * of the forward pass) and the optimizer's `update` (end of backward, start of the update). `--opt-on-gpu n` is DFL's
 * models_opt_on_gpu off: the optimizer slots live in host Float32Arrays (reported as host_slots, not in the peak).
 *
 *   npm run bench -- --only memory            all three configurations (mem-tiny, mem-96, mem-seed)
 *   npm run bench -- --only mem-96 [--backend cpu|wasm] [--before] [--grads tape|stock] [--fused n] [--saved] [--warmup 0] [--opt-on-gpu n] [--conv-grad stock]
 */
import * as tf from '@tensorflow/tfjs';
import { setupNodeBackend } from '../cli/commands/train.ts';
import { memoryEstimate } from '../src/core/model/counts.ts';
import { getFusedLayers, setConvGradMode, setFusedLayers } from '../src/core/model/layers.ts';
import { archiString, type ModelOptions } from '../src/core/model/options.ts';
import { createSaehd } from '../src/core/model/saehd.ts';
import { setGradientMode, type GradientMode } from '../src/core/train/gradients.ts';
import { DflOptimizer } from '../src/core/train/optimizers.ts';
import { createTrainer, type TrainBatch } from '../src/core/train/trainStep.ts';
import { MEMORY_BENCH_CONFIGS } from './memoryConfigs.ts';
import { syntheticSide } from '../tests/fixtures/syntheticBatch.ts';

export { MEMORY_BENCH_CONFIGS };

export interface MemoryRow {
  name: string;
  archi: string;
  batch: number;
  backend: string;
  grads: string;
  opt_update: string;
  fused: boolean;
  opt_on_gpu: boolean;
  params: number;
  /** MiB throughout. */
  peak: number;
  peak_phase: string;
  weights: number;
  opt_slots: number;
  /** Optimizer slots held in host memory instead (models_opt_on_gpu off). */
  host_slots: number;
  batch_in: number;
  grads_all: number;
  /** Live bytes at the end of the forward pass minus weights, slots and batch: what the tape keeps for backward. */
  fwd_kept: number;
  /** Backward peak minus weights, slots and batch: kept activations + activation gradients + weight gradients so far. */
  bwd_extra: number;
  /** Optimizer-phase peak minus weights, slots, batch and all gradients: the update's temporaries. */
  opt_extra: number;
  /** Analytic estimate (counts.ts memoryEstimate) total. */
  estimate: number;
  step_s: number;
}

const MIB = 1024 * 1024;
const mib = (b: number) => Math.round((b / MIB) * 100) / 100;

const side = syntheticSide;

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

interface EngineHooks {
  state: {
    numBytes: number;
    activeProfile: { kernels: { totalBytesSnapshot: number }[] };
    activeTape: { kernelName: string; saved?: tf.Tensor[] }[] | null;
  };
  endTape(): void;
}

/** `--saved`: what the tape keeps for backward at the end of the forward pass, by kernel (each buffer counted once). */
function printSaved(engine: EngineHooks): void {
  const seen = new Set<object>();
  const by = new Map<string, { n: number; bytes: number }>();
  for (const node of engine.state.activeTape ?? [])
    for (const t of node.saved ?? []) {
      const id = t.dataId as object;
      if (seen.has(id)) continue;
      seen.add(id);
      const a = by.get(node.kernelName) ?? { n: 0, bytes: 0 };
      a.n++;
      a.bytes += t.size * 4;
      by.set(node.kernelName, a);
    }
  const top = [...by].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, 12);
  console.log(`  saved for backward (unique buffers): ${top.map(([k, a]) => `${k} ${mib(a.bytes)} MiB/${a.n}`).join(', ')}`);
}

export async function measureStep(o: ModelOptions, name: string, argv: string[]): Promise<MemoryRow> {
  // --before: the code as it was before issue 8's memory work (stock tfjs backward, one tidy over the whole update).
  const before0 = argv.includes('--before');
  const grads = (flag(argv, '--grads') ?? (before0 ? 'stock' : 'tape')) as GradientMode;
  DflOptimizer.singleTidy = before0;
  setFusedLayers(!before0 && flag(argv, '--fused') !== 'n');
  setGradientMode(grads);
  if (flag(argv, '--conv-grad') === 'stock') setConvGradMode('stock');
  const optOnGpu = flag(argv, '--opt-on-gpu') !== 'n';
  const opts: ModelOptions = { ...o, models_opt_on_gpu: optOnGpu };
  const model = createSaehd(opts, 1);
  const trainer = createTrainer(model, opts, { seed: 1 });
  const res = opts.resolution;
  const n = opts.batch_size;
  const batch: TrainBatch = { src: side(n, res, opts.channels, 0), dst: side(n, res, opts.channels, 5) };
  try {
    const bytesOf = (ts: Iterable<tf.Tensor>) => [...ts].reduce((a, t) => a + t.size * 4, 0);
    const weights = bytesOf(model.allVariables().values());
    // Slots counted only while they live in the training backend's tensors (models_opt_on_gpu, §C.8).
    const slots = trainer.srcDstOpt.backendSlotBytes();
    const trainable = bytesOf(model.trainableVariables());
    const batchBytes = 2 * n * res * res * (2 * opts.channels + 1) * 4; // warped + target + mask per side (em only with eyes_mouth_prio)
    const engine = tf.engine() as unknown as EngineHooks;
    const marks: { fwdEnd?: number; fwdEndBytes?: number; optStart?: number; optEnd?: number } = {};
    const kernelCount = () => engine.state.activeProfile.kernels.length;
    const origEndTape = engine.endTape;
    const origUpdate = trainer.srcDstOpt.update.bind(trainer.srcDstOpt);
    let profiling = false;
    const showSaved = argv.includes('--saved');
    engine.endTape = function (this: EngineHooks) {
      if (profiling && marks.fwdEnd === undefined) {
        marks.fwdEnd = kernelCount();
        marks.fwdEndBytes = engine.state.numBytes;
        if (showSaved) printSaved(engine);
      }
      origEndTape.call(this);
    };
    trainer.srcDstOpt.update = async (g, consume) => {
      if (profiling) marks.optStart = kernelCount();
      await origUpdate(g, consume);
      if (profiling) marks.optEnd = kernelCount();
    };
    // Warm-up step (first-use allocations, kernel set-up); `--warmup 0` skips it for the seed model on a slow CPU.
    const t0 = performance.now();
    if (flag(argv, '--warmup') !== '0') await trainer.step(batch);
    const stepS = (performance.now() - t0) / 1000;
    const before = engine.state.numBytes;
    profiling = true;
    const prof = await tf.profile(async () => {
      await trainer.step(batch);
    });
    profiling = false;
    engine.endTape = origEndTape;
    const snaps = prof.kernels.map((k) => k.totalBytesSnapshot);
    const maxIn = (a: number, b: number) => Math.max(0, ...snaps.slice(a, b));
    const fwdPeak = maxIn(0, marks.fwdEnd ?? 0);
    const bwdPeak = maxIn(marks.fwdEnd ?? 0, marks.optStart ?? snaps.length);
    const optPeak = maxIn(marks.optStart ?? snaps.length, marks.optEnd ?? snaps.length);
    const phases: Array<[string, number]> = [['forward', fwdPeak], ['backward', bwdPeak], ['optimizer', optPeak]];
    const peakPhase = phases.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    const base = weights + slots + batchBytes;
    const otherBefore = before - weights - slots;
    if (Math.abs(otherBefore) > 1024) console.log(`  note: ${mib(otherBefore)} MiB of other tensors were live before the step`);
    return {
      name,
      archi: archiString(opts),
      batch: n,
      backend: tf.getBackend(),
      grads,
      opt_update: before0 ? 'one tidy' : 'per weight',
      fused: getFusedLayers(),
      opt_on_gpu: optOnGpu,
      params: model.paramCount(),
      peak: mib(prof.peakBytes),
      peak_phase: peakPhase,
      weights: mib(weights),
      opt_slots: mib(slots),
      host_slots: mib(trainer.srcDstOpt.hostSlotBytes()),
      batch_in: mib(batchBytes),
      grads_all: mib(trainable),
      fwd_kept: mib((marks.fwdEndBytes ?? 0) - base),
      bwd_extra: mib(bwdPeak - base),
      opt_extra: mib(optPeak - base - trainable),
      estimate: Math.round(memoryEstimate(opts, n).totalMiB),
      step_s: Math.round(stepS * 10) / 10,
    };
  } finally {
    trainer.dispose();
    model.dispose();
    setGradientMode('tape');
    DflOptimizer.singleTidy = false;
    setFusedLayers(true);
    setConvGradMode('im2col');
  }
}

export async function benchMemory(opts: { only: string | null; argv: string[] }): Promise<MemoryRow[]> {
  const backend = flag(opts.argv, '--backend') ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu') throw new Error(`--backend must be wasm or cpu for the memory suite, not ${backend}`);
  console.log(`  ${await setupNodeBackend(backend)}`);
  const picked = opts.only ? MEMORY_BENCH_CONFIGS.filter((c) => c.name === opts.only) : MEMORY_BENCH_CONFIGS;
  const rows: MemoryRow[] = [];
  for (const c of picked) {
    const r = await measureStep(c.options, c.name, opts.argv);
    console.log(`  ${JSON.stringify(r)}`);
    rows.push(r);
  }
  return rows;
}

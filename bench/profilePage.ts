/**
 * Page side of bench/profileWebgpu.ts: one training step of a configuration under tf.profile on the WebGPU backend,
 * kernel times (timestamp queries where the adapter has them) summed by kernel name.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setConvGradMode, setFilterGradSplit, type FilterGradSplit } from '../src/core/model/layers.ts';
import { createSaehd } from '../src/core/model/saehd.ts';
import { createTrainer, type TrainBatch } from '../src/core/train/trainStep.ts';
import { kernelTable } from './kernelTable.ts';
import { MEMORY_BENCH_CONFIGS } from './memoryConfigs.ts';

async function run(config: string, convGrad: 'im2col' | 'stock', steps: number, split: FilterGradSplit = 'auto') {
  await tf.setBackend('webgpu');
  await tf.ready();
  setConvGradMode(convGrad);
  setFilterGradSplit(split);
  const o = MEMORY_BENCH_CONFIGS.find((c) => c.name === config)!.options;
  const n = o.batch_size;
  const res = o.resolution;
  const mk = (phase: number) => {
    const img = new Float32Array(n * res * res * o.channels).map((_, i) => 0.5 + 0.4 * Math.sin(i / 7 + phase));
    return { warped: img, target: img.slice(), targetMask: new Float32Array(n * res * res).fill(1) };
  };
  const b: TrainBatch = { src: mk(0), dst: mk(3) };
  const model = createSaehd(o, 1);
  const trainer = createTrainer(model, o, { seed: 1 });
  const warm: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await trainer.step(b);
    warm.push(performance.now() - t0);
  }
  const t0 = performance.now();
  const prof = await tf.profile(async () => {
    await trainer.step(b);
  });
  const wall = performance.now() - t0;
  const agg = await kernelTable(prof);
  trainer.dispose();
  model.dispose();
  const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  return { warm, wall, agg, peakBytes: prof.peakBytes, adapter: `${info?.vendor ?? '?'}/${info?.architecture ?? '?'}` };
}

(window as unknown as { perfProfile: typeof run }).perfProfile = run;

/**
 * The training benchmark page (bench.html): one training worker (workers/studio.worker.ts, the studio's own) per
 * configuration, on the facesets the app's panels show (the driver imports them through the app first). Exposes
 * `window.saehdBench.run`, called by bench/train.ts.
 */
import { FacesetStore } from '../core/faceset/store.ts';
import type { StudioCalls, StudioProgress } from '../../workers/studio.protocol.ts';
import type { TrainBenchRequest, TrainBenchResult } from './lib/benchTypes.ts';
import { BENCH_CONFIGS } from './lib/trainPresets.ts';
import { WorkerClient } from './lib/workerClient.ts';

const status = document.getElementById('status')!;
const log = (s: string) => {
  status.textContent = s;
  console.log(`[bench] ${s}`);
};

async function run(req: TrainBenchRequest): Promise<TrainBenchResult> {
  const cfg = BENCH_CONFIGS.find((c) => c.name === req.config);
  if (!cfg) throw new Error(`unknown configuration ${req.config} (known: ${BENCH_CONFIGS.map((c) => c.name).join(', ')})`);
  const store = new FacesetStore();
  const [src, dst] = await Promise.all([store.forRole('src'), store.forRole('dst')]);
  // A fresh worker per configuration: the previous model's GPU buffers and pool go with the old one.
  const client = new WorkerClient<StudioCalls>(new Worker(new URL('../../workers/studio.worker.ts', import.meta.url), { type: 'module', name: 'studio' }));
  try {
    log(`${req.config}: building the model on ${req.backend}`);
    const info = await client.call('init', { options: cfg.options, backend: req.backend, srcFacesetId: src.id, dstFacesetId: dst.id, seed: 1 });
    log(`${req.config}: ${info.params} parameters on ${info.adapter}; sample throughput`);
    const rate = await client.call('sampleRate', { batches: req.sampleBatches });
    log(`${req.config}: ${rate.uncached.toFixed(1)} samples/s (uncached), ${rate.cached.toFixed(1)} (cached); training`);
    const all: TrainBenchResult['losses'] = [];
    const ms: number[] = [];
    const wait: number[] = [];
    const tensors: number[] = [];
    const onProgress = (p: StudioProgress) => {
      ms.push(p.msPerIter);
      wait.push(p.waitMs);
      tensors.push(p.numTensors);
      all.push({ src: p.srcLoss, dst: p.dstLoss });
      log(
        `${req.config}: iteration ${p.iter} ${p.iter <= req.warmup ? '(warm-up) ' : ''}${Math.round(p.msPerIter)} ms, ` +
          `loss ${p.srcLoss.toFixed(4)} / ${p.dstLoss.toFixed(4)}, waited ${Math.round(p.waitMs)} ms, tensors ${p.numTensors}, GPU allocated ${p.gpuBytesAllocated ?? '-'} B, in use at peak ${p.gpuBytesInUsePeak ?? '-'} B`,
      );
    };
    let peak: number | null = null;
    let peakInUse: number | null = null;
    const steps = async (n: number) => {
      const r = await client.call('train', { iterations: n }, { onProgress });
      if (r.peakGpuBytes !== null) peak = Math.max(peak ?? 0, r.peakGpuBytes);
      if (r.peakGpuBytesInUse !== null) peakInUse = Math.max(peakInUse ?? 0, r.peakGpuBytesInUse);
    };
    if (req.warmup > 0) await steps(req.warmup);
    // One call per timed iteration, so the time budget is checked between them (the session keeps its queued batches).
    const t0 = performance.now();
    for (let i = 0; i < req.iters; i++) {
      if (i > 0 && req.budgetS !== null && performance.now() - t0 > req.budgetS * 1000) break;
      await steps(1);
    }
    // The matMul runs after training: its three size² buffers stay in tfjs' buffer pool, so measuring it first would
    // add them to the training's peak GPU bytes (12.6 MB at 1024², a third of the tiny model's figure).
    log(`${req.config}: matmul ${req.matmulSize}³`);
    const mm = await client.call('matmul', { size: req.matmulSize, reps: req.matmulReps });
    log(`${req.config}: matmul ${mm.gflops.toFixed(2)} GFLOP/s`);
    await client.call('dispose', {});
    return {
      config: req.config, backend: info.backend, reason: info.reason, adapter: info.adapter, params: info.params,
      warmupMs: ms.slice(0, req.warmup), msPerIter: ms.slice(req.warmup), waitMs: wait, losses: all, numTensors: tensors,
      matmulGflops: mm.gflops, samplesPerS: rate.uncached, samplesPerSCached: rate.cached, peakGpuBytes: peak, peakGpuBytesInUse: peakInUse,
    };
  } finally {
    client.terminate();
  }
}

(window as unknown as { saehdBench: { run: typeof run } }).saehdBench = { run };
log('ready');

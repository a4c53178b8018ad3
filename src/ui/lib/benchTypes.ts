/**
 * What bench/train.ts (Node, Playwright) asks the benchmark page (bench.html, src/ui/bench.ts) and what it gets back.
 * Plain data only: the request and the result cross `page.evaluate`.
 */
import type { BackendPref } from '../../core/train/backend.ts';

export interface TrainBenchRequest {
  /** A name from BENCH_CONFIGS (trainPresets.ts). */
  config: string;
  backend: BackendPref;
  /** Untimed iterations first (the first one compiles shaders). */
  warmup: number;
  /** Timed iterations (at most). */
  iters: number;
  /** Stop timing once this many seconds are spent (at least one timed iteration runs); null = run all `iters`. */
  budgetS: number | null;
  /** Side of the square matMul that measures the backend's own throughput. */
  matmulSize: number;
  matmulReps: number;
  /** Batches timed for the sample-generator throughput. */
  sampleBatches: number;
}

export interface TrainBenchResult {
  config: string;
  backend: string;
  reason: string;
  adapter: string;
  params: number;
  warmupMs: number[];
  msPerIter: number[];
  /** Time each iteration waited for the sample workers. */
  waitMs: number[];
  losses: { src: number; dst: number }[];
  numTensors: number[];
  matmulGflops: number;
  samplesPerS: number;
  samplesPerSCached: number;
  /** Max over the iterations of the backend's allocated GPU bytes (webgpu: numBytesAllocatedInGPU); null off the GPU. */
  peakGpuBytes: number | null;
  /** webgpu: max over the iterations of the bytes live buffers held at once (the pool above keeps more). */
  peakGpuBytesInUse: number | null;
}

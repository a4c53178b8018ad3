/**
 * The trainer worker (issue 3, architecture.md "trainer worker"): builds the SAEHD model on the chosen tfjs backend,
 * pulls batches from two sample workers (src, dst) and runs training steps. The UI never touches a tensor: it gets
 * numbers (losses, timings, tensor counts) and small preview images.
 */
import type { ModelOptions } from '../src/core/model/options.ts';
import type { BackendName, BackendPref } from '../src/core/train/backend.ts';

export interface TrainerInitRequest {
  /** Model + training options; not re-validated here (a test preset may go below DFL's minimum dims on purpose). */
  options: ModelOptions;
  backend: BackendPref;
  srcFacesetId: string;
  dstFacesetId: string;
  /** Seeds weight initialisation, the sample streams and the optimizer's LR-dropout masks. */
  seed: number;
  /** Ready batches each sample worker keeps queued (default 3). */
  prefetch?: number;
}

export interface TrainerInitResult {
  backend: BackendName;
  /** Why this backend (one line for the status bar). */
  reason: string;
  /** Trainable parameters of the model. */
  params: number;
  /** The adapter / engine that runs the backend, e.g. 'webgpu: google swiftshader (software)' or 'wasm: XNNPACK SIMD, 1 thread'. */
  adapter: string;
  /** Training runs on a software GPU (WebGPU/WebGL on SwiftShader, llvmpipe): very slow. False for wasm and cpu. */
  softwareAdapter: boolean;
  srcFaces: number;
  dstFaces: number;
  numTensors: number;
}

/** A preview after a step: the first sample of the batch, images res×res×channels in [0,1] (RGB order for display). */
export interface TrainPreview {
  iter: number;
  resolution: number;
  channels: 1 | 3;
  /** src target, src→src, dst target, dst→dst, src→dst (the swap), as DFL's preview columns. */
  images: Float32Array[];
}

export interface TrainProgress {
  iter: number;
  srcLoss: number;
  dstLoss: number;
  /** Wall time of this iteration: waiting for the batch + upload + step + loss read-back. */
  msPerIter: number;
  /** Part of msPerIter spent waiting for the sample workers (0 when batches were ready). */
  waitMs: number;
  /** `tf.memory().numTensors` after the step: must stay flat after the first step (no leaks). */
  numTensors: number;
  /** GPU bytes the backend has allocated (buffer pool, in use or free) after the step; null off the GPU. */
  gpuBytesAllocated: number | null;
  /** webgpu: the most bytes live GPU buffers held at once during this step (what the step needs); null elsewhere. */
  gpuBytesInUsePeak: number | null;
  preview?: TrainPreview;
}

export interface TrainResult {
  iter: number;
  lastLosses: { srcLoss: number; dstLoss: number } | null;
  /** Iterations run by this call. */
  steps: number;
  /** Stopped by a cancel before `iterations` were done. */
  cancelled: boolean;
  /** Largest `gpuBytesAllocated` seen after any step of this call (the pool only grows, so this is the peak). */
  peakGpuBytes: number | null;
  /** Largest `gpuBytesInUsePeak` of this call. */
  peakGpuBytesInUse: number | null;
}

type NoProgress = Record<string, never>;

export type TrainerCalls = {
  init: { request: TrainerInitRequest; progress: NoProgress; result: TrainerInitResult };
  /** Run `iterations` steps (cancel stops after the running step); `previewEvery` N adds a preview every N iterations. */
  train: { request: { iterations: number; previewEvery?: number }; progress: TrainProgress; result: TrainResult };
  /** Throughput of the backend on one square matMul (size³, `reps` timed runs after one warm-up), GFLOP/s. */
  matmul: { request: { size: number; reps: number }; progress: NoProgress; result: { gflops: number; msPerRun: number } };
  /** Sample-generator throughput of the src side, samples/s (see samples.protocol.ts `measure`). */
  sampleRate: { request: { batches: number }; progress: NoProgress; result: { uncached: number; cached: number } };
  /** Free the model, the optimizer state and the sample workers. */
  dispose: { request: object; progress: NoProgress; result: { numTensors: number } };
};

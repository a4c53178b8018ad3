/**
 * The training worker (issue 3 "trainer worker", issue 5 studio, issue 4 DFL import/export; architecture.md): the
 * one worker that runs training. It builds the SAEHD model on the chosen tfjs backend, pulls batches from two sample
 * workers (src, dst), runs steps, starts from a checkpoint file and captures one (weights, optimizer state, iteration,
 * loss history and the fixed preview faces: captureState, the same file format as the command line), renders the
 * preview faces on demand, reports a lost WebGPU device, and converts DeepFaceLab model folders to and from
 * checkpoints. Steps, captures and previews never interleave (one lock), so a save taken while training is the state
 * after a whole step. The studio (src/ui/state/studio.svelte.ts) and the training benchmark (src/ui/bench.ts) use it.
 */
import type { DflFile } from '../src/core/formats/dflModel.ts';
import type { ModelOptions, OptionsInput } from '../src/core/model/options.ts';
import type { BackendName, BackendPref } from '../src/core/train/backend.ts';

export interface StudioInitRequest {
  /** Options of a new model (ignored when `checkpoint` is given, except through `overrides`). Not re-validated: a test preset may go below DFL's minimum dims on purpose. */
  options: ModelOptions;
  /** A checkpoint file (encodeCheckpoint) to continue from. */
  checkpoint?: Uint8Array;
  /** Options that may change on resume (§C.1), applied to the checkpoint's stored options. */
  overrides?: OptionsInput;
  backend: BackendPref;
  srcFacesetId: string;
  dstFacesetId: string;
  /** Seeds weight initialisation, the sample streams and the optimizer's LR-dropout masks. */
  seed: number;
  /** Ready batches each sample worker keeps queued (default 3). */
  prefetch?: number;
  /**
   * WebGPU only: cap on the buffer pool in MiB (default 1228.8 = 1.2 GiB, the 2 GB-card target of issue 8); null = no
   * cap (tfjs' own pool, faster on cards with room to spare). Buffers in use are never freed, so a model that needs
   * more than the cap still trains, with the pool kept at what it uses.
   */
  gpuMemoryLimitMiB?: number | null;
  /**
   * The project's WebGPU kernels (src/core/webgpu/webgpuKernels.ts): 'auto' (default) on hardware adapters only, 'on'
   * also on a software adapter, 'off' tfjs' own ops everywhere (a way around a misbehaving driver).
   */
  webgpuKernels?: 'auto' | 'on' | 'off';
}

export interface StudioInitResult {
  backend: BackendName;
  /** Why this backend (one line for the status bar). */
  reason: string;
  /** The adapter / engine that runs the backend, e.g. 'webgpu: google swiftshader (software adapter)'. */
  adapter: string;
  /** Training runs on a software GPU (SwiftShader, llvmpipe): very slow. False for wasm and cpu. */
  softwareAdapter: boolean;
  /** WebGPU: the buffer-pool cap in effect in MiB, or null for no cap (gpuMemoryLimitMiB); undefined off WebGPU. */
  gpuPoolCapMiB?: number | null;
  /** Training runs the project's WebGPU kernels (webgpuKernels). */
  webgpuKernels: boolean;
  params: number;
  /** The options in effect. */
  options: ModelOptions;
  iter: number;
  lossHistory: [number, number][];
  /** The checkpoint's free-form extra (timers, best loss…), {} for a new model. */
  extra: Record<string, unknown>;
  /** What restoring decided (resumeOptions / restoreState notes). */
  notes: string[];
  /** The checkpoint brought its preview faces (the studio shows the same faces as before the reload). */
  previewFacesRestored: boolean;
  srcFaces: number;
  dstFaces: number;
  numTensors: number;
}

export interface StudioProgress {
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
  /** The preview after this step, when the call asked for one every `previewEvery` iterations (the preview history). */
  preview?: StudioPreview;
}

export interface StudioTrainResult {
  iter: number;
  /** Iterations run by this call. */
  steps: number;
  lastLosses: { srcLoss: number; dstLoss: number } | null;
  /** Stopped by a cancel before `iterations` were done. */
  cancelled: boolean;
  /** Largest `gpuBytesAllocated` after any step of this call (the pool only grows, so this is the peak). */
  peakGpuBytes: number | null;
  /** Largest `gpuBytesInUsePeak` of this call. */
  peakGpuBytesInUse: number | null;
  numTensors: number;
}

/** Preview rows: per face `images` = src, src→src, dst, dst→dst, swap (dst→src); `masks` = src→src, dst→dst, swap. */
export interface StudioPreview {
  iter: number;
  resolution: number;
  /** Channels of `images` (masks have 1). RGB order for display. */
  channels: 1 | 3;
  rows: { images: Float32Array[]; masks: Float32Array[] }[];
  numTensors: number;
}

/** A DFL model folder (its files) or a zip holding one, to convert into a checkpoint file. */
export interface DflImportRequest {
  files?: DflFile[];
  zip?: Uint8Array;
  /** Which model, when the folder holds several (`<name>` or `<name>_<Class>`). */
  modelName?: string;
}

export interface DflImportResult {
  /** The checkpoint file of the imported model (weights, optimizer state, iteration, loss history, data.dat kept). */
  checkpoint: Uint8Array;
  modelName: string;
  modelClass: string;
  iter: number;
  params: number;
  /** What the page changed or cannot honour (options, ignored files, fresh discriminators), one sentence each. */
  notes: string[];
}

type NoProgress = Record<string, never>;

export type StudioCalls = {
  init: { request: StudioInitRequest; progress: NoProgress; result: StudioInitResult };
  /**
   * Run up to `iterations` steps; cancel stops after the running step. `previewEvery` N renders the preview right after
   * every step whose iteration is a multiple of N (DFL's preview history, §C.10), inside the same lock, so the frame
   * shows exactly that iteration.
   */
  train: { request: { iterations: number; previewEvery?: number }; progress: StudioProgress; result: StudioTrainResult };
  /** Render the fixed preview faces with the current weights. */
  preview: { request: { rows?: number }; progress: NoProgress; result: StudioPreview };
  /** The checkpoint file of the current state (transferred). */
  capture: { request: { extra: Record<string, unknown> }; progress: NoProgress; result: { bytes: Uint8Array; iter: number; numTensors: number } };
  /**
   * Check that a checkpoint file fits its own options (every weight and optimizer slot present with the right shape)
   * by restoring it on the cpu backend and freeing it again. Used before an upload is stored; throws when it does not.
   */
  verify: { request: { checkpoint: Uint8Array }; progress: NoProgress; result: { iter: number; params: number; notes: string[] } };
  /**
   * A DeepFaceLab model folder or zip → a checkpoint file (on the cpu backend, in a worker of its own). Refuses with
   * the list of what is wrong (DflModelError) when files are missing, damaged or mis-shaped; nothing is kept then.
   */
  importDfl: { request: DflImportRequest; progress: NoProgress; result: DflImportResult };
  /** A checkpoint file → a zip in DFL's layout and naming (§C.11), on the cpu backend, in a worker of its own. */
  exportDfl: {
    request: { checkpoint: Uint8Array; name: string };
    progress: NoProgress;
    result: { zip: Uint8Array; modelName: string; modelClass: string; files: string[] };
  };
  /** Throughput of the backend on one square matMul (size³, `reps` timed runs after one warm-up), GFLOP/s. */
  matmul: { request: { size: number; reps: number }; progress: NoProgress; result: { gflops: number; msPerRun: number } };
  /** Sample-generator throughput of the src side, samples/s (see samples.protocol.ts `measure`). */
  sampleRate: { request: { batches: number }; progress: NoProgress; result: { uncached: number; cached: number } };
  /**
   * Test-only: destroy the WebGPU device under the running session (`GPUDevice.destroy()`), which resolves its `lost`
   * promise exactly as a driver reset or a removed GPU does. Throws when the backend is not webgpu.
   */
  loseDevice: { request: object; progress: NoProgress; result: { destroyed: boolean } };
  /** Live tensor count (leak checks). */
  tensors: { request: object; progress: NoProgress; result: { numTensors: number } };
  dispose: { request: object; progress: NoProgress; result: { numTensors: number } };
};

/** Error code of calls that fail because the WebGPU device was lost (the worker must be replaced). */
export const DEVICE_LOST_CODE = 'gpu-device-lost';

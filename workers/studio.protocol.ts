/**
 * The training studio's worker (issue 5): the trainer worker's loop (trainer.worker.ts) plus what a studio needs —
 * start from a checkpoint file, capture one (weights, optimizer state, iteration, loss history: captureState, the
 * same file format as the command line), a fixed set of preview faces rendered on demand, and the loss history kept
 * where the losses are made. Steps, captures and previews never interleave (one lock), so a save taken while training
 * is the state after a whole step.
 */
import type { ModelOptions, OptionsInput } from '../src/core/model/options.ts';
import type { BackendName, BackendPref } from '../src/core/train/backend.ts';

export interface StudioInitRequest {
  /** Options of a new model (ignored when `checkpoint` is given, except through `overrides`). */
  options: ModelOptions;
  /** A checkpoint file (encodeCheckpoint) to continue from. */
  checkpoint?: Uint8Array;
  /** Options that may change on resume (§C.1), applied to the checkpoint's stored options. */
  overrides?: OptionsInput;
  backend: BackendPref;
  srcFacesetId: string;
  dstFacesetId: string;
  seed: number;
  prefetch?: number;
}

export interface StudioInitResult {
  backend: BackendName;
  reason: string;
  adapter: string;
  softwareAdapter: boolean;
  params: number;
  /** The options in effect. */
  options: ModelOptions;
  iter: number;
  lossHistory: [number, number][];
  /** The checkpoint's free-form extra (timers, best loss…), {} for a new model. */
  extra: Record<string, unknown>;
  /** What restoring decided (resumeOptions / restoreState notes). */
  notes: string[];
  srcFaces: number;
  dstFaces: number;
  numTensors: number;
}

export interface StudioProgress {
  iter: number;
  srcLoss: number;
  dstLoss: number;
  msPerIter: number;
  waitMs: number;
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

type NoProgress = Record<string, never>;

export type StudioCalls = {
  init: { request: StudioInitRequest; progress: NoProgress; result: StudioInitResult };
  /** Run up to `iterations` steps; cancel stops after the running step. */
  train: { request: { iterations: number }; progress: StudioProgress; result: { iter: number; steps: number; numTensors: number } };
  /** Render the fixed preview faces with the current weights. */
  preview: { request: { rows?: number }; progress: NoProgress; result: StudioPreview };
  /** The checkpoint file of the current state (transferred). */
  capture: { request: { extra: Record<string, unknown> }; progress: NoProgress; result: { bytes: Uint8Array; iter: number; numTensors: number } };
  /**
   * Check that a checkpoint file fits its own options (every weight and optimizer slot present with the right shape)
   * by restoring it on the cpu backend and freeing it again. Used before an upload is stored; throws when it does not.
   */
  verify: { request: { checkpoint: Uint8Array }; progress: NoProgress; result: { iter: number; params: number; notes: string[] } };
  /** Live tensor count (leak checks). */
  tensors: { request: object; progress: NoProgress; result: { numTensors: number } };
  dispose: { request: object; progress: NoProgress; result: { numTensors: number } };
};

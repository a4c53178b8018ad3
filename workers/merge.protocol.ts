/**
 * The merge worker (issue 6; spec §F): a model restored from the CheckpointStore for prediction only, the dst faces of
 * a faceset and the frames of a FrameStore set. `plan` matches faces to frames by `source_filename`, `preview` merges
 * one frame with the given settings (the interactive merger), `mergeAll` merges every frame into a 'merged' frame set
 * (resumable, cancellable). Preview and batch use the same functions (src/core/frames/mergeJob.ts), so the same
 * settings give the same pixels.
 */
import type { FramePlan } from '../src/core/frames/matchFrames.ts';
import type { MergeAllResult, MergeFormat, MergeProgress } from '../src/core/frames/mergeJob.ts';
import type { MergeSettings } from '../src/core/merge/index.ts';
import type { Rect } from '../src/core/merge/masks.ts';
import type { BackendName, BackendPref } from '../src/core/train/backend.ts';

export interface MergeLoadRequest {
  /** A model in the CheckpointStore (its newest good generation is loaded). */
  modelId?: string;
  /** Or a checkpoint file's bytes (then `modelId` only names it). */
  checkpoint?: Uint8Array;
  backend: BackendPref;
}

export interface MergeModelLoaded {
  modelId: string;
  /** Checkpoint generation (0 for bytes given directly). */
  generation: number;
  iter: number;
  resolution: number;
  faceType: string;
  channels: 1 | 3;
  backend: BackendName;
  adapter: string;
  /** Notes from loading (fell back to the previous generation, …). */
  notes: string[];
  numTensors: number;
}

export interface MergeSource {
  facesetId: string;
  frameSetId: string;
}

export interface MergePreviewRequest extends MergeSource {
  frame: string;
  settings: MergeSettings;
  /** One-channel model and colour frame: also render the other of gray / luma for a side-by-side view. */
  compare?: boolean;
}

export interface MergePreviewImage {
  /** 'gray' / 'luma' for a one-channel model on a colour frame, else null. */
  conversion: 'gray' | 'luma' | null;
  /** width·height·4 bytes for a canvas. */
  rgba: Uint8ClampedArray;
}

export interface MergePreviewResult {
  frame: string;
  width: number;
  height: number;
  faces: string[];
  /** With the request's settings. */
  main: MergePreviewImage;
  /** The other gray / luma rendering (only with `compare` on a colour frame and a one-channel model). */
  alternate: MergePreviewImage | null;
  maskRect: Rect | null;
  ms: number;
}

export interface MergeAllRequest extends MergeSource {
  settings: MergeSettings;
  format: MergeFormat;
  /** Names the output set ("… merged with <label>"); default the model id. */
  label?: string;
  /** JPEG quality (default 95, what SAEHDBW's writer ends up using, spec §F.4). */
  quality?: number;
}

type NoProgress = Record<string, never>;

export type MergeCalls = {
  load: { request: MergeLoadRequest; progress: NoProgress; result: MergeModelLoaded };
  plan: { request: MergeSource; progress: NoProgress; result: FramePlan };
  preview: { request: MergePreviewRequest; progress: NoProgress; result: MergePreviewResult };
  mergeAll: { request: MergeAllRequest; progress: MergeProgress; result: MergeAllResult };
  /** Free the model; returns the tensors still alive (0 when nothing leaked). */
  dispose: { request: object; progress: NoProgress; result: { numTensors: number } };
};

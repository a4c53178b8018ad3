/**
 * The sample worker (architecture.md, data flow "sample worker(s)"): one instance per side (src, dst) turns the faces
 * of one IndexedDB faceset into training batches (spec §D) and keeps a small queue of ready ones, so the trainer takes
 * a finished batch instead of waiting for decode + warp. Batches travel as transferred Float32Array buffers.
 */


/** Generator settings of one side: one definition, beside the function that derives them from the model options. */
import type { SideSampleOptions } from '../src/core/samples/sideOptions.ts';
export type SampleSideOptions = SideSampleOptions;

/** One batch, flat NHWC float32 in [0,1] (the `TrainSide` of src/core/train/trainStep.ts plus bookkeeping). */
export interface SampleBatchMessage {
  warped: Float32Array;
  target: Float32Array;
  targetMask: Float32Array;
  targetEmMask: Float32Array;
  faceIds: string[];
  /** How long this `next` call waited for the queue (0 when a batch was ready): the trainer's stall. */
  waitMs: number;
}

type NoProgress = Record<string, never>;

export type SamplesCalls = {
  /** Read the faceset index and start filling the queue. */
  init: { request: { options: SampleSideOptions }; progress: NoProgress; result: { faces: number } };
  /** Take the oldest ready batch (waits when none is ready) and queue a new one. */
  next: { request: object; progress: NoProgress; result: SampleBatchMessage };
  /**
   * Generator throughput in samples/s with the same settings on a fresh generator, measured once the queue is full
   * (so the measurement does not compete with it): `uncached` decodes every face for every sample (large facesets,
   * where the prepared-face cache cannot hold them), `cached` once every face of the set is prepared.
   */
  measure: { request: { batches: number }; progress: NoProgress; result: { uncached: number; cached: number } };
};

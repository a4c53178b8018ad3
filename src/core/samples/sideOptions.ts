/**
 * The sample settings of one training side (src or dst), one function for both trainers: the page's sample workers
 * (through workers/lib/tfjsSetup.ts, which re-exports it) and the command line's generators (cli/commands/train.ts
 * `generatorOptions`), so a model trained in a terminal and in the page sees the same kind of samples.
 * Spec §C.1: flips per side, HSV jitter and `ct_mode` on src only (the dst faceset gives the colours, §D.2 step 2);
 * §C.9: pretraining overrides; the side's seed is seed·2 + (0 for src, 1 for dst).
 */
import { colorTransferHook } from '../color/index.ts';
import type { CtMode, ModelOptions } from '../model/options.ts';
import { pretrainSampleOverrides } from '../train/trainStep.ts';
import type { FaceSource, SampleGeneratorOptions } from './generator.ts';

export type Side = 'src' | 'dst';

/** Generator settings of one side, as the sample worker takes them (workers/samples.protocol.ts) (spec §C.1, §D.3, §D.6). */
export interface SideSampleOptions {
  facesetId: string;
  resolution: number;
  channels: 1 | 3;
  /** Model face type (`h`, `mf`, `f`, `wf`, `head`). */
  faceType: string;
  randomWarp: boolean;
  randomFlip: boolean;
  uniformYaw: boolean;
  /** Fill the eyes-and-mouth mask (needed only with eyes_mouth_prio). */
  eyesMouthMask: boolean;
  randomHsvPower: number;
  /**
   * Training colour transfer (`ct_mode`, spec §D.2 step 2, §E.1): src samples are re-coloured toward a random face of
   * the reference faceset. 'none' or absent on the dst side and in pretraining.
   */
  ctMode?: CtMode;
  /** The faceset the `ctMode` references are drawn from (the dst faceset); default: the app's dst faceset. */
  ctFacesetId?: string;
  batchSize: number;
  seed: number;
  /** Ready batches kept queued (≥ 1). */
  prefetch: number;
}

/** The seed of one side's sample stream. */
export function sideSeed(seed: number, side: Side): number {
  return (seed * 2 + (side === 'src' ? 0 : 1)) >>> 0;
}

/**
 * Sample settings of one side. `ctFacesetId`: the dst faceset the src side's colour-transfer references come from
 * (§D.2 step 2); `prefetch`: ready batches a sample worker keeps queued.
 */
export function sideOptions(o: ModelOptions, side: Side, facesetId: string, seed: number, prefetch: number, ctFacesetId?: string): SideSampleOptions {
  const eff = { ...o, ...pretrainSampleOverrides(o) };
  return {
    facesetId,
    resolution: o.resolution,
    channels: o.channels,
    faceType: o.face_type,
    randomWarp: eff.random_warp,
    randomFlip: side === 'src' ? eff.random_src_flip : eff.random_dst_flip,
    uniformYaw: eff.uniform_yaw,
    eyesMouthMask: o.eyes_mouth_prio,
    randomHsvPower: side === 'src' ? eff.random_hsv_power : 0,
    ctMode: side === 'src' ? eff.ct_mode : 'none',
    ...(ctFacesetId ? { ctFacesetId } : {}),
    batchSize: o.batch_size,
    seed: sideSeed(seed, side),
    prefetch,
  };
}

/**
 * The SampleGenerator options of one side from its settings: one map for the page's sample worker, `saehdbw train` and
 * the pipeline bench. `ctFaces`: the colour-transfer references (the dst faces) when the side has a `ctMode`; `seed`
 * overrides the side's seed (the command line mixes in the iteration on resume).
 */
export function generatorOptionsFor(
  o: SideSampleOptions, faces: FaceSource[], extra: { ctFaces?: FaceSource[] | null; seed?: number; cacheBytes?: number } = {},
): SampleGeneratorOptions {
  const ct = extra.ctFaces?.length && o.ctMode && o.ctMode !== 'none' ? colorTransferHook(o.ctMode, extra.ctFaces, 'bgr') : null;
  return {
    faces,
    resolution: o.resolution,
    channels: o.channels,
    faceType: o.faceType,
    randomWarp: o.randomWarp,
    randomFlip: o.randomFlip,
    uniformYaw: o.uniformYaw,
    masks: true,
    eyesMouthMask: o.eyesMouthMask,
    randomHsvPower: o.randomHsvPower,
    batchSize: o.batchSize,
    seed: extra.seed ?? o.seed,
    ...(ct ? { colorTransfer: ct } : {}),
    ...(extra.cacheBytes === undefined ? {} : { cacheBytes: extra.cacheBytes }),
  };
}

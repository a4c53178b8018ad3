/**
 * The tiny test model and the training benchmark's configurations (issue 3 "Benchmark"), shared by the option form's
 * presets, the browser tests and the benchmarks so they train the same configurations.
 */
import { quickTest, seed2GB, validateOptions, type ModelOptions } from '../../core/model/options.ts';

/**
 * DF-UD at 32 px with e/d/mask dims 4 and ae 16, one channel, batch 2 (246,770 parameters): about 0.1 s a step on
 * wasm and 1–2 s on SwiftShader WebGPU, where its ~3,200 small kernels per step cost more than its 0.07 GFLOP, so it
 * suits a browser test. It is below DFL's minimum
 * sizes (resolution ≥ 64, dims ≥ 16/32, spec §C.1), so `validateOptions` would clamp it: it is built from
 * `quickTest` by hand and handed to `createSaehd` unvalidated (saehdGeometry still checks its structure).
 */
export const tinyTest: ModelOptions = { ...quickTest, resolution: 32, ae_dims: 16, e_dims: 4, d_dims: 4, d_mask_dims: 4 };

/** Benchmark configurations (issue 3): the tiny model and the seed model with 1 and 3 channels at batch 6. */
export const BENCH_CONFIGS: readonly { name: string; options: ModelOptions }[] = [
  { name: 'tiny', options: tinyTest },
  { name: 'seed-1ch', options: seed2GB },
  { name: 'seed-3ch', options: validateOptions({ ...seed2GB, channels: 3 }) },
];

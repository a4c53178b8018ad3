/** Configurations of the issue-8 memory and profile benches (bench/memory.ts, profile.ts, profilePage.ts). */
import { seed2GB, validateOptions, type ModelOptions } from '../src/core/model/options.ts';
import { tinyTest } from '../src/ui/lib/trainPresets.ts';

/** mem-96 is DF-UDT 96-64-24-16-16 (validateOptions raises d_mask_dims 8 to DFL's minimum 16). */
export const MEMORY_BENCH_CONFIGS: readonly { name: string; options: ModelOptions }[] = [
  { name: 'mem-tiny', options: tinyTest },
  {
    name: 'mem-96',
    options: validateOptions({ ...seed2GB, resolution: 96, ae_dims: 64, e_dims: 24, d_dims: 16, d_mask_dims: 8, batch_size: 6 }),
  },
  { name: 'mem-seed', options: seed2GB },
];


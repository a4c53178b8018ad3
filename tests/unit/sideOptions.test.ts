/**
 * One set of per-side sample settings for the page's sample workers and the command line (src/core/samples/
 * sideOptions.ts): spec §C.1 (flips per side, HSV jitter and ct_mode on src only), §C.9 (pretrain overrides).
 */
import { describe, expect, it } from 'vitest';
import { generatorOptions } from '../../cli/commands/train.ts';
import { quickTest, type ModelOptions } from '../../src/core/model/options.ts';
import { sideOptions, sideSeed } from '../../src/core/samples/sideOptions.ts';

const o: ModelOptions = { ...quickTest, random_src_flip: false, random_dst_flip: true, random_hsv_power: 0.1, ct_mode: 'rct', random_warp: true };

describe('sideOptions', () => {
  it('applies per-side rules: flips per side, HSV jitter and ct_mode on src only, seeds 2s and 2s+1', () => {
    const src = sideOptions(o, 'src', 'A', 7, 3, 'B');
    const dst = sideOptions(o, 'dst', 'B', 7, 3, 'B');
    expect(src).toMatchObject({ facesetId: 'A', randomFlip: false, randomHsvPower: 0.1, ctMode: 'rct', ctFacesetId: 'B', seed: 14, prefetch: 3, randomWarp: true });
    expect(dst).toMatchObject({ facesetId: 'B', randomFlip: true, randomHsvPower: 0, ctMode: 'none', seed: 15 });
    expect(sideOptions(o, 'src', 'A', 7, 3)).not.toHaveProperty('ctFacesetId');
    expect(sideSeed(2 ** 31, 'dst')).toBe(1);
  });

  it('pretraining switches off what DFL switches off (§C.9)', () => {
    const p = sideOptions({ ...o, pretrain: true }, 'src', 'A', 1, 1);
    expect(p.randomHsvPower).toBe(0);
    expect(p.ctMode).toBe('none');
  });

  it('the command line uses the same settings (with its own per-iteration seed and no colour transfer)', () => {
    const side = sideOptions(o, 'dst', '', 5, 1);
    const g = generatorOptions(o, 'dst', [], 5, 0);
    for (const k of ['resolution', 'channels', 'faceType', 'randomWarp', 'randomFlip', 'uniformYaw', 'eyesMouthMask', 'randomHsvPower', 'batchSize'] as const)
      expect(g[k], k).toBe(side[k]);
    expect(g.seed).toBe(side.seed);
    expect(generatorOptions(o, 'dst', [], 5, 10).seed).toBe((side.seed + Math.imul(10, 0x9e3779b1)) >>> 0);
    expect(g).not.toHaveProperty('ctMode');
    expect(g.masks).toBe(true);
  });
});

/**
 * `ct_mode` in training samples (spec §D.2 step 2, §E.1, §E.9): src samples are re-coloured toward a random dst face,
 * and the option can be switched on when a model is resumed.
 */
import { describe, expect, it } from 'vitest';
import { colorTransferHook } from '../../src/core/color/index.ts';
import { resumeOptions } from '../../src/core/checkpoint/modelState.ts';
import { validateOptions } from '../../src/core/model/options.ts';
import { type FaceSource, SampleGenerator, type SampleGeneratorOptions } from '../../src/core/samples/generator.ts';
import { sideOptions } from '../../workers/lib/tfjsSetup.ts';
import { syntheticFaces } from './samplesFixtures.ts';

const NO_AUG = { rotationRange: [0, 0], scaleRange: [0, 0], txRange: [0, 0], tyRange: [0, 0], randomFlip: false, randomWarp: false } as Partial<SampleGeneratorOptions>;

/** Mean and standard deviation of one 1-channel sample of a flat batch buffer. */
function stats(a: Float32Array, b: number, len: number): { mean: number; std: number } {
  let s = 0, s2 = 0;
  for (let i = b * len; i < (b + 1) * len; i++) {
    s += a[i];
    s2 += a[i] * a[i];
  }
  const mean = s / len;
  return { mean, std: Math.sqrt(Math.max(0, s2 / len - mean * mean)) };
}

/** dst faces with a different brightness and contrast than the src faces: v → 0.4·v + 70 (gray, 8-bit). */
function darkerReferences(n: number): FaceSource[] {
  const { faces } = syntheticFaces(n, { size: 64, channels: 1 });
  return faces.map((f, i) => ({
    id: `ref${i}`,
    load: async () => {
      const d = await f.load();
      const data = Uint8Array.from(d.image.data, (v) => Math.round(0.4 * v + 70 + 10 * i));
      return { ...d, image: { ...d.image, data } };
    },
  }));
}

describe('ct_mode in the sample generator', () => {
  it('lct on one channel gives each src sample the mean and std of its dst reference (§E.9)', async () => {
    const { faces } = syntheticFaces(3, { size: 64, channels: 1 });
    const refs = darkerReferences(2);
    const refStats = await Promise.all(
      refs.map(async (r) => {
        const img = (await r.load()).image;
        const f = Float32Array.from(img.data, (v) => v / 255);
        return stats(f, 0, f.length);
      }),
    );
    const base = { faces, resolution: 64, channels: 1 as const, faceType: 'wf', batchSize: 4, seed: 5, ...NO_AUG };
    const plain = await new SampleGenerator(base).nextBatch();
    const hook = colorTransferHook('lct', refs, 'bgr');
    expect(hook).not.toBeNull();
    const ct = await new SampleGenerator({ ...base, colorTransfer: hook! }).nextBatch();
    const len = 64 * 64;
    const used = new Set<number>();
    for (let b = 0; b < 4; b++) {
      const before = stats(plain.target, b, len);
      const after = stats(ct.target, b, len);
      const warpedAfter = stats(ct.warped, b, len);
      // the reference this sample drew: the one whose statistics it now has
      const k = refStats.findIndex((r) => Math.abs(r.mean - after.mean) < 2e-3 && Math.abs(r.std - after.std) < 2e-3);
      expect(k, `sample ${b}: mean ${after.mean} std ${after.std} vs ${JSON.stringify(refStats)}`).toBeGreaterThanOrEqual(0);
      used.add(k);
      // both image outputs are re-coloured with the same reference (§D.2 step 2)
      expect(warpedAfter.mean).toBeCloseTo(after.mean, 3);
      // and the untouched sample was clearly different
      expect(Math.abs(before.mean - after.mean) + Math.abs(before.std - after.std)).toBeGreaterThan(0.05);
    }
    // the references come from their own shuffled stream: over four samples both dst faces are drawn
    expect(used.size).toBe(2);
    // the masks are not re-coloured
    expect(ct.targetMask).toEqual(plain.targetMask);
  });

  it('sot on one channel moves the sample\'s histogram toward the reference\'s (§E.9)', async () => {
    const { faces } = syntheticFaces(1, { size: 64, channels: 1 });
    const refs = darkerReferences(1);
    const refImg = (await refs[0].load()).image;
    const refSorted = Float32Array.from(refImg.data, (v) => v / 255).sort();
    const base = { faces, resolution: 64, channels: 1 as const, faceType: 'wf', batchSize: 1, seed: 9, ...NO_AUG };
    const quantileGap = (a: Float32Array) => {
      const s = a.slice().sort();
      let e = 0;
      for (let q = 0.05; q < 1; q += 0.1) e += Math.abs(s[Math.floor(q * s.length)] - refSorted[Math.floor(q * refSorted.length)]);
      return e / 10;
    };
    const before = quantileGap((await new SampleGenerator(base).nextBatch()).target);
    const after = quantileGap((await new SampleGenerator({ ...base, colorTransfer: colorTransferHook('sot', refs, 'bgr')! }).nextBatch()).target);
    // the correction is smoothed spatially (bilateral σXY 16, §E.2), which on a 64-px face keeps only its coarse part:
    // the quantile gap roughly halves rather than vanishing
    expect(after).toBeLessThan(0.6 * before);
  });

  it('is a src-only option that can be switched on when resuming, and off in pretraining', () => {
    const stored = validateOptions({ resolution: 64, channels: 1, ct_mode: 'none' });
    const resumed = resumeOptions(stored, { ct_mode: 'lct' });
    expect(resumed.options.ct_mode).toBe('lct');
    expect(resumed.changed).toContain('ct_mode none → lct');
    expect(resumed.kept).toEqual([]);
    const src = sideOptions(resumed.options, 'src', 'S', 1, 2, 'D');
    expect(src.ctMode).toBe('lct');
    expect(src.ctFacesetId).toBe('D');
    expect(sideOptions(resumed.options, 'dst', 'D', 1, 2, 'D').ctMode).toBe('none');
    const pre = resumeOptions(stored, { ct_mode: 'sot', pretrain: true }).options;
    expect(sideOptions(pre, 'src', 'S', 1, 2).ctMode).toBe('none');
    // a grayscale model cannot take a 3-channel mode (§E.9)
    expect(() => resumeOptions(stored, { ct_mode: 'rct' })).toThrow(/grayscale model supports none, lct, sot/);
  });
});

import { describe, expect, it } from 'vitest';
import { SampleError } from '../../src/core/errors.ts';
import { rgbToGray } from '../../src/core/image/jpegCodec.ts';
import { warpAffine } from '../../src/core/image/warpAffine.ts';
import { getTransformMat } from '../../src/core/samples/faceAlign.ts';
import {
  type FaceSource,
  measureSampleThroughput,
  SampleGenerator,
  type SampleGeneratorOptions,
  toModelChannels,
} from '../../src/core/samples/generator.ts';
import { yawBin } from '../../src/core/samples/pose.ts';
import { alignedLandmarks, posedLandmarks, syntheticFaceImage, syntheticFaces } from './samplesFixtures.ts';

const NO_AUG = { rotationRange: [0, 0], scaleRange: [0, 0], txRange: [0, 0], tyRange: [0, 0] } as Partial<SampleGeneratorOptions>;

function gen(faces: FaceSource[], o: Partial<SampleGeneratorOptions> = {}): SampleGenerator {
  return new SampleGenerator({ faces, resolution: 64, channels: 1, faceType: 'wf', batchSize: 4, seed: 123, randomFlip: true, ...o });
}

/** Bitwise equality of two float arrays (much faster than a deep equal). */
function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function minMax(a: Float32Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of a) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

describe('SampleGenerator', () => {
  it('returns flat NHWC batches with the right shapes, values in [0,1], eyes/mouth peak 1', async () => {
    for (const channels of [1, 3] as const) {
      const { faces } = syntheticFaces(5, { size: 96 });
      const g = gen(faces, { channels, resolution: 64, batchSize: 3 });
      const b = await g.nextBatch();
      expect(b.batchSize).toBe(3);
      expect(b.resolution).toBe(64);
      expect(b.channels).toBe(channels);
      expect(b.warped.length).toBe(3 * 64 * 64 * channels);
      expect(b.target.length).toBe(3 * 64 * 64 * channels);
      expect(b.targetMask.length).toBe(3 * 64 * 64);
      expect(b.targetEmMask.length).toBe(3 * 64 * 64);
      expect(b.faceIds.length).toBe(3);
      for (const a of [b.warped, b.target, b.targetMask, b.targetEmMask]) {
        const [lo, hi] = minMax(a);
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
      }
      for (let i = 0; i < 3; i++) {
        const [, peak] = minMax(b.targetEmMask.subarray(i * 4096, (i + 1) * 4096));
        expect(peak).toBeCloseTo(1, 6);
        const [, mpeak] = minMax(b.targetMask.subarray(i * 4096, (i + 1) * 4096));
        expect(mpeak).toBeCloseTo(1, 6);
      }
    }
  });

  it('is deterministic for a fixed seed (and differs for another seed)', async () => {
    const run = async (seed: number) => {
      const { faces } = syntheticFaces(6, { size: 80 });
      const g = gen(faces, { seed, batchSize: 4 });
      const out = [];
      for (let i = 0; i < 3; i++) out.push(await g.nextBatch());
      return out;
    };
    const [a, b, c] = await Promise.all([run(7), run(7), run(8)]);
    for (let i = 0; i < 3; i++) {
      expect(b[i].faceIds).toEqual(a[i].faceIds);
      expect(same(b[i].warped, a[i].warped)).toBe(true);
      expect(same(b[i].target, a[i].target)).toBe(true);
      expect(same(b[i].targetMask, a[i].targetMask)).toBe(true);
      expect(same(b[i].targetEmMask, a[i].targetEmMask)).toBe(true);
    }
    expect(same(c[0].warped, a[0].warped)).toBe(false);
  });

  it('does not depend on the cache: a zero-byte cache gives the same batches (and reloads faces)', async () => {
    const f1 = syntheticFaces(4, { size: 64 });
    const f2 = syntheticFaces(4, { size: 64 });
    const g1 = gen(f1.faces, { seed: 3 });
    const g2 = gen(f2.faces, { seed: 3, cacheBytes: 0 });
    for (let i = 0; i < 3; i++) expect(same((await g2.nextBatch()).warped, (await g1.nextBatch()).warped)).toBe(true);
    expect(f1.loads.every((n) => n === 1)).toBe(true);
    expect(f2.loads.reduce((a, b) => a + b, 0)).toBe(12);
  });

  it('draws faces in shuffled epochs: each face once per epoch (spec §D.6)', async () => {
    const { faces } = syntheticFaces(8, { size: 64 });
    const g = gen(faces, { batchSize: 4 });
    for (let e = 0; e < 2; e++) {
      const ids = [...(await g.nextBatch()).faceIds, ...(await g.nextBatch()).faceIds].sort();
      expect(ids).toEqual(faces.map((f) => f.id).sort());
    }
  });

  it("converts colour faces to gray with OpenCV's fixed-point formula; gray faces pass through", async () => {
    const lm = alignedLandmarks(64, 'whole_face');
    const rgb = syntheticFaceImage(64, lm, 3, 3);
    const gray = syntheticFaceImage(64, lm, 4, 1);
    const faces: FaceSource[] = [
      { id: 'rgb', load: async () => ({ image: rgb, landmarks: lm, faceType: 'whole_face' }) },
      { id: 'gray', load: async () => ({ image: gray, landmarks: lm, faceType: 'whole_face' }) },
    ];
    const g = gen(faces, { ...NO_AUG, randomFlip: false, randomWarp: false, batchSize: 2 });
    const b = await g.nextBatch();
    for (let k = 0; k < 2; k++) {
      const t = b.target.subarray(k * 4096, (k + 1) * 4096);
      const expected =
        b.faceIds[k] === 'rgb'
          ? Float32Array.from({ length: 4096 }, (_, i) => rgbToGray(rgb.data[3 * i], rgb.data[3 * i + 1], rgb.data[3 * i + 2]) / 255)
          : Float32Array.from(gray.data, (v) => v / 255);
      expect(t).toEqual(expected);
      // without warp the warped output equals the target
      expect(b.warped.subarray(k * 4096, (k + 1) * 4096)).toEqual(t);
    }
  });

  it('3-channel outputs are BGR by default (RGB on request)', () => {
    const img = { width: 1, height: 1, channels: 3 as const, data: Uint8Array.of(255, 128, 0) };
    expect(Array.from(toModelChannels(img, 3).data)).toEqual([0, 128 / 255, 1].map((v) => Math.fround(v)));
    expect(Array.from(toModelChannels(img, 3, 'rgb').data)).toEqual([1, 128 / 255, 0].map((v) => Math.fround(v)));
  });

  it('re-crops faces whose face type differs from the model (spec §D.2 step 1)', async () => {
    const lm = alignedLandmarks(128, 'whole_face');
    const img = syntheticFaceImage(128, lm, 5, 1);
    const faces: FaceSource[] = [{ id: 'a', load: async () => ({ image: img, landmarks: lm, faceType: 'whole_face' }) }];
    const g = gen(faces, { ...NO_AUG, faceType: 'f', randomFlip: false, randomWarp: false, batchSize: 1, resolution: 64 });
    const b = await g.nextBatch();
    const f = toModelChannels(img, 1);
    const expected = warpAffine(f, getTransformMat(lm, 64, 'full_face'), 64, 64, { interpolation: 'cubic', border: 'replicate' });
    for (let i = 0; i < 4096; i++) expect(b.target[i]).toBeCloseTo(Math.min(1, Math.max(0, expected.data[i])), 6);
  });

  it('mask flags off give zero masks', async () => {
    const { faces } = syntheticFaces(2, { size: 64 });
    const b = await gen(faces, { masks: false, eyesMouthMask: false, batchSize: 2 }).nextBatch();
    expect(b.targetMask.every((v) => v === 0)).toBe(true);
    expect(b.targetEmMask.every((v) => v === 0)).toBe(true);
  });

  it('uniform yaw: every non-empty yaw bin is drawn equally often (spec §D.6)', async () => {
    // 2 faces at yaw 0, 6 faces at yaw 0.5, 1 face at −0.6 → 3 bins
    const yaws = [0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, -0.6];
    const faces: FaceSource[] = yaws.map((y, i) => {
      const lm = posedLandmarks(64, 0, y, 0, 600);
      return {
        id: `y${i}`,
        landmarks: lm,
        size: 64,
        load: async () => ({ image: syntheticFaceImage(64, alignedLandmarks(64, 'whole_face'), i, 1), landmarks: alignedLandmarks(64, 'whole_face'), faceType: 'wf' }),
      };
    });
    const g = gen(faces, { uniformYaw: true, batchSize: 6, masks: false, eyesMouthMask: false });
    const counts = new Map<string, number>();
    for (let i = 0; i < 10; i++) for (const id of (await g.nextBatch()).faceIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(g.yawBinSizes!.slice().sort()).toEqual([1, 2, 6]);
    const perBin = new Map<number, number>();
    yaws.forEach((y, i) => perBin.set(yawBin(y), (perBin.get(yawBin(y)) ?? 0) + (counts.get(`y${i}`) ?? 0)));
    expect([...perBin.values()]).toEqual([20, 20, 20]); // 60 draws, 3 bins, shuffled epochs over bins
  });

  it('rejects bad input with named errors', async () => {
    expect(() => gen([])).toThrow(SampleError);
    expect(() => gen(syntheticFaces(1).faces, { faceType: 'zz' })).toThrow(SampleError);
    const bad: FaceSource[] = [{ id: 'x', load: async () => ({ image: syntheticFaceImage(64, alignedLandmarks(64, 'wf'), 1), landmarks: new Float64Array(10), faceType: 'wf' }) }];
    await expect(gen(bad, { batchSize: 1 }).nextBatch()).rejects.toThrow(SampleError);
  });

  it('measureSampleThroughput reports samples per second', async () => {
    const { faces } = syntheticFaces(4, { size: 64 });
    const sps = await measureSampleThroughput(gen(faces, { batchSize: 2 }), 2);
    expect(sps).toBeGreaterThan(0);
  });
});

describe('colour hooks', () => {
  it('HSV jitter shifts V by one common amount, stays in [0,1] and changes colours (spec §D.2 step 3)', async () => {
    const { randomHsvShift } = await import('../../src/core/samples/hsv.ts');
    const { Rng } = await import('../../src/core/samples/random.ts');
    const img = { width: 4, height: 1, channels: 3, data: Float32Array.of(0.2, 0.2, 0.2, 0.5, 0.4, 0.3, 0.1, 0.7, 0.3, 0.6, 0.6, 0.8) };
    for (let seed = 1; seed < 20; seed++) {
      const out = randomHsvShift(img, 0.3, new Rng(seed)).data;
      expect(out.every((v) => v >= 0 && v <= 1)).toBe(true);
      // max(R, G, B) is V: every pixel's V moved by the same dv (none of these values reach the clip)
      const dv = (p: number) => Math.max(out[3 * p], out[3 * p + 1], out[3 * p + 2]) - Math.max(img.data[3 * p], img.data[3 * p + 1], img.data[3 * p + 2]);
      for (let p = 1; p < 4; p++) expect(dv(p)).toBeCloseTo(dv(0), 5);
      expect(Math.abs(dv(0))).toBeLessThanOrEqual(0.15 + 1e-6);
      expect(Array.from(out)).not.toEqual(Array.from(img.data));
    }
  });

  it('the ct_mode hook gets a res×res reference and its result feeds warped and target (spec §D.2 step 2)', async () => {
    const src = syntheticFaces(3, { size: 64 });
    const dst = syntheticFaces(2, { size: 80 });
    const seen: number[] = [];
    const g = gen(src.faces, {
      ...NO_AUG,
      randomWarp: false,
      randomFlip: false,
      batchSize: 2,
      colorTransfer: {
        faces: dst.faces,
        transfer: (img, ref) => {
          seen.push(ref.width, ref.height);
          return { ...img, data: img.data.map(() => 0.25) };
        },
      },
    });
    const b = await g.nextBatch();
    expect(seen).toEqual([64, 64, 64, 64]);
    expect(b.target.every((v) => Math.abs(v - 0.25) < 1e-6)).toBe(true);
    expect(b.warped.every((v) => Math.abs(v - 0.25) < 1e-6)).toBe(true);
  });
});

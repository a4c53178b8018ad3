import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { decodeJpeg } from '../../src/core/image/jpegCodec.ts';
import { transformPoints } from '../../src/core/image/warpAffine.ts';
import { getTransformMat } from '../../src/core/samples/faceAlign.ts';
import { type FaceSource, SampleGenerator } from '../../src/core/samples/generator.ts';
import { hullMask } from '../../src/core/samples/masks.ts';
import { estimatePitchYawRoll } from '../../src/core/samples/pose.ts';
import { Rng } from '../../src/core/samples/random.ts';
import { genWarpParams, warpByParams } from '../../src/core/samples/warp.ts';
import { hasSharedData, sharedDataDir } from './sharedData.ts';

const dir = join(sharedDataDir, 'facesets', 'obama', 'aligned');
const names = Array.from({ length: 24 }, (_, i) => `${String(i * 10 + 1).padStart(5, '0')}_0.jpg`);

function source(name: string): FaceSource {
  return {
    id: name,
    load: async () => {
      const bytes = new Uint8Array(readFileSync(join(dir, name)));
      const { meta } = readDflJpg(bytes);
      return { image: await decodeJpeg(bytes), landmarks: meta.landmarks!, faceType: meta.face_type };
    },
  };
}

describe.skipIf(!hasSharedData)('sample generator on real DFL faces (shared data: obama faceset)', () => {
  beforeAll(async () => {
    await initNodeJpegCodec();
  });

  it('the stored matrix is reproduced from the source landmarks (alignment math, spec §H.4)', () => {
    for (const n of names.slice(0, 8)) {
      const { meta } = readDflJpg(new Uint8Array(readFileSync(join(dir, n))));
      const m = getTransformMat(meta.source_landmarks!, 256, meta.face_type);
      for (let i = 0; i < 6; i++) expect(m[i]).toBeCloseTo(meta.image_to_face_mat![i], 6);
    }
  });

  it('poses are plausible for a near-frontal speaker', () => {
    for (const n of names) {
      const { meta } = readDflJpg(new Uint8Array(readFileSync(join(dir, n))));
      const p = estimatePitchYawRoll(meta.landmarks!, 256);
      expect(Math.abs(p.yaw)).toBeLessThan(0.6);
      expect(Math.abs(p.roll)).toBeLessThan(0.4);
    }
  });

  it('a real face mask built then warped matches the mask of the warped landmarks (IoU > 0.95)', async () => {
    const d = await source(names[3]).load();
    const m = hullMask(256, 256, d.landmarks);
    const rng = new Rng(77);
    for (let t = 0; t < 10; t++) {
      const p = genWarpParams(256, rng, true);
      const w = warpByParams(p, m, false, true, true, false, 'linear').data;
      const lm = transformPoints(d.landmarks, p.rmat);
      if (p.flip) for (let i = 0; i < lm.length; i += 2) lm[i] = 255 - lm[i];
      const direct = hullMask(256, 256, lm).data;
      let inter = 0, uni = 0;
      for (let i = 0; i < w.length; i++) {
        const a = w[i] > 0.5 ? 1 : 0, b = direct[i];
        inter += a & b;
        uni += a | b;
      }
      expect(inter / uni).toBeGreaterThan(0.95);
    }
  });

  it('builds deterministic 192-px batches (1 and 3 channels, whole_face files → full_face model)', async () => {
    for (const channels of [1, 3] as const) {
      const make = () =>
        new SampleGenerator({ faces: names.map(source), resolution: 192, channels, faceType: 'f', randomFlip: true, batchSize: 6, seed: 5 });
      const [a, b] = [make(), make()];
      const ba = await a.nextBatch();
      const bb = await b.nextBatch();
      expect(ba.faceIds).toEqual(bb.faceIds);
      expect(Buffer.from(ba.warped.buffer).equals(Buffer.from(bb.warped.buffer))).toBe(true);
      expect(ba.warped.length).toBe(6 * 192 * 192 * channels);
      let lo = Infinity, hi = -Infinity, mean = 0;
      for (const v of ba.target) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        mean += v;
      }
      mean /= ba.target.length;
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
      expect(mean).toBeGreaterThan(0.1);
      expect(mean).toBeLessThan(0.9);
      // the full_face mask covers a good part of a full_face crop
      let cover = 0;
      for (const v of ba.targetMask) cover += v;
      cover /= ba.targetMask.length;
      expect(cover).toBeGreaterThan(0.3);
      expect(cover).toBeLessThan(0.9);
    }
  });
});

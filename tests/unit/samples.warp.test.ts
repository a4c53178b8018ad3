import { describe, expect, it } from 'vitest';
import type { FloatImage } from '../../src/core/image/rawImage.ts';
import { getRotationMatrix2D, transformPoints } from '../../src/core/image/warpAffine.ts';
import { hullMask } from '../../src/core/samples/masks.ts';
import { Rng, ShuffledIndexStream } from '../../src/core/samples/random.ts';
import { genWarpParams, warpByParams } from '../../src/core/samples/warp.ts';
import { alignedLandmarks } from './samplesFixtures.ts';

function iou(a: Float32Array, b: Float32Array): number {
  let inter = 0, uni = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] > 0.5 ? 1 : 0, y = b[i] > 0.5 ? 1 : 0;
    inter += x & y;
    uni += x | y;
  }
  return uni ? inter / uni : 1;
}

/** The landmark transform that warpByParams applies (affine, then the column flip). */
function transformLandmarks(lm: Float64Array, rmat: Float64Array, flip: boolean, w: number): Float64Array {
  const t = transformPoints(lm, rmat);
  if (flip) for (let i = 0; i < t.length; i += 2) t[i] = w - 1 - t[i];
  return t;
}

describe('random number generator', () => {
  it('is deterministic per seed/stream and uniform enough', () => {
    const a = new Rng(7), b = new Rng(7), c = new Rng(7, 1);
    const va = Array.from({ length: 10 }, () => a.nextU32());
    expect(Array.from({ length: 10 }, () => b.nextU32())).toEqual(va);
    expect(Array.from({ length: 10 }, () => c.nextU32())).not.toEqual(va);
    const r = new Rng(1);
    let s = 0, s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
    for (let i = 0; i < 2000; i++) {
      const t = r.truncatedNormal();
      expect(t).toBeGreaterThanOrEqual(-1);
      expect(t).toBeLessThanOrEqual(1);
    }
  });
  it('shuffled epochs visit every index once per epoch (spec §D.6)', () => {
    const s = new ShuffledIndexStream(17, new Rng(3));
    for (let e = 0; e < 3; e++) {
      const seen = Array.from({ length: 17 }, () => s.next()).sort((a, b) => a - b);
      expect(seen).toEqual(Array.from({ length: 17 }, (_, i) => i));
    }
  });
});

describe('genWarpParams (spec §D.3, §D.4)', () => {
  it('draws rotation, scale, translation and flip in the spec ranges (BW scale formula by default)', () => {
    const rng = new Rng(11);
    const n = 4000;
    const stats = { rot: [Infinity, -Infinity], scale: [Infinity, -Infinity], tx: [Infinity, -Infinity], ty: [Infinity, -Infinity] };
    let flips = 0, sumScale = 0, sumRot = 0;
    const cells = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const p = genWarpParams(128, rng, true);
      const upd = (k: keyof typeof stats, v: number) => {
        stats[k][0] = Math.min(stats[k][0], v);
        stats[k][1] = Math.max(stats[k][1], v);
      };
      upd('rot', p.rotation);
      upd('scale', p.scale);
      upd('tx', p.tx);
      upd('ty', p.ty);
      sumScale += p.scale;
      sumRot += p.rotation;
      flips += p.flip ? 1 : 0;
      cells.set(p.cellSize, (cells.get(p.cellSize) ?? 0) + 1);
    }
    expect(stats.rot[0]).toBeGreaterThanOrEqual(-10);
    expect(stats.rot[1]).toBeLessThanOrEqual(10);
    expect(stats.rot[0]).toBeLessThan(-9.9);
    expect(stats.rot[1]).toBeGreaterThan(9.9);
    expect(stats.scale[0]).toBeGreaterThanOrEqual(0.85);
    expect(stats.scale[1]).toBeLessThanOrEqual(1.15);
    expect(stats.scale[0]).toBeLessThan(0.852); // BW: uniform [0.85, 1.15], not DFL's [0.8696, 1.15]
    for (const k of ['tx', 'ty'] as const) {
      expect(stats[k][0]).toBeGreaterThanOrEqual(-0.05);
      expect(stats[k][1]).toBeLessThanOrEqual(0.05);
    }
    expect(sumScale / n).toBeCloseTo(1.0, 1);
    expect(Math.abs(sumRot / n)).toBeLessThan(0.4);
    expect(flips / n).toBeGreaterThan(0.37);
    expect(flips / n).toBeLessThan(0.43);
    expect([...cells.keys()].sort((a, b) => a - b)).toEqual([16, 32, 64]);
    for (const c of cells.values()) expect(c / n).toBeGreaterThan(0.3);
  });

  it("current DFL's scale formula gives [1/1.15, 1.15]; flips off when disabled", () => {
    const rng = new Rng(5);
    let lo = Infinity;
    for (let i = 0; i < 3000; i++) {
      const p = genWarpParams(64, rng, false, [-10, 10], [-0.15, 0.15], [-0.05, 0.05], [-0.05, 0.05], rng, 'dfl');
      lo = Math.min(lo, p.scale);
      expect(p.flip).toBe(false);
      expect(p.scale).toBeLessThanOrEqual(1.15);
    }
    expect(lo).toBeGreaterThanOrEqual(1 / 1.15 - 1e-12);
    expect(lo).toBeLessThan(1 / 1.15 + 0.002);
  });

  it('the affine matrix is the OpenCV rotation about (w//2, w//2) plus (tx·w, ty·w)', () => {
    const p = genWarpParams(192, new Rng(3), true);
    const m = getRotationMatrix2D(96, 96, p.rotation, p.scale);
    m[2] += p.tx * 192;
    m[5] += p.ty * 192;
    for (let i = 0; i < 6; i++) expect(p.rmat[i]).toBeCloseTo(m[i], 12);
  });

  it('the warp grid is w×w and moves pixels by at most 0.24·cell from (x + ½, y + ½)', () => {
    const rng = new Rng(9);
    for (const w of [64, 128, 192]) {
      for (let t = 0; t < 10; t++) {
        const p = genWarpParams(w, rng, false);
        expect(p.mapSize).toBe(w);
        let maxOff = 0, moved = 0;
        for (let y = 0; y < w; y++)
          for (let x = 0; x < w; x++) {
            const dx = p.mapX[y * w + x] - (x + 0.5), dy = p.mapY[y * w + x] - (y + 0.5);
            maxOff = Math.max(maxOff, Math.abs(dx), Math.abs(dy));
            if (Math.abs(dx) > 0.01) moved++;
          }
        expect(maxOff).toBeLessThanOrEqual(p.cellSize * 0.24 + 1e-3);
        expect(moved).toBeGreaterThan(0);
      }
    }
  });

  it('below 64 px the work is done at 64 and resized back', () => {
    const p = genWarpParams(48, new Rng(1), true);
    expect(p.w).toBe(64);
    expect(p.rw).toBe(48);
    const img: FloatImage = { width: 48, height: 48, channels: 1, data: new Float32Array(48 * 48).fill(0.5) };
    const out = warpByParams(p, img, true, true, true, true);
    expect([out.width, out.height]).toEqual([48, 48]);
  });
});

describe('warpByParams applies one transform to image, target and masks (spec §D.2)', () => {
  const S = 128;
  const lm = alignedLandmarks(S, 'full_face');

  it('a bright dot at a landmark follows the landmark (affine + flip), within 1 px', () => {
    const rng = new Rng(21);
    for (let t = 0; t < 25; t++) {
      const p = genWarpParams(S, rng, true);
      const k = [30, 36, 45, 48, 54, 8][t % 6];
      const px = Math.round(lm[2 * k]), py = Math.round(lm[2 * k + 1]);
      const img: FloatImage = { width: S, height: S, channels: 1, data: new Float32Array(S * S) };
      img.data[py * S + px] = 1;
      const out = warpByParams(p, img, false, true, true, false, 'cubic').data;
      let best = 0;
      for (let i = 1; i < out.length; i++) if (out[i] > out[best]) best = i;
      const [ex, ey] = transformLandmarks(Float64Array.of(px, py), p.rmat, p.flip, S);
      expect(Math.abs((best % S) - ex)).toBeLessThanOrEqual(1);
      expect(Math.abs(Math.floor(best / S) - ey)).toBeLessThanOrEqual(1);
    }
  });

  it('mask built then warped ≈ mask built from warped landmarks (IoU > 0.95)', () => {
    const rng = new Rng(8);
    const mask = hullMask(S, S, lm);
    for (let t = 0; t < 20; t++) {
      const p = genWarpParams(S, rng, true);
      const warped = warpByParams(p, mask, false, true, true, false, 'linear');
      const direct = hullMask(S, S, transformLandmarks(lm, p.rmat, p.flip, S));
      expect(iou(warped.data, direct.data)).toBeGreaterThan(0.95);
    }
  });

  it('the warped output differs from the target only by the random warp', () => {
    const rng = new Rng(4);
    const img: FloatImage = { width: S, height: S, channels: 3, data: new Float32Array(S * S * 3) };
    for (let i = 0; i < img.data.length; i++) img.data[i] = 0.5 + 0.4 * Math.sin(i * 0.01);
    const p = genWarpParams(S, rng, true);
    const a = warpByParams(p, img, false, true, true, true);
    const b = warpByParams(p, img, false, true, true, true);
    expect(a.data).toEqual(b.data);
    const w = warpByParams(p, img, true, true, true, true);
    expect(w.data).not.toEqual(a.data);
    // no transform, no flip: the image is returned as is
    expect(warpByParams({ ...p, flip: false }, img, false, false, true, true).data).toBe(img.data);
  });
});

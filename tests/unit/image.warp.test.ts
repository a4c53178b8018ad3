import { describe, expect, it } from 'vitest';
import { remap } from '../../src/core/image/remap.ts';
import {
  composeAffine,
  getAffineTransform,
  getRotationMatrix2D,
  invertAffine,
  transformPoints,
  warpAffine,
} from '../../src/core/image/warpAffine.ts';
import { cubicWeights, lanczos4Weights, roundHalfEven } from '../../src/core/image/interp.ts';
import type { FloatImage, RawImage } from '../../src/core/image/rawImage.ts';
import { Rng } from '../../src/core/samples/random.ts';

// A 7×6 gray test image and reference outputs produced by OpenCV 4.6 (cv2.warpAffine / cv2.remap) for it.
const SRC = [
  0, 37, 74, 111, 148, 185, 222, 8, 45, 82, 119, 156, 193, 230, 16, 53, 90, 127, 164, 201, 238, 24, 61, 98, 135, 172, 209, 246,
  32, 69, 106, 143, 180, 217, 3, 40, 77, 114, 151, 188, 225, 11,
];
const M = [1.051935231559339, 0.32160887519501047, -0.7206323202630486, -0.32160887519501047, 1.051935231559339, 0.5090209309070142];
const src8: RawImage = { width: 7, height: 6, channels: 1, data: Uint8Array.from(SRC) };
const srcF: FloatImage = { width: 7, height: 6, channels: 1, data: Float32Array.from(SRC, (v) => v / 255) };

function randomImage(w: number, h: number, c: number, seed: number): FloatImage {
  const r = new Rng(seed);
  return { width: w, height: h, channels: c, data: Float32Array.from({ length: w * h * c }, () => r.next()) };
}

describe('interpolation kernels', () => {
  it('cubic and Lanczos-4 weights sum to 1 and interpolate exactly at integer positions', () => {
    const w4 = new Float64Array(4);
    const w8 = new Float64Array(8);
    for (const x of [0, 0.1, 0.25, 0.5, 0.77, 0.99]) {
      cubicWeights(x, w4);
      lanczos4Weights(x, w8);
      expect(w4.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(w8.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
    cubicWeights(0, w4);
    expect(Array.from(w4)).toEqual([0, 1, 0, 0]);
    lanczos4Weights(0, w8);
    expect(Array.from(w8)).toEqual([0, 0, 0, 1, 0, 0, 0, 0]);
  });
  it('rounds halves to even like cvRound', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
  });
});

describe('affine helpers', () => {
  it('getRotationMatrix2D matches OpenCV', () => {
    const m = getRotationMatrix2D(3, 3, 17, 1.1);
    m[2] += 0.4;
    m[5] -= 0.3;
    for (let i = 0; i < 6; i++) expect(m[i]).toBeCloseTo(M[i], 12);
  });
  it('getAffineTransform solves three point pairs; inverse and composition agree', () => {
    const src = [1, 2, 10, 3, 4, 9];
    const dst = transformPoints(src, M);
    const m = getAffineTransform(src, dst);
    for (let i = 0; i < 6; i++) expect(m[i]).toBeCloseTo(M[i], 10);
    const id = composeAffine(invertAffine(M), M);
    [1, 0, 0, 0, 1, 0].forEach((v, i) => expect(id[i]).toBeCloseTo(v, 12));
  });
});

describe('warpAffine (cv2.warpAffine semantics)', () => {
  it('identity returns the input exactly, for every interpolation, float and 8-bit, 1 and 3 channels', () => {
    for (const c of [1, 3]) {
      const f = randomImage(23, 17, c, 5);
      const u: RawImage = { width: 23, height: 17, channels: c as 1 | 3, data: Uint8Array.from(f.data, (v) => Math.floor(v * 256)) };
      for (const interpolation of ['nearest', 'linear', 'cubic', 'lanczos4'] as const) {
        for (const border of ['constant', 'replicate'] as const) {
          expect(warpAffine(f, [1, 0, 0, 0, 1, 0], 23, 17, { interpolation, border }).data).toEqual(f.data);
          expect(warpAffine(u, [1, 0, 0, 0, 1, 0], 23, 17, { interpolation, border }).data).toEqual(u.data);
        }
      }
    }
  });

  it('integer translation shifts pixels; constant border fills 0, replicate repeats the edge', () => {
    const f = randomImage(10, 8, 1, 2);
    const c = warpAffine(f, [1, 0, 3, 0, 1, -2], 10, 8, { interpolation: 'cubic', border: 'constant' });
    const r = warpAffine(f, [1, 0, 3, 0, 1, -2], 10, 8, { interpolation: 'cubic', border: 'replicate' });
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 10; x++) {
        const sx = x - 3, sy = y + 2;
        const inside = sx >= 0 && sy < 8;
        expect(c.data[y * 10 + x]).toBeCloseTo(inside ? f.data[sy * 10 + sx] : 0, 6);
        const cx = Math.max(0, sx), cy = Math.min(7, sy);
        expect(r.data[y * 10 + x]).toBeCloseTo(f.data[cy * 10 + cx], 6);
      }
  });

  it('matches OpenCV 4.6 bit for bit on 8-bit images (Lanczos-4 replicate, bicubic constant)', () => {
    expect(Array.from(warpAffine(src8, M, 7, 6, { interpolation: 'lanczos4', border: 'replicate' }).data)).toEqual([
      25, 61, 94, 130, 163, 198, 223, 20, 59, 93, 126, 160, 194, 243, 18, 55, 89, 123, 159, 187, 221, 18, 51, 87, 120, 150, 203, 188,
      22, 46, 84, 119, 147, 188, 234, 30, 44, 82, 115, 150, 172, 241,
    ]);
    expect(Array.from(warpAffine(src8, M, 7, 6, { interpolation: 'cubic', border: 'constant' }).data)).toEqual([
      18, 59, 104, 140, 168, 200, 237, 21, 59, 95, 127, 159, 193, 255, 19, 55, 89, 122, 156, 188, 240, 18, 50, 85, 120, 155, 199, 187,
      14, 48, 83, 120, 161, 207, 255, 11, 52, 91, 122, 127, 102, 70,
    ]);
  });

  it('matches OpenCV 4.6 on float images (bicubic replicate)', () => {
    const ref = [
      0.093612, 0.231533, 0.369537, 0.508588, 0.646793, 0.780365, 0.910449, 0.075567, 0.229603, 0.370968, 0.498732, 0.625476, 0.756223,
      0.930737, 0.071244, 0.21714, 0.347773, 0.479003, 0.613077, 0.737033, 0.868699, 0.071444, 0.195043, 0.33188, 0.470023, 0.608579,
      0.781076, 0.732314, 0.086415, 0.177473, 0.326987, 0.468322, 0.606447, 0.733652, 0.917337, 0.117985, 0.175356, 0.321971, 0.45144,
      0.576163, 0.701798, 0.93823,
    ];
    const got = warpAffine(srcF, M, 7, 6, { interpolation: 'cubic', border: 'replicate' }).data;
    ref.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
  });

  it('inverseMap uses the matrix as destination → source', () => {
    const f = randomImage(16, 12, 3, 9);
    const a = warpAffine(f, M, 16, 12, { interpolation: 'linear' });
    const b = warpAffine(f, invertAffine(M), 16, 12, { interpolation: 'linear', inverseMap: true });
    for (let i = 0; i < a.data.length; i++) expect(b.data[i]).toBeCloseTo(a.data[i], 5);
  });

  it('a bright dot lands where the matrix sends its position (within 1 px), over random affine transforms', () => {
    const rng = new Rng(42);
    const S = 96;
    for (let t = 0; t < 30; t++) {
      const px = 20 + Math.floor(rng.next() * 56), py = 20 + Math.floor(rng.next() * 56);
      const img: FloatImage = { width: S, height: S, channels: 1, data: new Float32Array(S * S) };
      img.data[py * S + px] = 1;
      const m = getRotationMatrix2D(S / 2, S / 2, rng.uniform(-30, 30), rng.uniform(0.8, 1.3));
      m[2] += rng.uniform(-8, 8);
      m[5] += rng.uniform(-8, 8);
      for (const interpolation of ['linear', 'cubic'] as const) {
        const out = warpAffine(img, m, S, S, { interpolation, border: 'constant' }).data;
        let best = 0;
        for (let i = 1; i < out.length; i++) if (out[i] > out[best]) best = i;
        const [ex, ey] = transformPoints([px, py], m);
        expect(Math.abs((best % S) - ex)).toBeLessThanOrEqual(1);
        expect(Math.abs(Math.floor(best / S) - ey)).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe('remap (cv2.remap semantics)', () => {
  it('identity maps return the input; constant-0 border outside', () => {
    const f = randomImage(12, 9, 3, 4);
    const mx = new Float32Array(12 * 9), my = new Float32Array(12 * 9);
    for (let y = 0; y < 9; y++)
      for (let x = 0; x < 12; x++) {
        mx[y * 12 + x] = x;
        my[y * 12 + x] = y;
      }
    expect(remap(f, mx, my, 12, 9, { interpolation: 'cubic' }).data).toEqual(f.data);
    mx.fill(-5);
    expect(Array.from(remap(f, mx, my, 12, 9, { interpolation: 'linear' }).data).every((v) => v === 0)).toBe(true);
  });
  it('matches OpenCV 4.6 on a few scattered coordinates', () => {
    const mx = Float32Array.of(0.3, 1.7, 2.2, 4.9, -0.6, 3.33);
    const my = Float32Array.of(0.1, 2.5, 4.2, 1.1, 3.9, 5.6);
    const cub = remap(srcF, mx, my, 3, 2, { interpolation: 'cubic' }).data;
    [0.0396, 0.317439, 0.468156, 0.742276, 0.037308, 0.257893].forEach((v, i) => expect(cub[i]).toBeCloseTo(v, 5));
    expect(Array.from(remap(src8, mx, my, 3, 2, { interpolation: 'linear' }).data)).toEqual([12, 82, 114, 190, 13, 67]);
  });
});

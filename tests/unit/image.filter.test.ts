import { describe, expect, it } from 'vitest';
import { defaultGaussianSigma, dilate, ellipseKernel, gaussianBlur, gaussianKernel, reflect101 } from '../../src/core/image/filter.ts';
import { convexHull, fillConvexPoly, fillPoly } from '../../src/core/image/polygon.ts';
import type { FloatImage } from '../../src/core/image/rawImage.ts';
import { rgbToGray } from '../../src/core/image/jpegCodec.ts';

describe('gaussian kernel and blur (cv2.getGaussianKernel / cv2.GaussianBlur)', () => {
  it('kernels sum to 1 and follow the closed form exp(-(i-c)²/2σ²) for a given σ', () => {
    for (const [n, sigma] of [[11, 2], [17, 3.1], [5, 0.7], [33, 5]] as const) {
      const k = gaussianKernel(n, sigma);
      expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const c = (n - 1) / 2;
      const raw = Array.from({ length: n }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
      const s = raw.reduce((a, b) => a + b, 0);
      raw.forEach((v, i) => expect(k[i]).toBeCloseTo(v / s, 14));
    }
  });
  it('σ ≤ 0: fixed small kernels up to 9 taps, otherwise σ = 0.3·((n−1)/2 − 1) + 0.8', () => {
    expect(Array.from(gaussianKernel(3, 0))).toEqual([0.25, 0.5, 0.25]);
    expect(Array.from(gaussianKernel(9, 0))).toEqual([4, 13, 30, 51, 60, 51, 30, 13, 4].map((v) => v / 256));
    expect(defaultGaussianSigma(17)).toBeCloseTo(2.9, 12);
    const k = gaussianKernel(17, 0);
    const ref = gaussianKernel(17, 2.9);
    k.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 15));
  });
  it('blur preserves a constant image and the sum of an interior impulse; border is reflect-101', () => {
    const c: FloatImage = { width: 20, height: 15, channels: 2, data: new Float32Array(600).fill(0.3) };
    expect(gaussianBlur(c, 7, 5, 0).data.every((v) => Math.abs(v - 0.3) < 1e-6)).toBe(true);
    const d: FloatImage = { width: 31, height: 31, channels: 1, data: new Float32Array(31 * 31) };
    d.data[15 * 31 + 15] = 1;
    const b = gaussianBlur(d, 13, 13, 2).data;
    expect(b.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
    expect([reflect101(-1, 5), reflect101(-2, 5), reflect101(5, 5), reflect101(6, 5)]).toEqual([1, 2, 3, 2]);
  });
});

describe('ellipse element and dilation', () => {
  it('matches cv2.getStructuringElement(MORPH_ELLIPSE)', () => {
    expect(Array.from(ellipseKernel(8, 8).data)).toEqual([
      0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
      1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1,
    ]);
    expect(Array.from(ellipseKernel(5, 3).data)).toEqual([0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0]);
  });
  it('dilating a point stamps the element around it (anchor at the centre)', () => {
    const img: FloatImage = { width: 15, height: 15, channels: 1, data: new Float32Array(225) };
    img.data[7 * 15 + 7] = 1;
    const el = ellipseKernel(5, 5);
    const out = dilate(img, el).data;
    for (let y = 0; y < 15; y++)
      for (let x = 0; x < 15; x++) {
        const ey = 7 - y + 2, ex = 7 - x + 2; // reflected element
        const inEl = ey >= 0 && ey < 5 && ex >= 0 && ex < 5 && el.data[ey * 5 + ex] === 1;
        expect(out[y * 15 + x]).toBe(inEl ? 1 : 0);
      }
  });
});

describe('convex hull and polygon fill', () => {
  it('hull drops interior points', () => {
    const h = convexHull([0, 0, 10, 0, 10, 10, 0, 10, 5, 5, 3, 7]);
    expect(h.length).toBe(8);
    expect(h).not.toContain(5);
  });
  it('fillConvexPoly matches cv2.fillConvexPoly on a quadrilateral (edges included)', () => {
    const m = new Uint8Array(144);
    fillConvexPoly(m, 12, 12, [2, 1, 9, 3, 7, 10, 1, 8], 1);
    expect(Array.from(m)).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1,
      1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
      1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
  });
  it('a filled square covers exactly its closed pixel range; fillPoly agrees on a convex shape', () => {
    const a = new Float32Array(100), b = new Float32Array(100);
    fillConvexPoly(a, 10, 10, [2, 3, 7, 3, 7, 8, 2, 8], 1);
    fillPoly(b, 10, 10, [2, 3, 7, 3, 7, 8, 2, 8], 1);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) expect(a[y * 10 + x]).toBe(x >= 2 && x <= 7 && y >= 3 && y <= 8 ? 1 : 0);
    expect(b).toEqual(a);
  });
});

describe('gray conversion', () => {
  it("rgbToGray equals OpenCV's fixed-point BGR2GRAY", () => {
    const cases = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [12, 200, 77], [255, 255, 255], [1, 2, 3], [128, 64, 250]];
    expect(cases.map(([r, g, b]) => rgbToGray(r, g, b))).toEqual([76, 150, 29, 130, 255, 2, 104]);
    // and stays within rounding of 0.299 R + 0.587 G + 0.114 B
    for (let i = 0; i < 2000; i++) {
      const r = (i * 37) % 256, g = (i * 91) % 256, b = (i * 53) % 256;
      expect(Math.abs(rgbToGray(r, g, b) - (0.299 * r + 0.587 * g + 0.114 * b))).toBeLessThanOrEqual(0.5 + 1e-3);
    }
  });
});

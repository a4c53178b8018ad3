import { describe, expect, it } from 'vitest';
import type { FloatImage, RawImage } from '../../src/core/image/rawImage.ts';
import { resize, resizeLanczos4, resizeRaw, resizeWindow } from '../../src/core/image/resize.ts';

const SRC = [
  0, 37, 74, 111, 148, 185, 222, 8, 45, 82, 119, 156, 193, 230, 16, 53, 90, 127, 164, 201, 238, 24, 61, 98, 135, 172, 209, 246,
  32, 69, 106, 143, 180, 217, 3, 40, 77, 114, 151, 188, 225, 11,
];
const src8: RawImage = { width: 7, height: 6, channels: 1, data: Uint8Array.from(SRC) };
const srcF: FloatImage = { width: 7, height: 6, channels: 1, data: Float32Array.from(SRC, (v) => v / 255) };

/** OpenCV's pixel-centre mapping. */
const srcPos = (d: number, sn: number, dn: number) => (d + 0.5) * (sn / dn) - 0.5;

describe('resizeLanczos4 (cv2.INTER_LANCZOS4 on uint8)', () => {
  it('keeps a constant image constant, up and down, gray and colour', () => {
    for (const c of [1, 3] as const) {
      for (const v of [0, 1, 77, 128, 254, 255]) {
        const img: RawImage = { width: 40, height: 30, channels: c, data: new Uint8Array(40 * 30 * c).fill(v) };
        for (const [w, h] of [[17, 13], [64, 48], [40, 30], [192, 100]]) {
          const out = resizeLanczos4(img, w, h);
          expect(out.width).toBe(w);
          expect(out.height).toBe(h);
          expect(out.channels).toBe(c);
          expect(out.data.every((x) => x === v)).toBe(true);
        }
      }
    }
  });

  it('reproduces a linear ramp at interior pixels within 0.5/255 of the closed form', () => {
    // value = 2·x + 10 along x, constant along y. A 2× shrink samples at half-pixel positions, where the closed form
    // is an integer, so the 8-bit result must match it to within half a level.
    const sw = 100, sh = 8;
    const img: RawImage = { width: sw, height: sh, channels: 1, data: new Uint8Array(sw * sh) };
    for (let y = 0; y < sh; y++) for (let x = 0; x < sw; x++) img.data[y * sw + x] = 2 * x + 10;
    const half = resizeLanczos4(img, 50, 4);
    for (let x = 2; x < 48; x++) {
      const expected = 2 * srcPos(x, sw, 50) + 10;
      for (let y = 0; y < 4; y++) expect(Math.abs(half.data[y * 50 + x] - expected) / 255).toBeLessThanOrEqual(0.5 / 255);
    }
    // Arbitrary factors: the 8-bit result is the closed form up to rounding (one level at most), and the float path
    // (same kernel, no rounding) is within 0.5/255.
    const f: FloatImage = { width: sw, height: sh, channels: 1, data: Float32Array.from(img.data, (v) => v / 255) };
    for (const dw of [37, 64, 150]) {
      const out = resizeLanczos4(img, dw, 5);
      const outF = resize(f, dw, 5, 'lanczos4');
      for (let x = 0; x < dw; x++) {
        const sx = srcPos(x, sw, dw);
        if (sx < 4 || sx > sw - 5) continue; // the 8-tap kernel reaches the replicated border
        const expected = 2 * sx + 10;
        for (let y = 0; y < 5; y++) {
          expect(Math.abs(out.data[y * dw + x] - expected)).toBeLessThanOrEqual(1);
          expect(Math.abs(outF.data[y * dw + x] - expected / 255)).toBeLessThanOrEqual(0.5 / 255);
        }
      }
    }
  });

  it('matches OpenCV 4.6 bit for bit (down and up)', () => {
    expect(Array.from(resizeLanczos4(src8, 5, 4).data)).toEqual([6, 62, 112, 163, 219, 19, 74, 125, 177, 222, 31, 86, 137, 193, 197, 44, 99, 150, 228, 33]);
    expect(Array.from(resizeLanczos4(src8, 11, 9).data)).toEqual([
      0, 13, 41, 64, 87, 111, 134, 157, 180, 208, 224, 1, 17, 44, 68, 90, 114, 138, 161, 184, 213, 231, 7, 23, 51, 74, 97, 121, 144, 168,
      191, 215, 229, 12, 28, 56, 79, 102, 126, 149, 173, 196, 219, 231, 17, 34, 61, 84, 107, 131, 156, 175, 199, 244, 255, 23, 39, 66,
      90, 113, 136, 158, 185, 208, 215, 213, 28, 44, 72, 95, 119, 141, 155, 203, 223, 119, 18, 34, 50, 78, 101, 126, 148, 158, 214, 233,
      89, 0, 38, 54, 82, 105, 130, 152, 164, 215, 235, 114, 0,
    ]);
  });
});

describe('resize (float, cv2.resize semantics)', () => {
  it('same size is a copy', () => {
    const out = resize(srcF, 7, 6, 'lanczos4');
    expect(out.data).toEqual(srcF.data);
    expect(out.data).not.toBe(srcF.data);
  });
  it('linear: pixel-centre mapping with clamping at the edges', () => {
    const img: FloatImage = { width: 4, height: 1, channels: 1, data: Float32Array.of(0, 1, 2, 3) };
    const out = resize(img, 8, 1, 'linear').data;
    const exp = Array.from({ length: 8 }, (_, x) => Math.min(3, Math.max(0, srcPos(x, 4, 8))));
    exp.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });
  it('area averages whole blocks for integer factors and matches OpenCV for a fractional one', () => {
    const img: FloatImage = { width: 4, height: 2, channels: 1, data: Float32Array.of(1, 3, 5, 7, 3, 5, 7, 9) };
    expect(Array.from(resize(img, 2, 1, 'area').data)).toEqual([3, 7]);
    const a = resize(srcF, 3, 2, 'area').data;
    [0.135014, 0.466667, 0.798319, 0.229132, 0.560784, 0.611205].forEach((v, i) => expect(a[i]).toBeCloseTo(v, 5));
  });
  it('cubic matches OpenCV 4.6 (first row of a 10×8 upscale, overshoot kept)', () => {
    const r = resize(srcF, 10, 8, 'cubic').data;
    [-0.014046, 0.063636, 0.185922, 0.277588, 0.377307, 0.488778, 0.588497, 0.680162, 0.802448, 0.88013].forEach((v, i) =>
      expect(r[i]).toBeCloseTo(v, 5),
    );
  });
  it('resizeWindow equals a crop of the full resize', () => {
    const full = resize(srcF, 30, 25, 'linear');
    const win = resizeWindow(srcF, 30, 25, 4, 3, 20, 18, 'linear');
    for (let y = 0; y < 18; y++) for (let x = 0; x < 20; x++) expect(win.data[y * 20 + x]).toBe(full.data[(y + 3) * 30 + x + 4]);
  });
  it('8-bit bicubic and area paths stay within one level of the float path', () => {
    for (const kind of ['cubic', 'area', 'linear'] as const) {
      const a = resizeRaw(src8, 13, 5, kind).data;
      const f = resize({ ...srcF, data: Float32Array.from(SRC) }, 13, 5, kind).data;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - Math.min(255, Math.max(0, f[i])))).toBeLessThanOrEqual(1);
    }
  });
});

/**
 * Gaussian blur and dilation with OpenCV's conventions, on float images:
 * * `gaussianKernel(n, sigma)` = cv2.getGaussianKernel: for sigma ≤ 0 and n ∈ {1, 3, 5, 7, 9} OpenCV's fixed
 *   kernels (the 9-tap one as in OpenCV 4.x), otherwise exp(−(i − (n−1)/2)² / (2σ²)) normalised to sum 1, with σ = 0.3·((n−1)/2 − 1) + 0.8 when σ ≤ 0;
 * * `gaussianBlur` = cv2.GaussianBlur (separable, border BORDER_REFLECT_101, kernel size from σ when 0);
 * * `ellipseKernel` = cv2.getStructuringElement(MORPH_ELLIPSE, …), `dilate` = cv2.dilate (anchor at the centre,
 *   pixels outside the image ignored).
 */
import type { FloatImage } from './rawImage.ts';
import { roundHalfEven } from './interp.ts';

const SMALL_GAUSSIAN: Record<number, number[]> = {
  1: [1],
  3: [0.25, 0.5, 0.25],
  5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
  7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
  9: [4 / 256, 13 / 256, 30 / 256, 51 / 256, 60 / 256, 51 / 256, 30 / 256, 13 / 256, 4 / 256],
};

/** The σ OpenCV derives from a kernel size when σ ≤ 0. */
export function defaultGaussianSigma(n: number): number {
  return 0.3 * ((n - 1) * 0.5 - 1) + 0.8;
}

export function gaussianKernel(n: number, sigma: number): Float64Array {
  if (!(n >= 1) || n % 2 !== 1) throw new RangeError(`gaussianKernel: size must be odd and positive (${n})`);
  const fixed = SMALL_GAUSSIAN[n];
  if (sigma <= 0 && fixed) return Float64Array.from(fixed);
  const s = sigma > 0 ? sigma : defaultGaussianSigma(n);
  const k = new Float64Array(n);
  const scale2 = -0.5 / (s * s);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = i - (n - 1) * 0.5;
    k[i] = Math.exp(scale2 * x * x);
    sum += k[i];
  }
  for (let i = 0; i < n; i++) k[i] /= sum;
  return k;
}

/** BORDER_REFLECT_101 index (…2 1 | 0 1 2 … n−1 | n−2 …). */
export function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * n - 2 - i;
  }
  return i;
}

/**
 * cv2.GaussianBlur(img, (kw, kh), sigmaX, sigmaY). A kernel size of 0 is derived from σ as OpenCV does for float
 * images: round(σ·4·2 + 1) | 1. sigmaY = 0 means sigmaY = sigmaX.
 */
export function gaussianBlur(img: FloatImage, kw: number, kh: number, sigmaX: number, sigmaY = 0): FloatImage {
  if (sigmaY <= 0) sigmaY = sigmaX;
  if (kw <= 0 && sigmaX > 0) kw = roundHalfEven(sigmaX * 4 * 2 + 1) | 1;
  if (kh <= 0 && sigmaY > 0) kh = roundHalfEven(sigmaY * 4 * 2 + 1) | 1;
  const kx = gaussianKernel(kw, sigmaX);
  const ky = gaussianKernel(kh, sigmaY);
  return sepFilter(img, kx, ky);
}

/** Separable correlation with BORDER_REFLECT_101 (both kernels odd, anchored at the centre). */
export function sepFilter(img: FloatImage, kx: ArrayLike<number>, ky: ArrayLike<number>): FloatImage {
  const { width: w, height: h, channels: C } = img;
  const src = img.data;
  const rx = (kx.length - 1) >> 1;
  const ry = (ky.length - 1) >> 1;
  const xi = new Int32Array(w + 2 * rx);
  for (let i = 0; i < xi.length; i++) xi[i] = reflect101(i - rx, w);
  const tmp = new Float32Array(w * h * C);
  for (let y = 0; y < h; y++) {
    const row = y * w * C;
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let k = 0; k < kx.length; k++) s += kx[k] * src[row + xi[x + k] * C + c];
        tmp[row + x * C + c] = s;
      }
    }
  }
  const out = new Float32Array(w * h * C);
  const rowLen = w * C;
  for (let y = 0; y < h; y++) {
    const orow = y * rowLen;
    for (let k = 0; k < ky.length; k++) {
      const wk = ky[k];
      const trow = reflect101(y + k - ry, h) * rowLen;
      for (let i = 0; i < rowLen; i++) out[orow + i] += wk * tmp[trow + i];
    }
  }
  return { width: w, height: h, channels: C, data: out };
}

/** A structuring element: `data[y·w + x]` = 1 where the element is set; the anchor is (⌊w/2⌋, ⌊h/2⌋). */
export interface StructuringElement {
  width: number;
  height: number;
  data: Uint8Array;
}

/** cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (w, h)). */
export function ellipseKernel(w: number, h: number): StructuringElement {
  const data = new Uint8Array(w * h);
  const r = h >> 1;
  const c = w >> 1;
  const invR2 = r ? 1 / (r * r) : 0;
  for (let i = 0; i < h; i++) {
    const dy = i - r;
    if (Math.abs(dy) > r) continue;
    const dx = roundHalfEven(c * Math.sqrt((r * r - dy * dy) * invR2));
    const j1 = Math.max(c - dx, 0);
    const j2 = Math.min(c + dx + 1, w);
    for (let j = j1; j < j2; j++) data[i * w + j] = 1;
  }
  return { width: w, height: h, data };
}

/**
 * cv2.dilate(img, kernel, iterations=1) for a 1-channel float image: the maximum over the element's pixels, anchored
 * at the element's centre; pixels outside the image do not take part. An empty element (size 0) is OpenCV's default
 * 3×3 rectangle.
 */
export function dilate(img: FloatImage, el: StructuringElement): FloatImage {
  if (img.channels !== 1) throw new RangeError('dilate: 1-channel images only');
  if (el.width <= 0 || el.height <= 0) el = { width: 3, height: 3, data: new Uint8Array(9).fill(1) };
  const { width: w, height: h } = img;
  const ax = el.width >> 1;
  const ay = el.height >> 1;
  // per element row: the contiguous span [j1, j2) (ellipses and rectangles are convex along rows)
  const spans: Array<[number, number, number]> = [];
  for (let i = 0; i < el.height; i++) {
    let j1 = -1, j2 = -1;
    for (let j = 0; j < el.width; j++) {
      if (el.data[i * el.width + j]) {
        if (j1 < 0) j1 = j;
        j2 = j + 1;
      }
    }
    if (j1 >= 0) spans.push([i - ay, j1 - ax, j2 - ax]);
  }
  const src = img.data;
  const out = new Float32Array(w * h).fill(-Infinity);
  // Running max over each row span, for every offset row: O(w·h·Σspan) but kernels are small.
  for (const [dy, x0, x1] of spans) {
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= h) continue;
      const srow = sy * w;
      const orow = y * w;
      for (let x = 0; x < w; x++) {
        const a = Math.max(0, x + x0);
        const b = Math.min(w, x + x1);
        let m = out[orow + x];
        for (let sx = a; sx < b; sx++) if (src[srow + sx] > m) m = src[srow + sx];
        out[orow + x] = m;
      }
    }
  }
  for (let i = 0; i < out.length; i++) if (out[i] === -Infinity) out[i] = src[i];
  return { width: w, height: h, channels: 1, data: out };
}

/**
 * cv2.resize semantics on float and 8-bit images:
 * * pixel-centre mapping: source x = (dx + 0.5)·(srcW/dstW) − 0.5;
 * * 'linear', 'cubic' (a = −0.75) and 'lanczos4' (8 taps) evaluate the kernel at the exact fraction with no
 *   antialiasing when shrinking; out-of-range taps repeat the edge pixel; 'linear' clamps the position to the image;
 * * 'area' averages the covered source area when shrinking on both axes and otherwise behaves like OpenCV's
 *   INTER_AREA upscale (a linear kernel with OpenCV's modified fraction);
 * * the same size returns a copy.
 * 8-bit images go through OpenCV's fixed-point path (weights scaled by 2^11 and rounded, the horizontal pass kept in
 * integers, the vertical pass rounded by adding 2^21 and shifting by 22), so `resizeLanczos4` reproduces
 * cv2.resize(..., INTER_LANCZOS4) on uint8 faces, which is what the faceset resizer writes (spec §I.3).
 */
import type { FloatImage, RawImage } from './rawImage.ts';
import { type Interpolation, kernelSize, kernelWeights, roundHalfEven } from './interp.ts';

export type ResizeInterpolation = Interpolation | 'area';

interface AxisTaps {
  /** Taps per output position (the longest for 'area'). */
  k: number;
  /** Source index of each tap (already clamped), n·k. */
  idx: Int32Array;
  /** Weight of each tap (float32 like OpenCV's float path), n·k. */
  w: Float32Array;
}

const f32 = new Float32Array(1);
function fround(v: number): number {
  f32[0] = v;
  return f32[0];
}

/** Tap indices and weights along one axis, following cv::resize. */
function axisTaps(src: number, dst: number, kind: ResizeInterpolation, areaDown: boolean): AxisTaps {
  const inv = dst / src;
  const scale = 1 / inv;
  if (kind === 'area' && areaDown) return areaTaps(src, dst, scale);
  const interp: Interpolation = kind === 'area' ? 'linear' : kind;
  const ks = kernelSize(interp);
  const idx = new Int32Array(dst * ks);
  const w = new Float32Array(dst * ks);
  const cb = new Float64Array(ks);
  for (let d = 0; d < dst; d++) {
    let sx: number;
    let fx: number;
    if (interp === 'nearest') {
      // OpenCV's INTER_NEAREST: floor(dx · scale)
      sx = Math.min(Math.floor(d * scale), src - 1);
      idx[d] = sx;
      w[d] = 1;
      continue;
    }
    if (kind === 'area') {
      sx = Math.floor(d * scale);
      fx = fround(d + 1 - (sx + 1) * inv);
      fx = fx <= 0 ? 0 : fx - Math.floor(fx);
    } else {
      fx = fround((d + 0.5) * scale - 0.5);
      sx = Math.floor(fx);
      fx = fround(fx - sx);
    }
    if (interp === 'linear') {
      if (sx < 0) (fx = 0), (sx = 0);
      if (sx >= src - 1) (fx = 0), (sx = src - 1);
    }
    kernelWeights(interp, fx, cb);
    const back = ks / 2 - 1;
    for (let k = 0; k < ks; k++) {
      let s = sx - back + k;
      s = s < 0 ? 0 : s >= src ? src - 1 : s;
      idx[d * ks + k] = s;
      w[d * ks + k] = cb[k];
    }
  }
  return { k: ks, idx, w };
}

/** INTER_AREA shrink: each output pixel averages the source interval [d·scale, (d+1)·scale), weighted by coverage. */
function areaTaps(src: number, dst: number, scale: number): AxisTaps {
  const lists: Array<Array<[number, number]>> = [];
  let k = 1;
  for (let d = 0; d < dst; d++) {
    const fs1 = d * scale;
    const fs2 = fs1 + scale;
    const cell = Math.min(scale, src - fs1);
    let s1 = Math.ceil(fs1);
    let s2 = Math.floor(fs2);
    s2 = Math.min(s2, src - 1);
    s1 = Math.min(s1, s2);
    const l: Array<[number, number]> = [];
    if (s1 - fs1 > 1e-3) l.push([s1 - 1, (s1 - fs1) / cell]);
    for (let s = s1; s < s2; s++) l.push([s, 1 / cell]);
    if (fs2 - s2 > 1e-3) l.push([s2, Math.min(Math.min(fs2 - s2, 1), cell) / cell]);
    lists.push(l);
    k = Math.max(k, l.length);
  }
  const idx = new Int32Array(dst * k);
  const w = new Float32Array(dst * k);
  for (let d = 0; d < dst; d++) {
    const l = lists[d];
    for (let t = 0; t < k; t++) {
      idx[d * k + t] = t < l.length ? l[t][0] : l[0][0];
      w[d * k + t] = t < l.length ? l[t][1] : 0;
    }
  }
  return { k, idx, w };
}

function tapsFor(sw: number, sh: number, dw: number, dh: number, kind: ResizeInterpolation): [AxisTaps, AxisTaps] {
  const areaDown = kind === 'area' && sw >= dw && sh >= dh;
  return [axisTaps(sw, dw, kind, areaDown), axisTaps(sh, dh, kind, areaDown)];
}

/** Resize a float image (any channel count). */
export function resize(img: FloatImage, dw: number, dh: number, kind: ResizeInterpolation = 'linear'): FloatImage {
  if (img.width === dw && img.height === dh) return { width: dw, height: dh, channels: img.channels, data: img.data.slice() };
  return resizeWindow(img, dw, dh, 0, 0, dw, dh, kind);
}

/**
 * The window [x0, x0 + w) × [y0, y0 + h) of `resize(img, dw, dh, kind)`, computed without the rest (the random-warp
 * grid of spec §D.4 is resized to (w + cell)² and then cropped).
 */
export function resizeWindow(
  img: FloatImage,
  dw: number,
  dh: number,
  x0: number,
  y0: number,
  w: number,
  h: number,
  kind: ResizeInterpolation = 'linear',
): FloatImage {
  const { width: sw, height: sh, channels: C } = img;
  if (dw <= 0 || dh <= 0) throw new RangeError(`resize: bad size ${dw}x${dh}`);
  if (x0 < 0 || y0 < 0 || x0 + w > dw || y0 + h > dh) throw new RangeError('resizeWindow: window outside the output');
  const [tx, ty] = tapsFor(sw, sh, dw, dh, kind);
  const src = img.data;
  // source rows needed by the window
  const ky = ty.k;
  let r0 = sh, r1 = -1;
  for (let y = y0; y < y0 + h; y++)
    for (let k = 0; k < ky; k++) {
      if (ty.w[y * ky + k] === 0) continue;
      r0 = Math.min(r0, ty.idx[y * ky + k]);
      r1 = Math.max(r1, ty.idx[y * ky + k]);
    }
  const rowLen = w * C;
  const tmp = new Float32Array(Math.max(0, r1 - r0 + 1) * rowLen);
  const kx = tx.k;
  for (let y = r0; y <= r1; y++) {
    const srow = y * sw * C;
    const trow = (y - r0) * rowLen;
    for (let x = 0; x < w; x++) {
      const t0 = (x + x0) * kx;
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let k = 0; k < kx; k++) s += tx.w[t0 + k] * src[srow + tx.idx[t0 + k] * C + c];
        tmp[trow + x * C + c] = s;
      }
    }
  }
  const out = new Float32Array(w * h * C);
  for (let y = 0; y < h; y++) {
    const t0 = (y + y0) * ky;
    const orow = y * rowLen;
    for (let k = 0; k < ky; k++) {
      const wk = ty.w[t0 + k];
      if (wk === 0) continue;
      const trow = (ty.idx[t0 + k] - r0) * rowLen;
      for (let i = 0; i < rowLen; i++) out[orow + i] += wk * tmp[trow + i];
    }
  }
  return { width: w, height: h, channels: C, data: out };
}

const RESIZE_COEF_BITS = 11;
const RESIZE_COEF_SCALE = 1 << RESIZE_COEF_BITS;

/**
 * Resize an 8-bit image. 'linear', 'cubic' and 'lanczos4' use OpenCV's fixed-point arithmetic (weights ×2^11,
 * rounded); 'area' and 'nearest' go through exact float/copy paths and are rounded at the end.
 */
export function resizeRaw(img: RawImage, dw: number, dh: number, kind: ResizeInterpolation = 'linear'): RawImage {
  const { width: sw, height: sh, channels: C } = img;
  if (dw <= 0 || dh <= 0) throw new RangeError(`resize: bad size ${dw}x${dh}`);
  if (sw === dw && sh === dh) return { width: dw, height: dh, channels: C, data: img.data.slice() };
  if (kind === 'area') {
    const f = resize({ width: sw, height: sh, channels: C, data: Float32Array.from(img.data) }, dw, dh, 'area');
    const out = new Uint8Array(f.data.length);
    for (let i = 0; i < out.length; i++) {
      const v = roundHalfEven(f.data[i]);
      out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return { width: dw, height: dh, channels: C, data: out };
  }
  const [tx, ty] = tapsFor(sw, sh, dw, dh, kind);
  const quant = (w: Float32Array): Int32Array => {
    const q = new Int32Array(w.length);
    for (let i = 0; i < w.length; i++) q[i] = roundHalfEven(fround(w[i] * RESIZE_COEF_SCALE));
    return q;
  };
  if (kind === 'nearest') {
    const out = new Uint8Array(dw * dh * C);
    for (let y = 0; y < dh; y++)
      for (let x = 0; x < dw; x++)
        for (let c = 0; c < C; c++) out[(y * dw + x) * C + c] = img.data[(ty.idx[y] * sw + tx.idx[x]) * C + c];
    return { width: dw, height: dh, channels: C, data: out };
  }
  const ax = quant(tx.w);
  const ay = quant(ty.w);
  const src = img.data;
  const kx = tx.k;
  const tmp = new Int32Array(sh * dw * C);
  for (let y = 0; y < sh; y++) {
    const srow = y * sw * C;
    const trow = y * dw * C;
    for (let x = 0; x < dw; x++) {
      const t0 = x * kx;
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let k = 0; k < kx; k++) s += ax[t0 + k] * src[srow + tx.idx[t0 + k] * C + c];
        tmp[trow + x * C + c] = s;
      }
    }
  }
  const out = new Uint8Array(dw * dh * C);
  const ky = ty.k;
  const rowLen = dw * C;
  const acc = new Float64Array(rowLen);
  const shift = 2 * RESIZE_COEF_BITS;
  const half = 2 ** (shift - 1);
  const div = 2 ** shift;
  for (let y = 0; y < dh; y++) {
    acc.fill(0);
    const t0 = y * ky;
    for (let k = 0; k < ky; k++) {
      const wk = ay[t0 + k];
      if (wk === 0) continue;
      const trow = ty.idx[t0 + k] * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += wk * tmp[trow + i];
    }
    const orow = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const v = Math.floor((acc[i] + half) / div);
      out[orow + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width: dw, height: dh, channels: C, data: out };
}

/**
 * cv2.resize(img, (w, h), interpolation=cv2.INTER_LANCZOS4) on an 8-bit image: pixel-centre mapping, 8 taps, no
 * antialiasing, OpenCV's fixed-point rounding (the faceset resizer's resampling, spec §I.3).
 */
export function resizeLanczos4(img: RawImage, w: number, h: number): RawImage {
  return resizeRaw(img, w, h, 'lanczos4');
}

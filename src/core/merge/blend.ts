/**
 * Blending the warped face into the frame (spec §F.3 step 9): the overlay blend, OpenCV's `seamlessClone`
 * (NORMAL_CLONE, a Poisson solve) used by the seamless modes, and the pieces of the one-channel paths of §F.4 —
 * gray conversion of colour frames and this port's luma-only overlay (replace the frame's luminance, keep its chroma).
 * Every function works on a window of the frame; nothing allocates per pixel.
 */
import type { FloatImage } from '../image/rawImage.ts';
import type { MaskWindow, Rect } from './masks.ts';

/** BT.601 luma weights (OpenCV's RGB→GRAY and JPEG's Y), the gray SAEHDBW decodes frames to (spec §F.4, §I.1). */
export const LUMA_R = 0.299;
export const LUMA_G = 0.587;
export const LUMA_B = 0.114;

/** A 3-channel RGB (or 1-channel) float image to 1-channel luma Y = 0.299 R + 0.587 G + 0.114 B. */
export function toGray(img: FloatImage): FloatImage {
  const P = img.width * img.height;
  if (img.channels === 1) return { ...img, data: img.data.slice() };
  if (img.channels < 3) throw new RangeError(`toGray: ${img.channels}-channel image`);
  const C = img.channels, s = img.data;
  const out = new Float32Array(P);
  for (let i = 0; i < P; i++) out[i] = LUMA_R * s[i * C] + LUMA_G * s[i * C + 1] + LUMA_B * s[i * C + 2];
  return { width: img.width, height: img.height, channels: 1, data: out };
}

/** Replicate a 1-channel image to 3 channels (DFL's `normalize_channels(…, 3)`; SAEHDBW's output, §F.4). */
export function grayTo3(img: FloatImage): FloatImage {
  if (img.channels !== 1) throw new RangeError('grayTo3: 1-channel image expected');
  const P = img.width * img.height;
  const out = new Float32Array(P * 3);
  for (let i = 0; i < P; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = img.data[i];
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Copy the window `r` of a frame-sized image into a new image. */
export function cropWindow(img: FloatImage, r: Rect): FloatImage {
  const C = img.channels, w = r.x1 - r.x0, h = r.y1 - r.y0;
  const out = new Float32Array(w * h * C);
  for (let y = 0; y < h; y++) {
    const s = ((y + r.y0) * img.width + r.x0) * C;
    out.set(img.data.subarray(s, s + w * C), y * w * C);
  }
  return { width: w, height: h, channels: C, data: out };
}

/**
 * Overlay blend (spec §F.3 step 9g) in place on `out` (a frame-sized image): inside the mask window,
 * out = base·(1 − m) + face·m, then clipped to [0,1]; `face` is the warped face for the window (same channel count).
 * Pixels with m = 0 get exactly `base`.
 */
export function overlayBlend(out: FloatImage, base: FloatImage, face: FloatImage, fm: MaskWindow): void {
  const C = out.channels, W = out.width;
  const m = fm.mask, w = m.width, h = m.height;
  if (face.width !== w || face.height !== h || face.channels !== C || base.channels !== C)
    throw new RangeError('overlayBlend: window sizes or channel counts differ');
  const o = out.data, b = base.data, f = face.data, md = m.data;
  for (let y = 0; y < h; y++) {
    const frow = (y + fm.y) * W + fm.x;
    for (let x = 0; x < w; x++) {
      const a = md[y * w + x];
      const po = (frow + x) * C, pf = (y * w + x) * C;
      if (a === 0) {
        for (let c = 0; c < C; c++) o[po + c] = b[po + c];
        continue;
      }
      for (let c = 0; c < C; c++) {
        const v = b[po + c] * (1 - a) + f[pf + c] * a;
        o[po + c] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
}

/**
 * Luma-only overlay (this port's addition for one-channel models on colour frames, issue 6): inside `win`, the RGB
 * frame `out` gets the luminance change Y_new − Y_old added to all three channels. The Cb and Cr rows of the
 * BT.601 YCbCr matrix sum to zero, so adding one value to R, G and B changes Y by that value and leaves Cb and Cr
 * unchanged (exactly, unless a channel has to be clipped to [0,1]). `grayOld` / `grayNew` are frame-sized
 * 1-channel images; only the window is read.
 */
export function lumaTransfer(out: FloatImage, grayOld: FloatImage, grayNew: FloatImage, win: Rect): void {
  if (out.channels < 3) throw new RangeError('lumaTransfer: colour frame expected');
  const C = out.channels, W = out.width, o = out.data;
  const g0 = grayOld.data, g1 = grayNew.data;
  for (let y = win.y0; y < win.y1; y++)
    for (let x = win.x0; x < win.x1; x++) {
      const i = y * W + x;
      const d = g1[i] - g0[i];
      if (d === 0) continue;
      for (let c = 0; c < 3; c++) {
        const v = o[i * C + c] + d;
        o[i * C + c] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
}

// ---- seamless clone ----------------------------------------------------------------------------------------------

/** DST-I basis sin(π·(j + 1)·(k + 1)/(n + 1)), n×n row-major. */
function dstMatrix(n: number): Float64Array {
  const s = new Float64Array(n * n);
  for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) s[j * n + k] = Math.sin((Math.PI * (j + 1) * (k + 1)) / (n + 1));
  return s;
}

/** rows×n data (row-major) times the symmetric n×n matrix S, into `out`. */
function rowTransform(data: Float64Array, rows: number, n: number, S: Float64Array, out: Float64Array): void {
  out.fill(0);
  for (let y = 0; y < rows; y++) {
    const r = y * n;
    for (let j = 0; j < n; j++) {
      const v = data[r + j];
      if (v === 0) continue;
      const sj = j * n;
      for (let k = 0; k < n; k++) out[r + k] += v * S[sj + k];
    }
  }
}

/** S (rows×rows, symmetric) times rows×n data, into `out`. */
function colTransform(data: Float64Array, rows: number, n: number, S: Float64Array, out: Float64Array): void {
  out.fill(0);
  for (let y = 0; y < rows; y++) {
    const r = y * n;
    for (let l = 0; l < rows; l++) {
      const s = S[y * rows + l];
      const o = l * n;
      for (let k = 0; k < n; k++) out[o + k] += s * data[r + k];
    }
  }
}

export interface SeamlessOptions {
  /**
   * Which window edges are frame edges: OpenCV zeroes the outermost 1-pixel ring of the (frame-sized) mask, so a
   * mask touching the frame border loses that pixel row/column.
   */
  frameEdges?: { left: boolean; top: boolean; right: boolean; bottom: boolean };
}

/**
 * `cv2.seamlessClone(src, dst, mask, centre of the mask's bounding box, NORMAL_CLONE)` on a window, as DFL calls it
 * (spec §F.3 step 9f): 8-bit inputs (src truncated from float ×255, dst rounded — it is the decoded frame), the mask's
 * bounding rectangle as the region; inside it the guidance field is the source gradient where the mask (eroded by a
 * 7×7 square: three 3×3 iterations) is set and the destination gradient elsewhere (forward differences,
 * BORDER_REFLECT_101); the Poisson equation Δf = div(guidance) is solved exactly with the rectangle's border fixed
 * to the destination (discrete sine transforms, as OpenCV's solver), rounded to 8 bits.
 * `src`, `dst`: window images with the same size and channels; `mask`: 1-channel, > 0 = inside. Returns a new image.
 */
export function seamlessClone(src: FloatImage, dst: FloatImage, mask: FloatImage, opts: SeamlessOptions = {}): FloatImage {
  const { width: W, height: H, channels: C } = dst;
  if (src.width !== W || src.height !== H || src.channels !== C || mask.width !== W || mask.height !== H)
    throw new RangeError('seamlessClone: sizes differ');
  const out = dst.data.slice();
  const result: FloatImage = { width: W, height: H, channels: C, data: out };
  // binary mask with OpenCV's outer ring zeroed where the window edge is a frame edge
  const bin = new Uint8Array(W * H);
  for (let i = 0; i < bin.length; i++) bin[i] = mask.data[i] > 0 ? 1 : 0;
  const fe = opts.frameEdges;
  if (fe) {
    for (let y = 0; y < H; y++) {
      if (fe.left) bin[y * W] = 0;
      if (fe.right) bin[y * W + W - 1] = 0;
    }
    for (let x = 0; x < W; x++) {
      if (fe.top) bin[x] = 0;
      if (fe.bottom) bin[(H - 1) * W + x] = 0;
    }
  }
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      if (bin[y * W + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
  if (x1 < 0) return result;
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const nx = w - 2, ny = h - 2;
  if (nx <= 0 || ny <= 0) return result;
  // eroded mask: 7×7 square minimum with pixels outside the rectangle ignored
  const er = new Float32Array(w * h), tmpE = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let v = 1;
      for (let k = Math.max(0, x - 3); k <= Math.min(w - 1, x + 3); k++) if (!bin[(y + y0) * W + k + x0]) v = 0;
      tmpE[y * w + x] = v;
    }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let v = 1;
      for (let k = Math.max(0, y - 3); k <= Math.min(h - 1, y + 3); k++) if (!tmpE[k * w + x]) v = 0;
      er[y * w + x] = v;
    }
  const Sx = dstMatrix(nx), Sy = dstMatrix(ny);
  const I = new Float64Array(w * h), Pt = new Float64Array(w * h);
  const gx = new Float64Array(w * h), gy = new Float64Array(w * h);
  const rhs = new Float64Array(nx * ny), t1 = new Float64Array(nx * ny), t2 = new Float64Array(nx * ny);
  const r101 = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const p = ((y + y0) * W + x + x0) * C + c;
        I[y * w + x] = Math.round(dst.data[p] * 255);
        const s = src.data[p] * 255;
        Pt[y * w + x] = bin[(y + y0) * W + x + x0] ? (s <= 0 ? 0 : s >= 255 ? 255 : Math.trunc(s)) : 0;
      }
    // mixed guidance field (forward differences)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const xr = y * w + r101(x + 1, w), yd = r101(y + 1, h) * w + x;
        const m = er[i];
        gx[i] = (I[xr] - I[i]) * (1 - m) + (Pt[xr] - Pt[i]) * m;
        gy[i] = (I[yd] - I[i]) * (1 - m) + (Pt[yd] - Pt[i]) * m;
      }
    // divergence (backward differences) minus the fixed border's contribution, on the interior
    for (let y = 1; y <= ny; y++)
      for (let x = 1; x <= nx; x++) {
        const i = y * w + x;
        let v = gx[i] - gx[y * w + x - 1] + gy[i] - gy[(y - 1) * w + x];
        if (x === 1) v -= I[i - 1];
        if (x === nx) v -= I[i + 1];
        if (y === 1) v -= I[i - w];
        if (y === ny) v -= I[i + w];
        rhs[(y - 1) * nx + x - 1] = v;
      }
    rowTransform(rhs, ny, nx, Sx, t1);
    colTransform(t1, ny, nx, Sy, t2);
    for (let l = 0; l < ny; l++) {
      const ey = 2 * Math.cos((Math.PI * (l + 1)) / (ny + 1));
      for (let k = 0; k < nx; k++) t2[l * nx + k] /= 2 * Math.cos((Math.PI * (k + 1)) / (nx + 1)) + ey - 4;
    }
    rowTransform(t2, ny, nx, Sx, t1);
    colTransform(t1, ny, nx, Sy, t2);
    const scale = (2 / (nx + 1)) * (2 / (ny + 1));
    for (let y = 1; y <= ny; y++)
      for (let x = 1; x <= nx; x++) {
        let v = Math.round(t2[(y - 1) * nx + x - 1] * scale);
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        out[((y + y0) * W + x + x0) * C + c] = v / 255;
      }
  }
  return result;
}

/**
 * Step 9d: the seamless mask — the smallest i in 1…9 for which some frame-mask pixel exceeds i/10, binarised at
 * i/10 (1 above, 0 otherwise); null when the mask never exceeds 0.1.
 */
export function seamlessMask(fm: MaskWindow): FloatImage | null {
  const d = fm.mask.data;
  let max = 0;
  for (let i = 0; i < d.length; i++) if (d[i] > max) max = d[i];
  for (let i = 1; i <= 9; i++) {
    const t = i / 10;
    if (max > t) {
      const out = new Float32Array(d.length);
      for (let k = 0; k < d.length; k++) out[k] = d[k] > t ? 1 : 0;
      return { width: fm.mask.width, height: fm.mask.height, channels: 1, data: out };
    }
  }
  return null;
}

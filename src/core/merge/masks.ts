/**
 * The merger's mask pipeline (spec §F.3 steps 3, 5–8): the working mask chosen by the mask mode at the output size O,
 * noise removal, resizing to the mask working size U = 4·S, erode/dilate and blur in U-space pixels (so the effect in
 * frame pixels scales with face size / U, as DFL's does), and the warp back into the frame.
 *
 * DFL pads the U×U mask by S zeros on every side, erodes or dilates, zeroes a border of S + ⌊blur/2⌋, blurs and crops
 * the padding off again. Every step here works on the U×U mask with "zeros outside", which gives the same numbers
 * without the padded copy: the pad is all zeros, so an erosion/dilation with zeros outside equals
 * OpenCV's (its own border is ignored, but the zero pad is always reached first), the zeroed border leaves a band of
 * ⌊blur/2⌋ inside the U×U square, and the blur (BORDER_REFLECT_101 on the padded image) only ever reads zeros outside
 * it. All loops are restricted to the bounding box of the non-zero pixels.
 */
import { SaehdError } from '../errors.ts';
import { ellipseKernel, gaussianKernel } from '../image/filter.ts';
import type { FloatImage } from '../image/rawImage.ts';
import { resize } from '../image/resize.ts';
import { type Affine, transformPoints, warpAffine } from '../image/warpAffine.ts';
import { expandEyebrows, hullMask } from '../samples/masks.ts';

/** Mask modes of DFL's merger this port supports (spec §F.3 step 5; the XSeg modes 6–9 need the XSeg network). */
export type MaskMode = 'full' | 'dst' | 'learned-prd' | 'learned-dst' | 'learned-prd*learned-dst' | 'learned-prd+learned-dst';

/** DFL's numbers of the mask modes (`mask_mode`, spec §F.3 step 5). */
export const MASK_MODE_CODES: Record<MaskMode, number> = {
  full: 0,
  dst: 1,
  'learned-prd': 2,
  'learned-dst': 3,
  'learned-prd*learned-dst': 4,
  'learned-prd+learned-dst': 5,
};

/** Values below 1/255 are noise (spec §F.3 steps 6 and 8). */
export const MASK_NOISE = 1 / 255;

/** An axis-aligned integer rectangle [x0, x1) × [y0, y1). */
export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A part of a frame-sized 1-channel image: `mask` covers [x, x + mask.width) × [y, y + mask.height). */
export interface MaskWindow {
  x: number;
  y: number;
  mask: FloatImage;
}

/**
 * The frame rectangle covered by the aligned square [0, size]² under the inverse of `mat` (image → aligned), grown by
 * `margin` pixels for interpolation taps and clipped to the frame; null when it misses the frame.
 */
export function squareFrameRect(mat: Affine, size: number, frameW: number, frameH: number, margin = 4): Rect | null {
  const c = transformPoints([0, 0, size, 0, size, size, 0, size], mat, true);
  let xmin = Infinity, ymin = Infinity, xmax = -Infinity, ymax = -Infinity;
  for (let i = 0; i < 8; i += 2) {
    xmin = Math.min(xmin, c[i]);
    xmax = Math.max(xmax, c[i]);
    ymin = Math.min(ymin, c[i + 1]);
    ymax = Math.max(ymax, c[i + 1]);
  }
  if (!Number.isFinite(xmin + xmax + ymin + ymax)) return null;
  const x0 = Math.max(0, Math.floor(xmin) - margin), y0 = Math.max(0, Math.floor(ymin) - margin);
  const x1 = Math.min(frameW, Math.ceil(xmax) + margin + 1), y1 = Math.min(frameH, Math.ceil(ymax) + margin + 1);
  return x1 > x0 && y1 > y0 ? { x0, y0, x1, y1 } : null;
}

/** The affine map `mat` (image → aligned) applied to window coordinates: (x, y) ↦ mat·(x + ox, y + oy). */
export function shiftAffine(mat: Affine, ox: number, oy: number): Float64Array {
  return Float64Array.of(mat[0], mat[1], mat[0] * ox + mat[1] * oy + mat[2], mat[3], mat[4], mat[3] * ox + mat[4] * oy + mat[5]);
}

/**
 * The dst landmark-hull mask in the aligned face (spec §F.3 step 3): `get_image_hull_mask` of the frame landmarks
 * (eyebrow mod 1.0) warped by `faceMat` to O×O (bicubic, zero border), clipped. The hull is drawn on a window of the
 * frame that holds every landmark and the crop square, so no frame-sized buffer is needed (identical result: the
 * window's origin is an integer at or left/up of every landmark, or 0).
 */
export function dstHullMask(landmarks: ArrayLike<number>, faceMat: Affine, O: number, frameW: number, frameH: number): FloatImage {
  const sq = squareFrameRect(faceMat, O, frameW, frameH, 4);
  const out: FloatImage = { width: O, height: O, channels: 1, data: new Float32Array(O * O) };
  if (!sq) return out;
  const ex = expandEyebrows(landmarks, 1.0);
  let ox = sq.x0, oy = sq.y0;
  for (let i = 0; i < 136; i += 2) {
    ox = Math.min(ox, Math.floor(landmarks[i]), ex[i]);
    oy = Math.min(oy, Math.floor(landmarks[i + 1]), ex[i + 1]);
  }
  ox = Math.max(0, ox);
  oy = Math.max(0, oy);
  const w = sq.x1 - ox, h = sq.y1 - oy;
  const shifted = new Float64Array(136);
  for (let i = 0; i < 136; i += 2) {
    shifted[i] = landmarks[i] - ox;
    shifted[i + 1] = landmarks[i + 1] - oy;
  }
  const hull = hullMask(w, h, shifted, 1.0);
  const m = warpAffine(hull, shiftAffine(faceMat, ox, oy), O, O, { interpolation: 'cubic', out: out.data });
  clip01(m.data);
  return m;
}

/** Mask inputs of the working mask (all O×O, 1 channel, already clipped to [0,1]). */
export interface MaskSources {
  /** learned-prd (the mask predicted with the swapped face). */
  prdMask: FloatImage;
  /** learned-dst. */
  dstMask: FloatImage;
  /** The dst landmark hull (only needed for mode 'dst'). */
  dstHull?: FloatImage | null;
}

/** Step 5: the working mask for a mask mode, at O×O; then step 6's noise removal (< 1/255 → 0). New buffer. */
export function workingMask(mode: MaskMode, src: MaskSources, O: number): FloatImage {
  const n = O * O;
  const out = new Float32Array(n);
  const p = src.prdMask.data, d = src.dstMask.data;
  switch (mode) {
    case 'full':
      out.fill(1);
      break;
    case 'dst': {
      if (!src.dstHull) throw new SaehdError('bad-merge-input', 'mask mode "dst" needs the landmark hull');
      let h = src.dstHull;
      if (h.width !== O || h.height !== O) h = resize(h, O, O, 'cubic');
      out.set(h.data);
      break;
    }
    case 'learned-prd':
      out.set(p);
      break;
    case 'learned-dst':
      out.set(d);
      break;
    case 'learned-prd*learned-dst':
      for (let i = 0; i < n; i++) out[i] = p[i] * d[i];
      break;
    case 'learned-prd+learned-dst':
      for (let i = 0; i < n; i++) out[i] = Math.min(1, p[i] + d[i]);
      break;
  }
  for (let i = 0; i < n; i++) if (out[i] < MASK_NOISE) out[i] = 0;
  return { width: O, height: O, channels: 1, data: out };
}

function clip01(d: Float32Array): void {
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    d[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

/**
 * Bounding box (exclusive end) of the pixels > `threshold`, or — without a threshold — of the pixels ≠ 0 (bicubic
 * resizing leaves small negative values next to the mask edge, and DFL keeps them until its final clip); null if none.
 */
export function nonZeroRect(m: FloatImage, threshold?: number): Rect | null {
  const { width: w, height: h, data } = m;
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++)
      if (threshold === undefined ? data[row + x] !== 0 : data[row + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/**
 * Grey-scale erosion (`op` 'min') or dilation ('max') of a 1-channel image with an elliptical structuring element of
 * size k×k (cv2.getStructuringElement(MORPH_ELLIPSE)), anchored at its centre, values outside the image taken as 0
 * (see the file comment). Element rows with the same horizontal span share one running min/max pass (van Herk /
 * Gil–Werman, O(1) per pixel), so the cost is O(w·h·k) instead of O(w·h·k²).
 */
export function morphEllipse(img: FloatImage, k: number, op: 'min' | 'max'): FloatImage {
  const { width: W, height: H } = img;
  const out: FloatImage = { width: W, height: H, channels: 1, data: new Float32Array(W * H) };
  if (k <= 1) {
    out.data.set(img.data);
    return out;
  }
  const el = ellipseKernel(k, k);
  const ax = k >> 1, ay = k >> 1;
  // group element rows by span
  const groups = new Map<string, { lo: number; hi: number; dys: number[] }>();
  let reach = 0;
  for (let i = 0; i < k; i++) {
    let j1 = -1, j2 = -1;
    for (let j = 0; j < k; j++)
      if (el.data[i * k + j]) {
        if (j1 < 0) j1 = j;
        j2 = j + 1;
      }
    if (j1 < 0) continue;
    const lo = j1 - ax, hi = j2 - ax; // window [x + lo, x + hi)
    reach = Math.max(reach, -lo, hi - 1, Math.abs(i - ay));
    const key = `${lo},${hi}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { lo, hi, dys: [] }));
    g.dys.push(i - ay);
  }
  // work on the part that can be non-zero
  const nz = nonZeroRect(img);
  if (!nz) return out;
  // outside the non-zero box grown by the element's reach the result is 0 (a min or max over zeros)
  const rx0 = Math.max(0, nz.x0 - reach), ry0 = Math.max(0, nz.y0 - reach);
  const rx1 = Math.min(W, nz.x1 + reach), ry1 = Math.min(H, nz.y1 + reach);
  const w = rx1 - rx0, h = ry1 - ry0;
  const src = img.data;
  const isMax = op === 'max';
  // padded row buffer: `reach` zeros on both sides (outside the region everything is 0)
  const pw = w + 2 * reach;
  const prow = new Float32Array(pw);
  const g = new Float32Array(pw), s = new Float32Array(pw);
  const hbuf = new Float32Array(w * h);
  const acc = new Float32Array(w * h).fill(isMax ? -Infinity : Infinity);
  for (const grp of groups.values()) {
    const L = grp.hi - grp.lo;
    // horizontal running op of window length L starting at x + lo, for every row of the region
    for (let y = 0; y < h; y++) {
      prow.fill(0);
      const srow = (y + ry0) * W + rx0;
      for (let x = 0; x < w; x++) prow[x + reach] = src[srow + x];
      // block prefix (g) and suffix (s) extrema over blocks of length L
      for (let b = 0; b < pw; b += L) {
        const e = Math.min(pw, b + L);
        let v = prow[b];
        g[b] = v;
        for (let i = b + 1; i < e; i++) {
          const p = prow[i];
          v = isMax ? (p > v ? p : v) : p < v ? p : v;
          g[i] = v;
        }
        v = prow[e - 1];
        s[e - 1] = v;
        for (let i = e - 2; i >= b; i--) {
          const p = prow[i];
          v = isMax ? (p > v ? p : v) : p < v ? p : v;
          s[i] = v;
        }
      }
      const hrow = y * w;
      for (let x = 0; x < w; x++) {
        const a = x + grp.lo + reach; // window [a, a + L) in padded coordinates, inside [0, pw)
        const e = a + L - 1;
        const u = s[a], t = g[e];
        hbuf[hrow + x] = isMax ? (u > t ? u : t) : u < t ? u : t;
      }
    }
    // combine the shifted rows
    for (const dy of grp.dys) {
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        const arow = y * w;
        if (sy < 0 || sy >= h) {
          // a row outside the region is all zeros
          for (let x = 0; x < w; x++) {
            const v = acc[arow + x];
            acc[arow + x] = isMax ? (v > 0 ? v : 0) : v < 0 ? v : 0;
          }
          continue;
        }
        const hrow = sy * w;
        for (let x = 0; x < w; x++) {
          const v = acc[arow + x], t = hbuf[hrow + x];
          acc[arow + x] = isMax ? (v > t ? v : t) : v < t ? v : t;
        }
      }
    }
  }
  for (let y = 0; y < h; y++) out.data.set(acc.subarray(y * w, (y + 1) * w), (y + ry0) * W + rx0);
  return out;
}

/**
 * Gaussian blur with an odd kernel of size k and OpenCV's default σ for that size (0.3·((k − 1)/2 − 1) + 0.8),
 * separable, values outside the image taken as 0. Only the rows/columns that can become non-zero are computed.
 */
export function gaussianBlurZeroOutside(img: FloatImage, k: number): FloatImage {
  const { width: W, height: H } = img;
  const out: FloatImage = { width: W, height: H, channels: 1, data: new Float32Array(W * H) };
  const nz = nonZeroRect(img);
  if (!nz) return out;
  const ker = gaussianKernel(k, 0);
  const r = (k - 1) >> 1;
  const ox0 = Math.max(0, nz.x0 - r), ox1 = Math.min(W, nz.x1 + r);
  const oy0 = Math.max(0, nz.y0 - r), oy1 = Math.min(H, nz.y1 + r);
  const tw = ox1 - ox0;
  const tmp = new Float32Array(tw * (nz.y1 - nz.y0));
  const src = img.data;
  for (let y = nz.y0; y < nz.y1; y++) {
    const srow = y * W, trow = (y - nz.y0) * tw;
    for (let x = ox0; x < ox1; x++) {
      const a = Math.max(nz.x0, x - r), b = Math.min(nz.x1 - 1, x + r);
      let sum = 0;
      for (let sx = a; sx <= b; sx++) sum += ker[sx - x + r] * src[srow + sx];
      tmp[trow + x - ox0] = sum;
    }
  }
  const dst = out.data;
  for (let y = oy0; y < oy1; y++) {
    const a = Math.max(nz.y0, y - r), b = Math.min(nz.y1 - 1, y + r);
    const orow = y * W + ox0;
    for (let sy = a; sy <= b; sy++) {
      const wk = ker[sy - y + r];
      const trow = (sy - nz.y0) * tw;
      for (let x = 0; x < tw; x++) dst[orow + x] += wk * tmp[trow + x];
    }
  }
  return out;
}

/**
 * Step 7 (spec §F.3): erode (`erode` > 0) or dilate (< 0) with an |erode|×|erode| ellipse, zero a band of ⌊blur/2⌋
 * along the square's edges, Gaussian-blur with kernel blur + (1 − blur mod 2), clip to [0,1]. All in the pixels of
 * the U×U mask it is given. Returns a new image.
 */
export function erodeBlurMask(mask: FloatImage, erode: number, blur: number): FloatImage {
  const ero = Math.trunc(erode), bl = Math.trunc(blur);
  let m: FloatImage;
  if (ero > 0) m = morphEllipse(mask, ero, 'min');
  else if (ero < 0) m = morphEllipse(mask, -ero, 'max');
  else m = { ...mask, data: mask.data.slice() };
  const { width: W, height: H } = m;
  const band = Math.max(0, bl >> 1);
  if (band > 0) {
    const d = m.data;
    for (let y = 0; y < H; y++) {
      const row = y * W;
      if (y < band || y >= H - band) d.fill(0, row, row + W);
      else {
        d.fill(0, row, row + Math.min(band, W));
        d.fill(0, row + Math.max(0, W - band), row + W);
      }
    }
  }
  if (bl > 0) m = gaussianBlurZeroOutside(m, bl + (1 - (bl % 2)));
  clip01(m.data);
  return m;
}

/**
 * Steps 6–8 after the mode choice: resize the O×O working mask to U×U (bicubic), erode/blur unless `raw`, warp it
 * into the frame window `win` with `faceMaskOutputMat` (U-space, inverse mapping, bicubic, zero border), clip, and
 * drop values < 1/255. Returns the U-space mask (after erode/blur), the frame-window mask, and the working mask
 * resized back to O×O (bicubic, as DFL; not clipped).
 */
export function buildMergeMasks(
  wrkO: FloatImage,
  U: number,
  erode: number,
  blur: number,
  raw: boolean,
  faceMaskOutputMat: Affine,
  win: Rect | null,
): { maskU: FloatImage; frameMask: MaskWindow | null; wrkO: FloatImage } {
  const O = wrkO.width;
  let maskU = O === U ? { ...wrkO, data: wrkO.data.slice() } : resize(wrkO, U, U, 'cubic');
  if (!raw) maskU = erodeBlurMask(maskU, erode, blur);
  let frameMask: MaskWindow | null = null;
  if (win) {
    const w = win.x1 - win.x0, h = win.y1 - win.y0;
    const fm = warpAffine(maskU, shiftAffine(faceMaskOutputMat, win.x0, win.y0), w, h, { interpolation: 'cubic', inverseMap: true });
    const d = fm.data;
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      d[i] = v < MASK_NOISE ? 0 : v > 1 ? 1 : v;
    }
    frameMask = { x: win.x0, y: win.y0, mask: fm };
  }
  const back = U === O ? { ...maskU, data: maskU.data.slice() } : resize(maskU, O, O, 'cubic');
  return { maskU, frameMask, wrkO: back };
}

/** Step 9 c–d: binary "area" mask (every value > 0 → 1) of the O×O working mask. */
export function areaMask(wrkO: FloatImage): FloatImage {
  const out = new Float32Array(wrkO.data.length);
  for (let i = 0; i < out.length; i++) out[i] = wrkO.data[i] > 0 ? 1 : 0;
  return { width: wrkO.width, height: wrkO.height, channels: 1, data: out };
}

/**
 * Step 9's guard: DFL blends only when, for some i in 1…9, the pixels > i/10 of the frame mask have a bounding box
 * whose sides (max − min) are both ≥ 4; the region > 0.1 is the largest, so it decides.
 */
export function maskHasRegion(frameMask: MaskWindow | null): boolean {
  if (!frameMask) return false;
  const r = nonZeroRect(frameMask.mask, 0.1);
  return !!r && r.x1 - 1 - r.x0 >= 4 && r.y1 - 1 - r.y0 >= 4;
}

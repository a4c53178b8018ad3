/**
 * Landmark masks of DFL's sample pipeline (spec §D.5), built at the aligned image's size from its 68 landmarks
 * (iBUG order, §H.1). Independent of the image's channel count (spec §I.2): only width and height are used.
 */
import type { FloatImage, RawImage } from '../image/rawImage.ts';
import { dilate, ellipseKernel, gaussianBlur } from '../image/filter.ts';
import { convexHull, fillConvexPoly } from '../image/polygon.ts';
import { resize } from '../image/resize.ts';

function checkLandmarks(lm: ArrayLike<number>): void {
  if (lm.length !== 136) throw new RangeError(`expected 68 landmarks (136 numbers), got ${lm.length}`);
}

/**
 * `expand_eyebrows` (spec §D.5): landmarks truncated to integers; eyebrow points 17–21 / 22–26 pushed away from the
 * "eye tops" by mod·0.5 of their distance. Returns integer landmarks [x0, y0, …].
 */
export function expandEyebrows(lm: ArrayLike<number>, mod = 1.0): Int32Array {
  checkLandmarks(lm);
  const p = new Int32Array(136);
  for (let i = 0; i < 136; i++) p[i] = Math.trunc(lm[i]);
  const fdiv2 = (a: number, b: number) => Math.floor((a + b) / 2);
  const X = (i: number) => p[2 * i], Y = (i: number) => p[2 * i + 1];
  const mlx = fdiv2(X(36), X(0)), mly = fdiv2(Y(36), Y(0));
  const mrx = fdiv2(X(16), X(45)), mry = fdiv2(Y(16), Y(45));
  const qlx = fdiv2(X(36), mlx), qly = fdiv2(Y(36), mly);
  const qrx = fdiv2(X(45), mrx), qry = fdiv2(Y(45), mry);
  const botL = [qlx, qly, X(36), Y(36), X(37), Y(37), X(38), Y(38), X(39), Y(39)];
  const botR = [X(42), Y(42), X(43), Y(43), X(44), Y(44), X(45), Y(45), qrx, qry];
  const out = p.slice();
  for (let k = 0; k < 5; k++) {
    for (let c = 0; c < 2; c++) {
      const l = p[2 * (17 + k) + c];
      out[2 * (17 + k) + c] = Math.trunc(l + mod * 0.5 * (l - botL[2 * k + c]));
      const r = p[2 * (22 + k) + c];
      out[2 * (22 + k) + c] = Math.trunc(r + mod * 0.5 * (r - botR[2 * k + c]));
    }
  }
  return out;
}

function gather(lm: ArrayLike<number>, idx: number[]): number[] {
  const out: number[] = [];
  for (const i of idx) out.push(lm[2 * i], lm[2 * i + 1]);
  return out;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

/** The eight hull parts of `get_image_hull_mask` (spec §D.5). */
export const HULL_PARTS: number[][] = [
  [...range(0, 9), 17],
  [...range(8, 17), 26],
  [...range(17, 20), 8],
  [...range(24, 27), 8],
  [...range(19, 25), 8],
  [...range(17, 22), 27, ...range(31, 36), 8],
  [...range(22, 27), 27, ...range(31, 36), 8],
  [...range(27, 31), ...range(31, 36)],
];

/** `get_image_hull_mask`: the full-face landmark hull, 1 inside, 0 outside (w×h, 1 channel). */
export function hullMask(w: number, h: number, lm: ArrayLike<number>, eyebrowsExpandMod = 1.0): FloatImage {
  const p = expandEyebrows(lm, eyebrowsExpandMod);
  const data = new Float32Array(w * h);
  for (const part of HULL_PARTS) fillConvexPoly(data, w, h, convexHull(gather(p, part)), 1);
  return { width: w, height: h, channels: 1, data };
}

/**
 * Dilate (ellipse h//32) and blur (Gaussian h//16 made odd, σ from the size) a filled hull, as DFL does. The work is
 * done on a window around the hull when the window fits inside the image: the dilation ignores outside pixels and the
 * blur's reflected border only reads zeros there, so the result is identical to processing the whole image.
 */
function softenFeature(mask: FloatImage): FloatImage {
  const { width: w, height: h, data } = mask;
  const d = Math.floor(h / 32);
  let b = Math.floor(h / 16);
  b += 1 - (b % 2);
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (data[y * w + x] !== 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  if (x1 < 0) return mask;
  const margin = Math.max(d, 3) + 2 * ((b - 1) >> 1) + 2;
  const wx0 = x0 - margin, wy0 = y0 - margin, wx1 = x1 + margin, wy1 = y1 + margin;
  const soften = (m: FloatImage) => gaussianBlur(dilate(m, ellipseKernel(d, d)), b, b, 0);
  if (wx0 < 0 || wy0 < 0 || wx1 >= w || wy1 >= h) return soften(mask);
  const ww = wx1 - wx0 + 1, wh = wy1 - wy0 + 1;
  const win = new Float32Array(ww * wh);
  for (let y = 0; y < wh; y++) win.set(data.subarray((y + wy0) * w + wx0, (y + wy0) * w + wx0 + ww), y * ww);
  const r = soften({ width: ww, height: wh, channels: 1, data: win }).data;
  const out = new Float32Array(w * h);
  for (let y = 0; y < wh; y++) out.set(r.subarray(y * ww, (y + 1) * ww), (y + wy0) * w + wx0);
  return { width: w, height: h, channels: 1, data: out };
}

function featureMask(w: number, h: number, lm: ArrayLike<number>, parts: number[][]): FloatImage {
  checkLandmarks(lm);
  const p = new Int32Array(136);
  for (let i = 0; i < 136; i++) p[i] = Math.trunc(lm[i]);
  const data = new Float32Array(w * h);
  for (const part of parts) fillConvexPoly(data, w, h, convexHull(gather(p, part)), 1);
  return softenFeature({ width: w, height: h, channels: 1, data });
}

/** `get_image_eye_mask`: both eye hulls (36–41, 42–47), dilated and blurred. */
export function eyesMask(w: number, h: number, lm: ArrayLike<number>): FloatImage {
  return featureMask(w, h, lm, [range(36, 42), range(42, 48)]);
}

/** `get_image_mouth_mask`: the inner-lip hull (60–67), dilated and blurred. */
export function mouthMask(w: number, h: number, lm: ArrayLike<number>): FloatImage {
  return featureMask(w, h, lm, [range(60, 68)]);
}

/**
 * The EYES_MOUTH mask before the sample transform (spec §D.5): clip(eyes + mouth, 0, 1) times the binarised full-face
 * mask (every value > 0 becomes 1).
 */
export function eyesMouthMask(w: number, h: number, lm: ArrayLike<number>, fullFace: FloatImage): FloatImage {
  const e = eyesMask(w, h, lm).data;
  const m = mouthMask(w, h, lm).data;
  const f = fullFace.data;
  const out = new Float32Array(w * h);
  for (let i = 0; i < out.length; i++) {
    const v = Math.min(1, Math.max(0, e[i] + m[i]));
    out[i] = f[i] !== 0 ? v : 0;
  }
  return { width: w, height: h, channels: 1, data: out };
}

/** A decoded 1-channel (or first-channel) 8-bit mask → float in [0,1]. */
export function maskToFloat(mask: RawImage): FloatImage {
  const { width: w, height: h, channels: C } = mask;
  const out = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) out[i] = mask.data[i * C] / 255;
  return { width: w, height: h, channels: 1, data: out };
}

/**
 * `get_full_face_mask` (spec §D.5): the file's XSeg mask when given (resized bicubically to the aligned size, clipped
 * to [0,1]), otherwise the landmark hull.
 */
export function fullFaceMask(w: number, h: number, lm: ArrayLike<number>, xseg?: RawImage | null, eyebrowsExpandMod = 1.0): FloatImage {
  if (xseg) {
    let m = maskToFloat(xseg);
    if (m.width !== w || m.height !== h) m = resize(m, w, h, 'cubic');
    const d = m.data;
    for (let i = 0; i < d.length; i++) d[i] = d[i] < 0 ? 0 : d[i] > 1 ? 1 : d[i];
    return m;
  }
  return hullMask(w, h, lm, eyebrowsExpandMod);
}

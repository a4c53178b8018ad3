/**
 * The alignment math the sample generator needs to re-crop a face to the model's face type (spec §D.2 step 1, §D.7,
 * §H.2–§H.4): face-type table, the 33-point unit-square template, a 2-D Umeyama similarity and `getTransformMat`.
 * Everything is float64. (If an `align/` module appears later, this file can re-export from it.)
 */
import { getAffineTransform, invertAffine, transformPoints } from '../image/warpAffine.ts';

export type FaceTypeName =
  | 'half_face'
  | 'midfull_face'
  | 'full_face'
  | 'full_face_no_align'
  | 'whole_face'
  | 'head'
  | 'head_no_align'
  | 'mark_only';

/** Padding p and "remove rotation" per face type (spec §D.7). */
export const FACE_TYPES: Record<FaceTypeName, { padding: number; removeAlign: boolean; code: number }> = {
  half_face: { padding: 0, removeAlign: false, code: 0 },
  midfull_face: { padding: 0.0675, removeAlign: false, code: 1 },
  full_face: { padding: 0.2109375, removeAlign: false, code: 2 },
  full_face_no_align: { padding: 0.2109375, removeAlign: true, code: 3 },
  whole_face: { padding: 0.4, removeAlign: false, code: 4 },
  head: { padding: 0.7, removeAlign: false, code: 10 },
  head_no_align: { padding: 0.7, removeAlign: true, code: 20 },
  mark_only: { padding: 0, removeAlign: false, code: 100 },
};

const SHORT_NAMES: Record<string, FaceTypeName> = { h: 'half_face', mf: 'midfull_face', f: 'full_face', wf: 'whole_face', head: 'head' };

/** Accept the option codes (`h`, `mf`, `f`, `wf`, `head`) and the names stored in files (spec §G.2). */
export function normalizeFaceType(t: string): FaceTypeName {
  const s = t.trim().toLowerCase();
  if (s in SHORT_NAMES) return SHORT_NAMES[s];
  if (s in FACE_TYPES) return s as FaceTypeName;
  throw new RangeError(`unknown face type "${t}"`);
}

/** Template points 17…48 and 54 of `landmarks_2D_new` (spec §H.2), x then y, in the unit square. */
export const LANDMARKS_2D_NEW = Float64Array.of(
  0.000213256, 0.106454, 0.0752622, 0.038915, 0.18113, 0.0187482, 0.29077, 0.0344891, 0.393397, 0.0773906, // 17-21
  0.586856, 0.0773906, 0.689483, 0.0344891, 0.799124, 0.0187482, 0.904991, 0.038915, 0.98004, 0.106454, // 22-26
  0.490127, 0.203352, 0.490127, 0.307009, 0.490127, 0.409805, 0.490127, 0.515625, // 27-30
  0.36688, 0.587326, 0.426036, 0.609345, 0.490127, 0.628106, 0.554217, 0.609345, 0.613373, 0.587326, // 31-35
  0.121737, 0.216423, 0.187122, 0.178758, 0.265825, 0.179852, 0.334606, 0.231733, 0.260918, 0.245099, 0.182743, 0.244077, // 36-41
  0.645647, 0.231733, 0.714428, 0.179852, 0.793132, 0.178758, 0.858516, 0.216423, 0.79751, 0.244077, 0.719335, 0.245099, // 42-47
  0.254149, 0.780233, // 48
  0.726104, 0.780233, // 54
);

/**
 * Umeyama similarity (with scale) mapping the source points onto the destination points, least squares (spec §H.3).
 * In 2-D the optimal rotation of A = Ycᵀ·Xc/n is the one with angle atan2(a21 − a12, a11 + a22), and S·d (the
 * reflection-corrected singular values) sums to √((a11 + a22)² + (a21 − a12)²), covering the det < 0 and rank-1
 * branches. Returns the 2×3 matrix [c·R | t].
 */
export function umeyama2D(src: ArrayLike<number>, dst: ArrayLike<number>): Float64Array {
  const n = src.length >> 1;
  let mxx = 0, mxy = 0, myx = 0, myy = 0;
  for (let i = 0; i < n; i++) {
    mxx += src[2 * i];
    mxy += src[2 * i + 1];
    myx += dst[2 * i];
    myy += dst[2 * i + 1];
  }
  mxx /= n;
  mxy /= n;
  myx /= n;
  myy /= n;
  let a11 = 0, a12 = 0, a21 = 0, a22 = 0, varSum = 0;
  for (let i = 0; i < n; i++) {
    const sx = src[2 * i] - mxx, sy = src[2 * i + 1] - mxy;
    const dx = dst[2 * i] - myx, dy = dst[2 * i + 1] - myy;
    a11 += dx * sx;
    a12 += dx * sy;
    a21 += dy * sx;
    a22 += dy * sy;
    varSum += sx * sx + sy * sy;
  }
  a11 /= n;
  a12 /= n;
  a21 /= n;
  a22 /= n;
  varSum /= n;
  const p = a11 + a22, q = a21 - a12;
  const trace = Math.hypot(p, q);
  if (trace === 0 || varSum === 0) return Float64Array.of(NaN, NaN, NaN, NaN, NaN, NaN);
  const cos = p / trace, sin = q / trace;
  const c = trace / varSum;
  const r11 = c * cos, r12 = -c * sin, r21 = c * sin, r22 = c * cos;
  return Float64Array.of(r11, r12, myx - (r11 * mxx + r12 * mxy), r21, r22, myy - (r21 * mxx + r22 * mxy));
}

/** The 33 landmarks used by the alignment (17…48 and 54) as [x, y, …]. */
function alignmentPoints(lm: ArrayLike<number>): Float64Array {
  const out = new Float64Array(66);
  for (let i = 17; i <= 48; i++) {
    out[2 * (i - 17)] = lm[2 * i];
    out[2 * (i - 17) + 1] = lm[2 * i + 1];
  }
  out[64] = lm[108];
  out[65] = lm[109];
  return out;
}

/** Averaged yaw on template-space landmarks (spec §H.5, used by `head`). */
export function estimateAveragedYaw(lm: ArrayLike<number>): number {
  const x = (i: number) => lm[2 * i];
  const l = (x(27) - x(0) + (x(28) - x(1)) + (x(29) - x(2))) / 3;
  const r = (x(16) - x(27) + (x(15) - x(28)) + (x(14) - x(29))) / 3;
  return r - l;
}

/**
 * `get_transform_mat` (spec §H.4): the 2×3 affine mapping image (or aligned-image) landmarks' space to an S×S crop of
 * the given face type.
 */
export function getTransformMat(landmarks: ArrayLike<number>, size: number, faceType: FaceTypeName | string, scale = 1): Float64Array {
  if (landmarks.length < 136) throw new RangeError('getTransformMat needs 68 landmarks');
  const ft = normalizeFaceType(faceType);
  if (ft === 'mark_only') throw new RangeError('mark_only faces have no alignment');
  const mat = umeyama2D(alignmentPoints(landmarks), LANDMARKS_2D_NEW);
  const g = transformPoints([0, 0, 1, 0, 1, 1, 0, 1, 0.5, 0.5], mat, true);
  const gx = (i: number) => g[2 * i], gy = (i: number) => g[2 * i + 1];
  let cx = gx(4), cy = gy(4);
  const tbLen = Math.hypot(gx(2) - gx(0), gy(2) - gy(0));
  const tbx = (gx(2) - gx(0)) / tbLen, tby = (gy(2) - gy(0)) / tbLen;
  const btLen = Math.hypot(gx(1) - gx(3), gy(1) - gy(3));
  const btx = (gx(1) - gx(3)) / btLen, bty = (gy(1) - gy(3)) / btLen;
  const { padding, removeAlign } = FACE_TYPES[ft];
  const mod = (1 / scale) * (tbLen * (padding * Math.SQRT2 + 0.5));
  if (ft === 'whole_face') {
    // 7 % of the template side upwards (g0 − g3 points up)
    cx += (gx(0) - gx(3)) * 0.07;
    cy += (gy(0) - gy(3)) * 0.07;
  } else if (ft === 'head') {
    let yaw = estimateAveragedYaw(transformPoints(landmarks, mat));
    yaw *= Math.abs(Math.tanh(yaw * 2)); // damp near zero
    cx -= (gx(0) - gx(1)) * (yaw / 2);
    cy -= (gy(0) - gy(1)) * (yaw / 2);
    cx += (gx(0) - gx(3)) * 0.5;
    cy += (gy(0) - gy(3)) * 0.5;
  }
  let pts: number[];
  if (!removeAlign) {
    pts = [cx - tbx * mod, cy - tby * mod, cx + btx * mod, cy + bty * mod, cx + tbx * mod, cy + tby * mod];
  } else {
    const q = [cx - tbx * mod, cy - tby * mod, cx + btx * mod, cy + bty * mod, cx + tbx * mod, cy + tby * mod, cx - btx * mod, cy - bty * mod];
    let area = 0;
    for (let i = 0; i < 4; i++) {
      const j = (i + 1) % 4;
      area += q[2 * i] * q[2 * j + 1] - q[2 * j] * q[2 * i + 1];
    }
    const side = Math.sqrt(Math.abs(area) / 2) / 2;
    pts = [cx - side, cy - side, cx + side, cy - side, cx + side, cy + side];
  }
  return getAffineTransform(pts, [0, 0, size, 0, size, size]);
}

export { invertAffine, transformPoints };

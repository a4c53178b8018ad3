/**
 * `warpAffine` with cv2.warpAffine's semantics: the 2×3 matrix maps source → destination (unless `inverseMap`), the
 * destination is filled by inverse mapping, coordinates are computed in OpenCV's 10-bit fixed point and quantised to
 * 1/32 pixel, and the border is constant (default 0) or replicate. Works on float images (FloatImage, any channel
 * count) and 8-bit images (RawImage, fixed-point weights like OpenCV's 8U path).
 */
import type { FloatImage, RawImage } from './rawImage.ts';
import { type BorderMode, type Interpolation, INTER_BITS, INTER_TAB_SIZE, clampInt, roundHalfEven } from './interp.ts';
import { floatRowSampler, u8RowSampler, type RowSampler } from './sampler.ts';

export type { BorderMode, Interpolation } from './interp.ts';

export interface WarpOptions {
  /** Default 'linear' (OpenCV's default). */
  interpolation?: Interpolation;
  /** Default 'constant'. */
  border?: BorderMode;
  /** Constant border value (float units for float images, 0–255 for 8-bit). Default 0. */
  borderValue?: number;
  /** The matrix already maps destination → source (cv2.WARP_INVERSE_MAP). */
  inverseMap?: boolean;
  /** Optional output buffer of the right size (reused by the sample generator). */
  out?: Float32Array | Uint8Array;
}

/** A 2×3 affine matrix as 6 numbers, row-major: [a, b, c, d, e, f] maps (x, y) → (a·x + b·y + c, d·x + e·y + f). */
export type Affine = ArrayLike<number>;

/** cv2.invertAffineTransform (a singular matrix gives zeros, as OpenCV does). */
export function invertAffine(m: Affine): Float64Array {
  let D = m[0] * m[4] - m[1] * m[3];
  D = D !== 0 ? 1 / D : 0;
  const a11 = m[4] * D, a22 = m[0] * D, a12 = -m[1] * D, a21 = -m[3] * D;
  const b1 = -a11 * m[2] - a12 * m[5];
  const b2 = -a21 * m[2] - a22 * m[5];
  return Float64Array.of(a11, a12, b1, a21, a22, b2);
}

/** Apply an affine matrix to points given as [x0, y0, x1, y1, …]. */
export function transformPoints(points: ArrayLike<number>, m: Affine, invert = false): Float64Array {
  const t = invert ? invertAffine(m) : m;
  const out = new Float64Array(points.length);
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i], y = points[i + 1];
    out[i] = t[0] * x + t[1] * y + t[2];
    out[i + 1] = t[3] * x + t[4] * y + t[5];
  }
  return out;
}

/** Compose affine maps: result = a ∘ b (apply b first, then a). */
export function composeAffine(a: Affine, b: Affine): Float64Array {
  return Float64Array.of(
    a[0] * b[0] + a[1] * b[3],
    a[0] * b[1] + a[1] * b[4],
    a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3],
    a[3] * b[1] + a[4] * b[4],
    a[3] * b[2] + a[4] * b[5] + a[5],
  );
}

/** cv2.getAffineTransform: the affine map sending three source points onto three destination points. */
export function getAffineTransform(src: ArrayLike<number>, dst: ArrayLike<number>): Float64Array {
  // Solve [x y 1] · [a b c]ᵀ = u and the same for v.
  const x0 = src[0], y0 = src[1], x1 = src[2], y1 = src[3], x2 = src[4], y2 = src[5];
  const det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
  if (det === 0) throw new RangeError('getAffineTransform: the three source points are collinear');
  const solve = (u0: number, u1: number, u2: number): [number, number, number] => {
    const a = (u0 * (y1 - y2) - y0 * (u1 - u2) + (u1 * y2 - u2 * y1)) / det;
    const b = (x0 * (u1 - u2) - u0 * (x1 - x2) + (x1 * u2 - x2 * u1)) / det;
    const c = (x0 * (y1 * u2 - y2 * u1) - y0 * (x1 * u2 - x2 * u1) + u0 * (x1 * y2 - x2 * y1)) / det;
    return [a, b, c];
  };
  const [a, b, c] = solve(dst[0], dst[2], dst[4]);
  const [d, e, f] = solve(dst[1], dst[3], dst[5]);
  return Float64Array.of(a, b, c, d, e, f);
}

/** cv2.getRotationMatrix2D: rotation by `angleDeg` (counter-clockwise as OpenCV defines it) and scale about a centre. */
export function getRotationMatrix2D(cx: number, cy: number, angleDeg: number, scale: number): Float64Array {
  const a = (angleDeg * Math.PI) / 180;
  const alpha = Math.cos(a) * scale;
  const beta = Math.sin(a) * scale;
  return Float64Array.of(alpha, beta, (1 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1 - alpha) * cy);
}

const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;

export function warpAffine(src: FloatImage, m: Affine, dstW: number, dstH: number, opts?: WarpOptions): FloatImage;
export function warpAffine(src: RawImage, m: Affine, dstW: number, dstH: number, opts?: WarpOptions): RawImage;
export function warpAffine(
  src: FloatImage | RawImage,
  m: Affine,
  dstW: number,
  dstH: number,
  opts: WarpOptions = {},
): FloatImage | RawImage {
  const kind = opts.interpolation ?? 'linear';
  const border = opts.border ?? 'constant';
  const bval = opts.borderValue ?? 0;
  const C = src.channels;
  const isFloat = src.data instanceof Float32Array;
  const n = dstW * dstH * C;
  let out: Float32Array | Uint8Array;
  if (opts.out) {
    if (opts.out.length !== n || opts.out instanceof Float32Array !== isFloat)
      throw new RangeError('warpAffine: output buffer has the wrong size or type');
    out = opts.out;
  } else out = isFloat ? new Float32Array(n) : new Uint8Array(n);

  const M = opts.inverseMap ? Array.from({ length: 6 }, (_, i) => m[i]) : invertAffine(m);
  const sampler: RowSampler = isFloat
    ? floatRowSampler(src.data as Float32Array, src.width, src.height, C, out as Float32Array, kind, border, bval)
    : u8RowSampler(src.data as Uint8Array, src.width, src.height, C, out as Uint8Array, kind, border, bval);

  // OpenCV's fixed-point coordinate stepping (AB_BITS = 10) with rounding to the 1/32 sub-pixel grid.
  const nearest = kind === 'nearest';
  const roundDelta = nearest ? AB_SCALE / 2 : AB_SCALE / INTER_TAB_SIZE / 2;
  const shift = nearest ? AB_BITS : AB_BITS - INTER_BITS;
  const adelta = new Int32Array(dstW);
  const bdelta = new Int32Array(dstW);
  for (let x = 0; x < dstW; x++) {
    adelta[x] = clampInt(roundHalfEven(M[0] * x * AB_SCALE));
    bdelta[x] = clampInt(roundHalfEven(M[3] * x * AB_SCALE));
  }
  let amax = 0, bmax = 0;
  for (let x = 0; x < dstW; x++) {
    amax = Math.max(amax, Math.abs(adelta[x]));
    bmax = Math.max(bmax, Math.abs(bdelta[x]));
  }
  const xs = new Int32Array(dstW);
  const ys = new Int32Array(dstW);
  const div = 2 ** shift;
  for (let y = 0; y < dstH; y++) {
    const X0 = clampInt(roundHalfEven((M[1] * y + M[2]) * AB_SCALE)) + roundDelta;
    const Y0 = clampInt(roundHalfEven((M[4] * y + M[5]) * AB_SCALE)) + roundDelta;
    if (Math.abs(X0) + amax < 2147483647 && Math.abs(Y0) + bmax < 2147483647) {
      for (let x = 0; x < dstW; x++) {
        xs[x] = ((X0 + adelta[x]) | 0) >> shift;
        ys[x] = ((Y0 + bdelta[x]) | 0) >> shift;
      }
    } else {
      for (let x = 0; x < dstW; x++) {
        // floor division = arithmetic shift, without int32 overflow for far-away coordinates
        xs[x] = clampInt(Math.floor((X0 + adelta[x]) / div));
        ys[x] = clampInt(Math.floor((Y0 + bdelta[x]) / div));
      }
    }
    sampler(xs, ys, dstW, y * dstW * C);
  }
  return isFloat
    ? { width: dstW, height: dstH, channels: C, data: out as Float32Array }
    : { width: dstW, height: dstH, channels: C as 1 | 3 | 4, data: out as Uint8Array };
}

/**
 * Interpolation kernels with OpenCV's conventions, shared by warpAffine, remap and resize.
 *
 * warpAffine and remap quantise every source coordinate to 1/32 pixel (OpenCV's INTER_BITS = 5, INTER_TAB_SIZE = 32)
 * and look the kernel weights up in tables, so the same is done here: `kernelTable(kind)` holds, for each of the 32
 * fractions, the 1-D weights (float32 like OpenCV's tables). resize evaluates the kernels at the exact fraction.
 */

export type Interpolation = 'nearest' | 'linear' | 'cubic' | 'lanczos4';
export type BorderMode = 'constant' | 'replicate';

export const INTER_BITS = 5;
export const INTER_TAB_SIZE = 1 << INTER_BITS;

/** Bicubic weights for the 4 taps x0−1…x0+2 at fraction `x` (Keys kernel with a = −0.75, OpenCV's choice). */
export function cubicWeights(x: number, out: Float64Array | Float32Array, off = 0): void {
  const A = -0.75;
  const x1 = x + 1;
  const c0 = ((A * x1 - 5 * A) * x1 + 8 * A) * x1 - 4 * A;
  const c1 = ((A + 2) * x - (A + 3)) * x * x + 1;
  const y = 1 - x;
  const c2 = ((A + 2) * y - (A + 3)) * y * y + 1;
  out[off] = c0;
  out[off + 1] = c1;
  out[off + 2] = c2;
  out[off + 3] = 1 - c0 - c1 - c2;
}

/**
 * Lanczos-4 weights for the 8 taps x0−3…x0+4 at fraction `x`: sinc(d)·sinc(d/4) with d the tap distance, normalised to
 * sum 1 (as OpenCV does); at a zero fraction the kernel is exactly the centre tap.
 */
export function lanczos4Weights(x: number, out: Float64Array | Float32Array, off = 0): void {
  if (x < 1.1920928955078125e-7) {
    for (let i = 0; i < 8; i++) out[off + i] = 0;
    out[off + 3] = 1;
    return;
  }
  let sum = 0;
  const w = new Float64Array(8);
  for (let i = 0; i < 8; i++) {
    const d = x + 3 - i; // distance of tap i from the sample point
    const a = Math.PI * d;
    // sin(πd)·sin(πd/4) / (πd · πd/4); its limit 1 at d = 0 (only reachable for x = 1)
    w[i] = Math.abs(d) < 1e-12 ? 1 : (Math.sin(a) * Math.sin(a / 4)) / ((a * a) / 4);
    sum += w[i];
  }
  for (let i = 0; i < 8; i++) out[off + i] = w[i] / sum;
}

export function kernelSize(kind: Interpolation): number {
  return kind === 'nearest' ? 1 : kind === 'linear' ? 2 : kind === 'cubic' ? 4 : 8;
}

/** Weights at fraction x (taps start at floor − (size/2 − 1)). */
export function kernelWeights(kind: Interpolation, x: number, out: Float64Array | Float32Array, off = 0): void {
  switch (kind) {
    case 'nearest':
      out[off] = 1;
      return;
    case 'linear':
      out[off] = 1 - x;
      out[off + 1] = x;
      return;
    case 'cubic':
      cubicWeights(x, out, off);
      return;
    case 'lanczos4':
      lanczos4Weights(x, out, off);
      return;
  }
}

const floatTables = new Map<Interpolation, Float32Array>();
const doubleTables = new Map<Interpolation, Float64Array>();

/** The same table widened to float64 (identical values; faster to read in the float samplers). */
export function kernelTable64(kind: Interpolation): Float64Array {
  let t = doubleTables.get(kind);
  if (!t) {
    t = Float64Array.from(kernelTable(kind));
    doubleTables.set(kind, t);
  }
  return t;
}

/** 1-D weights for the 32 quantised fractions: table[f·size + k] (float32 like OpenCV's tables). */
export function kernelTable(kind: Interpolation): Float32Array {
  let t = floatTables.get(kind);
  if (!t) {
    const ks = kernelSize(kind);
    t = new Float32Array(INTER_TAB_SIZE * ks);
    for (let f = 0; f < INTER_TAB_SIZE; f++) kernelWeights(kind, f / INTER_TAB_SIZE, t, f * ks);
    floatTables.set(kind, t);
  }
  return t;
}

export const INTER_REMAP_COEF_BITS = 15;
export const INTER_REMAP_COEF_SCALE = 1 << INTER_REMAP_COEF_BITS;
const intTables = new Map<Interpolation, Int32Array>();

/**
 * Fixed-point 2-D weights for 8-bit images, OpenCV's way: for each pair of fractions (fy, fx) the products of the 1-D
 * float weights scaled by 2^15 and rounded; when the rounded weights do not sum to 2^15, the difference goes to the
 * largest (or smallest) of the 2×2 weights at rows and columns size/2 and size/2 + 1 (OpenCV picks those, not the
 * symmetric centre; verified bit-exact against cv2 4.6). Layout: table[(fy·32 + fx)·size² + i·size + j].
 */
export function intKernelTable2D(kind: Interpolation): Int32Array {
  let t = intTables.get(kind);
  if (t) return t;
  const ks = kernelSize(kind);
  const k2 = ks * ks;
  const tab = kernelTable(kind);
  t = new Int32Array(INTER_TAB_SIZE * INTER_TAB_SIZE * k2);
  const prod = new Float32Array(1);
  for (let fy = 0; fy < INTER_TAB_SIZE; fy++) {
    for (let fx = 0; fx < INTER_TAB_SIZE; fx++) {
      const base = (fy * INTER_TAB_SIZE + fx) * k2;
      let isum = 0;
      for (let i = 0; i < ks; i++) {
        for (let j = 0; j < ks; j++) {
          prod[0] = tab[fy * ks + i] * tab[fx * ks + j];
          const v = roundHalfEven(prod[0] * INTER_REMAP_COEF_SCALE);
          t[base + i * ks + j] = v;
          isum += v;
        }
      }
      if (isum !== INTER_REMAP_COEF_SCALE && ks > 1) {
        const diff = isum - INTER_REMAP_COEF_SCALE;
        const c = ks === 2 ? 0 : ks / 2;
        let mi = c, mj = c, Mi = c, Mj = c;
        for (let i = c; i < c + 2; i++) {
          for (let j = c; j < c + 2; j++) {
            const v = t[base + i * ks + j];
            if (v < t[base + mi * ks + mj]) (mi = i), (mj = j);
            else if (v > t[base + Mi * ks + Mj]) (Mi = i), (Mj = j);
          }
        }
        if (diff < 0) t[base + Mi * ks + Mj] -= diff;
        else t[base + mi * ks + mj] -= diff;
      }
    }
  }
  intTables.set(kind, t);
  return t;
}

/** Round half to even, as OpenCV's cvRound / saturate_cast<int> do (lrint in the default rounding mode). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** Clamp to a safe int32 range before shifting. */
export function clampInt(v: number): number {
  return v > 1073741823 ? 1073741823 : v < -1073741824 ? -1073741824 : v;
}

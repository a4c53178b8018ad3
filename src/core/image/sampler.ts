/**
 * The inner loop shared by warpAffine and remap: given, for one output row, the source coordinates of every output
 * pixel in 1/32-pixel fixed point (OpenCV's INTER_BITS = 5; plain integers for nearest), interpolate the source.
 * Float images use float weights; 8-bit images use OpenCV's 15-bit fixed-point 2-D weights with rounding.
 */
import {
  type BorderMode,
  type Interpolation,
  INTER_BITS,
  INTER_REMAP_COEF_BITS,
  intKernelTable2D,
  kernelSize,
  kernelTable64,
} from './interp.ts';

const FRAC = (1 << INTER_BITS) - 1;

/** Clamp for replicate; −1 marks "outside" for constant. */
function borderIndex(i: number, n: number, border: BorderMode): number {
  if (i >= 0 && i < n) return i;
  if (border === 'replicate') return i < 0 ? 0 : n - 1;
  return -1;
}

export interface RowSampler {
  (xs: Int32Array, ys: Int32Array, n: number, dOff: number): void;
}

/** A row sampler over a float image. `dst` receives n·C values starting at element dOff. */
export function floatRowSampler(
  src: Float32Array,
  sw: number,
  sh: number,
  C: number,
  dst: Float32Array,
  kind: Interpolation,
  border: BorderMode,
  borderValue: number,
): RowSampler {
  if (kind === 'nearest') {
    return (xs, ys, n, dOff) => {
      for (let x = 0; x < n; x++) {
        let sx = xs[x], sy = ys[x];
        const o = dOff + x * C;
        if (sx < 0 || sy < 0 || sx >= sw || sy >= sh) {
          if (border === 'constant') {
            for (let c = 0; c < C; c++) dst[o + c] = borderValue;
            continue;
          }
          sx = sx < 0 ? 0 : sx >= sw ? sw - 1 : sx;
          sy = sy < 0 ? 0 : sy >= sh ? sh - 1 : sy;
        }
        const p = (sy * sw + sx) * C;
        for (let c = 0; c < C; c++) dst[o + c] = src[p + c];
      }
    };
  }
  const ks = kernelSize(kind);
  const tab = kernelTable64(kind);
  const back = ks / 2 - 1;
  const ixs = new Int32Array(ks);
  const iys = new Int32Array(ks);
  const stride = sw * C;

  if (C === 1 && ks === 4) {
    // The hot path of the sample generator (bicubic gray): unrolled.
    return (xs, ys, n, dOff) => {
      for (let x = 0; x < n; x++) {
        const X = xs[x], Y = ys[x];
        const ix = (X >> INTER_BITS) - 1, iy = (Y >> INTER_BITS) - 1;
        const o = dOff + x;
        if (ix >= 0 && iy >= 0 && ix + 4 <= sw && iy + 4 <= sh) {
          const cx = (X & FRAC) * 4, cy = (Y & FRAC) * 4;
          const a0 = tab[cx], a1 = tab[cx + 1], a2 = tab[cx + 2], a3 = tab[cx + 3];
          let p = iy * sw + ix;
          const r0 = a0 * src[p] + a1 * src[p + 1] + a2 * src[p + 2] + a3 * src[p + 3];
          p += sw;
          const r1 = a0 * src[p] + a1 * src[p + 1] + a2 * src[p + 2] + a3 * src[p + 3];
          p += sw;
          const r2 = a0 * src[p] + a1 * src[p + 1] + a2 * src[p + 2] + a3 * src[p + 3];
          p += sw;
          const r3 = a0 * src[p] + a1 * src[p + 1] + a2 * src[p + 2] + a3 * src[p + 3];
          dst[o] = tab[cy] * r0 + tab[cy + 1] * r1 + tab[cy + 2] * r2 + tab[cy + 3] * r3;
        } else {
          dst[o] = slowFloat(src, sw, sh, 1, 0, X, Y, 4, 1, tab, border, borderValue, ixs, iys);
        }
      }
    };
  }
  if (C === 3 && ks === 4) {
    // bicubic colour: unrolled over the 4×4 taps, three channels at once
    return (xs, ys, n, dOff) => {
      for (let x = 0; x < n; x++) {
        const X = xs[x], Y = ys[x];
        const ix = (X >> INTER_BITS) - 1, iy = (Y >> INTER_BITS) - 1;
        const o = dOff + x * 3;
        if (ix >= 0 && iy >= 0 && ix + 4 <= sw && iy + 4 <= sh) {
          const cx = (X & FRAC) * 4, cy = (Y & FRAC) * 4;
          const a0 = tab[cx], a1 = tab[cx + 1], a2 = tab[cx + 2], a3 = tab[cx + 3];
          let s0 = 0, s1 = 0, s2 = 0;
          let p = iy * stride + ix * 3;
          for (let i = 0; i < 4; i++) {
            const b = tab[cy + i];
            s0 += b * (a0 * src[p] + a1 * src[p + 3] + a2 * src[p + 6] + a3 * src[p + 9]);
            s1 += b * (a0 * src[p + 1] + a1 * src[p + 4] + a2 * src[p + 7] + a3 * src[p + 10]);
            s2 += b * (a0 * src[p + 2] + a1 * src[p + 5] + a2 * src[p + 8] + a3 * src[p + 11]);
            p += stride;
          }
          dst[o] = s0;
          dst[o + 1] = s1;
          dst[o + 2] = s2;
        } else {
          for (let c = 0; c < 3; c++) dst[o + c] = slowFloat(src, sw, sh, 3, c, X, Y, 4, 1, tab, border, borderValue, ixs, iys);
        }
      }
    };
  }
  if (C === 3 && ks === 2) {
    return (xs, ys, n, dOff) => {
      for (let x = 0; x < n; x++) {
        const X = xs[x], Y = ys[x];
        const ix = X >> INTER_BITS, iy = Y >> INTER_BITS;
        const o = dOff + x * 3;
        if (ix >= 0 && iy >= 0 && ix + 2 <= sw && iy + 2 <= sh) {
          const fx = (X & FRAC) * 2, fy = (Y & FRAC) * 2;
          const a0 = tab[fx], a1 = tab[fx + 1], b0 = tab[fy], b1 = tab[fy + 1];
          const p = iy * stride + ix * 3, q = p + stride;
          dst[o] = b0 * (a0 * src[p] + a1 * src[p + 3]) + b1 * (a0 * src[q] + a1 * src[q + 3]);
          dst[o + 1] = b0 * (a0 * src[p + 1] + a1 * src[p + 4]) + b1 * (a0 * src[q + 1] + a1 * src[q + 4]);
          dst[o + 2] = b0 * (a0 * src[p + 2] + a1 * src[p + 5]) + b1 * (a0 * src[q + 2] + a1 * src[q + 5]);
        } else {
          for (let c = 0; c < 3; c++) dst[o + c] = slowFloat(src, sw, sh, 3, c, X, Y, 2, 0, tab, border, borderValue, ixs, iys);
        }
      }
    };
  }
  if (C === 1 && ks === 2) {
    return (xs, ys, n, dOff) => {
      for (let x = 0; x < n; x++) {
        const X = xs[x], Y = ys[x];
        const ix = X >> INTER_BITS, iy = Y >> INTER_BITS;
        const o = dOff + x;
        if (ix >= 0 && iy >= 0 && ix + 2 <= sw && iy + 2 <= sh) {
          const fx = (X & FRAC) * 2, fy = (Y & FRAC) * 2;
          const p = iy * sw + ix;
          const r0 = tab[fx] * src[p] + tab[fx + 1] * src[p + 1];
          const r1 = tab[fx] * src[p + sw] + tab[fx + 1] * src[p + sw + 1];
          dst[o] = tab[fy] * r0 + tab[fy + 1] * r1;
        } else {
          dst[o] = slowFloat(src, sw, sh, 1, 0, X, Y, 2, 0, tab, border, borderValue, ixs, iys);
        }
      }
    };
  }
  return (xs, ys, n, dOff) => {
    for (let x = 0; x < n; x++) {
      const X = xs[x], Y = ys[x];
      const ix = (X >> INTER_BITS) - back, iy = (Y >> INTER_BITS) - back;
      const cx = (X & FRAC) * ks, cy = (Y & FRAC) * ks;
      const o = dOff + x * C;
      if (ix >= 0 && iy >= 0 && ix + ks <= sw && iy + ks <= sh) {
        for (let c = 0; c < C; c++) {
          let s = 0;
          let p = iy * stride + ix * C + c;
          for (let i = 0; i < ks; i++) {
            let r = 0;
            for (let j = 0; j < ks; j++) r += tab[cx + j] * src[p + j * C];
            s += tab[cy + i] * r;
            p += stride;
          }
          dst[o + c] = s;
        }
      } else {
        for (let c = 0; c < C; c++) dst[o + c] = slowFloat(src, sw, sh, C, c, X, Y, ks, back, tab, border, borderValue, ixs, iys);
      }
    }
  };
}

function slowFloat(
  src: Float32Array,
  sw: number,
  sh: number,
  C: number,
  c: number,
  X: number,
  Y: number,
  ks: number,
  back: number,
  tab: Float64Array,
  border: BorderMode,
  bval: number,
  ixs: Int32Array,
  iys: Int32Array,
): number {
  const ix = (X >> INTER_BITS) - back, iy = (Y >> INTER_BITS) - back;
  if (border === 'constant' && (ix >= sw || iy >= sh || ix + ks <= 0 || iy + ks <= 0)) return bval;
  const cx = (X & FRAC) * ks, cy = (Y & FRAC) * ks;
  for (let k = 0; k < ks; k++) {
    ixs[k] = borderIndex(ix + k, sw, border);
    iys[k] = borderIndex(iy + k, sh, border);
  }
  let s = 0;
  for (let i = 0; i < ks; i++) {
    const yy = iys[i];
    let r = 0;
    for (let j = 0; j < ks; j++) {
      const xx = ixs[j];
      r += tab[cx + j] * (yy < 0 || xx < 0 ? bval : src[(yy * sw + xx) * C + c]);
    }
    s += tab[cy + i] * r;
  }
  return s;
}

/** A row sampler over an 8-bit image (OpenCV fixed point: 2-D weights scaled by 2^15, rounded, saturated). */
export function u8RowSampler(
  src: Uint8Array,
  sw: number,
  sh: number,
  C: number,
  dst: Uint8Array,
  kind: Interpolation,
  border: BorderMode,
  borderValue: number,
): RowSampler {
  const bval = Math.max(0, Math.min(255, Math.round(borderValue)));
  if (kind === 'nearest') {
    return (xs, ys, n, dOff) => {
      for (let x = 0; x < n; x++) {
        let sx = xs[x], sy = ys[x];
        const o = dOff + x * C;
        if (sx < 0 || sy < 0 || sx >= sw || sy >= sh) {
          if (border === 'constant') {
            for (let c = 0; c < C; c++) dst[o + c] = bval;
            continue;
          }
          sx = sx < 0 ? 0 : sx >= sw ? sw - 1 : sx;
          sy = sy < 0 ? 0 : sy >= sh ? sh - 1 : sy;
        }
        const p = (sy * sw + sx) * C;
        for (let c = 0; c < C; c++) dst[o + c] = src[p + c];
      }
    };
  }
  const ks = kernelSize(kind);
  const k2 = ks * ks;
  const tab = intKernelTable2D(kind);
  const back = ks / 2 - 1;
  const stride = sw * C;
  const ixs = new Int32Array(ks);
  const iys = new Int32Array(ks);
  const half = 1 << (INTER_REMAP_COEF_BITS - 1);
  const scale = 1 << INTER_REMAP_COEF_BITS;
  return (xs, ys, n, dOff) => {
    for (let x = 0; x < n; x++) {
      const X = xs[x], Y = ys[x];
      const ix = (X >> INTER_BITS) - back, iy = (Y >> INTER_BITS) - back;
      const w0 = (((Y & FRAC) << INTER_BITS) + (X & FRAC)) * k2;
      const o = dOff + x * C;
      const inside = ix >= 0 && iy >= 0 && ix + ks <= sw && iy + ks <= sh;
      if (!inside && border === 'constant' && (ix >= sw || iy >= sh || ix + ks <= 0 || iy + ks <= 0)) {
        for (let c = 0; c < C; c++) dst[o + c] = bval;
        continue;
      }
      if (!inside) {
        for (let k = 0; k < ks; k++) {
          ixs[k] = borderIndex(ix + k, sw, border);
          iys[k] = borderIndex(iy + k, sh, border);
        }
      }
      for (let c = 0; c < C; c++) {
        let s = 0;
        if (inside) {
          let p = iy * stride + ix * C + c;
          let w = w0;
          for (let i = 0; i < ks; i++) {
            for (let j = 0; j < ks; j++) s += tab[w++] * src[p + j * C];
            p += stride;
          }
        } else {
          let w = w0;
          for (let i = 0; i < ks; i++) {
            const yy = iys[i];
            for (let j = 0; j < ks; j++) {
              const xx = ixs[j];
              s += tab[w++] * (yy < 0 || xx < 0 ? bval : src[(yy * sw + xx) * C + c]);
            }
          }
        }
        const v = Math.floor((s + half) / scale);
        dst[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  };
}

/**
 * IDT — iterative distribution transfer (`color_transfer_idt`, bins 256, n_rot 20; spec §E.6). Needs random rotations
 * of dimension ≥ 2, so it is a 3-channel mode (spec §E.9).
 */
import type { FloatImage } from '../image/rawImage.ts';
import type { Rng } from '../samples/random.ts';

export interface IdtOptions {
  /** Histogram bins (default 256, spec §E.6). */
  bins?: number;
  /** Rotations (default 20, spec §E.6); the relaxation is 1/n_rot. */
  nRot?: number;
  /**
   * What a value below the first upper bin edge maps to. 'dfl' (default): 0, as DFL's `np.interp(…, left=0)` does
   * (spec §E.6). 'edge': the first mapped value (the textbook algorithm).
   */
  lowBin?: 'dfl' | 'edge';
}

/**
 * A uniformly random rotation in SO(n) (what `scipy.stats.special_ortho_group.rvs` draws): Gram–Schmidt QR of a
 * Gaussian matrix with the signs fixed by R's diagonal, then one row negated if the determinant is −1. Row-major.
 */
export function randomRotation(n: number, rng: Rng): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) q[i] = rng.normal();
  // modified Gram–Schmidt on the rows
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let d = 0;
      for (let k = 0; k < n; k++) d += q[i * n + k] * q[j * n + k];
      for (let k = 0; k < n; k++) q[i * n + k] -= d * q[j * n + k];
    }
    let norm = 0;
    for (let k = 0; k < n; k++) norm += q[i * n + k] * q[i * n + k];
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < n; k++) q[i * n + k] /= norm;
  }
  if (det(q, n) < 0) for (let k = 0; k < n; k++) q[k] = -q[k];
  return q;
}

function det(a: Float64Array, n: number): number {
  if (n === 1) return a[0];
  if (n === 2) return a[0] * a[3] - a[1] * a[2];
  if (n === 3)
    return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6]);
  // general: LU without pivot is fine for an orthogonal matrix's sign only in small n; use Gaussian elimination
  const m = a.slice();
  let d = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    if (m[p * n + c] === 0) return 0;
    if (p !== c) {
      d = -d;
      for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
    }
    d *= m[c * n + c];
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      for (let k = c; k < n; k++) m[r * n + k] -= f * m[c * n + k];
    }
  }
  return d;
}

/**
 * `np.interp(x, xp, fp, left, right)` for increasing (possibly repeated) xp: the largest j with xp[j] ≤ x, then
 * linear interpolation towards j + 1.
 */
export function interp1(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>, left: number, right: number): number {
  const n = xp.length;
  if (x < xp[0]) return left;
  if (x > xp[n - 1]) return right;
  if (x === xp[n - 1]) return fp[n - 1];
  let lo = 0, hi = n - 1; // xp[lo] ≤ x < xp[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid] <= x) lo = mid;
    else hi = mid;
  }
  const dx = xp[hi] - xp[lo];
  return dx > 0 ? fp[lo] + ((x - xp[lo]) * (fp[hi] - fp[lo])) / dx : fp[lo];
}

/**
 * `color_transfer_idt(target, reference)` (spec §E.6): 20 times, rotate both point clouds by a random rotation R;
 * per rotated axis build 256-bin histograms on the common [min, max], map the target's CDF onto the reference values
 * (`np.interp(cdf_t, cdf_r, upper_edges)`), map each point through it (`np.interp(v, upper_edges, f, left=0,
 * right=bins)` — DFL's quirk: points in the lowest bin map to 0, reproduced), and move x by (1/n_rot)·R⁻¹·(mapped −
 * rotated x). Clipped to [0,1].
 */
export function colorTransferIdt(target: FloatImage, reference: FloatImage, rng: Rng, opts: IdtOptions = {}): FloatImage {
  const C = target.channels;
  if (reference.channels !== C) throw new RangeError(`IDT: channel counts differ (${C} vs ${reference.channels})`);
  const bins = opts.bins ?? 256;
  const nRot = opts.nRot ?? 20;
  const relax = 1 / nRot;
  const lowLeft = opts.lowBin === 'edge';
  const P = target.width * target.height, Q = reference.width * reference.height;
  const d0 = Float64Array.from(target.data);
  const d1 = reference.data;
  const r0 = new Float64Array(P * C); // rotated target, channel-major (axis j at j·P)
  const r1 = new Float64Array(Q * C);
  const delta = new Float64Array(P * C);
  const h0 = new Float64Array(bins), h1 = new Float64Array(bins);
  const upper = new Float64Array(bins), f = new Float64Array(bins);
  for (let it = 0; it < nRot; it++) {
    const R = randomRotation(C, rng);
    for (let i = 0; i < P; i++)
      for (let j = 0; j < C; j++) {
        let v = 0;
        for (let k = 0; k < C; k++) v += R[j * C + k] * d0[i * C + k];
        r0[j * P + i] = v;
      }
    for (let i = 0; i < Q; i++)
      for (let j = 0; j < C; j++) {
        let v = 0;
        for (let k = 0; k < C; k++) v += R[j * C + k] * d1[i * C + k];
        r1[j * Q + i] = v;
      }
    for (let j = 0; j < C; j++) {
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < P; i++) {
        const v = r0[j * P + i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      for (let i = 0; i < Q; i++) {
        const v = r1[j * Q + i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi === lo) {
        // np.histogram widens an empty range by ±0.5
        lo -= 0.5;
        hi += 0.5;
      }
      const norm = bins / (hi - lo);
      h0.fill(0);
      h1.fill(0);
      for (let i = 0; i < P; i++) h0[Math.min(bins - 1, Math.floor((r0[j * P + i] - lo) * norm))]++;
      for (let i = 0; i < Q; i++) h1[Math.min(bins - 1, Math.floor((r1[j * Q + i] - lo) * norm))]++;
      for (let b = 1; b < bins; b++) {
        h0[b] += h0[b - 1];
        h1[b] += h1[b - 1];
      }
      const t0 = h0[bins - 1], t1 = h1[bins - 1];
      // upper bin edges as np.linspace makes them: k·step + lo, the last one exactly hi (the maximum point must not
      // fall outside them, where `right = bins` would throw it far away)
      const step = (hi - lo) / bins;
      for (let b = 0; b < bins; b++) {
        h0[b] /= t0;
        h1[b] /= t1;
        upper[b] = (b + 1) * step + lo;
      }
      upper[bins - 1] = hi;
      for (let b = 0; b < bins; b++) f[b] = interp1(h0[b], h1, upper, upper[0], upper[bins - 1]);
      for (let i = 0; i < P; i++) {
        const v = r0[j * P + i];
        delta[j * P + i] = interp1(v, upper, f, lowLeft ? f[0] : 0, bins) - v;
      }
    }
    // d0 += relax · Rᵀ·delta (R orthogonal: R⁻¹ = Rᵀ)
    for (let i = 0; i < P; i++)
      for (let k = 0; k < C; k++) {
        let v = 0;
        for (let j = 0; j < C; j++) v += R[j * C + k] * delta[j * P + i];
        d0[i * C + k] += relax * v;
      }
  }
  const out = new Float32Array(P * C);
  for (let i = 0; i < out.length; i++) {
    const v = d0[i];
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return { width: target.width, height: target.height, channels: C, data: out };
}

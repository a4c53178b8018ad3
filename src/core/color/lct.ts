/**
 * LCT — linear colour transfer (`linear_color_transfer`, spec §E.3; one-channel form §E.9), plus the small dense
 * linear algebra (channel statistics, symmetric eigendecomposition, square roots, inverses) that LCT and MKL share.
 * Matrices are C×C (C = 1 or 3), row-major Float64Arrays. Images are FloatImage in [0,1], H×W×C interleaved.
 */
import type { FloatImage } from '../image/rawImage.ts';

// ---- statistics ---------------------------------------------------------------------------------------------------

export interface ChannelStats {
  /** Per-channel means (length C). */
  mean: Float64Array;
  /** C×C covariance, row-major (population, divided by n, unless `unbiased`). */
  cov: Float64Array;
  /** Pixels that took part. */
  n: number;
}

/**
 * Mean and covariance of the channels over all pixels, or over the pixels whose mask value is ≥ `cutoff` (the mask
 * is H×W×1, or its first channel is used). `unbiased` divides by n − 1 (NumPy's `np.cov`), otherwise by n.
 */
export function channelStats(img: FloatImage, mask?: FloatImage | null, cutoff = 0.5, unbiased = false): ChannelStats {
  const { channels: C, data } = img;
  const P = img.width * img.height;
  if (mask && mask.width * mask.height !== P) throw new RangeError('channelStats: mask size differs from the image');
  const md = mask?.data;
  const mC = mask?.channels ?? 1;
  const mean = new Float64Array(C);
  let n = 0;
  for (let i = 0; i < P; i++) {
    if (md && !(md[i * mC] >= cutoff)) continue;
    n++;
    for (let c = 0; c < C; c++) mean[c] += data[i * C + c];
  }
  const cov = new Float64Array(C * C);
  if (n === 0) return { mean, cov, n };
  for (let c = 0; c < C; c++) mean[c] /= n;
  const d = new Float64Array(C);
  for (let i = 0; i < P; i++) {
    if (md && !(md[i * mC] >= cutoff)) continue;
    for (let c = 0; c < C; c++) d[c] = data[i * C + c] - mean[c];
    for (let a = 0; a < C; a++) for (let b = a; b < C; b++) cov[a * C + b] += d[a] * d[b];
  }
  const div = unbiased ? Math.max(1, n - 1) : n;
  for (let a = 0; a < C; a++)
    for (let b = a; b < C; b++) {
      cov[a * C + b] /= div;
      cov[b * C + a] = cov[a * C + b];
    }
  return { mean, cov, n };
}

// ---- small dense linear algebra ----------------------------------------------------------------------------------

export interface SymEig {
  /** Eigenvalues (length n). */
  values: Float64Array;
  /** Eigenvectors as the columns of an n×n row-major matrix: A = V·diag(values)·Vᵀ. */
  vectors: Float64Array;
}

/** Eigendecomposition of a symmetric n×n matrix (cyclic Jacobi rotations; n is 1–4 here). */
export function symEig(A: ArrayLike<number>, n: number): SymEig {
  const a = Float64Array.from({ length: n * n }, (_, i) => A[i]);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0, diag = 0;
    for (let p = 0; p < n; p++) {
      diag += a[p * n + p] * a[p * n + p];
      for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** V·diag(f(λ))·Vᵀ for a symmetric matrix given by its eigendecomposition. */
export function symFunction(e: SymEig, n: number, f: (lambda: number) => number): Float64Array {
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const fk = f(e.values[k]);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] += e.vectors[i * n + k] * fk * e.vectors[j * n + k];
  }
  return out;
}

/** n×n product A·B (row-major). */
export function matMul(A: ArrayLike<number>, B: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const aik = A[i * n + k];
      for (let j = 0; j < n; j++) out[i * n + j] += aik * B[k * n + j];
    }
  return out;
}

export function transpose(A: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j * n + i] = A[i * n + j];
  return out;
}

/** Inverse of an n×n matrix (Gauss–Jordan with partial pivoting); a singular matrix throws. */
export function matInv(A: ArrayLike<number>, n: number): Float64Array {
  const a = Float64Array.from({ length: n * n }, (_, i) => A[i]);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]) > Math.abs(a[piv * n + col])) piv = r;
    const pv = a[piv * n + col];
    if (pv === 0 || !Number.isFinite(pv)) throw new RangeError('matInv: singular matrix');
    if (piv !== col)
      for (let k = 0; k < n; k++) {
        let t = a[col * n + k];
        a[col * n + k] = a[piv * n + k];
        a[piv * n + k] = t;
        t = inv[col * n + k];
        inv[col * n + k] = inv[piv * n + k];
        inv[piv * n + k] = t;
      }
    for (let k = 0; k < n; k++) {
      a[col * n + k] /= pv;
      inv[col * n + k] /= pv;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r * n + col];
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        a[r * n + k] -= f * a[col * n + k];
        inv[r * n + k] -= f * inv[col * n + k];
      }
    }
  }
  return inv;
}

/** Lower Cholesky factor L (A = L·Lᵀ) of a symmetric positive definite n×n matrix. */
export function cholesky(A: ArrayLike<number>, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new RangeError('cholesky: matrix is not positive definite');
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j];
    }
  return L;
}

/**
 * out = M·(x − μ_from) + μ_to for every pixel, written into a new image; values clipped to [0,1] when `clip`.
 * No per-pixel allocation.
 */
export function applyAffineColor(
  img: FloatImage,
  M: ArrayLike<number>,
  muFrom: ArrayLike<number>,
  muTo: ArrayLike<number>,
  clip: boolean,
): FloatImage {
  const { channels: C, data } = img;
  const P = img.width * img.height;
  const out = new Float32Array(P * C);
  const d = new Float64Array(C);
  for (let i = 0; i < P; i++) {
    const o = i * C;
    for (let c = 0; c < C; c++) d[c] = data[o + c] - muFrom[c];
    for (let r = 0; r < C; r++) {
      let v = muTo[r];
      for (let c = 0; c < C; c++) v += M[r * C + c] * d[c];
      out[o + r] = clip ? (v < 0 ? 0 : v > 1 ? 1 : v) : v;
    }
  }
  return { width: img.width, height: img.height, channels: C, data: out };
}

// ---- LCT ----------------------------------------------------------------------------------------------------------

export type LctMode = 'pca' | 'chol' | 'sym';

export interface LctOptions {
  /** Default 'pca' (spec §E.3). */
  mode?: LctMode;
  /** Added to the covariance diagonals; default 1e-5 (spec §E.3). */
  eps?: number;
  /**
   * Extension (not in DFL, whose LCT always uses whole images): take the target's statistics only over the pixels
   * where this mask is ≥ 0.5. The transform is still applied to every pixel.
   */
  targetMask?: FloatImage | null;
  /** Extension: the reference's statistics only where this mask is ≥ 0.5. */
  referenceMask?: FloatImage | null;
}

/**
 * `linear_color_transfer(target, reference)` (spec §E.3): re-colour `target` so its channel mean and covariance
 * become the reference's. With C = 1 this is out = (x − μ_x)·√((σ_ref² + eps)/(σ_x² + eps)) + μ_ref, a global
 * brightness/contrast match (§E.9). The result is clipped to [0,1].
 */
export function linearColorTransfer(target: FloatImage, reference: FloatImage, opts: LctOptions = {}): FloatImage {
  const C = target.channels;
  if (reference.channels !== C) throw new RangeError(`LCT: channel counts differ (${C} vs ${reference.channels})`);
  const eps = opts.eps ?? 1e-5;
  const mode = opts.mode ?? 'pca';
  const st = channelStats(target, opts.targetMask);
  const ss = channelStats(reference, opts.referenceMask);
  if (st.n === 0 || ss.n === 0) return { ...target, data: target.data.slice() };
  const Ct = st.cov.slice(), Cs = ss.cov.slice();
  for (let c = 0; c < C; c++) {
    Ct[c * C + c] += eps;
    Cs[c * C + c] += eps;
  }
  let M: Float64Array;
  if (mode === 'chol') {
    // Ls·Lt⁻¹
    M = matMul(cholesky(Cs, C), matInv(cholesky(Ct, C), C), C);
  } else {
    const Qt = symFunction(symEig(Ct, C), C, (l) => Math.sqrt(Math.max(l, 0)));
    if (mode === 'pca') {
      // Qs·Qt⁻¹ with Q = E·diag(√λ)·Eᵀ (spec §E.3)
      const Qs = symFunction(symEig(Cs, C), C, (l) => Math.sqrt(Math.max(l, 0)));
      M = matMul(Qs, matInv(Qt, C), C);
    } else {
      // sym: Qt⁻¹·(Qt·Cs·Qt)^½·Qt⁻¹
      const Qti = matInv(Qt, C);
      const mid = symFunction(symEig(matMul(matMul(Qt, Cs, C), Qt, C), C), C, (l) => Math.sqrt(Math.max(l, 0)));
      M = matMul(matMul(Qti, mid, C), Qti, C);
    }
  }
  return applyAffineColor(target, M, st.mean, ss.mean, true);
}

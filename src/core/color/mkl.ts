/**
 * MKL — Monge–Kantorovich linear colour transfer (`color_transfer_mkl`, spec §E.5): the linear map between two
 * Gaussians that moves each point least (in the L2 sense). Needs a C×C covariance, so it is defined for 3 channels
 * (spec §E.9); with one channel it reduces to a mean/std match and is offered only for colour models.
 */
import type { FloatImage } from '../image/rawImage.ts';
import { applyAffineColor, channelStats, matMul, symEig, transpose } from './lct.ts';

/** float64 machine epsilon (`np.finfo(float).eps`, spec §E.5). */
const EPS = 2.220446049250313e-16;

/**
 * A = cov(target), B = cov(reference) (NumPy's unbiased covariance); A = Ua·diag(λa)·Uaᵀ, Da = diag(√max(λa, eps));
 * Cm = Da·Uaᵀ·B·Ua·Da = Uc·diag(λc)·Ucᵀ, Dc = diag(√max(λc, eps)); T = Ua·Da⁻¹·Uc·Dc·Ucᵀ·Da⁻¹·Uaᵀ;
 * result = (x − mean_x)·T + mean_ref, clipped to [0,1] (spec §E.5). T is symmetric, so x·T = T·x.
 */
export function colorTransferMkl(target: FloatImage, reference: FloatImage): FloatImage {
  const C = target.channels;
  if (reference.channels !== C) throw new RangeError(`MKL: channel counts differ (${C} vs ${reference.channels})`);
  const sa = channelStats(target, null, 0, true);
  const sb = channelStats(reference, null, 0, true);
  const ea = symEig(sa.cov, C);
  const Ua = ea.vectors;
  const da = new Float64Array(C);
  for (let i = 0; i < C; i++) da[i] = Math.sqrt(Math.max(ea.values[i], EPS));
  // Cm = Da·Uaᵀ·B·Ua·Da
  const UtBU = matMul(matMul(transpose(Ua, C), sb.cov, C), Ua, C);
  const Cm = new Float64Array(C * C);
  for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) Cm[i * C + j] = da[i] * UtBU[i * C + j] * da[j];
  const ec = symEig(Cm, C);
  const Uc = ec.vectors;
  // middle = Uc·Dc·Ucᵀ
  const mid = new Float64Array(C * C);
  for (let k = 0; k < C; k++) {
    const dc = Math.sqrt(Math.max(ec.values[k], EPS));
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) mid[i * C + j] += Uc[i * C + k] * dc * Uc[j * C + k];
  }
  // Da⁻¹·mid·Da⁻¹
  const inner = new Float64Array(C * C);
  for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) inner[i * C + j] = mid[i * C + j] / (da[i] * da[j]);
  const T = matMul(matMul(Ua, inner, C), transpose(Ua, C), C);
  // (x − μ)·T = Tᵀ·(x − μ) as a column; pass Tᵀ as the row-major matrix applied to column vectors
  return applyAffineColor(target, transpose(T, C), sa.mean, sb.mean, true);
}

/**
 * Image-quality metrics for `saehdbw eval` (issue 10) and the studio: SSIM and PSNR of a model's output against the
 * face, over the whole image and weighted by a face mask (spec §D.5's full-face mask: the landmark hull, or the file's
 * XSeg mask). Pure float64 JavaScript over interleaved (HWC) arrays, no tfjs, so the numbers do not depend on a backend.
 *
 * SSIM is Wang et al. (2004): an 11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03, dynamic range L (1 for
 * images in [0, 1]), "valid" windows only, computed per channel and averaged. These are the constants DFL's DSSIM loss
 * uses too (§C.5), except that the loss takes the window size from the resolution; here it stays 11 so results are
 * comparable across resolutions, as in the usual SSIM reporting.
 * Masked SSIM weights each window's SSIM with the mask value at the window centre; masked PSNR weights each pixel's
 * squared error with the mask value.
 */

/** An image in [0, range] with interleaved channels (HWC), e.g. a model output read back from a tensor. */
export interface MetricImage {
  width: number;
  height: number;
  channels: number;
  data: ArrayLike<number>;
}

export interface SsimOptions {
  /** Weights in [0, 1], one per pixel (width × height); absent = unmasked. */
  mask?: ArrayLike<number>;
  /** Dynamic range L of the values (default 1). */
  range?: number;
  /** Gaussian window size (default 11) and σ (default 1.5). */
  windowSize?: number;
  sigma?: number;
}

export interface PsnrOptions {
  mask?: ArrayLike<number>;
  range?: number;
}

function checkPair(a: MetricImage, b: MetricImage): void {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels)
    throw new RangeError(`images differ in size: ${a.width}×${a.height}×${a.channels} and ${b.width}×${b.height}×${b.channels}`);
  const n = a.width * a.height * a.channels;
  if (a.data.length !== n || b.data.length !== n) throw new RangeError(`image data must hold ${n} values`);
}

function checkMask(mask: ArrayLike<number> | undefined, a: MetricImage): void {
  if (mask && mask.length !== a.width * a.height) throw new RangeError(`mask must hold ${a.width * a.height} values (one per pixel)`);
}

/** Normalised 1-D Gaussian taps: exp(−(x − c)²/(2σ²)), c = (n − 1)/2. */
function gaussianTaps(n: number, sigma: number): Float64Array {
  const t = new Float64Array(n);
  const c = (n - 1) / 2;
  let s = 0;
  for (let i = 0; i < n; i++) s += t[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < n; i++) t[i] /= s;
  return t;
}

/** Separable "valid" filtering of one plane (w×h) → (w−k+1)×(h−k+1). */
function filterValid(p: Float64Array, w: number, h: number, taps: Float64Array): Float64Array {
  const k = taps.length;
  const ow = w - k + 1;
  const oh = h - k + 1;
  const tmp = new Float64Array(ow * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      const row = y * w + x;
      for (let i = 0; i < k; i++) s += taps[i] * p[row + i];
      tmp[y * ow + x] = s;
    }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += taps[i] * tmp[(y + i) * ow + x];
      out[y * ow + x] = s;
    }
  return out;
}

/**
 * The SSIM map of one channel pair: (w−k+1)×(h−k+1) values, each the SSIM of the window whose top-left corner is
 * there (its centre is at +⌊k/2⌋).
 */
function ssimMapPlane(x: Float64Array, y: Float64Array, w: number, h: number, taps: Float64Array, range: number): Float64Array {
  const n = w * h;
  const xx = new Float64Array(n);
  const yy = new Float64Array(n);
  const xy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i] * x[i];
    yy[i] = y[i] * y[i];
    xy[i] = x[i] * y[i];
  }
  const mx = filterValid(x, w, h, taps);
  const my = filterValid(y, w, h, taps);
  const sxx = filterValid(xx, w, h, taps);
  const syy = filterValid(yy, w, h, taps);
  const sxy = filterValid(xy, w, h, taps);
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  const out = new Float64Array(mx.length);
  for (let i = 0; i < out.length; i++) {
    const vx = sxx[i] - mx[i] * mx[i];
    const vy = syy[i] - my[i] * my[i];
    const cxy = sxy[i] - mx[i] * my[i];
    out[i] = ((2 * mx[i] * my[i] + c1) * (2 * cxy + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
  }
  return out;
}

function plane(img: MetricImage, c: number): Float64Array {
  const n = img.width * img.height;
  const C = img.channels;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = img.data[i * C + c];
  return out;
}

/**
 * Mean SSIM of `a` against `b` (symmetric), averaged over channels; with `mask`, the window SSIMs are averaged with
 * the mask value at each window's centre as weight (NaN when the mask is empty under every window).
 */
export function ssim(a: MetricImage, b: MetricImage, opts: SsimOptions = {}): number {
  checkPair(a, b);
  checkMask(opts.mask, a);
  const k = opts.windowSize ?? 11;
  const { width: w, height: h, channels: C } = a;
  if (w < k || h < k) throw new RangeError(`images of ${w}×${h} are smaller than the ${k}×${k} SSIM window`);
  const taps = gaussianTaps(k, opts.sigma ?? 1.5);
  const range = opts.range ?? 1;
  const ow = w - k + 1;
  const oh = h - k + 1;
  const half = Math.floor(k / 2);
  let total = 0;
  let weight = 0;
  for (let c = 0; c < C; c++) {
    const map = ssimMapPlane(plane(a, c), plane(b, c), w, h, taps, range);
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++) {
        const m = opts.mask ? opts.mask[(y + half) * w + x + half] : 1;
        if (m === 0) continue;
        total += m * map[y * ow + x];
        weight += m;
      }
  }
  return weight > 0 ? total / weight : NaN;
}

/** Mean squared error, pixel-weighted by `mask` when given (NaN for an empty mask). */
export function mse(a: MetricImage, b: MetricImage, mask?: ArrayLike<number>): number {
  checkPair(a, b);
  checkMask(mask, a);
  const n = a.width * a.height;
  const C = a.channels;
  let s = 0;
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const m = mask ? mask[i] : 1;
    if (m === 0) continue;
    let e = 0;
    for (let c = 0; c < C; c++) {
      const d = a.data[i * C + c] - b.data[i * C + c];
      e += d * d;
    }
    s += m * e;
    wsum += m * C;
  }
  return wsum > 0 ? s / wsum : NaN;
}

/** PSNR in dB: 10·log10(L² / MSE); +Infinity for identical images, NaN for an empty mask. */
export function psnr(a: MetricImage, b: MetricImage, opts: PsnrOptions = {}): number {
  const e = mse(a, b, opts.mask);
  const range = opts.range ?? 1;
  if (Number.isNaN(e)) return NaN;
  return e === 0 ? Infinity : 10 * Math.log10((range * range) / e);
}

export interface FaceMetrics {
  ssim: number;
  ssim_masked: number;
  psnr: number;
  psnr_masked: number;
}

/** The four numbers `saehdbw eval` reports for one face: unmasked and mask-weighted SSIM and PSNR. */
export function faceMetrics(output: MetricImage, face: MetricImage, mask: ArrayLike<number>, range = 1): FaceMetrics {
  return {
    ssim: ssim(output, face, { range }),
    ssim_masked: ssim(output, face, { range, mask }),
    psnr: psnr(output, face, { range }),
    psnr_masked: psnr(output, face, { range, mask }),
  };
}

/**
 * Means over faces, skipping NaN (empty masks); each field also counts the faces it averaged. PSNR means are of the
 * per-face dB values (the usual reporting); an Infinity (a perfect face) makes the mean Infinity.
 */
export function meanMetrics(list: readonly FaceMetrics[]): FaceMetrics & { counted: Record<keyof FaceMetrics, number> } {
  const keys: (keyof FaceMetrics)[] = ['ssim', 'ssim_masked', 'psnr', 'psnr_masked'];
  const out = { ssim: NaN, ssim_masked: NaN, psnr: NaN, psnr_masked: NaN, counted: { ssim: 0, ssim_masked: 0, psnr: 0, psnr_masked: 0 } };
  for (const k of keys) {
    let s = 0;
    let n = 0;
    for (const m of list) {
      if (Number.isNaN(m[k])) continue;
      s += m[k];
      n++;
    }
    out[k] = n ? s / n : NaN;
    out.counted[k] = n;
  }
  return out;
}

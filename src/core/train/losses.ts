/**
 * SAEHD loss building blocks (spec §C.3, §C.5, §C.7): Gaussian blur, DSSIM, loss-mask blur, blur_out_mask, style loss,
 * sigmoid cross-entropy and total variation. Every function takes and returns NHWC float32 tensors and works inside
 * the caller's tf.tidy / gradient tape; none reads data back.
 *
 * Backend note (shared/notes/webgpu-on-this-machine.md): the wasm backend has no gradient kernels for depthwise
 * convolutions, so DFL's depthwise blurs are done as plain conv2d with a one-channel kernel after folding the channels
 * into the batch axis. Only the input gradient (Conv2DBackpropInput) is ever needed, which every backend has.
 * The 2-D Gaussians used here are outer products of a 1-D Gaussian with itself, so each blur is applied as two 1-D
 * convolutions (k×1 then 1×k). That equals the 2-D kernel of DFL up to float32 rounding and costs 2k instead of k²
 * multiply-adds per pixel (k = 25 for the res-192 loss mask, 97 for the res-192 style blur).
 */
import * as tf from '@tensorflow/tfjs';

// ---- kernels (pure JS, float64) ---------------------------------------------------------------------------------

/**
 * Kernel size of DFL's `gaussian_blur(x, sigma)` (§C.5): K = max(3, ⌊4σ⌋), +1 if even.
 * DFL computes int(4σ + 1), which is the same for every σ where DFL works; for σ where int(4σ + 1) is even (e.g.
 * blur_out_mask at res 96, σ = 0.75) DFL's output grows by one pixel and the graph fails to build, so the spec's odd
 * size is the only workable reading.
 */
export function blurKernelSize(sigma: number): number {
  let k = Math.max(3, Math.floor(4 * sigma));
  if (k % 2 === 0) k += 1;
  return k;
}

/** Normalised 1-D taps of DFL's blur: exp(−(x − ⌊K/2⌋)²/(2σ²)), x = 0…K−1, divided by their sum. */
export function blurTaps1d(sigma: number): Float64Array {
  const k = blurKernelSize(sigma);
  const mean = Math.floor(k / 2);
  const taps = new Float64Array(k);
  let sum = 0;
  for (let x = 0; x < k; x++) {
    taps[x] = Math.exp(-((x - mean) ** 2) / (2 * sigma * sigma));
    sum += taps[x];
  }
  for (let x = 0; x < k; x++) taps[x] /= sum;
  return taps;
}

/** The full K×K blur kernel (row-major), = outer(taps, taps); used by tests and as documentation of the 2-D form. */
export function blurKernel2d(sigma: number): Float64Array {
  const t = blurTaps1d(sigma);
  const k = t.length;
  const out = new Float64Array(k * k);
  for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) out[y * k + x] = t[y] * t[x];
  return out;
}

/**
 * DSSIM window size for a model resolution (§C.5): ⌊res/11.6⌋ (96 → 8, 128 → 11, 192 → 16), and for res ≥ 256 the
 * second window ⌊res/23.2⌋. DFL's int() of a positive double is the floor; filter_size = max(1, ·).
 */
export function dssimFilterSizes(resolution: number): number[] {
  const fs1 = Math.max(1, Math.floor(resolution / 11.6));
  if (resolution < 256) return [fs1];
  return [fs1, Math.max(1, Math.floor(resolution / 23.2))];
}

/**
 * 1-D taps of DFL's DSSIM window: Gaussian with σ = 1.5 regardless of the size (§J.4 quirk 7), centred at (fs−1)/2.
 * DFL builds the 2-D window as a softmax of −(dx²+dy²)/(2σ²), which is exactly outer(taps, taps) with these
 * normalised 1-D taps.
 */
export function dssimTaps1d(filterSize: number, sigma = 1.5): Float64Array {
  const fs = Math.max(1, filterSize);
  const c = (fs - 1) / 2;
  const taps = new Float64Array(fs);
  let sum = 0;
  for (let i = 0; i < fs; i++) {
    taps[i] = Math.exp((-0.5 * (i - c) ** 2) / (sigma * sigma));
    sum += taps[i];
  }
  for (let i = 0; i < fs; i++) taps[i] /= sum;
  return taps;
}

// ---- separable convolution helpers ------------------------------------------------------------------------------

/**
 * Apply `f` to every channel of an NHWC tensor independently by folding channels into the batch axis
 * ([N,H,W,C] → [N·C,H,W,1]); this replaces DFL's depthwise convolutions (see the module note).
 */
function perChannel(x: tf.Tensor4D, f: (t: tf.Tensor4D) => tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c === 1) return f(x);
  const folded = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c, h, w, 1]) as tf.Tensor4D;
  const y = f(folded);
  const [, h2, w2] = y.shape;
  return tf.transpose(tf.reshape(y, [n, c, h2, w2]), [0, 2, 3, 1]) as tf.Tensor4D;
}

/** Two 1-D VALID convolutions (vertical, then horizontal) of a one-channel NHWC tensor with the same taps. */
function separableValid(x: tf.Tensor4D, taps: Float64Array): tf.Tensor4D {
  const k = taps.length;
  if (k === 1) return tf.mul(x, taps[0]) as tf.Tensor4D;
  const t32 = Float32Array.from(taps);
  const kv = tf.tensor4d(t32, [k, 1, 1, 1]);
  const kh = tf.tensor4d(t32, [1, k, 1, 1]);
  return tf.conv2d(tf.conv2d(x, kv, 1, 'valid'), kh, 1, 'valid');
}

/**
 * DFL `gaussian_blur(x, σ)` (§C.5): zero padding of ⌊K/2⌋ on all four sides, then the normalised K×K Gaussian per
 * channel. Output has the input's shape.
 */
export function gaussianBlur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  return tf.tidy(() => {
    const taps = blurTaps1d(sigma);
    const p = Math.floor(taps.length / 2);
    return perChannel(x, (t) => separableValid(tf.pad(t, [[0, 0], [p, p], [p, p], [0, 0]]), taps));
  });
}

// ---- DSSIM ------------------------------------------------------------------------------------------------------

export interface DssimParams {
  filterSigma?: number;
  k1?: number;
  k2?: number;
  maxVal?: number;
}

/**
 * DFL `dssim(img1, img2, max_val, filter_size)` (§C.5), returning shape [N, C]: (1 − SSIM)/2 where SSIM is the spatial
 * mean, per sample and channel, of luminance × contrast-structure over a VALID Gaussian window (σ 1.5,
 * c1 = (k1·max)², c2 = (k2·max)²). As in DFL the second moments come from one window pass over img1² + img2².
 */
export function dssim(img1: tf.Tensor4D, img2: tf.Tensor4D, filterSize: number, params: DssimParams = {}): tf.Tensor2D {
  const { filterSigma = 1.5, k1 = 0.01, k2 = 0.03, maxVal = 1 } = params;
  return tf.tidy(() => {
    const n = img1.shape[0];
    const taps = dssimTaps1d(filterSize, filterSigma);
    const c1 = (k1 * maxVal) ** 2;
    const c2 = (k2 * maxVal) ** 2;
    // One windowing pass over the four maps stacked along the batch axis: img1, img2, img1·img2, img1² + img2².
    const stacked = tf.concat([img1, img2, tf.mul(img1, img2), tf.add(tf.square(img1), tf.square(img2))], 0) as tf.Tensor4D;
    const win = perChannel(stacked, (t) => separableValid(t, taps));
    const [mean0, mean1, w12, wsq] = tf.split(win, [n, n, n, n], 0);
    const num0 = tf.mul(tf.mul(mean0, mean1), 2);
    const den0 = tf.add(tf.square(mean0), tf.square(mean1));
    const luminance = tf.div(tf.add(num0, c1), tf.add(den0, c1));
    const num1 = tf.mul(w12, 2);
    const cs = tf.div(tf.add(tf.sub(num1, num0), c2), tf.add(tf.sub(wsq, den0), c2));
    const ssim = tf.mean(tf.mul(luminance, cs), [1, 2]);
    return tf.div(tf.sub(1, ssim), 2) as tf.Tensor2D;
  });
}

// ---- masks (§C.3) -----------------------------------------------------------------------------------------------

/** σ of the loss-mask blur (§C.3): max(1, res // 32). */
export function lossMaskSigma(resolution: number): number {
  return Math.max(1, Math.floor(resolution / 32));
}

/**
 * Loss mask (§C.3, J.1 item 10): M_blur = clip(B_σ(mask), 0, 0.5)·2 with σ = max(1, res // 32): 1 inside the face,
 * a soft ramp to 0 just outside the mask edge.
 */
export function lossMaskBlur(mask: tf.Tensor4D, resolution: number): tf.Tensor4D {
  return tf.tidy(() => tf.mul(tf.clipByValue(gaussianBlur(mask, lossMaskSigma(resolution)), 0, 0.5), 2) as tf.Tensor4D);
}

/**
 * `blur_out_mask` (§C.3): the background of a target is replaced by a blur of the background-only pixels, normalised
 * by how much background each blur window saw, so face colours do not bleed past the mask edge.
 * σ = res/128 (not an integer in general). target ← target·m + (B(target·(1−m)) / D)·(1−m), D = 1 − B(m) with exact
 * zeros replaced by 1.
 */
export function blurOutMask(target: tf.Tensor4D, mask: tf.Tensor4D, resolution: number): tf.Tensor4D {
  return tf.tidy(() => {
    const sigma = resolution / 128;
    const anti = tf.sub(1, mask) as tf.Tensor4D;
    const x = gaussianBlur(tf.mul(target, anti) as tf.Tensor4D, sigma);
    const y0 = tf.sub(1, gaussianBlur(mask, sigma));
    const y = tf.where(tf.equal(y0, 0), tf.onesLike(y0), y0);
    return tf.add(tf.mul(target, mask), tf.mul(tf.div(x, y), anti)) as tf.Tensor4D;
  });
}

// ---- per-sample reductions --------------------------------------------------------------------------------------

/** mean over H, W, C of (a − b)², shape [N] (DFL `reduce_mean(square(a − b), axis=[1,2,3])`). */
export function msePerSample(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.mean(tf.squaredDifference(a, b), [1, 2, 3]) as tf.Tensor1D);
}

/** mean over H, W, C of |a − b|, shape [N]. */
export function maePerSample(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b)), [1, 2, 3]) as tf.Tensor1D);
}

/** DSSIM averaged over channels, shape [N] (DFL `reduce_mean(dssim(...), axis=[1])`). */
export function dssimPerSample(a: tf.Tensor4D, b: tf.Tensor4D, filterSize: number): tf.Tensor1D {
  return tf.tidy(() => tf.mean(dssim(a, b, filterSize), 1) as tf.Tensor1D);
}

/**
 * The structural image term of §C.5 per sample: 10·DSSIM_fs below res 256, 5·DSSIM_fs + 5·DSSIM_fs2 from 256 up,
 * plus 10·MSE; `weight` scales the whole term. (The background-style term of §C.5 is not this: it always uses the one
 * ⌊res/11.6⌋ window, see trainStep.ts.)
 */
export function imageLossPerSample(target: tf.Tensor4D, pred: tf.Tensor4D, resolution: number, weight = 1): tf.Tensor1D {
  return tf.tidy(() => {
    const sizes = dssimFilterSizes(resolution);
    const dw = (10 * weight) / sizes.length;
    let loss = tf.mul(msePerSample(target, pred), 10 * weight) as tf.Tensor1D;
    for (const fs of sizes) loss = tf.add(loss, tf.mul(dssimPerSample(target, pred, fs), dw)) as tf.Tensor1D;
    return loss;
  });
}

// ---- style loss (§C.5) ------------------------------------------------------------------------------------------

/**
 * DFL `style_loss(target, style, gaussian_blur_radius, loss_weight)`: both inputs blurred with σ = blurSigma (when
 * > 0), then per channel (mean_a − mean_b)² + (std_a − std_b)² summed over channels, × weight / C; std = sqrt(var +
 * 1e-5) with the population variance over H, W. Shape [N].
 */
export function styleLoss(a: tf.Tensor4D, b: tf.Tensor4D, blurSigma: number, weight: number): tf.Tensor1D {
  return tf.tidy(() => {
    const c = a.shape[3];
    const ab = blurSigma > 0 ? gaussianBlur(a, blurSigma) : a;
    const bb = blurSigma > 0 ? gaussianBlur(b, blurSigma) : b;
    const ma = tf.moments(ab, [1, 2], true);
    const mb = tf.moments(bb, [1, 2], true);
    const sa = tf.sqrt(tf.add(ma.variance, 1e-5));
    const sb = tf.sqrt(tf.add(mb.variance, 1e-5));
    const meanLoss = tf.sum(tf.squaredDifference(ma.mean, mb.mean), [1, 2, 3]);
    const stdLoss = tf.sum(tf.squaredDifference(sa, sb), [1, 2, 3]);
    return tf.mul(tf.add(meanLoss, stdLoss), weight / c) as tf.Tensor1D;
  });
}

// ---- discriminator losses (§C.6, §C.7) --------------------------------------------------------------------------

/**
 * DFL `DLoss(labels, logits)`: mean over H, W, C of TF's sigmoid_cross_entropy_with_logits with a constant label,
 * in TF's stable form max(z, 0) − z·t + log(1 + exp(−|z|)). Shape [N].
 */
export function bceWithLogits(label: 0 | 1, logits: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const stable = tf.log1p(tf.exp(tf.neg(tf.abs(logits))));
    const lin = label === 1 ? tf.relu(tf.neg(logits)) : tf.relu(logits); // max(z,0) − z·t for t ∈ {0, 1}
    return tf.mean(tf.add(lin, stable), [1, 2, 3]) as tf.Tensor1D;
  });
}

/**
 * DFL `total_variation_mse` (§C.7): per sample, the sum of squared vertical plus horizontal neighbour differences.
 * DFL indexes axes 1 and 2 literally, which on its NCHW GPU path means channel and row differences; we use the NHWC
 * meaning (rows and columns) the formula was written for. Its weight in SAEHD is 1e-6, so the difference is academic.
 */
export function totalVariationMse(x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const dv = tf.sub(tf.slice(x, [0, 1, 0, 0], [n, h - 1, w, c]), tf.slice(x, [0, 0, 0, 0], [n, h - 1, w, c]));
    const dh = tf.sub(tf.slice(x, [0, 0, 1, 0], [n, h, w - 1, c]), tf.slice(x, [0, 0, 0, 0], [n, h, w - 1, c]));
    return tf.add(tf.sum(tf.square(dv), [1, 2, 3]), tf.sum(tf.square(dh), [1, 2, 3])) as tf.Tensor1D;
  });
}

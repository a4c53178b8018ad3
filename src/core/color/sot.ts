/**
 * SOT — sliced optimal transport colour transfer (`color_transfer_sot`, spec §E.2; one-channel behaviour §E.9) and
 * the merge-only `mix-m` mode built on it (spec §E.7).
 *
 * Sorting: every random direction needs the argsort of the target's projections and the sorted reference
 * projections; both use a stable LSD radix sort on the float32 bit patterns (3 passes of 11 bits) with buffers
 * allocated once per call.
 */
import { gaussianBlur } from '../image/filter.ts';
import type { FloatImage } from '../image/rawImage.ts';
import type { Rng } from '../samples/random.ts';
import { linearColorTransfer } from './lct.ts';
import { type ChannelOrder, fromLab, toLab } from './rct.ts';

export interface SotOptions {
  /** Default 10 (spec §E.2). */
  steps?: number;
  /** Random directions per step: 5 in training (DFL's default), 30 at merge time (spec §E.2). */
  batchSize?: number;
  /** Spatial sigma of the correction smoothing; 0 turns it off. Default 16 (spec §E.2). */
  regSigmaXY?: number;
  /**
   * Range sigma of DFL's bilateral filter (default 5). This port smooths with a Gaussian (the spec's allowed
   * substitute, §E.2), so the value is kept for the record but only σ_XY is used.
   */
  regSigmaV?: number;
}

/** Scratch buffers of the radix sorts. */
interface SortScratch {
  keys: Uint32Array;
  keys2: Uint32Array;
  idx: Uint32Array;
  idx2: Uint32Array;
  count: Uint32Array;
  f32: Float32Array;
  u32: Uint32Array;
}

function sortScratch(n: number): SortScratch {
  const f32 = new Float32Array(n);
  return {
    keys: new Uint32Array(n),
    keys2: new Uint32Array(n),
    idx: new Uint32Array(n),
    idx2: new Uint32Array(n),
    count: new Uint32Array(RADIX),
    f32,
    u32: new Uint32Array(f32.buffer),
  };
}

// LSD radix sort in three passes of 11 bits
const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;
const RADIX_MASK = RADIX - 1;

/** Order-preserving unsigned key of a float32 bit pattern (negative: all bits flipped; positive: sign bit set). */
function floatKey(b: number): number {
  return b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}

/**
 * Stable sort of `s.f32[0..n)` (ascending, in place); with `withIndex` the returned array (one of the scratch
 * arrays) holds the argsort: the original index of each sorted value.
 */
function radixArgsort(s: SortScratch, n: number, withIndex: boolean): Uint32Array {
  let keys = s.keys, keys2 = s.keys2, idx = s.idx, idx2 = s.idx2;
  const u = s.u32, count = s.count;
  for (let i = 0; i < n; i++) keys[i] = floatKey(u[i]);
  if (withIndex) for (let i = 0; i < n; i++) idx[i] = i;
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(keys[i] >>> shift) & RADIX_MASK]++;
    let sum = 0;
    for (let b = 0; b < RADIX; b++) {
      const c = count[b];
      count[b] = sum;
      sum += c;
    }
    if (withIndex)
      for (let i = 0; i < n; i++) {
        const k = keys[i];
        const p = count[(k >>> shift) & RADIX_MASK]++;
        keys2[p] = k;
        idx2[p] = idx[i];
      }
    else
      for (let i = 0; i < n; i++) {
        const k = keys[i];
        keys2[count[(k >>> shift) & RADIX_MASK]++] = k;
      }
    let t = keys;
    keys = keys2;
    keys2 = t;
    t = idx;
    idx = idx2;
    idx2 = t;
  }
  // keys now sorted: write the values back in order (inverse of floatKey)
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    u[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
  }
  return idx;
}

/**
 * `color_transfer_sot(target, reference)` (spec §E.2): x = target; `steps` times, for `batchSize` random unit
 * directions d, project x and the reference on d, sort both, and push the k-th smallest x point by
 * (sorted_ref[k] − sorted_x[k])·d; after the batch x += A / batchSize. Then the correction x − target is smoothed
 * (Gaussian 49×49, σ = 16: the spec's substitute for the 49×49 bilateral filter, §E.2) and added to the target.
 * Not clipped (callers clip, §E.2 step 3). With one channel the directions are ±1 and one step is an exact quantile
 * (histogram) match (§E.9). If the reference has a different pixel count, its sorted projections are resampled
 * linearly to the target's count (DFL requires equal sizes).
 */
export function colorTransferSot(target: FloatImage, reference: FloatImage, rng: Rng, opts: SotOptions = {}): FloatImage {
  const C = target.channels;
  if (reference.channels !== C) throw new RangeError(`SOT: channel counts differ (${C} vs ${reference.channels})`);
  const steps = opts.steps ?? 10;
  const batch = opts.batchSize ?? 5;
  const sigmaXY = opts.regSigmaXY ?? 16;
  const P = target.width * target.height, Q = reference.width * reference.height;
  const src = target.data, ref = reference.data;
  const x = Float32Array.from(src);
  const advect = new Float32Array(P * C);
  const scratch = sortScratch(P);
  const refScratch = sortScratch(Q);
  const projRef = refScratch.f32;
  const sortedRef = new Float32Array(P);
  const projX = new Float32Array(P);
  const dir = new Float64Array(C);
  // One channel (§E.9): every direction is ±1, and both signs give every pixel the same push (the k-th smallest of −x
  // is the (P−1−k)-th smallest of x, matched with the mirrored reference quantile), so each batch average equals one
  // quantile match and the steps after the first add nothing. One match is computed directly (same result up to the
  // order of tied values, which DFL's unstable argsort leaves arbitrary anyway).
  const effSteps = C === 1 ? Math.min(steps, 1) : steps;
  const effBatch = C === 1 ? Math.min(batch, 1) : batch;
  for (let step = 0; step < effSteps; step++) {
    advect.fill(0);
    for (let b = 0; b < effBatch; b++) {
      let norm = 0;
      for (let c = 0; c < C; c++) {
        dir[c] = C === 1 ? 1 : rng.normal();
        norm += dir[c] * dir[c];
      }
      norm = Math.sqrt(norm) || 1;
      for (let c = 0; c < C; c++) dir[c] /= norm;
      const proj = scratch.f32;
      for (let i = 0; i < P; i++) {
        let v = 0;
        for (let c = 0; c < C; c++) v += x[i * C + c] * dir[c];
        proj[i] = v;
      }
      projX.set(proj);
      for (let i = 0; i < Q; i++) {
        let v = 0;
        for (let c = 0; c < C; c++) v += ref[i * C + c] * dir[c];
        projRef[i] = v;
      }
      radixArgsort(refScratch, Q, false); // projRef is now sorted
      if (Q === P) sortedRef.set(projRef);
      else
        for (let k = 0; k < P; k++) {
          const t = P > 1 ? (k * (Q - 1)) / (P - 1) : 0;
          const k0 = Math.floor(t), k1 = Math.min(Q - 1, k0 + 1);
          sortedRef[k] = projRef[k0] + (t - k0) * (projRef[k1] - projRef[k0]);
        }
      const order = radixArgsort(scratch, P, true);
      for (let k = 0; k < P; k++) {
        const i = order[k];
        const a = sortedRef[k] - projX[i];
        for (let c = 0; c < C; c++) advect[i * C + c] += a * dir[c];
      }
    }
    const inv = 1 / effBatch;
    for (let i = 0; i < x.length; i++) x[i] += advect[i] * inv;
  }
  if (sigmaXY !== 0) {
    // OpenCV's bilateral filter with d = 0 uses radius round(1.5·σ_XY) (24 → 49×49 for σ = 16)
    const k = 2 * Math.round(1.5 * sigmaXY) + 1;
    for (let i = 0; i < x.length; i++) x[i] -= src[i];
    const filt = gaussianBlur({ width: target.width, height: target.height, channels: C, data: x }, k, k, sigmaXY).data;
    for (let i = 0; i < x.length; i++) x[i] = src[i] + filt[i];
  }
  return { width: target.width, height: target.height, channels: C, data: x };
}

/** uint8 quantisation as NumPy's `np.clip(v, 0, 255).astype(np.uint8)` (truncation). */
function toU8Trunc(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
}

/** 8-bit Lab (OpenCV: L·255/100, a + 128, b + 128, rounded) of a 0–255 integer-valued image, via the float path. */
function toLab8(img255: Float32Array, w: number, h: number, order: ChannelOrder): Float32Array {
  const unit = new Float32Array(img255.length);
  for (let i = 0; i < unit.length; i++) unit[i] = img255[i] / 255;
  const lab = toLab({ width: w, height: h, channels: 3, data: unit }, order);
  for (let i = 0; i < lab.length; i += 3) {
    lab[i] = Math.min(255, Math.max(0, Math.round((lab[i] * 255) / 100)));
    lab[i + 1] = Math.min(255, Math.max(0, Math.round(lab[i + 1] + 128)));
    lab[i + 2] = Math.min(255, Math.max(0, Math.round(lab[i + 2] + 128)));
  }
  return lab;
}

/** 8-bit Lab back to 0–255 integer values in `order`. */
function fromLab8(lab8: Float32Array, w: number, h: number, order: ChannelOrder): Float32Array {
  const lab = new Float32Array(lab8.length);
  for (let i = 0; i < lab.length; i += 3) {
    lab[i] = (lab8[i] * 100) / 255;
    lab[i + 1] = lab8[i + 1] - 128;
    lab[i + 2] = lab8[i + 2] - 128;
  }
  const rgb = fromLab(lab, w, h, order).data;
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.round(rgb[i] * 255);
  return rgb;
}

/**
 * `color_transfer_mix` (`mix-m`, spec §E.7; colour only): lightness by LCT on the 8-bit Lab L channel; chroma by SOT
 * (default steps/batch/regularisation) on "constant-lightness" images (L = 100 in 8-bit Lab) in the 0–255 range;
 * the SOT result's L replaced by the LCT lightness. OpenCV's 8-bit Lab tables are approximated by the float
 * conversion rounded to 8 bits, and the bilateral smoothing by a Gaussian (so σ_V = 5 on the 0–255 scale, which
 * would make DFL's filter edge-preserving, is not modelled).
 */
export function colorTransferMix(target: FloatImage, reference: FloatImage, rng: Rng, order: ChannelOrder = 'bgr'): FloatImage {
  if (target.channels !== 3 || reference.channels !== 3) throw new RangeError('mix-m needs 3-channel images (spec §E.9)');
  const { width: w, height: h } = target;
  const { width: rw, height: rh } = reference;
  const s8 = new Float32Array(target.data.length);
  for (let i = 0; i < s8.length; i++) s8[i] = toU8Trunc(target.data[i] * 255);
  const t8 = new Float32Array(reference.data.length);
  for (let i = 0; i < t8.length; i++) t8[i] = toU8Trunc(reference.data[i] * 255);
  const sLab = toLab8(s8, w, h, order);
  const tLab = toLab8(t8, rw, rh, order);
  const sL = new Float32Array(w * h), tL = new Float32Array(rw * rh);
  for (let i = 0; i < sL.length; i++) sL[i] = sLab[3 * i] / 255;
  for (let i = 0; i < tL.length; i++) tL[i] = tLab[3 * i] / 255;
  const light = linearColorTransfer({ width: w, height: h, channels: 1, data: sL }, { width: rw, height: rh, channels: 1, data: tL }).data;
  for (let i = 0; i < sL.length; i++) sLab[3 * i] = 100;
  for (let i = 0; i < tL.length; i++) tLab[3 * i] = 100;
  const sFlat = fromLab8(sLab, w, h, order);
  const tFlat = fromLab8(tLab, rw, rh, order);
  const sot = colorTransferSot({ width: w, height: h, channels: 3, data: sFlat }, { width: rw, height: rh, channels: 3, data: tFlat }, rng).data;
  for (let i = 0; i < sot.length; i++) sot[i] = toU8Trunc(sot[i]);
  const lab = toLab8(sot, w, h, order);
  for (let i = 0; i < light.length; i++) lab[3 * i] = toU8Trunc(light[i] * 255);
  const out = fromLab8(lab, w, h, order);
  for (let i = 0; i < out.length; i++) out[i] /= 255;
  return { width: w, height: h, channels: 3, data: out };
}

/**
 * DFL's sample augmentation (spec §D.3, §D.4): random affine parameters, the random warp grid ("warp V1"), and
 * `warpByParams`, which applies one sample's shared transform to its image and mask outputs.
 */
import type { FloatImage } from '../image/rawImage.ts';
import { clampInt, INTER_BITS, INTER_TAB_SIZE, type Interpolation, kernelTable64, roundHalfEven } from '../image/interp.ts';
import { remap } from '../image/remap.ts';
import { resize, resizeWindow } from '../image/resize.ts';
import { getRotationMatrix2D, invertAffine, warpAffine } from '../image/warpAffine.ts';
import type { Rng } from './random.ts';

/**
 * Which scale-augmentation formula (spec §D.3, §0, J.4 #14): 'bw' = SAEHDBW / DFL before 2022-07-23,
 * uniform[1 + lo, 1 + hi]; 'dfl' = current DFL, uniform[1/(1 − lo), 1 + hi].
 */
export type ScaleFormula = 'bw' | 'dfl';

export interface WarpParams {
  /** Working size (the resolution, or 64 when the resolution is below 64). */
  w: number;
  /** The real resolution when it is below 64 (the result is resized back to it), else null. */
  rw: number | null;
  /** Random-warp maps (mapSize × mapSize, source coordinates). */
  mapX: Float32Array;
  mapY: Float32Array;
  mapSize: number;
  /** Random affine (2×3, source → destination) at size w. */
  rmat: Float64Array;
  flip: boolean;
  /** The drawn values, for tests and previews. */
  rotation: number;
  scale: number;
  tx: number;
  ty: number;
  cellSize: number;
}

/** SAEHD's ranges (spec §D.3): rotation ±10°, scale ±0.15, translation ±0.05 of the width. */
export const SAEHD_WARP_RANGES = {
  rotationRange: [-10, 10] as [number, number],
  scaleRange: [-0.15, 0.15] as [number, number],
  txRange: [-0.05, 0.05] as [number, number],
  tyRange: [-0.05, 0.05] as [number, number],
};

/**
 * `gen_warp_params` (spec §D.3/§D.4). Affine draws come from `rng` in DFL's order (rotation, scale, tx, ty, flip);
 * the warp grid from `warpRng` (DFL: a second generator with the same seed; default: `rng` itself, after the affine
 * draws).
 */
export function genWarpParams(
  w: number,
  rng: Rng,
  flip: boolean,
  rotationRange: [number, number] = SAEHD_WARP_RANGES.rotationRange,
  scaleRange: [number, number] = SAEHD_WARP_RANGES.scaleRange,
  txRange: [number, number] = SAEHD_WARP_RANGES.txRange,
  tyRange: [number, number] = SAEHD_WARP_RANGES.tyRange,
  warpRng: Rng = rng,
  scaleFormula: ScaleFormula = 'bw',
): WarpParams {
  let rw: number | null = null;
  if (w < 64) {
    rw = w;
    w = 64;
  }
  const rotation = rng.uniform(rotationRange[0], rotationRange[1]);
  const scale =
    scaleFormula === 'bw'
      ? rng.uniform(1 + scaleRange[0], 1 + scaleRange[1])
      : rng.uniform(1 / (1 - scaleRange[0]), 1 + scaleRange[1]);
  const tx = rng.uniform(txRange[0], txRange[1]);
  const ty = rng.uniform(tyRange[0], tyRange[1]);
  const pFlip = flip && rng.int(10) < 4;

  // §D.4: random warp V1
  const cellSize = Math.floor(w / [2, 4, 8][warpRng.int(3)]);
  const cellCount = Math.floor(w / cellSize) + 1;
  const grid = new Float32Array(cellCount * cellCount);
  const gx = new Float32Array(cellCount * cellCount);
  const gy = new Float32Array(cellCount * cellCount);
  for (let i = 0; i < cellCount; i++) grid[i] = (w * i) / (cellCount - 1); // linspace(0, w, cellCount)
  for (let i = 0; i < cellCount; i++)
    for (let j = 0; j < cellCount; j++) {
      gx[i * cellCount + j] = grid[j];
      gy[i * cellCount + j] = grid[i];
    }
  const amp = cellSize * 0.24;
  for (let i = 1; i < cellCount - 1; i++) for (let j = 1; j < cellCount - 1; j++) gx[i * cellCount + j] += warpRng.truncatedNormal() * amp;
  for (let i = 1; i < cellCount - 1; i++) for (let j = 1; j < cellCount - 1; j++) gy[i * cellCount + j] += warpRng.truncatedNormal() * amp;
  const big = w + cellSize;
  const half = Math.floor(cellSize / 2);
  const mapSize = big - 2 * half;
  // cv2.resize(map, (w + cell)², INTER_LINEAR)[half:-half, half:-half]
  const crop = (g: Float32Array): Float32Array =>
    resizeWindow({ width: cellCount, height: cellCount, channels: 1, data: g }, big, big, half, half, mapSize, mapSize, 'linear').data;
  const mapX = crop(gx);
  const mapY = crop(gy);

  // random transform: rotation/scale about (w//2, w//2), then the translation
  const rmat = getRotationMatrix2D(Math.floor(w / 2), Math.floor(w / 2), rotation, scale);
  rmat[2] += tx * w;
  rmat[5] += ty * w;
  return { w, rw, mapX, mapY, mapSize, rmat, flip: pFlip, rotation, scale, tx, ty, cellSize };
}

/** Mirror the columns of an image in place. */
export function flipHorizontal(img: FloatImage): FloatImage {
  const { width: w, height: h, channels: C, data } = img;
  for (let y = 0; y < h; y++) {
    const row = y * w * C;
    for (let a = 0, b = w - 1; a < b; a++, b--) {
      for (let c = 0; c < C; c++) {
        const t = data[row + a * C + c];
        data[row + a * C + c] = data[row + b * C + c];
        data[row + b * C + c] = t;
      }
    }
  }
  return img;
}

/**
 * `warp_by_params` (spec §D.2 step 4, §D.3): optional random warp (remap, constant-0 border, OpenCV's default),
 * optional affine at w×w (border replicate for face images, constant 0 for masks), flip last. Below 64 px the work is
 * done at 64 and resized back. `interpolation`: 'cubic' for images, 'linear' for masks.
 */
export function warpByParams(
  p: WarpParams,
  img: FloatImage,
  canWarp: boolean,
  canTransform: boolean,
  canFlip: boolean,
  borderReplicate: boolean,
  interpolation: Interpolation = 'cubic',
): FloatImage {
  let out = img;
  const small = (canWarp || canTransform) && p.rw !== null;
  if (small) out = resize(out, 64, 64, interpolation);
  if (canWarp) out = remap(out, p.mapX, p.mapY, p.mapSize, p.mapSize, { interpolation, border: 'constant' });
  if (canTransform)
    out = warpAffine(out, p.rmat, p.w, p.w, { interpolation, border: borderReplicate ? 'replicate' : 'constant' });
  if (small) out = resize(out, p.rw!, p.rw!, interpolation);
  if (canFlip && p.flip) {
    if (out === img) out = { ...img, data: img.data.slice() };
    flipHorizontal(out);
  }
  return out;
}

// ---- the 1-channel sample path ------------------------------------------------------------------------------------
//
// SAEHDBW trains on gray faces (spec §I.1), so every sample of the seed model is four 1-channel planes. The generic path
// (warpByParams above, once per output) works but does redundant work for them: each of the three affine passes
// (warped, target, mask) recomputes the same fixed-point coordinates, the edge pixels (≈10 % of a randomly scaled and
// rotated face) go through a generic per-tap border routine, every output is allocated, copied into the batch, then
// flipped and clipped in separate passes. `warpSampleGray` does one sample in one go: the random warp (remap) into a
// scratch plane, then one coordinate pass that samples every plane, writes straight into the batch (mirrored when the
// sample is flipped) and clips on the way. The arithmetic is OpenCV's as implemented by remap/warpAffine/sampler.ts, in
// the same order, so the outputs are bit-identical (tests/unit/pipeline.gray.test.ts checks it against warpByParams).

const IB = INTER_BITS;
const FRAC = (1 << IB) - 1;
const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;
/** 1.5·2^52: adding and subtracting it rounds a double to the nearest integer, ties to even (IEEE default mode). */
const RNE_MAGIC = 6755399441055744;

/** clampInt(roundHalfEven(v)) (interp.ts) without the function calls; identical for every double, NaN and ±∞ included. */
function roundClamp(v: number): number {
  const r = v + RNE_MAGIC - RNE_MAGIC;
  return r > 1073741823 ? 1073741823 : r < -1073741824 ? -1073741824 : r;
}

/**
 * Bicubic samples of one output row of a 1-channel float plane (sampler.ts's C = 1, 4-tap path), border 'replicate' or
 * constant 0. Output x goes to dst[dOff + x·step] (step −1 mirrors the row); `clip` clips the stored float32 to [0, 1]
 * as the generator's clip01 does. The edge taps are summed from 0 in tap order, exactly as sampler.ts's slowFloat.
 */
function cubicRow1(
  src: Float32Array, sw: number, sh: number, replicate: boolean, tab: Float64Array,
  xs: Int32Array, ys: Int32Array, n: number, dst: Float32Array, dOff: number, step: number, clip: boolean,
): void {
  for (let x = 0, o = dOff; x < n; x++, o += step) {
    const X = xs[x], Y = ys[x];
    const ix = (X >> IB) - 1, iy = (Y >> IB) - 1;
    const cx = (X & FRAC) * 4, cy = (Y & FRAC) * 4;
    const a0 = tab[cx], a1 = tab[cx + 1], a2 = tab[cx + 2], a3 = tab[cx + 3];
    let s: number;
    if (ix >= 0 && iy >= 0 && ix + 4 <= sw && iy + 4 <= sh) {
      let p = iy * sw + ix;
      const r0 = a0 * src[p] + a1 * src[p + 1] + a2 * src[p + 2] + a3 * src[p + 3];
      p += sw;
      const r1 = a0 * src[p] + a1 * src[p + 1] + a2 * src[p + 2] + a3 * src[p + 3];
      p += sw;
      const r2 = a0 * src[p] + a1 * src[p + 1] + a2 * src[p + 2] + a3 * src[p + 3];
      p += sw;
      const r3 = a0 * src[p] + a1 * src[p + 1] + a2 * src[p + 2] + a3 * src[p + 3];
      s = tab[cy] * r0 + tab[cy + 1] * r1 + tab[cy + 2] * r2 + tab[cy + 3] * r3;
    } else if (!replicate && (ix >= sw || iy >= sh || ix + 4 <= 0 || iy + 4 <= 0)) {
      s = 0;
    } else {
      // border taps: replicate clamps the index, constant reads 0 (−1 marks "outside")
      let x0 = ix, x1 = ix + 1, x2 = ix + 2, x3 = ix + 3;
      const last = sw - 1;
      if (replicate) {
        x0 = x0 < 0 ? 0 : x0 > last ? last : x0;
        x1 = x1 < 0 ? 0 : x1 > last ? last : x1;
        x2 = x2 < 0 ? 0 : x2 > last ? last : x2;
        x3 = x3 < 0 ? 0 : x3 > last ? last : x3;
      } else {
        if (x0 < 0 || x0 > last) x0 = -1;
        if (x1 < 0 || x1 > last) x1 = -1;
        if (x2 < 0 || x2 > last) x2 = -1;
        if (x3 < 0 || x3 > last) x3 = -1;
      }
      s = 0;
      for (let i = 0; i < 4; i++) {
        let yy = iy + i;
        if (yy < 0 || yy >= sh) yy = replicate ? (yy < 0 ? 0 : sh - 1) : -1;
        let r: number;
        if (yy < 0) r = 0 + a0 * 0 + a1 * 0 + a2 * 0 + a3 * 0;
        else {
          const p = yy * sw;
          r = 0 + a0 * (x0 < 0 ? 0 : src[p + x0]) + a1 * (x1 < 0 ? 0 : src[p + x1]) + a2 * (x2 < 0 ? 0 : src[p + x2]) + a3 * (x3 < 0 ? 0 : src[p + x3]);
        }
        s += tab[cy + i] * r;
      }
    }
    const f = Math.fround(s);
    dst[o] = clip ? (f < 0 ? 0 : f > 1 ? 1 : f) : f;
  }
}

/** Bilinear samples of one output row of a 1-channel float plane, constant-0 border (masks); as cubicRow1 otherwise. */
function linearRow1(
  src: Float32Array, sw: number, sh: number, tab: Float64Array,
  xs: Int32Array, ys: Int32Array, n: number, dst: Float32Array, dOff: number, step: number, clip: boolean,
): void {
  for (let x = 0, o = dOff; x < n; x++, o += step) {
    const X = xs[x], Y = ys[x];
    const ix = X >> IB, iy = Y >> IB;
    const fx = (X & FRAC) * 2, fy = (Y & FRAC) * 2;
    let s: number;
    if (ix >= 0 && iy >= 0 && ix + 2 <= sw && iy + 2 <= sh) {
      const p = iy * sw + ix;
      const r0 = tab[fx] * src[p] + tab[fx + 1] * src[p + 1];
      const r1 = tab[fx] * src[p + sw] + tab[fx + 1] * src[p + sw + 1];
      s = tab[fy] * r0 + tab[fy + 1] * r1;
    } else if (ix >= sw || iy >= sh || ix + 2 <= 0 || iy + 2 <= 0) {
      s = 0;
    } else {
      const x0 = ix >= 0 && ix < sw ? ix : -1, x1 = ix + 1 >= 0 && ix + 1 < sw ? ix + 1 : -1;
      const y0 = iy >= 0 && iy < sh ? iy : -1, y1 = iy + 1 >= 0 && iy + 1 < sh ? iy + 1 : -1;
      const p0 = y0 * sw, p1 = y1 * sw;
      const r0 = 0 + tab[fx] * (y0 < 0 || x0 < 0 ? 0 : src[p0 + x0]) + tab[fx + 1] * (y0 < 0 || x1 < 0 ? 0 : src[p0 + x1]);
      const r1 = 0 + tab[fx] * (y1 < 0 || x0 < 0 ? 0 : src[p1 + x0]) + tab[fx + 1] * (y1 < 0 || x1 < 0 ? 0 : src[p1 + x1]);
      s = 0 + tab[fy] * r0 + tab[fy + 1] * r1;
    }
    const f = Math.fround(s);
    dst[o] = clip ? (f < 0 ? 0 : f > 1 ? 1 : f) : f;
  }
}

/** One 1-channel plane to sample along shared affine coordinates. */
export interface GrayPlaneJob {
  src: Float32Array;
  sw: number;
  sh: number;
  /** 'cubic' (images) or 'linear' (masks). */
  interpolation: 'cubic' | 'linear';
  /** Border replicate (images) or constant 0 (masks); 'linear' supports constant only. */
  replicate: boolean;
  /** Receives dw·dh values from `off`. */
  dst: Float32Array;
  off: number;
  /** Clip to [0, 1] as stored (the generator's clip01). */
  clip: boolean;
}

/**
 * cv2.warpAffine (src → dst matrix `m`, output dw×dh) of several 1-channel planes at once: warpAffine.ts's fixed-point
 * coordinates are computed once per row and every plane is sampled with them; `flip` mirrors the output columns.
 * Identical to warpAffine(plane, m, dw, dh, {interpolation, border}) per plane (then flipHorizontal, then clip01).
 */
export function warpAffineGrayPlanes(m: ArrayLike<number>, dw: number, dh: number, jobs: GrayPlaneJob[], flip: boolean): void {
  for (const j of jobs) {
    if (j.interpolation === 'linear' && j.replicate) throw new RangeError('warpAffineGrayPlanes: linear planes use the constant border');
    if (j.src.length !== j.sw * j.sh || j.dst.length < j.off + dw * dh) throw new RangeError('warpAffineGrayPlanes: plane size mismatch');
  }
  const M = invertAffine(m);
  const cubicTab = kernelTable64('cubic'), linTab = kernelTable64('linear');
  const roundDelta = AB_SCALE / INTER_TAB_SIZE / 2;
  const shift = AB_BITS - IB;
  const adelta = new Int32Array(dw), bdelta = new Int32Array(dw);
  let amax = 0, bmax = 0;
  for (let x = 0; x < dw; x++) {
    adelta[x] = clampInt(roundHalfEven(M[0] * x * AB_SCALE));
    bdelta[x] = clampInt(roundHalfEven(M[3] * x * AB_SCALE));
    amax = Math.max(amax, Math.abs(adelta[x]));
    bmax = Math.max(bmax, Math.abs(bdelta[x]));
  }
  const xs = new Int32Array(dw), ys = new Int32Array(dw);
  const div = 2 ** shift;
  for (let y = 0; y < dh; y++) {
    const X0 = clampInt(roundHalfEven((M[1] * y + M[2]) * AB_SCALE)) + roundDelta;
    const Y0 = clampInt(roundHalfEven((M[4] * y + M[5]) * AB_SCALE)) + roundDelta;
    if (Math.abs(X0) + amax < 2147483647 && Math.abs(Y0) + bmax < 2147483647) {
      for (let x = 0; x < dw; x++) {
        xs[x] = ((X0 + adelta[x]) | 0) >> shift;
        ys[x] = ((Y0 + bdelta[x]) | 0) >> shift;
      }
    } else {
      for (let x = 0; x < dw; x++) {
        xs[x] = clampInt(Math.floor((X0 + adelta[x]) / div));
        ys[x] = clampInt(Math.floor((Y0 + bdelta[x]) / div));
      }
    }
    const step = flip ? -1 : 1;
    for (const j of jobs) {
      const dOff = j.off + y * dw + (flip ? dw - 1 : 0);
      if (j.interpolation === 'cubic') cubicRow1(j.src, j.sw, j.sh, j.replicate, cubicTab, xs, ys, dw, j.dst, dOff, step, j.clip);
      else linearRow1(j.src, j.sw, j.sh, linTab, xs, ys, dw, j.dst, dOff, step, j.clip);
    }
  }
}

/** cv2.remap (bicubic, constant 0 border) of a 1-channel plane into `out` (w·h): remap.ts for C = 1. */
export function remapGray(src: Float32Array, sw: number, sh: number, mapX: Float32Array, mapY: Float32Array, w: number, h: number, out: Float32Array): void {
  if (mapX.length !== w * h || mapY.length !== w * h || out.length !== w * h || src.length !== sw * sh) throw new RangeError('remapGray: size mismatch');
  const tab = kernelTable64('cubic');
  const xs = new Int32Array(w), ys = new Int32Array(w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      // map values are float32, ×32 is exact (INTER_TAB_SIZE), then cvRound
      xs[x] = roundClamp(mapX[row + x] * INTER_TAB_SIZE);
      ys[x] = roundClamp(mapY[row + x] * INTER_TAB_SIZE);
    }
    cubicRow1(src, sw, sh, false, tab, xs, ys, w, out, row, 1, false);
  }
}

let remapScratch = new Float32Array(0);

/** The four 1-channel outputs of one sample, written into batch buffers at one offset. */
export interface GraySampleOut {
  warped: Float32Array;
  target: Float32Array;
  /** Full-face mask output, or null (not produced). */
  mask: Float32Array | null;
  /** Eyes-and-mouth mask output (renormalised to peak 1), or null. */
  em: Float32Array | null;
  /** Element offset of this sample in each buffer (res·res·index). */
  off: number;
}

/**
 * One 1-channel sample (spec §D.2 steps 4–5) written into batch buffers: `warped` = clip(flip(affine(remap(warpSrc))))
 * (the remap only when `randomWarp`), `target` = clip(flip(affine(image))), the masks = flip(affine(mask)) with a
 * constant border, the full-face mask clipped, the eyes-and-mouth mask divided by its peak and clipped (left zero when
 * its peak is 0). Equals the generator's generic path (warpByParams per output, then clip01) bit for bit. Needs
 * `p.rw === null` (resolutions ≥ 64) and res×res planes; the buffers' regions at `off` are overwritten.
 */
export function warpSampleGray(
  p: WarpParams,
  warpSrc: FloatImage,
  image: FloatImage,
  mask: FloatImage | null,
  em: FloatImage | null,
  randomWarp: boolean,
  out: GraySampleOut,
): void {
  const w = p.w;
  if (p.rw !== null) throw new RangeError('warpSampleGray: resolutions below 64 take the generic path');
  for (const im of [warpSrc, image, mask, em])
    if (im && (im.channels !== 1 || im.width !== w || im.height !== w)) throw new RangeError(`warpSampleGray: planes must be 1-channel ${w}×${w}`);
  let ws = warpSrc.data, wsw = w, wsh = w;
  if (randomWarp) {
    // one scratch plane reused across samples (the remap result is consumed before this function returns)
    if (remapScratch.length !== p.mapSize * p.mapSize) remapScratch = new Float32Array(p.mapSize * p.mapSize);
    ws = remapScratch;
    remapGray(warpSrc.data, w, w, p.mapX, p.mapY, p.mapSize, p.mapSize, ws);
    wsw = wsh = p.mapSize;
  }
  const off = out.off;
  const jobs: GrayPlaneJob[] = [
    { src: ws, sw: wsw, sh: wsh, interpolation: 'cubic', replicate: true, dst: out.warped, off, clip: true },
    { src: image.data, sw: w, sh: w, interpolation: 'cubic', replicate: true, dst: out.target, off, clip: true },
  ];
  if (mask && out.mask) jobs.push({ src: mask.data, sw: w, sh: w, interpolation: 'linear', replicate: false, dst: out.mask, off, clip: true });
  if (em && out.em) jobs.push({ src: em.data, sw: w, sh: w, interpolation: 'linear', replicate: false, dst: out.em, off, clip: false });
  warpAffineGrayPlanes(p.rmat, w, w, jobs, p.flip);
  if (em && out.em) {
    const d = out.em;
    const n = w * w;
    let max = 0;
    for (let i = off; i < off + n; i++) if (d[i] > max) max = d[i];
    if (max > 0) for (let i = off; i < off + n; i++) d[i] = Math.min(1, Math.max(0, d[i] / max));
    else d.fill(0, off, off + n);
  }
}

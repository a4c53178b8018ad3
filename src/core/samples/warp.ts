/**
 * DFL's sample augmentation (spec §D.3, §D.4): random affine parameters, the random warp grid ("warp V1"), and
 * `warpByParams`, which applies one sample's shared transform to its image and mask outputs.
 */
import type { FloatImage } from '../image/rawImage.ts';
import { type Interpolation } from '../image/interp.ts';
import { remap } from '../image/remap.ts';
import { resize, resizeWindow } from '../image/resize.ts';
import { getRotationMatrix2D, warpAffine } from '../image/warpAffine.ts';
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

/**
 * `remap` with cv2.remap's semantics for two float maps: output pixel (x, y) samples the source at
 * (mapX[y·w + x], mapY[y·w + x]), the coordinates rounded to 1/32 pixel as OpenCV does; border constant (OpenCV's
 * default, value 0) or replicate. Used for DFL's random warp grid (spec §D.4).
 */
import type { FloatImage, RawImage } from './rawImage.ts';
import { type BorderMode, type Interpolation, INTER_TAB_SIZE, clampInt, roundHalfEven } from './interp.ts';
import { floatRowSampler, u8RowSampler } from './sampler.ts';

export interface RemapOptions {
  /** Default 'linear'. */
  interpolation?: Interpolation;
  /** Default 'constant' (cv2.remap's default). */
  border?: BorderMode;
  borderValue?: number;
  out?: Float32Array | Uint8Array;
}

export function remap(src: FloatImage, mapX: Float32Array, mapY: Float32Array, w: number, h: number, opts?: RemapOptions): FloatImage;
export function remap(src: RawImage, mapX: Float32Array, mapY: Float32Array, w: number, h: number, opts?: RemapOptions): RawImage;
export function remap(
  src: FloatImage | RawImage,
  mapX: Float32Array,
  mapY: Float32Array,
  w: number,
  h: number,
  opts: RemapOptions = {},
): FloatImage | RawImage {
  if (mapX.length !== w * h || mapY.length !== w * h) throw new RangeError('remap: maps must have w·h entries');
  const kind = opts.interpolation ?? 'linear';
  const border = opts.border ?? 'constant';
  const bval = opts.borderValue ?? 0;
  const C = src.channels;
  const isFloat = src.data instanceof Float32Array;
  const n = w * h * C;
  let out: Float32Array | Uint8Array;
  if (opts.out) {
    if (opts.out.length !== n || opts.out instanceof Float32Array !== isFloat)
      throw new RangeError('remap: output buffer has the wrong size or type');
    out = opts.out;
  } else out = isFloat ? new Float32Array(n) : new Uint8Array(n);
  const sampler = isFloat
    ? floatRowSampler(src.data as Float32Array, src.width, src.height, C, out as Float32Array, kind, border, bval)
    : u8RowSampler(src.data as Uint8Array, src.width, src.height, C, out as Uint8Array, kind, border, bval);
  const scale = kind === 'nearest' ? 1 : INTER_TAB_SIZE;
  const xs = new Int32Array(w);
  const ys = new Int32Array(w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      // map values are float32; ×32 is exact, then cvRound
      xs[x] = clampInt(roundHalfEven(mapX[row + x] * scale));
      ys[x] = clampInt(roundHalfEven(mapY[row + x] * scale));
    }
    sampler(xs, ys, w, row * C);
  }
  return isFloat
    ? { width: w, height: h, channels: C, data: out as Float32Array }
    : { width: w, height: h, channels: C as 1 | 3 | 4, data: out as Uint8Array };
}

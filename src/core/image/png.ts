/**
 * A small PNG encoder for 8-bit images (gray, gray + alpha, RGB, RGBA): IHDR, one zlib-compressed IDAT (fflate) and
 * IEND. Each row gets the PNG filter (None, Sub, Up, Average or Paeth) with the smallest sum of absolute values, the
 * usual heuristic. Used for predicted faces and masks (`saehdbw predict`, spec §F.2).
 */
import { zlibSync } from 'fflate';
import type { RawImage } from './rawImage.ts';
import { crc32 } from '../formats/crc32.ts';


const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Rows with their filter bytes, filter chosen per row by the minimum-sum-of-absolute-differences rule. */
function filterRows(data: Uint8Array, width: number, height: number, bpp: number): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(height * (stride + 1));
  const cand = Array.from({ length: 5 }, () => new Uint8Array(stride));
  const zero = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = data.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? data.subarray((y - 1) * stride, y * stride) : zero;
    let best = 0;
    let bestSum = Infinity;
    for (let f = 0; f < 5; f++) {
      const c = cand[f];
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? row[i - bpp] : 0;
        const b = up[i];
        const cc = i >= bpp ? up[i - bpp] : 0;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, cc);
        const v = (row[i] - pred) & 0xff;
        c[i] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (sum < bestSum) {
        bestSum = sum;
        best = f;
      }
    }
    out[y * (stride + 1)] = best;
    out.set(cand[best], y * (stride + 1) + 1);
  }
  return out;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** Encode an 8-bit image (1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA channels, interleaved rows) as a PNG file. */
export function encodePng(img: Pick<RawImage, 'width' | 'height' | 'data'> & { channels: number }, level: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 = 6): Uint8Array {
  const { width, height, channels, data } = img;
  const colorType = COLOR_TYPE[channels];
  if (colorType === undefined) throw new RangeError(`PNG: ${channels} channels are not supported (1–4)`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff)
    throw new RangeError(`PNG: invalid size ${width}×${height}`);
  if (data.length !== width * height * channels)
    throw new RangeError(`PNG: ${data.length} bytes for ${width}×${height}×${channels}`);
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = colorType;
  // compression 0 (deflate), filter method 0 (adaptive), interlace 0 (none)
  const idat = zlibSync(filterRows(data, width, height, channels), { level });
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** An image with values in [0, 1] as 8 bits, as DFL converts (`np.clip(x, 0, 1) * 255` then uint8, i.e. truncated). */
export function floatToBytes(data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    out[i] = v >= 1 ? 255 : v > 0 ? Math.floor(v * 255) : 0; // NaN → 0
  }
  return out;
}

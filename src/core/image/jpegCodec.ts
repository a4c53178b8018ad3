/**
 * JPEG decode/encode through @jsquash/jpeg (MozJPEG compiled to wasm, shipped with the app), the same codec in the
 * page, in workers and in Node, so a face converted in the browser and by the command line comes out byte-identical.
 * It also writes true 1-component (grayscale) JPEGs, which canvas encoders cannot.
 */
import decodeJpegWasm, { init as initDecoder } from '@jsquash/jpeg/decode.js';
import encodeJpegWasm, { init as initEncoder } from '@jsquash/jpeg/encode.js';
import { NotAnImageError } from '../errors.ts';
import type { RawImage } from './rawImage.ts';

let initialised: Promise<void> | null = null;

/**
 * Node has no fetch for file URLs of wasm, so the CLI and tests pass compiled modules in; the browser leaves this
 * alone and the codec loads its wasm from the app's own origin.
 */
export function initJpegCodec(modules: { decoder: WebAssembly.Module; encoder: WebAssembly.Module }): Promise<void> {
  initialised = Promise.all([initDecoder(modules.decoder), initEncoder(modules.encoder)]).then(() => undefined);
  return initialised;
}

/** Decode to RGB (3 channels) or gray (1 channel, when `gray` and the JPEG's pixels are gray anyway). */
export async function decodeJpeg(bytes: Uint8Array, opts: { channels?: 1 | 3 } = {}): Promise<RawImage> {
  if (initialised) await initialised;
  // A copy in its own ArrayBuffer: the wasm glue takes the whole buffer (and a Node Buffer is a view into a pool).
  const copy = new Uint8Array(bytes).buffer as ArrayBuffer;
  let rgba: { data: Uint8ClampedArray; width: number; height: number };
  try {
    rgba = await decodeJpegWasm(copy);
  } catch (e) {
    throw new NotAnImageError(`JPEG decoder failed (${e instanceof Error ? e.message : String(e)})`);
  }
  const { width, height } = rgba;
  const n = width * height;
  const src = rgba.data;
  if (opts.channels === 1) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = rgbToGray(src[4 * i], src[4 * i + 1], src[4 * i + 2]);
    return { width, height, channels: 1, data: out };
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = src[4 * i];
    out[3 * i + 1] = src[4 * i + 1];
    out[3 * i + 2] = src[4 * i + 2];
  }
  return { width, height, channels: 3, data: out };
}

/**
 * OpenCV's BGR→GRAY in fixed point (coefficients 0.299, 0.587, 0.114 scaled by 2^14, rounded), so gray faces match
 * DeepFaceLab's `cv2.cvtColor(..., COLOR_BGR2GRAY)` to the last bit (spec I.1).
 */
export function rgbToGray(r: number, g: number, b: number): number {
  return (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14;
}

/**
 * Encode as a baseline JPEG (what OpenCV writes and every DFL reader walks); a 1-channel image becomes a
 * 1-component JPEG. Quality 100 is what the faceset resizer writes (spec I.3), 90 what the extractor writes.
 */
export async function encodeJpeg(img: RawImage, quality: number): Promise<Uint8Array> {
  if (initialised) await initialised;
  const n = img.width * img.height;
  const rgba = new Uint8ClampedArray(n * 4);
  const c = img.channels;
  for (let i = 0; i < n; i++) {
    const r = img.data[i * c];
    rgba[4 * i] = r;
    rgba[4 * i + 1] = c === 1 ? r : img.data[i * c + 1];
    rgba[4 * i + 2] = c === 1 ? r : img.data[i * c + 2];
    rgba[4 * i + 3] = 255;
  }
  const imageData = { data: rgba, width: img.width, height: img.height, colorSpace: 'srgb' };
  const out = await encodeJpegWasm(imageData as never, {
    quality,
    baseline: true,
    progressive: false,
    optimize_coding: true,
    color_space: c === 1 ? 1 /* GRAYSCALE */ : 3 /* YCbCr */,
    // DFL's faces come from OpenCV with 4:2:0 chroma; keep MozJPEG's default subsampling for colour.
  });
  return new Uint8Array(out);
}

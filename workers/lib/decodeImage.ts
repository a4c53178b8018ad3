/// <reference lib="webworker" />
/**
 * Decoding frames in a worker: JPEGs through the same MozJPEG decoder as Node (src/core/image/jpegCodec.ts, identical
 * pixels in the page and on the command line), every other format (PNG, WebP, BMP…) through the browser's own decoder
 * (createImageBitmap + OffscreenCanvas, no colour-space conversion, so an opaque PNG's bytes come back exactly).
 */
import { NotAnImageError } from '../../src/core/errors.ts';
import { decodeJpeg } from '../../src/core/image/jpegCodec.ts';
import type { RawImage } from '../../src/core/image/rawImage.ts';

const isJpeg = (name: string, bytes: Uint8Array) => /\.jpe?g$/i.test(name) || (bytes[0] === 0xff && bytes[1] === 0xd8);

/** Decode an image file to 8-bit RGB. `name` is used for the format guess and in the error message. */
export async function decodeImageFile(name: string, bytes: Uint8Array): Promise<RawImage> {
  if (isJpeg(name, bytes)) {
    try {
      return await decodeJpeg(bytes);
    } catch (e) {
      throw new NotAnImageError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new NotAnImageError(`${name}: the browser cannot decode this image`);
  }
  try {
    const canvas = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new NotAnImageError(`${name}: no 2D canvas in this worker to decode it`);
    ctx.drawImage(bmp, 0, 0);
    const rgba = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
    const n = bmp.width * bmp.height;
    const rgb = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      rgb[3 * i] = rgba[4 * i];
      rgb[3 * i + 1] = rgba[4 * i + 1];
      rgb[3 * i + 2] = rgba[4 * i + 2];
    }
    return { width: bmp.width, height: bmp.height, channels: 3, data: rgb };
  } finally {
    bmp.close();
  }
}

/// <reference lib="webworker" />
/**
 * Faces of a stored faceset as `FaceSource`s for the sample generator (spec §D.1): each `load()` reads the original
 * JPEG and its parsed DFL metadata from IndexedDB, decodes it, and decodes the file's XSeg mask when it has one.
 */
import { SampleError } from '../../src/core/errors.ts';
import { FacesetStore } from '../../src/core/faceset/store.ts';
import { decodeJpeg } from '../../src/core/image/jpegCodec.ts';
import type { RawImage } from '../../src/core/image/rawImage.ts';
import type { FaceData, FaceSource } from '../../src/core/samples/generator.ts';

/**
 * DFL stores `xseg_mask` as an encoded image (PNG, or JPEG when large; spec G.2). The browser's own decoder reads both
 * in a worker (createImageBitmap + OffscreenCanvas); the mask is gray, so the red channel is the value.
 */
async function decodeMaskImage(bytes: Uint8Array): Promise<RawImage> {
  const bmp = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), {
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'none',
  });
  try {
    const canvas = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new SampleError('no 2D canvas in this worker to decode an XSeg mask');
    ctx.drawImage(bmp, 0, 0);
    const rgba = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
    const n = bmp.width * bmp.height;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = rgba[4 * i];
    return { width: bmp.width, height: bmp.height, channels: 1, data: out };
  } finally {
    bmp.close();
  }
}

/**
 * One `FaceSource` per face of the faceset. With `channels` 1 the JPEG is decoded straight to gray with the same
 * OpenCV weights the generator would use (jpegCodec.rgbToGray, spec §I.1), which saves two thirds of the cache.
 */
export async function facesetFaceSources(store: FacesetStore, facesetId: string, channels: 1 | 3): Promise<FaceSource[]> {
  const info = await store.get(facesetId);
  return info.faces.map((summary) => ({
    id: summary.name,
    size: summary.width,
    async load(): Promise<FaceData> {
      const rec = await store.face(facesetId, summary.name);
      const lm = rec.meta.landmarks;
      if (!lm || lm.length !== 136) throw new SampleError(`face ${summary.name} has no 68 landmarks`);
      const image = await decodeJpeg(rec.bytes, { channels: channels === 1 ? 1 : 3 });
      const xsegMask = rec.meta.xseg_mask ? await decodeMaskImage(rec.meta.xseg_mask) : null;
      return {
        image,
        landmarks: lm,
        faceType: rec.meta.face_type,
        xsegMask,
        eyebrowsExpandMod: rec.meta.eyebrows_expand_mod ?? 1,
      };
    },
  }));
}

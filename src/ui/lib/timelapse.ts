/**
 * Preview pictures as pixels and files (issue 5 "Preview grid", `write_preview_history`): the grid's canvases and the
 * timelapse frames share one conversion, a frame is the whole preview grid (every face row; columns src, src→src,
 * dst, dst→dst, dst→src as DFL's preview image) encoded as PNG, and the download is a zip of those PNGs built with
 * fflate's streaming Zip, one frame read from IndexedDB at a time.
 */
import { zipStored } from './download.ts';
import type { StudioPreview } from '../../../workers/studio.protocol.ts';

/** Floats in [0,1] (1 or 3 channels, RGB order) → RGBA bytes. */
export function toRgba(data: Float32Array, res: number, ch: number, out = new Uint8ClampedArray(4 * res * res)): Uint8ClampedArray {
  for (let i = 0; i < res * res; i++) {
    for (let j = 0; j < 3; j++) out[4 * i + j] = Math.round(255 * Math.min(1, Math.max(0, data[i * ch + (ch === 3 ? j : 0)])));
    out[4 * i + 3] = 255;
  }
  return out;
}

/** The preview grid as one PNG: rows = faces, five columns (the images of `StudioPreview.rows[r].images`). */
export async function previewFramePng(p: StudioPreview): Promise<Uint8Array> {
  const r = p.resolution;
  const cols = 5;
  const canvas = new OffscreenCanvas(cols * r, p.rows.length * r);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas to draw the preview history frame');
  p.rows.forEach((row, y) =>
    row.images.slice(0, cols).forEach((img, x) => {
      const px = new ImageData(r, r);
      toRgba(img, r, p.channels, px.data);
      ctx.putImageData(px, x * r, y * r);
    }),
  );
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
}

/** `0001230.png` for iteration 1230: zip entries sort in training order. */
export const frameName = (iter: number): string => `${String(iter).padStart(7, '0')}.png`;

/**
 * A zip of the frames (stored, PNG does not deflate further) built as a stream: `read` is called for one frame at a
 * time, so at most one frame plus the zip's output parts are held.
 */
export function zipFrames(iters: readonly number[], read: (iter: number) => Promise<Uint8Array | undefined>): Promise<Blob> {
  const byName = new Map(iters.map((it) => [frameName(it), it]));
  return zipStored([...byName.keys()], (name) => read(byName.get(name)!));
}

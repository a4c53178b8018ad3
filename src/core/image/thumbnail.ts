import type { RawImage } from './rawImage.ts';

/**
 * Box-filter downscale to fit `maxSide` (area averaging, like cv2.INTER_AREA for integer-ish ratios). Only for
 * thumbnails: the faces themselves are resized with Lanczos-4 as DFL's resizer does.
 */
export function downscaleArea(img: RawImage, maxSide: number): RawImage {
  const scale = Math.min(1, maxSide / Math.max(img.width, img.height));
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  if (w === img.width && h === img.height) return img;
  const c = img.channels;
  const out = new Uint8Array(w * h * c);
  const sx = img.width / w;
  const sy = img.height / h;
  const acc = new Float64Array(c);
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      acc.fill(0);
      for (let yy = y0; yy < y1; yy++) {
        let p = (yy * img.width + x0) * c;
        for (let xx = x0; xx < x1; xx++) for (let k = 0; k < c; k++) acc[k] += img.data[p++];
      }
      const n = (y1 - y0) * (x1 - x0);
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = Math.round(acc[k] / n);
    }
  }
  return { width: w, height: h, channels: img.channels, data: out };
}

/**
 * Random HSV jitter of a 3-channel float image (spec §D.2 step 3, `random_hsv_power`): OpenCV's float HSV (H in
 * degrees [0, 360), S and V in [0, 1]); hue += an integer in [−h, h] with h = max(1, ⌊360·a/2⌋) (mod 360); S and V
 * each += (U(0,1) − 0.5)·a, clipped; back to colour, clipped to [0, 1]. Channel order does not matter as long as it
 * is consistent (the hue rotation direction flips between RGB and BGR exactly as it would in DFL's BGR).
 */
import type { FloatImage } from '../image/rawImage.ts';
import type { Rng } from './random.ts';

export function randomHsvShift(img: FloatImage, amount: number, rng: Rng, bgr = true): FloatImage {
  if (img.channels !== 3) throw new RangeError('random HSV jitter needs a 3-channel image');
  const hAmount = Math.max(1, Math.floor(360 * amount * 0.5));
  const dh = rng.intBetween(-hAmount, hAmount);
  const ds = (rng.next() - 0.5) * amount;
  const dv = (rng.next() - 0.5) * amount;
  const src = img.data;
  const out = new Float32Array(src.length);
  const ri = bgr ? 2 : 0, bi = bgr ? 0 : 2;
  const EPS = 1.1920928955078125e-7;
  for (let i = 0; i < src.length; i += 3) {
    const r = src[i + ri], g = src[i + 1], b = src[i + bi];
    // RGB → HSV (OpenCV float convention)
    const v = Math.max(r, g, b);
    const vmin = Math.min(r, g, b);
    const diff = v - vmin;
    let s = diff / (Math.abs(v) + EPS);
    const k = 60 / (diff + EPS);
    let h = v === r ? (g - b) * k : v === g ? (b - r) * k + 120 : (r - g) * k + 240;
    if (h < 0) h += 360;
    // jitter
    h = (((h + dh) % 360) + 360) % 360;
    s = Math.min(1, Math.max(0, s + ds));
    const vv = Math.min(1, Math.max(0, v + dv));
    // HSV → RGB
    let R: number, G: number, B: number;
    if (s === 0) R = G = B = vv;
    else {
      let hh = h / 60;
      hh -= 6 * Math.floor(hh / 6);
      let sector = Math.floor(hh);
      hh -= sector;
      if (sector < 0 || sector >= 6) (sector = 0), (hh = 0);
      const t0 = vv, t1 = vv * (1 - s), t2 = vv * (1 - s * hh), t3 = vv * (1 - s * (1 - hh));
      switch (sector) {
        case 0: (R = t0), (G = t3), (B = t1); break;
        case 1: (R = t2), (G = t0), (B = t1); break;
        case 2: (R = t1), (G = t0), (B = t3); break;
        case 3: (R = t1), (G = t2), (B = t0); break;
        case 4: (R = t3), (G = t1), (B = t0); break;
        default: (R = t0), (G = t1), (B = t2); break;
      }
    }
    out[i + ri] = Math.min(1, Math.max(0, R));
    out[i + 1] = Math.min(1, Math.max(0, G));
    out[i + bi] = Math.min(1, Math.max(0, B));
  }
  return { ...img, data: out };
}

/**
 * DFL's sorter (`mainscripts/Sorter.py`, spec §0.1 lists `core/imagelib/estimate_sharpness.py` and `Sorter.py`), the
 * two orders the extraction review needs to cull bad faces:
 *
 * - **blur** (`sort_by_blur`): the aligned face is multiplied by its landmark hull mask (`get_image_hull_mask`, spec
 *   §D.5), converted to gray (OpenCV's BGR2GRAY weights) and scored with `estimate_sharpness`, the CPBD metric
 *   (Narvekar & Karam, "cumulative probability of blur detection"): the share of Sobel edges, in 64×64 blocks that
 *   Canny calls edge blocks, whose Marziliano edge width gives a blur-detection probability under 0.64. Sharp faces
 *   score high; the order is descending and faces scoring exactly 0 (no edge block at all) are DFL's "trash".
 *   The spec names the file but gives no formulas, so this follows DFL's code: skimage's `canny` (σ = 1, thresholds
 *   0.1 / 0.2 for a float image, bilinear non-maximum suppression, 8-connected hysteresis), the Octave-style Sobel
 *   with its "2·√mean" threshold and simple thinning, `np.gradient` angles quantised to 45°, and widths measured
 *   along the row for 0° / ±180° edges. It is re-implemented here from that description, not ported line by line,
 *   so tiny numeric differences from scikit-image's Gaussian are possible; the ranking is what matters.
 * - **yaw** (`sort_by_face_yaw`): `estimate_pitch_yaw_roll(landmarks, size = width)` (spec §H.5, pose.ts), yaw
 *   descending.
 */
import { rgbToGray } from '../image/jpegCodec.ts';
import type { RawImage } from '../image/rawImage.ts';
import { hullMask } from '../samples/masks.ts';
import { estimatePitchYawRoll } from '../samples/pose.ts';

// ---- small helpers ---------------------------------------------------------------------------------------------

/** numpy's round (half to even). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** scipy.ndimage 'reflect' index (d c b a | a b c d | d c b a). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let k = ((i % period) + period) % period;
  if (k >= n) k = period - 1 - k;
  return k;
}

/** 1-D Gaussian of σ with scipy's radius int(4σ + 0.5), normalised. */
function gaussian1d(sigma: number): Float64Array {
  const r = Math.floor(4 * sigma + 0.5);
  const k = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  return k;
}

/** Separable Gaussian with a constant-0 border (skimage `gaussian(mode='constant', cval=0)`). */
function gaussianConstant(src: Float64Array, w: number, h: number, sigma: number): Float64Array {
  const k = gaussian1d(sigma);
  const r = (k.length - 1) >> 1;
  const tmp = new Float64Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let j = -r; j <= r; j++) {
        const xx = x + j;
        if (xx >= 0 && xx < w) s += k[j + r] * src[y * w + xx];
      }
      tmp[y * w + x] = s;
    }
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let j = -r; j <= r; j++) {
        const yy = y + j;
        if (yy >= 0 && yy < h) s += k[j + r] * tmp[yy * w + x];
      }
      out[y * w + x] = s;
    }
  return out;
}

// ---- Canny (scikit-image semantics), used only to classify 64×64 blocks as edge blocks --------------------------

/** skimage.feature.canny(image) with its defaults for a float image: σ = 1, low 0.1, high 0.2, no mask. */
export function cannyEdges(img: Float64Array, w: number, h: number, sigma = 1, low = 0.1, high = 0.2): Uint8Array {
  // Masked smoothing: the smoothed image is divided by the smoothed all-ones mask (edge renormalisation).
  const sm = gaussianConstant(img, w, h, sigma);
  const bleed = gaussianConstant(new Float64Array(w * h).fill(1), w, h, sigma);
  for (let i = 0; i < sm.length; i++) sm[i] /= bleed[i] + 2.220446049250313e-16;
  // ndi.sobel, mode 'reflect': derivative [-1, 0, 1] along one axis, smoothing [1, 2, 1] along the other.
  const at = (x: number, y: number) => sm[reflect(y, h) * w + reflect(x, w)];
  const isob = new Float64Array(w * h), jsob = new Float64Array(w * h), mag = new Float64Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const j = at(x + 1, y - 1) - at(x - 1, y - 1) + 2 * (at(x + 1, y) - at(x - 1, y)) + at(x + 1, y + 1) - at(x - 1, y + 1);
      const i = at(x - 1, y + 1) - at(x - 1, y - 1) + 2 * (at(x, y + 1) - at(x, y - 1)) + at(x + 1, y + 1) - at(x + 1, y - 1);
      const p = y * w + x;
      isob[p] = i;
      jsob[p] = j;
      mag[p] = Math.sqrt(i * i + j * j);
    }
  // Bilinear non-maximum suppression on the eroded mask (the 1-pixel border is never an edge).
  const m = (x: number, y: number) => mag[y * w + x];
  const local = new Uint8Array(w * h);
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      const gi = isob[p], gj = jsob[p], mp = mag[p];
      const ai = Math.abs(gi), aj = Math.abs(gj);
      const cond1 = (gi >= 0 && gj >= 0) || (gi <= 0 && gj <= 0);
      const cond2 = (gi <= 0 && gj >= 0) || (gi >= 0 && gj <= 0);
      const plus = ai >= aj, minus = aj >= ai;
      let res = -1;
      // Sectors in skimage's order; a later matching sector overwrites an earlier one.
      if (cond1 && plus) {
        const wt = aj / ai;
        res = Number(m(x + 1, y + 1) * wt + m(x, y + 1) * (1 - wt) <= mp && m(x - 1, y - 1) * wt + m(x, y - 1) * (1 - wt) <= mp);
      }
      if (cond1 && minus) {
        const wt = ai / aj;
        res = Number(m(x + 1, y + 1) * wt + m(x + 1, y) * (1 - wt) <= mp && m(x - 1, y - 1) * wt + m(x - 1, y) * (1 - wt) <= mp);
      }
      if (cond2 && minus) {
        const wt = ai / aj;
        res = Number(m(x - 1, y + 1) * wt + m(x - 1, y) * (1 - wt) <= mp && m(x + 1, y - 1) * wt + m(x + 1, y) * (1 - wt) <= mp);
      }
      if (cond2 && plus) {
        const wt = aj / ai;
        res = Number(m(x + 1, y - 1) * wt + m(x, y - 1) * (1 - wt) <= mp && m(x - 1, y + 1) * wt + m(x, y + 1) * (1 - wt) <= mp);
      }
      local[p] = res === 1 && mp >= low ? 1 : 0;
    }
  // Hysteresis: keep 8-connected components of the low mask that hold a pixel ≥ high.
  const out = new Uint8Array(w * h);
  const stack: number[] = [];
  for (let p = 0; p < w * h; p++) {
    if (!local[p] || out[p] || mag[p] < high) continue;
    out[p] = 1;
    stack.push(p);
    while (stack.length) {
      const q = stack.pop()!;
      const qx = q % w, qy = (q - qx) / w;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = qx + dx, ny = qy + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          const n = ny * w + nx;
          if (local[n] && !out[n]) {
            out[n] = 1;
            stack.push(n);
          }
        }
    }
  }
  return out;
}

// ---- CPBD (estimate_sharpness) -------------------------------------------------------------------------------------

/** The Octave-style Sobel of `estimate_sharpness.sobel`: horizontal gradient, threshold 2·√mean(s²), thinning. */
function sobelEdges(img: Float64Array, w: number, h: number): Uint8Array {
  const s2 = new Float64Array(w * h);
  const at = (x: number, y: number) => img[reflect(y, h) * w + reflect(x, w)];
  let sum = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = (at(x + 1, y - 1) - at(x - 1, y - 1) + 2 * (at(x + 1, y) - at(x - 1, y)) + at(x + 1, y + 1) - at(x - 1, y + 1)) / 8;
      s2[y * w + x] = v * v;
      sum += v * v;
    }
  const thresh = 2 * Math.sqrt(sum / (w * h));
  for (let i = 0; i < s2.length; i++) if (s2[i] <= thresh) s2[i] = 0;
  const out = new Uint8Array(w * h);
  const g = (x: number, y: number) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : s2[y * w + x]);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = s2[y * w + x];
      if ((v > g(x - 1, y) && v > g(x + 1, y)) || (v > g(x, y - 1) && v > g(x, y + 1))) out[y * w + x] = 1;
    }
  return out;
}

/** Marziliano edge widths along the row at Sobel edge pixels whose gradient angle quantises to 0° or ±180°. */
function marzilianoWidths(edges: Uint8Array, img: Float64Array, w: number, h: number): Float64Array {
  const widths = new Float64Array(w * h);
  const q = new Float64Array(w * h);
  let any = false;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      // np.gradient: central differences inside, one-sided at the borders.
      const p = y * w + x;
      const gx = w === 1 ? 0 : x === 0 ? img[p + 1] - img[p] : x === w - 1 ? img[p] - img[p - 1] : (img[p + 1] - img[p - 1]) / 2;
      const gy = h === 1 ? 0 : y === 0 ? img[p + w] - img[p] : y === h - 1 ? img[p] - img[p - w] : (img[p + w] - img[p - w]) / 2;
      let a = 0;
      if (gx !== 0) a = (Math.atan2(gy, gx) * 180) / Math.PI;
      else if (gy === Math.PI / 2) a = 90; // as in the reference (never true for pixel data)
      if (a !== 0) any = true;
      q[p] = 45 * roundHalfEven(a / 45);
    }
  if (!any) return widths;
  const I = (x: number, y: number) => img[y * w + x];
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      if (!edges[p]) continue;
      const a = q[p];
      const rising = a === 0; // 0°: intensity increases left → right across the edge; ±180°: decreases
      if (!(rising || a === 180 || a === -180)) continue;
      let margin = 0;
      for (margin = 0; margin <= 100; margin++) {
        const inner = x - 1 - margin, outer = x - 2 - margin;
        if (outer < 0) break;
        const d = I(outer, y) - I(inner, y);
        if (rising ? d >= 0 : d <= 0) break;
      }
      const left = Math.min(margin, 100) + 1;
      for (margin = 0; margin <= 100; margin++) {
        const inner = x + 1 + margin, outer = x + 2 + margin;
        if (outer >= w) break;
        const d = I(outer, y) - I(inner, y);
        if (rising ? d <= 0 : d >= 0) break;
      }
      const right = Math.min(margin, 100) + 1;
      widths[p] = left + right;
    }
  return widths;
}

const BLOCK = 64;
const EDGE_BLOCK_THRESHOLD = 0.002;
const BETA = 3.6;

/** `estimate_sharpness` on a gray image (values 0…255): CPBD in [0, 1], 0 when no block has edges. */
export function estimateSharpness(gray: ArrayLike<number>, w: number, h: number): number {
  const img = Float64Array.from(gray);
  const canny = cannyEdges(img, w, h);
  const widths = marzilianoWidths(sobelEdges(img, w, h), img, w, h);
  const hist = new Float64Array(101);
  let total = 0;
  const bh = Math.floor(h / BLOCK), bw = Math.floor(w / BLOCK);
  for (let bi = 0; bi < bh; bi++)
    for (let bj = 0; bj < bw; bj++) {
      let edgeCount = 0, lo = Infinity, hi = -Infinity;
      for (let y = bi * BLOCK; y < (bi + 1) * BLOCK; y++)
        for (let x = bj * BLOCK; x < (bj + 1) * BLOCK; x++) {
          const p = y * w + x;
          edgeCount += canny[p];
          if (img[p] < lo) lo = img[p];
          if (img[p] > hi) hi = img[p];
        }
      if (!(edgeCount > BLOCK * BLOCK * EDGE_BLOCK_THRESHOLD)) continue;
      const contrast = Math.trunc(hi - lo);
      const jnb = contrast <= 50 ? 5 : 3; // WIDTH_JNB: 5 for contrast 0…50, 3 above
      for (let y = bi * BLOCK; y < (bi + 1) * BLOCK; y++)
        for (let x = bj * BLOCK; x < (bj + 1) * BLOCK; x++) {
          const wd = widths[y * w + x];
          if (wd === 0) continue;
          const prob = 1 - Math.exp(-(Math.abs(wd / jnb) ** BETA));
          hist[roundHalfEven(prob * 100)] += 1;
          total++;
        }
    }
  if (total === 0) return 0;
  let s = 0;
  for (let i = 0; i < 64; i++) s += hist[i];
  return s / total;
}

/**
 * `sort_by_blur`'s per-face value: the aligned face × its hull mask, to gray, then `estimate_sharpness`.
 * `landmarks` are the aligned landmarks (68 × 2).
 */
export function blurScore(face: RawImage, landmarks: ArrayLike<number>, eyebrowsExpandMod = 1): number {
  const { width: w, height: h, channels: c, data } = face;
  const mask = hullMask(w, h, landmarks, eyebrowsExpandMod).data;
  const gray = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) {
    if (!mask[i]) continue;
    gray[i] = c === 1 ? data[i] : rgbToGray(data[i * c], data[i * c + 1], data[i * c + 2]);
  }
  return estimateSharpness(gray, w, h);
}

/** `sort_by_face_yaw`'s per-face value: yaw (radians) from the aligned landmarks with size = image width. */
export function yawScore(landmarks: ArrayLike<number>, width: number): number {
  return estimatePitchYawRoll(landmarks, width).yaw;
}

export type SortKey = 'blur' | 'yaw';

export interface FaceScore {
  name: string;
  value: number;
}

/**
 * DFL's order: descending by value. For blur, faces scoring 0 go to `trash` (DFL moves them to `aligned_trash`).
 */
export function sortScores(scores: readonly FaceScore[], key: SortKey): { sorted: FaceScore[]; trash: FaceScore[] } {
  const keep = key === 'blur' ? scores.filter((s) => s.value !== 0) : scores.slice();
  const trash = key === 'blur' ? scores.filter((s) => s.value === 0) : [];
  // A stable sort keeps the faceset's order among equal values, as Python's sorted() does.
  keep.sort((a, b) => b.value - a.value);
  return { sorted: keep, trash };
}

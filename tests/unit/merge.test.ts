import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/core/errors.ts';
import { sepFilter } from '../../src/core/image/filter.ts';
import type { FloatImage } from '../../src/core/image/rawImage.ts';
import { transformPoints } from '../../src/core/image/warpAffine.ts';
import {
  defaultMergeSettings,
  erodeBlurMask,
  type MergeModelInfo,
  type MergePrediction,
  type MergeSettings,
  MERGE_SETTING_FIELDS,
  mergeFace,
  mergeFaceDetailed,
  mergeFrame,
  mergeGeometry,
  morphEllipse,
  normalizeMergeSettings,
  prepareMergeFace,
  seamlessClone,
} from '../../src/core/merge/index.ts';
import { gaussianBlurZeroOutside } from '../../src/core/merge/masks.ts';
import { hullMask } from '../../src/core/samples/masks.ts';
import { getTransformMat } from '../../src/core/samples/faceAlign.ts';
import { Rng } from '../../src/core/samples/random.ts';
import { alignedLandmarks, templateLandmarks } from './samplesFixtures.ts';

// ---- fixtures ---------------------------------------------------------------------------------------------------

const FW = 240, FH = 200;

/** A smooth RGB frame (low frequencies only, so a face-sized crop at about 1:1 survives a round trip of warps). */
function smoothFrame(w = FW, h = FH, seed = 1): FloatImage {
  const r = new Rng(seed);
  const p = Array.from({ length: 6 }, () => r.uniform(0, 6));
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      data[o] = 0.5 + 0.2 * Math.sin(x / 23 + p[0]) * Math.cos(y / 29 + p[1]);
      data[o + 1] = 0.45 + 0.15 * Math.sin(x / 31 + p[2] + y / 41);
      data[o + 2] = 0.4 + 0.15 * Math.cos(y / 19 + p[3]) * Math.sin(x / 37 + p[4]);
    }
  return { width: w, height: h, channels: 3, data };
}

/** Frame landmarks: the synthetic template face scaled to `side` px, rotated by `deg`, centred at (cx, cy). */
function frameLandmarks(side = 80, deg = 8, cx = FW / 2, cy = FH / 2): Float64Array {
  const t = templateLandmarks();
  const a = (deg * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a);
  const out = new Float64Array(136);
  for (let i = 0; i < 68; i++) {
    const x = (t[2 * i] - 0.5) * side, y = (t[2 * i + 1] - 0.5) * side;
    out[2 * i] = cx + c * x - s * y;
    out[2 * i + 1] = cy + s * x + c * y;
  }
  return out;
}

const S = 128;
const MODEL3: MergeModelInfo = { resolution: S, faceType: 'f', channels: 3, channelOrder: 'rgb' };
const MODEL1: MergeModelInfo = { resolution: S, faceType: 'f', channels: 1 };
const meta = { source_landmarks: frameLandmarks() };

/** Bitwise equality of two float arrays (much faster than a deep equal). */
function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
function maxOf(a: Float32Array): number {
  let m = -Infinity;
  for (const v of a) if (v > m) m = v;
  return m;
}
function minOf(a: Float32Array): number {
  let m = Infinity;
  for (const v of a) if (v < m) m = v;
  return m;
}

function ones(n: number): FloatImage {
  return { width: n, height: n, channels: 1, data: new Float32Array(n * n).fill(1) };
}

/** The identity prediction: the model input itself, with all-ones masks. */
function identityPrediction(frame: FloatImage, model: MergeModelInfo): MergePrediction {
  const { input } = prepareMergeFace(frame, meta, model);
  return { face: input, faceMask: ones(S), dstMask: ones(S) };
}

function settings(o: Partial<MergeSettings> = {}): MergeSettings {
  return { ...defaultMergeSettings(3), mask_mode: 'full', color_transfer_mode: 'none', ...o };
}

/** Pixels (x, y) where the frame mask is ≥ `t`, as a frame-sized 0/1 array. */
function maskAtLeast(res: ReturnType<typeof mergeFaceDetailed>, t: number): Uint8Array {
  const out = new Uint8Array(FW * FH);
  const m = res.mask;
  if (!m) return out;
  for (let y = 0; y < m.mask.height; y++)
    for (let x = 0; x < m.mask.width; x++) if (m.mask.data[y * m.mask.width + x] >= t) out[(y + m.y) * FW + x + m.x] = 1;
  return out;
}

// ---- settings ---------------------------------------------------------------------------------------------------

describe('merge settings (spec §F.3, §F.4)', () => {
  it('defaults follow DFL (interactive for colour, SAEHDBW automatic for gray) and round-trip through JSON', () => {
    const d3 = defaultMergeSettings(3);
    expect(d3).toMatchObject({ mode: 'overlay', mask_mode: 'learned-prd*learned-dst', color_transfer_mode: 'rct', erode_mask_modifier: 0, blur_mask_modifier: 0, output_face_scale: 0, hist_match_threshold: 238, masked_hist_match: true });
    const d1 = defaultMergeSettings(1);
    expect(d1).toMatchObject({ mask_mode: 'dst', color_transfer_mode: 'none', bw_colour_frames: 'gray' });
    expect(normalizeMergeSettings(JSON.parse(JSON.stringify(d3)), 3)).toEqual(d3);
    expect(MERGE_SETTING_FIELDS.map((f) => f.key)).toContain('color_transfer_mode');
  });

  it('clamps numbers to DFL’s ranges and rejects bad values with the setting’s name', () => {
    const s = normalizeMergeSettings({ erode_mask_modifier: 999, blur_mask_modifier: -5, output_face_scale: '70', hist_match_threshold: 12.7 }, 3);
    expect(s).toMatchObject({ erode_mask_modifier: 400, blur_mask_modifier: 0, output_face_scale: 50, hist_match_threshold: 12 });
    expect(() => normalizeMergeSettings({ mode: 'blend' })).toThrow(OptionError);
    expect(() => normalizeMergeSettings({ color_transfer_mode: 'rct' }, 1)).toThrow(/grayscale model supports none, lct, sot-m/);
    expect(() => normalizeMergeSettings({ color_transfer_mode: 'sot' }, 3)).toThrow(/not a merge colour transfer/);
    expect(() => normalizeMergeSettings({ erode_mask_modifier: 'x' })).toThrow(/erode_mask_modifier/);
    expect(normalizeMergeSettings({ color_transfer_mode: 'sot-m' }, 1).color_transfer_mode).toBe('sot-m');
  });
});

// ---- mask pieces ------------------------------------------------------------------------------------------------

describe('mask erode / blur (spec §F.3 step 7)', () => {
  const U = 96;
  const hull = hullMask(U, U, alignedLandmarks(U, 'full_face'));

  it('the ellipse erosion/dilation equals a brute-force one (zeros outside)', () => {
    const r = new Rng(3);
    const img: FloatImage = { width: 37, height: 29, channels: 1, data: Float32Array.from({ length: 37 * 29 }, () => (r.next() < 0.8 ? r.next() : 0)) };
    for (const k of [2, 3, 6, 9]) {
      for (const op of ['min', 'max'] as const) {
        const got = morphEllipse(img, k, op).data;
        // brute force with OpenCV's ellipse
        const el: number[][] = [];
        const rr = k >> 1, c = k >> 1;
        for (let i = 0; i < k; i++) {
          const dy = i - rr;
          if (Math.abs(dy) > rr) continue;
          const dx = Math.round(c * Math.sqrt((rr * rr - dy * dy) / (rr * rr)));
          for (let j = Math.max(c - dx, 0); j < Math.min(c + dx + 1, k); j++) el.push([j - c, i - rr]);
        }
        for (let y = 0; y < 29; y++)
          for (let x = 0; x < 37; x++) {
            let v = op === 'min' ? Infinity : -Infinity;
            for (const [dx, dy] of el) {
              const sx = x + dx, sy = y + dy;
              const s = sx < 0 || sy < 0 || sx >= 37 || sy >= 29 ? 0 : img.data[sy * 37 + sx];
              v = op === 'min' ? Math.min(v, s) : Math.max(v, s);
            }
            expect(got[y * 37 + x]).toBe(Math.fround(v));
          }
      }
    }
  });

  it('erosion shrinks the mask area monotonically, dilation grows it', () => {
    const area = (m: FloatImage) => m.data.reduce((s, v) => s + v, 0);
    let prev = area(hull);
    for (const e of [4, 10, 20, 40]) {
      const a = area(erodeBlurMask(hull, e, 0));
      expect(a).toBeLessThan(prev);
      prev = a;
    }
    expect(area(erodeBlurMask(hull, -10, 0))).toBeGreaterThan(area(hull));
  });

  it('blur keeps values in [0,1], softens the edge, zeroes a ⌊blur/2⌋ band at the square’s edges and matches a padded Gaussian', () => {
    const full = ones(U);
    for (const b of [1, 8, 15, 30]) {
      const m = erodeBlurMask(full, 0, b);
      expect(minOf(m.data)).toBeGreaterThanOrEqual(0);
      expect(maxOf(m.data)).toBeLessThanOrEqual(1);
      // the band of ⌊blur/2⌋ zeroed before blurring makes the blur fade to ~0 at the square's edge
      if (b >= 8) expect(m.data[U >> 1]).toBeLessThan(0.05); // middle of the first row
      expect(m.data[(U >> 1) * U + (U >> 1)]).toBeCloseTo(1, 5);
    }
    const soft = erodeBlurMask(hull, 0, 12);
    expect(soft.data.some((v) => v > 0.05 && v < 0.95)).toBe(true);
    // zero-outside Gaussian = OpenCV's reflected blur of a zero-padded mask
    const k = 13, pad = 20;
    const P = U + 2 * pad;
    const padded = new Float32Array(P * P);
    for (let y = 0; y < U; y++) padded.set(hull.data.subarray(y * U, (y + 1) * U), (y + pad) * P + pad);
    const ker = Array.from({ length: k }, (_, i) => Math.exp(-((i - 6) ** 2) / (2 * (0.3 * (6 - 1) + 0.8) ** 2)));
    const sum = ker.reduce((a, b) => a + b, 0);
    const ref = sepFilter({ width: P, height: P, channels: 1, data: padded }, ker.map((v) => v / sum), ker.map((v) => v / sum));
    const got = gaussianBlurZeroOutside(hull, k);
    for (let y = 0; y < U; y += 3) for (let x = 0; x < U; x += 3) expect(got.data[y * U + x]).toBeCloseTo(ref.data[(y + pad) * P + x + pad], 5);
  });

  it('in the frame, erosion is scaled by (face size in the frame) / (4·resolution), as DFL scales it', () => {
    const frame = smoothFrame();
    const pred = identityPrediction(frame, MODEL3);
    const g = mergeGeometry(meta, MODEL3);
    const cropSideInFrame = Math.hypot(g.faceMat[0], g.faceMat[3]) ** -1 * S; // frame px per crop
    const bbox = (e: number) => {
      const m = maskAtLeast(mergeFaceDetailed(frame, meta, pred, settings({ erode_mask_modifier: e }), MODEL3), 0.5);
      let x0 = FW, x1 = 0;
      for (let i = 0; i < m.length; i++)
        if (m[i]) {
          x0 = Math.min(x0, i % FW);
          x1 = Math.max(x1, i % FW);
        }
      return x1 - x0;
    };
    const e = 80; // U-space pixels; the ellipse radius is e/2
    const expectedShrink = 2 * (e / 2) * (cropSideInFrame / (4 * S)); // both sides, frame pixels
    // the square is rotated by 8°, so its horizontal extent shrinks by the shrink × (cos + sin) of the angle
    const rot = Math.cos((8 * Math.PI) / 180) + Math.sin((8 * Math.PI) / 180);
    expect(bbox(0) - bbox(e)).toBeGreaterThan(expectedShrink * rot - 3);
    expect(bbox(0) - bbox(e)).toBeLessThan(expectedShrink * rot + 3);
  });
});

// ---- the merge --------------------------------------------------------------------------------------------------

describe('mergeFace (spec §F.3)', () => {
  const frame = smoothFrame();

  it('identity setup: overlay reproduces the frame (prediction = aligned crop, full mask)', () => {
    const pred = identityPrediction(frame, MODEL3);
    const res = mergeFaceDetailed(frame, meta, pred, settings(), MODEL3);
    expect(res.image.width).toBe(FW);
    expect(res.image.channels).toBe(3);
    const inside = maskAtLeast(res, 1e-9);
    let maxIn = 0, sumIn = 0, nIn = 0, maxOut = 0;
    for (let i = 0; i < FW * FH; i++)
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(res.image.data[i * 3 + c] - frame.data[i * 3 + c]);
        if (inside[i]) {
          maxIn = Math.max(maxIn, d);
          sumIn += d;
          nIn++;
        } else maxOut = Math.max(maxOut, d);
      }
    expect(maxOut).toBe(0); // outside the mask: untouched, bit for bit
    expect(nIn).toBeGreaterThan(3000);
    expect(maxIn).toBeLessThan(0.02);
    expect(sumIn / nIn).toBeLessThan(0.002);
  });

  it('BGR models: the crop is handed over in BGR and the prediction read back as BGR', () => {
    const bgr: MergeModelInfo = { ...MODEL3, channelOrder: 'bgr' };
    const { input } = prepareMergeFace(frame, meta, bgr);
    const rgb = prepareMergeFace(frame, meta, MODEL3).input;
    expect(input.data[0]).toBe(rgb.data[2]);
    const a = mergeFace(frame, meta, { face: input, faceMask: ones(S), dstMask: ones(S) }, settings(), bgr);
    const b = mergeFace(frame, meta, identityPrediction(frame, MODEL3), settings(), MODEL3);
    expect(same(a.data, b.data)).toBe(true);
  });

  it('warp back lands the face where image_to_face_mat says (±1 px)', () => {
    // the extractor's matrix for a 256-px aligned file of the same face type
    const imageToFaceMat = getTransformMat(meta.source_landmarks, 256, 'full_face');
    for (const [px, py] of [
      [40, 50],
      [90, 70],
      [64, 100],
    ]) {
      const face = new Float32Array(S * S * 3).fill(0.1);
      face.fill(1, (py * S + px) * 3, (py * S + px) * 3 + 3);
      const pred: MergePrediction = { face: { width: S, height: S, channels: 3, data: face }, faceMask: ones(S), dstMask: ones(S) };
      const out = mergeFace(frame, meta, pred, settings({ mode: 'raw-rgb' }), MODEL3);
      let best = -1, bx = 0, by = 0;
      for (let y = 0; y < FH; y++)
        for (let x = 0; x < FW; x++) {
          const v = out.data[(y * FW + x) * 3] + out.data[(y * FW + x) * 3 + 1] + out.data[(y * FW + x) * 3 + 2];
          if (v > best) [best, bx, by] = [v, x, y];
        }
      const [ex, ey] = transformPoints([(px * 256) / S, (py * 256) / S], imageToFaceMat, true);
      expect(Math.abs(bx - ex)).toBeLessThanOrEqual(1);
      expect(Math.abs(by - ey)).toBeLessThanOrEqual(1);
    }
  });

  it('a positive face scale pastes a smaller face (spec §F.3 step 2)', () => {
    const face = new Float32Array(S * S * 3).fill(0.1);
    const px = 20, py = 20;
    face.fill(1, (py * S + px) * 3, (py * S + px) * 3 + 3);
    const pred: MergePrediction = { face: { width: S, height: S, channels: 3, data: face }, faceMask: ones(S), dstMask: ones(S) };
    const g0 = mergeGeometry(meta, MODEL3, 0), g1 = mergeGeometry(meta, MODEL3, 20);
    const centre = transformPoints([S / 2, S / 2], g0.faceOutputMat, true);
    const p0 = transformPoints([px, py], g0.faceOutputMat, true), p1 = transformPoints([px, py], g1.faceOutputMat, true);
    expect(Math.hypot(p1[0] - centre[0], p1[1] - centre[1])).toBeCloseTo(Math.hypot(p0[0] - centre[0], p0[1] - centre[1]) / 1.2, 1);
    const out = mergeFace(frame, meta, pred, settings({ mode: 'raw-rgb', output_face_scale: 20 }), MODEL3);
    const [x, y] = [Math.round(p1[0]), Math.round(p1[1])];
    let best = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) best = Math.max(best, out.data[((y + dy) * FW + x + dx) * 3]);
    expect(best).toBeGreaterThan(0.5);
  });

  it('overlay with erode and blur: pixels outside the blurred mask are unchanged, the mask stays in [0,1]', () => {
    const { input } = prepareMergeFace(frame, meta, MODEL3);
    const face = { ...input, data: input.data.map((v) => 1 - v) }; // a clearly different face
    const res = mergeFaceDetailed(frame, meta, { face, faceMask: ones(S), dstMask: ones(S) }, settings({ erode_mask_modifier: 20, blur_mask_modifier: 40 }), MODEL3);
    const m = res.mask!.mask;
    expect(minOf(m.data)).toBeGreaterThanOrEqual(0);
    expect(maxOf(m.data)).toBeLessThanOrEqual(1);
    expect(m.data.some((v) => v > 0.05 && v < 0.95)).toBe(true);
    const inside = maskAtLeast(res, 1e-9);
    let changed = 0, changedOutside = 0;
    for (let i = 0; i < FW * FH; i++) {
      const unchanged = [0, 1, 2].every((c) => res.image.data[i * 3 + c] === frame.data[i * 3 + c]);
      if (!inside[i]) changedOutside += unchanged ? 0 : 1;
      else if (!unchanged) changed++;
    }
    expect(changedOutside).toBe(0);
    expect(changed).toBeGreaterThan(2000);
  });

  it('mask modes: dst hull, learned masks, their product and sum', () => {
    const pred = identityPrediction(frame, MODEL3);
    const half = new Float32Array(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) half[y * S + x] = x < S / 2 ? 1 : 0;
    const top = new Float32Array(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) top[y * S + x] = y < S / 2 ? 1 : 0;
    const p: MergePrediction = { ...pred, faceMask: { width: S, height: S, channels: 1, data: half }, dstMask: { width: S, height: S, channels: 1, data: top } };
    const area = (mode: MergeSettings['mask_mode']) => maskAtLeast(mergeFaceDetailed(frame, meta, p, settings({ mask_mode: mode }), MODEL3), 0.5).reduce((s, v) => s + v, 0);
    const full = area('full'), prd = area('learned-prd'), dst = area('learned-dst'), prod = area('learned-prd*learned-dst'), sum = area('learned-prd+learned-dst');
    expect(prd / full).toBeCloseTo(0.5, 1);
    expect(dst / full).toBeCloseTo(0.5, 1);
    expect(prod / full).toBeCloseTo(0.25, 1);
    expect(sum / full).toBeCloseTo(0.75, 1);
    const hull = area('dst');
    expect(hull).toBeGreaterThan(0.3 * full);
    expect(hull).toBeLessThan(0.95 * full);
    // the hull mask covers the nose tip (landmark 30) and not the frame corner
    const res = mergeFaceDetailed(frame, meta, p, settings({ mask_mode: 'dst' }), MODEL3);
    const mm = maskAtLeast(res, 0.5);
    expect(mm[Math.round(meta.source_landmarks[61]) * FW + Math.round(meta.source_landmarks[60])]).toBe(1);
  });

  it('raw-predict outputs the prediction; raw-rgb pastes it without a soft mask; original returns the frame', () => {
    const face = new Float32Array(S * S * 3);
    for (let i = 0; i < S * S; i++) face.set([0.2, 0.4, 0.6], i * 3);
    const pred: MergePrediction = { face: { width: S, height: S, channels: 3, data: face }, faceMask: ones(S), dstMask: ones(S) };
    const rp = mergeFace(frame, meta, pred, settings({ mode: 'raw-predict' }), MODEL3);
    expect(rp.width).toBe(S);
    expect(rp.data).toEqual(face);
    const rr = mergeFaceDetailed(frame, meta, pred, settings({ mode: 'raw-rgb' }), MODEL3);
    const c = transformPoints([S / 2, S / 2], mergeGeometry(meta, MODEL3).faceOutputMat, true);
    const o = (Math.round(c[1]) * FW + Math.round(c[0])) * 3;
    expect(Array.from(rr.image.data.subarray(o, o + 3)).map((v) => +v.toFixed(5))).toEqual([0.2, 0.4, 0.6]);
    expect(Array.from(rr.image.data.subarray(0, 3))).toEqual(Array.from(frame.data.subarray(0, 3)));
    const orig = mergeFace(frame, meta, pred, settings({ mode: 'original' }), MODEL3);
    expect(same(orig.data, frame.data)).toBe(true);
    expect(orig.data).not.toBe(frame.data);
  });

  it('colour transfer in the merge: LCT undoes a darkened prediction', () => {
    const { input } = prepareMergeFace(frame, meta, MODEL3);
    const dark = { ...input, data: input.data.map((v) => v * 0.5) };
    const base = mergeFace(frame, meta, identityPrediction(frame, MODEL3), settings(), MODEL3);
    const plain = mergeFace(frame, meta, { face: dark, faceMask: ones(S), dstMask: ones(S) }, settings(), MODEL3);
    const fixed = mergeFace(frame, meta, { face: dark, faceMask: ones(S), dstMask: ones(S) }, settings({ color_transfer_mode: 'lct' }), MODEL3);
    const err = (a: FloatImage) => a.data.reduce((s, v, i) => s + Math.abs(v - base.data[i]), 0);
    expect(err(fixed)).toBeLessThan(0.02 * err(plain));
    // every merge colour transfer runs and stays in [0,1]
    for (const ct of ['rct', 'mkl', 'mkl-m', 'idt', 'idt-m', 'sot-m', 'mix-m'] as const) {
      const out = mergeFace(frame, meta, { face: dark, faceMask: ones(S), dstMask: ones(S) }, settings({ color_transfer_mode: ct }), MODEL3);
      expect(err(out), ct).toBeLessThan(err(plain));
      expect(maxOf(out.data)).toBeLessThanOrEqual(1);
    }
  });

  it('hist-match and seamless modes (seamless ignores a constant offset of the face: Poisson blending)', () => {
    const { input } = prepareMergeFace(frame, meta, MODEL3);
    const brighter = { ...input, data: input.data.map((v) => v + 0.15) };
    const pred: MergePrediction = { face: brighter, faceMask: ones(S), dstMask: ones(S) };
    const s = settings({ erode_mask_modifier: 30, blur_mask_modifier: 30 });
    const over = mergeFaceDetailed(frame, meta, pred, s, MODEL3);
    const seam = mergeFaceDetailed(frame, meta, pred, { ...s, mode: 'seamless' }, MODEL3);
    const hm = mergeFaceDetailed(frame, meta, pred, { ...s, mode: 'hist-match', hist_match_threshold: 255 }, MODEL3);
    const shm = mergeFaceDetailed(frame, meta, pred, { ...s, mode: 'seamless-hist-match', hist_match_threshold: 255 }, MODEL3);
    const meanErr = (a: FloatImage) => a.data.reduce((t, v, i) => t + Math.abs(v - frame.data[i]), 0) / a.data.length;
    expect(meanErr(over.image)).toBeGreaterThan(0.01);
    expect(meanErr(seam.image)).toBeLessThan(0.15 * meanErr(over.image));
    expect(meanErr(hm.image)).toBeLessThan(0.3 * meanErr(over.image));
    expect(meanErr(shm.image)).toBeLessThan(0.3 * meanErr(over.image));
  });

  it('seamlessClone of an image onto itself is the image (8-bit exact)', () => {
    const w = 40, h = 30;
    const img = smoothFrame(w, h, 5);
    const q = { ...img, data: img.data.map((v) => Math.round(v * 255) / 255) };
    const mask: FloatImage = { width: w, height: h, channels: 1, data: new Float32Array(w * h) };
    for (let y = 5; y < 25; y++) for (let x = 6; x < 33; x++) mask.data[y * w + x] = 1;
    const out = seamlessClone(q, q, mask);
    for (let i = 0; i < out.data.length; i++) expect(Math.abs(out.data[i] - q.data[i])).toBeLessThanOrEqual(1 / 255 + 1e-6);
  });

  it('mergeFrame: no faces → the frame; two faces composited; one frame mask', () => {
    const none = mergeFrame(frame, [], settings(), MODEL3);
    expect(same(none.image.data, frame.data)).toBe(true);
    expect(none.mask.data.every((v) => v === 0)).toBe(true);
    const meta2 = { source_landmarks: frameLandmarks(50, -5, 60, 60) };
    const p1 = identityPrediction(frame, MODEL3);
    const { input: in2 } = prepareMergeFace(frame, meta2, MODEL3);
    const p2 = { face: { ...in2, data: in2.data.map(() => 0.9) }, faceMask: ones(S), dstMask: ones(S) };
    const both = mergeFrame(frame, [{ meta, prediction: p1 }, { meta: meta2, prediction: p2 }], settings(), MODEL3);
    expect(both.image.width).toBe(FW);
    const c2 = (60 * FW + 60) * 3;
    expect(both.image.data[c2]).toBeCloseTo(0.9, 3);
    expect(both.mask.data[60 * FW + 60]).toBe(1);
    expect(both.mask.data[100 * FW + 120]).toBe(1);
  });
});

// ---- one-channel models (spec §F.4) -----------------------------------------------------------------------------

describe('one-channel models (spec §F.4)', () => {
  const frame = smoothFrame();
  const grayOf = (img: FloatImage, i: number) => 0.299 * img.data[i * 3] + 0.587 * img.data[i * 3 + 1] + 0.114 * img.data[i * 3 + 2];
  const cb = (img: FloatImage, i: number) => -0.168736 * img.data[i * 3] - 0.331264 * img.data[i * 3 + 1] + 0.5 * img.data[i * 3 + 2];
  const cr = (img: FloatImage, i: number) => 0.5 * img.data[i * 3] - 0.418688 * img.data[i * 3 + 1] - 0.081312 * img.data[i * 3 + 2];

  it('the model input is the gray crop; gray frames stay 1-channel; colour frames become gray (replicated)', () => {
    const { input } = prepareMergeFace(frame, meta, MODEL1);
    expect(input.channels).toBe(1);
    const gray: FloatImage = { width: FW, height: FH, channels: 1, data: Float32Array.from({ length: FW * FH }, (_, i) => grayOf(frame, i)) };
    const pred: MergePrediction = { face: input, faceMask: ones(S), dstMask: ones(S) };
    const g = mergeFaceDetailed(gray, meta, pred, settings({ color_transfer_mode: 'lct' }), MODEL1);
    expect(g.image.channels).toBe(1);
    expect(g.frameConversion).toBeNull();
    const c = mergeFaceDetailed(frame, meta, pred, settings(), MODEL1);
    expect(c.frameConversion).toBe('gray');
    expect(c.image.channels).toBe(3);
    for (let i = 0; i < FW * FH; i += 97) {
      expect(c.image.data[i * 3]).toBe(c.image.data[i * 3 + 1]);
      expect(c.image.data[i * 3]).toBe(c.image.data[i * 3 + 2]);
      expect(c.image.data[i * 3]).toBeCloseTo(g.image.data[i], 6);
    }
    // identity: gray result ≈ gray frame (Lanczos-4 back-warp, §F.4)
    let maxErr = 0;
    for (let i = 0; i < FW * FH; i++) maxErr = Math.max(maxErr, Math.abs(g.image.data[i] - gray.data[i]));
    expect(maxErr).toBeLessThan(0.02);
  });

  it('luma-only overlay keeps the frame’s chroma inside the mask and replaces its luma', () => {
    const { input } = prepareMergeFace(frame, meta, MODEL1);
    // a different gray face: contrast-reversed around 0.45
    const face = { ...input, data: input.data.map((v) => 0.9 - v) };
    const pred: MergePrediction = { face, faceMask: ones(S), dstMask: ones(S) };
    const s = settings({ bw_colour_frames: 'luma', blur_mask_modifier: 20 });
    const luma = mergeFaceDetailed(frame, meta, pred, s, MODEL1);
    const gray = mergeFaceDetailed(frame, meta, pred, { ...s, bw_colour_frames: 'gray' }, MODEL1);
    expect(luma.frameConversion).toBe('luma');
    expect(luma.image.channels).toBe(3);
    const inside = maskAtLeast(luma, 1e-9);
    let n = 0, moved = 0, chromaErr = 0, lumaErr = 0, outsideChanged = 0;
    for (let i = 0; i < FW * FH; i++) {
      // chroma unchanged everywhere (no channel needed clipping in this setup)
      chromaErr = Math.max(chromaErr, Math.abs(cb(luma.image, i) - cb(frame, i)), Math.abs(cr(luma.image, i) - cr(frame, i)));
      // luma = the gray merge's result
      lumaErr = Math.max(lumaErr, Math.abs(grayOf(luma.image, i) - gray.image.data[i * 3]));
      if (inside[i]) {
        n++;
        if (Math.abs(grayOf(luma.image, i) - grayOf(frame, i)) > 0.02) moved++;
      } else for (let c = 0; c < 3; c++) outsideChanged += luma.image.data[i * 3 + c] === frame.data[i * 3 + c] ? 0 : 1;
    }
    expect(chromaErr).toBeLessThan(2e-6);
    expect(lumaErr).toBeLessThan(2e-6);
    expect(outsideChanged).toBe(0);
    expect(moved).toBeGreaterThan(0.3 * n);
  });

  it('one-channel colour transfers at merge: lct and sot-m; rct is refused', () => {
    const { input } = prepareMergeFace(frame, meta, MODEL1);
    const pred: MergePrediction = { face: { ...input, data: input.data.map((v) => v * 0.6) }, faceMask: ones(S), dstMask: ones(S) };
    for (const ct of ['lct', 'sot-m'] as const) {
      const out = mergeFace(frame, meta, pred, settings({ color_transfer_mode: ct, mask_mode: 'dst' }), MODEL1);
      expect(out.channels).toBe(3);
    }
    expect(() => mergeFace(frame, meta, pred, settings({ color_transfer_mode: 'rct' }), MODEL1)).toThrow(/does not work with 1-channel/);
  });
});

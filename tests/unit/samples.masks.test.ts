import { describe, expect, it } from 'vitest';
import { dilate, ellipseKernel, gaussianBlur } from '../../src/core/image/filter.ts';
import { convexHull, fillConvexPoly } from '../../src/core/image/polygon.ts';
import type { RawImage } from '../../src/core/image/rawImage.ts';
import {
  expandEyebrows,
  eyesMask,
  eyesMouthMask,
  fullFaceMask,
  hullMask,
  mouthMask,
} from '../../src/core/samples/masks.ts';
import { alignedLandmarks } from './samplesFixtures.ts';

const S = 256;
const lm = alignedLandmarks(S, 'whole_face');
const at = (m: { width: number; data: Float32Array }, x: number, y: number) => m.data[Math.round(y) * m.width + Math.round(x)];

describe('landmark masks (spec §D.5)', () => {
  it('expand_eyebrows moves eyebrows away from the eye tops by half their distance (integer landmarks)', () => {
    const p = expandEyebrows(lm, 1);
    const t = (i: number) => [Math.trunc(lm[2 * i]), Math.trunc(lm[2 * i + 1])];
    // 18 is pushed away from 36 (its "eye top" partner): p = e + 0.5·(e − 36)
    const e = t(18), b = t(36);
    expect([p[36], p[37]]).toEqual([Math.trunc(e[0] + 0.5 * (e[0] - b[0])), Math.trunc(e[1] + 0.5 * (e[1] - b[1]))]);
    // other points are just truncated
    expect([p[60], p[61]]).toEqual(t(30));
    // mod 0 leaves the eyebrows in place
    const q = expandEyebrows(lm, 0);
    expect([q[36], q[37]]).toEqual(e);
  });

  it('the hull mask is 1 on the face (nose, cheeks, raised forehead) and 0 outside', () => {
    const m = hullMask(S, S, lm);
    expect(at(m, lm[60], lm[61])).toBe(1); // nose tip
    expect(at(m, (lm[72] + lm[96]) / 2, (lm[73] + lm[97]) / 2)).toBe(1); // cheek between 36 and 48
    expect(at(m, lm[38], lm[39] - 3)).toBe(1); // just above eyebrow 19: the expansion includes the forehead band
    expect(at(m, 2, 2)).toBe(0);
    expect(at(m, S - 3, S - 3)).toBe(0);
    expect(m.data.every((v) => v === 0 || v === 1)).toBe(true);
  });

  it('eyes/mouth masks: soft blobs on the features, peak ≤ 1, limited to the full-face mask', () => {
    const full = hullMask(S, S, lm);
    const em = eyesMouthMask(S, S, lm, full);
    const eyeC = [(lm[72] + lm[78]) / 2, (lm[73] + lm[79]) / 2];
    const mouthC = [(lm[120] + lm[128]) / 2, (lm[121] + lm[129]) / 2];
    expect(at(em, eyeC[0], eyeC[1])).toBeGreaterThan(0.9);
    expect(at(em, mouthC[0], mouthC[1])).toBeGreaterThan(0.9);
    expect(at(em, lm[60], lm[61] - 10)).toBeLessThan(0.05); // nose bridge between eyes and mouth
    let bad = 0;
    for (let i = 0; i < em.data.length; i++) if (em.data[i] > 1 || (full.data[i] === 0 && em.data[i] !== 0)) bad++;
    expect(bad).toBe(0);
  });

  it('the windowed dilate+blur equals processing the whole image (DFL: ellipse h//32, Gaussian h//16 odd)', () => {
    const p = Int32Array.from(lm, Math.trunc);
    const pts = (a: number, b: number) => Array.from(p.slice(2 * a, 2 * b));
    const raw = new Float32Array(S * S);
    fillConvexPoly(raw, S, S, convexHull(pts(36, 42)), 1);
    fillConvexPoly(raw, S, S, convexHull(pts(42, 48)), 1);
    const ref = gaussianBlur(dilate({ width: S, height: S, channels: 1, data: raw }, ellipseKernel(8, 8)), 17, 17, 0);
    expect(eyesMask(S, S, lm).data).toEqual(ref.data);
    const raw2 = new Float32Array(S * S);
    fillConvexPoly(raw2, S, S, convexHull(pts(60, 68)), 1);
    const ref2 = gaussianBlur(dilate({ width: S, height: S, channels: 1, data: raw2 }, ellipseKernel(8, 8)), 17, 17, 0);
    expect(mouthMask(S, S, lm).data).toEqual(ref2.data);
  });

  it('the XSeg mask, when given, replaces the hull (resized bicubically, clipped to [0,1])', () => {
    const xs: RawImage = { width: 64, height: 64, channels: 1, data: new Uint8Array(64 * 64) };
    for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) xs.data[y * 64 + x] = 255;
    const m = fullFaceMask(S, S, lm, xs);
    expect([m.width, m.height, m.channels]).toEqual([S, S, 1]);
    expect(at(m, 128, 128)).toBeCloseTo(1, 5);
    expect(at(m, 10, 10)).toBe(0);
    expect(m.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    const h = fullFaceMask(S, S, lm, null);
    expect(h.data).toEqual(hullMask(S, S, lm).data);
  });
});

import { describe, expect, it } from 'vitest';
import { getTransformMat, LANDMARKS_2D_NEW, normalizeFaceType, umeyama2D } from '../../src/core/samples/faceAlign.ts';
import { estimatePitchYawRoll, yawBin, YAW_BINS } from '../../src/core/samples/pose.ts';
import { transformPoints } from '../../src/core/image/warpAffine.ts';
import { posedLandmarks, templateLandmarks } from './samplesFixtures.ts';

describe('face alignment (spec §H.3, §H.4)', () => {
  it('Umeyama recovers a similarity exactly', () => {
    const m = [1.7 * Math.cos(0.3), -1.7 * Math.sin(0.3), 12, 1.7 * Math.sin(0.3), 1.7 * Math.cos(0.3), -4];
    const src = Array.from(LANDMARKS_2D_NEW);
    const dst = transformPoints(src, m);
    const u = umeyama2D(src, dst);
    for (let i = 0; i < 6; i++) expect(u[i]).toBeCloseTo(m[i], 10);
  });

  it('crop side / template side = 1 + 2√2·p for every face type (spec §D.7)', () => {
    const t = templateLandmarks();
    for (const [ft, p] of [['h', 0], ['mf', 0.0675], ['f', 0.2109375], ['wf', 0.4], ['head', 0.7]] as const) {
      const m = getTransformMat(t, 100, ft);
      // template side 1 maps to 100/(1 + 2√2·p) output pixels
      const scale = Math.hypot(m[0], m[3]);
      expect(scale).toBeCloseTo(100 / (1 + 2 * Math.SQRT2 * p), 6);
    }
    expect(normalizeFaceType('wf')).toBe('whole_face');
    expect(() => normalizeFaceType('xx')).toThrow();
  });

  it('whole_face shifts the centre up by 7 % of the template side; half_face is centred', () => {
    const t = templateLandmarks();
    const h = getTransformMat(t, 100, 'half_face');
    const [cx, cy] = transformPoints([0.5, 0.5], h);
    expect(cx).toBeCloseTo(50, 6);
    expect(cy).toBeCloseTo(50, 6);
    const w = getTransformMat(t, 100, 'whole_face');
    const [, wy] = transformPoints([0.5, 0.5 - 0.07], w);
    expect(wy).toBeCloseTo(50, 6);
  });
});

describe('pose estimate for uniform yaw (spec §H.5)', () => {
  it('recovers pitch/yaw/roll of a projected 3-D face model', () => {
    for (const [rx, ry, rz] of [[0, 0, 0], [0, 0.5, 0], [0, -0.7, 0], [0.2, 0.3, 0.1], [-0.15, -0.4, -0.05], [0, 1.0, 0]]) {
      const lm = posedLandmarks(256, rx, ry, rz);
      const p = estimatePitchYawRoll(lm, 256);
      // a pure rotation about y is the yaw; pitch is reported negated (spec: (−x, y, z))
      if (rx === 0 && rz === 0) {
        expect(p.yaw).toBeCloseTo(ry, 4);
        expect(p.pitch).toBeCloseTo(0, 4);
        expect(p.roll).toBeCloseTo(0, 4);
      } else {
        expect(Math.abs(p.yaw - ry)).toBeLessThan(0.05);
        expect(Math.sign(p.pitch)).toBe(-Math.sign(rx));
      }
    }
  });

  it('bins −yaw into linspace(−1.2, 1.2, 128) edges with open ends', () => {
    const step = 2.4 / (YAW_BINS - 1);
    expect(yawBin(5)).toBe(0); // −yaw = −5 is below the first edge
    expect(yawBin(1.2)).toBe(0);
    expect(yawBin(-1.2)).toBe(127); // −yaw = 1.2 ≥ last edge
    expect(yawBin(-5)).toBe(127);
    expect(yawBin(0)).toBe(Math.floor(1.2 / step));
    for (let g = 1; g < 127; g++) {
      const edge = -1.2 + g * step;
      expect(yawBin(-(edge + step / 2))).toBe(g);
    }
    // every bin value is in range and monotone in −yaw
    let prev = 0;
    for (let v = -1.5; v <= 1.5; v += 0.001) {
      const b = yawBin(-v);
      expect(b).toBeGreaterThanOrEqual(prev);
      expect(b).toBeLessThan(YAW_BINS);
      prev = b;
    }
  });
});

/**
 * The fused 1-channel sample path (src/core/samples/warp.ts `warpSampleGray`, `warpAffineGrayPlanes`, `remapGray`;
 * issue 8 "Pipeline") must give exactly what the generic path gives: warpByParams per output (remap.ts, warpAffine.ts,
 * flipHorizontal) and the generator's clip01 / eyes-and-mouth renormalisation. Compared bit for bit on random planes
 * with values outside [0, 1] (so clipping matters), over many seeds, sizes (odd warp-map sizes included), flips and
 * warp on/off; and the generator's 1-channel batches are compared with hashes recorded from the generator before the
 * fused path existed (same fixed seeds and synthetic faces).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FloatImage } from '../../src/core/image/rawImage.ts';
import { remap } from '../../src/core/image/remap.ts';
import { getRotationMatrix2D, warpAffine } from '../../src/core/image/warpAffine.ts';
import { SampleGenerator } from '../../src/core/samples/generator.ts';
import { Rng } from '../../src/core/samples/random.ts';
import { genWarpParams, remapGray, warpAffineGrayPlanes, warpByParams, warpSampleGray } from '../../src/core/samples/warp.ts';
import { syntheticFaces } from './samplesFixtures.ts';

function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A plane with smooth structure, noise, and values a little outside [0, 1]. */
function plane(w: number, h: number, seed: number, lo = -0.1, hi = 1.1): FloatImage {
  const r = new Rng(seed, 3);
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) data[y * w + x] = Math.min(hi, Math.max(lo, 0.5 + 0.5 * Math.sin(x / 7 + seed) * Math.cos(y / 5) + r.uniform(-0.3, 0.3)));
  return { width: w, height: h, channels: 1, data };
}

function clip(a: Float32Array): Float32Array {
  const o = a.slice();
  for (let i = 0; i < o.length; i++) o[i] = o[i] < 0 ? 0 : o[i] > 1 ? 1 : o[i];
  return o;
}

/** The generic path, as the generator ran it before the fused path (generator.ts buildSample, channels 3 branch). */
function reference(seed: number, res: number, img: FloatImage, mask: FloatImage, em: FloatImage, randomWarp: boolean) {
  const p = genWarpParams(res, new Rng(seed, 0), true, undefined, undefined, undefined, undefined, new Rng(seed, 1));
  const warped = clip(warpByParams(p, img, randomWarp, true, true, true, 'cubic').data);
  const target = clip(warpByParams(p, img, false, true, true, true, 'cubic').data);
  const m = clip(warpByParams(p, mask, false, true, true, false, 'linear').data);
  const d = warpByParams(p, em, false, true, true, false, 'linear').data;
  let max = 0;
  for (let i = 0; i < d.length; i++) if (d[i] > max) max = d[i];
  const e = new Float32Array(res * res);
  if (max > 0) for (let i = 0; i < e.length; i++) e[i] = Math.min(1, Math.max(0, d[i] / max));
  return { p, warped, target, m, e };
}

describe('fused 1-channel sample path (issue 8 pipeline)', () => {
  it('warpSampleGray equals warpByParams + clip per output, bit for bit (sizes, seeds, flips, warp on/off)', () => {
    let flips = 0, checked = 0;
    for (const res of [64, 96, 100, 192])
      for (let seed = 1; seed <= (res === 192 ? 6 : 12); seed++) {
        const img = plane(res, res, seed);
        const mask = plane(res, res, seed + 50, -0.2, 1.3);
        // an eyes/mouth-like plane: zero around, a bump inside
        const em = plane(res, res, seed + 99, 0, 0.6);
        for (let i = 0; i < em.data.length; i++) if ((i % res) < res / 4 || (i % res) > (3 * res) / 4) em.data[i] = 0;
        for (const randomWarp of [true, false]) {
          const r = reference(seed, res, img, mask, em, randomWarp);
          if (r.p.flip) flips++;
          const n = res * res;
          // a batch of 2 with the sample in slot 1 and garbage in the buffers, which must be overwritten
          const out = { warped: new Float32Array(2 * n).fill(7), target: new Float32Array(2 * n).fill(7), mask: new Float32Array(2 * n).fill(7), em: new Float32Array(2 * n).fill(7), off: n };
          warpSampleGray(r.p, img, img, mask, em, randomWarp, out);
          expect(same(out.warped.subarray(n), r.warped)).toBe(true);
          expect(same(out.target.subarray(n), r.target)).toBe(true);
          expect(same(out.mask.subarray(n), r.m)).toBe(true);
          expect(same(out.em.subarray(n), r.e)).toBe(true);
          expect(out.warped[0]).toBe(7); // slot 0 untouched
          checked++;
        }
      }
    expect(checked).toBe(2 * (3 * 12 + 6));
    expect(flips).toBeGreaterThan(5);
  });

  it('an all-zero eyes/mouth plane leaves its output zero (as the generic path does)', () => {
    const res = 64;
    const img = plane(res, res, 3);
    const zero: FloatImage = { width: res, height: res, channels: 1, data: new Float32Array(res * res) };
    const p = genWarpParams(res, new Rng(5, 0), true, undefined, undefined, undefined, undefined, new Rng(5, 1));
    const out = { warped: new Float32Array(res * res), target: new Float32Array(res * res), mask: null, em: new Float32Array(res * res).fill(0.5), off: 0 };
    warpSampleGray(p, img, img, null, zero, true, out);
    expect(out.em.every((v) => v === 0)).toBe(true);
  });

  it('warpAffineGrayPlanes equals warpAffine per plane (cubic replicate, linear constant), also far outside and flipped', () => {
    const src = plane(90, 70, 4);
    const mats = [
      getRotationMatrix2D(40, 30, 17, 0.8),
      getRotationMatrix2D(45, 35, -33, 1.4),
      Float64Array.of(1, 0, 60, 0, 1, -50), // mostly outside: border handling everywhere
      Float64Array.of(0.5, 0.1, 3.3, -0.2, 0.7, 1.1),
    ];
    for (const m of mats)
      for (const flip of [false, true]) {
        const c = new Float32Array(64 * 80), l = new Float32Array(64 * 80);
        warpAffineGrayPlanes(m, 64, 80, [
          { src: src.data, sw: 90, sh: 70, interpolation: 'cubic', replicate: true, dst: c, off: 0, clip: false },
          { src: src.data, sw: 90, sh: 70, interpolation: 'linear', replicate: false, dst: l, off: 0, clip: false },
        ], flip);
        const flipRows = (a: Float32Array) => {
          if (!flip) return a;
          const o = new Float32Array(a.length);
          for (let y = 0; y < 80; y++) for (let x = 0; x < 64; x++) o[y * 64 + x] = a[y * 64 + 63 - x];
          return o;
        };
        expect(same(c, flipRows(warpAffine(src, m, 64, 80, { interpolation: 'cubic', border: 'replicate' }).data))).toBe(true);
        expect(same(l, flipRows(warpAffine(src, m, 64, 80, { interpolation: 'linear', border: 'constant' }).data))).toBe(true);
      }
  });

  it('remapGray equals remap (bicubic, constant border), maps reaching outside the image included', () => {
    const src = plane(50, 40, 9);
    const r = new Rng(11);
    const w = 45, h = 33;
    const mx = new Float32Array(w * h), my = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) {
      mx[i] = r.uniform(-6, 56) + 1 / 64; // odd 1/64 steps: the rounding to 1/32 hits ties
      my[i] = r.uniform(-6, 46);
    }
    mx[0] = 2.015625; // an exact tie ×32 = 64.5 → 64 (half to even)
    mx[1] = 2.046875; // ×32 = 65.5 → 66
    const out = new Float32Array(w * h);
    remapGray(src.data, 50, 40, mx, my, w, h, out);
    expect(same(out, remap(src, mx, my, w, h, { interpolation: 'cubic', border: 'constant' }).data)).toBe(true);
  });

  // sha256 (first 128 bits) of 3 batches × (warped, target, targetMask, targetEmMask), recorded with the generator of
  // commit b576200, before the fused 1-channel path: same seeds, same synthetic faces → the same bytes.
  const RECORDED: [{ res: number; ft: string; size: number; flip: boolean; warp: boolean; em: boolean }, string][] = [
    [{ res: 64, ft: 'f', size: 96, flip: true, warp: true, em: true }, '480dfb63675adfa24f2da5733d2073d9'],
    [{ res: 96, ft: 'mf', size: 128, flip: true, warp: true, em: true }, '43b52afaa72d9238469ba482083686e8'],
    [{ res: 100, ft: 'wf', size: 100, flip: true, warp: true, em: true }, 'b308ddffee0a1fbbd555868edcc575e5'],
    [{ res: 192, ft: 'mf', size: 256, flip: true, warp: true, em: false }, 'c5fcedd5fa1439ddda6765902dbb042a'],
    [{ res: 80, ft: 'f', size: 80, flip: false, warp: false, em: true }, '7c78a5ae33bbf4e0d0332577aa1b4741'],
  ];
  it.each(RECORDED)('1-channel generator batches equal the pre-optimisation output: %o', async (c, hash) => {
    const { faces } = syntheticFaces(5, { size: c.size });
    const g = new SampleGenerator({ faces, resolution: c.res, channels: 1, faceType: c.ft, randomWarp: c.warp, randomFlip: c.flip, masks: true, eyesMouthMask: c.em, batchSize: 3, seed: 4242 });
    const h = createHash('sha256');
    for (let i = 0; i < 3; i++) {
      const b = await g.nextBatch();
      for (const a of [b.warped, b.target, b.targetMask, b.targetEmMask]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    }
    expect(h.digest('hex').slice(0, 32)).toBe(hash);
  });
});

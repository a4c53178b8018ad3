/**
 * Training maths (spec §C.3–§C.8) on the tfjs cpu backend: every expected value is computed independently here in
 * plain double-precision JavaScript from the spec's formulas, not with the code under test.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  blurKernelSize,
  blurOutMask,
  bceWithLogits,
  dssim,
  dssimFilterSizes,
  dssimTaps1d,
  gaussianBlur,
  lossMaskBlur,
  styleLoss,
  totalVariationMse,
} from '../../src/core/train/losses.ts';
import { DflOptimizer, bernoulliMask, clipByGlobalNorm, lrCosFactor, slotKey } from '../../src/core/train/optimizers.ts';
import { createRng } from '../../src/core/train/rng.ts';
import { CodeDiscriminator, Conv2DTranspose, UNetPatchDiscriminator, findPatchArchi } from '../../src/core/train/discriminators.ts';
import { ParamStore } from '../../src/core/model/layers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic pseudo-random values in [0,1) for test images (independent of the code under test). */
function lcgImage(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296;
  }
  return out;
}

/** NHWC index. */
const at = (h: number, w: number, c: number) => (n: number, y: number, x: number, ch: number) => ((n * h + y) * w + x) * c + ch;

/** Reference SSIM per (sample, channel) with a direct 2-D Gaussian window loop, VALID, in float64 (§C.5 formulas). */
function refSsim(a: Float64Array, b: Float64Array, shape: [number, number, number, number], fs: number): number[][] {
  const [n, h, w, c] = shape;
  const idx = at(h, w, c);
  const sigma = 1.5;
  const centre = (fs - 1) / 2;
  const win: number[][] = [];
  let total = 0;
  for (let dy = 0; dy < fs; dy++) {
    win.push([]);
    for (let dx = 0; dx < fs; dx++) {
      const v = Math.exp(-((dx - centre) ** 2 + (dy - centre) ** 2) / (2 * sigma * sigma));
      win[dy].push(v);
      total += v;
    }
  }
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  const res: number[][] = [];
  for (let s = 0; s < n; s++) {
    res.push([]);
    for (let ch = 0; ch < c; ch++) {
      let acc = 0;
      let count = 0;
      for (let y = 0; y + fs <= h; y++)
        for (let x = 0; x + fs <= w; x++) {
          let ma = 0, mb = 0, mab = 0, maa = 0, mbb = 0;
          for (let dy = 0; dy < fs; dy++)
            for (let dx = 0; dx < fs; dx++) {
              const k = win[dy][dx] / total;
              const va = a[idx(s, y + dy, x + dx, ch)];
              const vb = b[idx(s, y + dy, x + dx, ch)];
              ma += k * va;
              mb += k * vb;
              mab += k * va * vb;
              maa += k * va * va;
              mbb += k * vb * vb;
            }
          const lum = (2 * ma * mb + c1) / (ma * ma + mb * mb + c1);
          const cs = (2 * mab - 2 * ma * mb + c2) / (maa + mbb - ma * ma - mb * mb + c2);
          acc += lum * cs;
          count++;
        }
      res[s].push(acc / count);
    }
  }
  return res;
}

/** Reference zero-padded Gaussian blur (§C.5): K from the spec's rule, centre ⌊K/2⌋, 2-D kernel normalised to 1. */
function refBlur(x: Float64Array, shape: [number, number, number, number], sigma: number): Float64Array {
  const [n, h, w, c] = shape;
  const idx = at(h, w, c);
  let k = Math.max(3, Math.floor(4 * sigma));
  if (k % 2 === 0) k++;
  const mid = Math.floor(k / 2);
  const ker: number[] = [];
  let total = 0;
  for (let dy = 0; dy < k; dy++)
    for (let dx = 0; dx < k; dx++) {
      const v = Math.exp(-((dx - mid) ** 2) / (2 * sigma * sigma)) * Math.exp(-((dy - mid) ** 2) / (2 * sigma * sigma));
      ker.push(v);
      total += v;
    }
  const out = new Float64Array(x.length);
  for (let s = 0; s < n; s++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          let acc = 0;
          for (let dy = 0; dy < k; dy++)
            for (let dx = 0; dx < k; dx++) {
              const yy = y + dy - mid;
              const xs = xx + dx - mid;
              if (yy < 0 || yy >= h || xs < 0 || xs >= w) continue;
              acc += (ker[dy * k + dx] / total) * x[idx(s, yy, xs, ch)];
            }
          out[idx(s, y, xx, ch)] = acc;
        }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('losses (§C.5)', () => {
  test('DSSIM window sizes and σ-1.5 taps match the closed form', () => {
    expect(dssimFilterSizes(96)).toEqual([8]);
    expect(dssimFilterSizes(128)).toEqual([11]);
    expect(dssimFilterSizes(192)).toEqual([16]);
    expect(dssimFilterSizes(224)).toEqual([19]);
    expect(dssimFilterSizes(256)).toEqual([22, 11]);
    expect(dssimFilterSizes(512)).toEqual([44, 22]);
    const taps = dssimTaps1d(11);
    // softmax of −(dx² + dy²)/(2·1.5²) over the 11×11 grid, centre 5, is outer(taps, taps)
    let z = 0;
    for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) z += Math.exp(-((i - 5) ** 2 + (j - 5) ** 2) / 4.5);
    for (let i = 0; i < 11; i++)
      for (let j = 0; j < 11; j++)
        expect(taps[i] * taps[j]).toBeCloseTo(Math.exp(-((i - 5) ** 2 + (j - 5) ** 2) / 4.5) / z, 14);
    expect(blurKernelSize(4)).toBe(17); // res 128
    expect(blurKernelSize(6)).toBe(25); // res 192
    expect(blurKernelSize(8)).toBe(33); // res 256
    expect(blurKernelSize(1)).toBe(5);
    expect(blurKernelSize(0.5)).toBe(3);
    expect(blurKernelSize(0.75)).toBe(3);
  });

  test('DSSIM(x, x) = 0', () => {
    const x = tf.tensor4d(Float32Array.from(lcgImage(2 * 24 * 24 * 3, 7)), [2, 24, 24, 3]);
    const d = dssim(x, x, 5);
    expect(d.shape).toEqual([2, 3]);
    for (const v of d.dataSync()) expect(Math.abs(v)).toBeLessThan(1e-6);
    tf.dispose([x, d]);
  });

  test('DSSIM of two constant images equals the closed form (zero variance: cs = 1)', () => {
    const mx = 0.8;
    const my = 0.3;
    const a = tf.fill([1, 16, 16, 1], mx) as tf.Tensor4D;
    const b = tf.fill([1, 16, 16, 1], my) as tf.Tensor4D;
    const c1 = 0.01 ** 2;
    const ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1);
    const d = dssim(a, b, 11);
    // float32 limit: cs = (2W(ab) − 2μaμb + c2)/(W(a²+b²) − μa² − μb² + c2) cancels terms of ≈ 0.7 against c2 = 9e-4,
    // so one float32 ulp (6e-8) there moves DSSIM by ≈ 3e-5; DFL's graph has the same cancellation.
    expect(Math.abs(d.dataSync()[0] - (1 - ssim) / 2)).toBeLessThan(1e-4);
    tf.dispose([a, b, d]);
  });

  test('DSSIM of x against 0.7·x + 0.1 matches a direct double-precision window loop', () => {
    const shape: [number, number, number, number] = [2, 20, 18, 2];
    const size = shape.reduce((p, q) => p * q, 1);
    const xa = lcgImage(size, 11);
    const xb = xa.map((v) => 0.7 * v + 0.1);
    const xc = lcgImage(size, 12); // and an unrelated image
    for (const [other, fs] of [
      [xb, 5],
      [xc, 7],
      [xc, 2],
    ] as const) {
      const ref = refSsim(xa, other, shape, fs);
      const a = tf.tensor4d(Float32Array.from(xa), shape);
      const b = tf.tensor4d(Float32Array.from(other), shape);
      const d = dssim(a, b, fs).arraySync();
      for (let s = 0; s < 2; s++) for (let c = 0; c < 2; c++) expect(d[s][c]).toBeCloseTo((1 - ref[s][c]) / 2, 5);
      tf.dispose([a, b]);
    }
  });

  test('Gaussian blur and the loss mask equal a plain-JS zero-padded 2-D blur', () => {
    const shape: [number, number, number, number] = [2, 24, 24, 1];
    const m = new Float64Array(2 * 24 * 24);
    // a filled disc and a filled square as masks
    for (let y = 0; y < 24; y++)
      for (let x = 0; x < 24; x++) {
        m[y * 24 + x] = (y - 11) ** 2 + (x - 12) ** 2 < 64 ? 1 : 0;
        m[576 + y * 24 + x] = y > 3 && y < 18 && x > 5 && x < 20 ? 1 : 0;
      }
    const mask = tf.tensor4d(Float32Array.from(m), shape);
    // res 64 → σ = max(1, 64 // 32) = 2, K = 9
    const refB = refBlur(m, shape, 2);
    const blurred = gaussianBlur(mask, 2);
    expect(maxAbsDiff(blurred.dataSync(), refB)).toBeLessThan(1e-6);
    const lm = lossMaskBlur(mask, 64);
    const refLm = refB.map((v) => Math.min(Math.max(v, 0), 0.5) * 2);
    expect(maxAbsDiff(lm.dataSync(), refLm)).toBeLessThan(2e-6);
    // multi-channel input: each channel blurred independently
    const rgbVals = lcgImage(1 * 12 * 10 * 3, 5);
    const rgb = tf.tensor4d(Float32Array.from(rgbVals), [1, 12, 10, 3]);
    expect(maxAbsDiff(gaussianBlur(rgb, 1.5).dataSync(), refBlur(rgbVals, [1, 12, 10, 3], 1.5))).toBeLessThan(1e-6);
    tf.dispose([mask, blurred, lm, rgb]);
  });

  test('blur_out_mask keeps the face and fills the background with a normalised background blur (§C.3)', () => {
    const shape: [number, number, number, number] = [1, 16, 16, 1];
    const img = lcgImage(256, 3);
    const m = new Float64Array(256);
    for (let i = 0; i < 256; i++) m[i] = i % 16 >= 5 && i % 16 < 11 && i >= 64 && i < 192 ? 1 : 0;
    const res = 256; // σ = 2
    const x = refBlur(img.map((v, i) => v * (1 - m[i])), shape, 2);
    const bm = refBlur(m, shape, 2);
    const expected = img.map((v, i) => {
      const d = 1 - bm[i] === 0 ? 1 : 1 - bm[i];
      return v * m[i] + (x[i] / d) * (1 - m[i]);
    });
    const out = blurOutMask(tf.tensor4d(Float32Array.from(img), shape), tf.tensor4d(Float32Array.from(m), shape), res);
    expect(maxAbsDiff(out.dataSync(), expected)).toBeLessThan(1e-5);
  });

  test('style loss, sigmoid cross-entropy and total variation', () => {
    // style loss without blur: per-channel mean and std differences, × weight / C
    const a = [0.1, 0.5, 0.9, 0.3, 0.2, 0.2, 0.6, 0.4]; // 1×2×2×2
    const b = [0.4, 0.4, 0.4, 0.9, 0.0, 0.1, 0.8, 0.5];
    let expected = 0;
    for (let ch = 0; ch < 2; ch++) {
      const va = [0, 1, 2, 3].map((p) => a[p * 2 + ch]);
      const vb = [0, 1, 2, 3].map((p) => b[p * 2 + ch]);
      const mean = (v: number[]) => v.reduce((p, q) => p + q, 0) / v.length;
      const std = (v: number[]) => Math.sqrt(mean(v.map((q) => (q - mean(v)) ** 2)) + 1e-5);
      expected += (mean(va) - mean(vb)) ** 2 + (std(va) - std(vb)) ** 2;
    }
    expected *= 100 / 2;
    const sl = styleLoss(tf.tensor4d(a, [1, 2, 2, 2]), tf.tensor4d(b, [1, 2, 2, 2]), 0, 100);
    expect(sl.dataSync()[0]).toBeCloseTo(expected, 5);
    // BCE with logits vs log(1 + e^−z) / log(1 + e^z)
    const z = [-30, -2, -0.5, 0, 0.7, 3, 40, 1];
    const logits = tf.tensor4d(z, [2, 2, 2, 1]);
    const bce1 = bceWithLogits(1, logits).dataSync();
    const bce0 = bceWithLogits(0, logits).dataSync();
    for (let s = 0; s < 2; s++) {
      const zs = z.slice(s * 4, s * 4 + 4);
      expect(bce1[s]).toBeCloseTo(zs.reduce((p, v) => p + Math.log1p(Math.exp(-v)), 0) / 4, 5);
      expect(bce0[s]).toBeCloseTo(zs.reduce((p, v) => p + (v > 20 ? v : Math.log1p(Math.exp(v))), 0) / 4, 5);
    }
    // TV: squared vertical + horizontal neighbour differences, summed per sample
    const img = [1, 2, 4, 7, 11, 16]; // 1×2×3×1
    const tv = totalVariationMse(tf.tensor4d(img, [1, 2, 3, 1])).dataSync()[0];
    expect(tv).toBeCloseTo(6 * 6 + 9 * 9 + 12 * 12 + (1 + 4) + (16 + 25), 4);
  });

  test('DSSIM backpropagates (input gradient only; finite and non-zero)', () => {
    const x = tf.variable(tf.tensor4d(Float32Array.from(lcgImage(2 * 16 * 16 * 2, 9)), [2, 16, 16, 2]));
    const y = tf.tensor4d(Float32Array.from(lcgImage(2 * 16 * 16 * 2, 10)), [2, 16, 16, 2]);
    const { value, grads } = tf.variableGrads(() => tf.sum(dssim(x as unknown as tf.Tensor4D, y, 5)) as tf.Scalar, [x]);
    const g = grads[x.name].dataSync();
    expect(g.every((v) => Number.isFinite(v))).toBe(true);
    expect(g.some((v) => v !== 0)).toBe(true);
    tf.dispose([x, y, value, grads[x.name]]);
  });
});

describe('optimizers (§C.8)', () => {
  const rel = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-30);

  function runTwoSteps(kind: 'adabelief' | 'rmsprop') {
    const w0 = [0, 0, 0, 0.25];
    const g1 = [0.3, -0.02, 1e-4, 2.5];
    const g2 = [-0.1, 0.05, 3e-3, 2.0];
    const w = tf.variable(tf.tensor1d(w0), true, `${kind}/test/weight:0`);
    const opt = new DflOptimizer(new Map([['enc/weight:0', w]]), { kind });
    const grads = [g1, g2].map((g) => tf.tensor1d(g));
    const states = [];
    for (const g of grads) {
      opt.applyGradients(new Map([['enc/weight:0', g]]));
      states.push({ w: Array.from(w.dataSync()), slots: [...opt.slots().values()].map((s) => Array.from(s.dataSync())) });
    }
    tf.dispose(grads);
    const keys = [...opt.slots().keys()];
    opt.dispose();
    w.dispose();
    return { w0, g1, g2, states, keys, iters: opt.iterations };
  }

  test('AdaBelief: two updates equal hand-computed values (no bias correction, ε outside the root)', () => {
    const { w0, g1, g2, states, keys, iters } = runTwoSteps('adabelief');
    expect(keys).toEqual(['ms_enc/weight_0:0', 'vs_enc/weight_0:0']);
    expect(iters).toBe(2);
    const lr = 5e-5;
    const m = [0, 0, 0, 0];
    const v = [0, 0, 0, 0];
    const w = w0.slice();
    [g1, g2].forEach((g, step) => {
      for (let i = 0; i < 4; i++) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * (g[i] - m[i]) ** 2;
        w[i] = w[i] - (lr * m[i]) / (Math.sqrt(v[i]) + 1e-6);
        expect(rel(states[step].slots[0][i], m[i])).toBeLessThanOrEqual(1e-6);
        expect(rel(states[step].slots[1][i], v[i])).toBeLessThanOrEqual(1e-6);
        expect(rel(states[step].w[i], w[i])).toBeLessThanOrEqual(1e-6);
      }
    });
  });

  test('RMSprop: two updates equal hand-computed values', () => {
    const { w0, g1, g2, states, keys } = runTwoSteps('rmsprop');
    expect(keys).toEqual(['acc_enc/weight_0:0']);
    const lr = 5e-5;
    const a = [0, 0, 0, 0];
    const w = w0.slice();
    [g1, g2].forEach((g, step) => {
      for (let i = 0; i < 4; i++) {
        a[i] = 0.9 * a[i] + 0.1 * g[i] ** 2;
        w[i] = w[i] - (lr * g[i]) / (Math.sqrt(a[i]) + 1e-6);
        expect(rel(states[step].slots[0][i], a[i])).toBeLessThanOrEqual(1e-6);
        expect(rel(states[step].w[i], w[i])).toBeLessThanOrEqual(1e-6);
      }
    });
  });

  test('slot keys follow the DFL file naming (§C.11)', () => {
    expect(slotKey('ms', 'encoder/down1/downs_0/conv1/weight:0')).toBe('ms_encoder/down1/downs_0/conv1/weight_0:0');
  });

  test('global-norm clipping scales to the clip norm only when ‖g‖ ≥ clip', () => {
    const big = [tf.tensor1d([3, 4]), tf.tensor2d([[12]])]; // ‖g‖ = 13
    const clipped = clipByGlobalNorm(big, 1);
    const flat = [...clipped[0].dataSync(), ...clipped[1].dataSync()];
    expect(Math.hypot(...flat)).toBeCloseTo(1, 6);
    expect(flat[0]).toBeCloseTo(3 / 13, 7);
    const small = [tf.tensor1d([0.3, 0.4])];
    const kept = clipByGlobalNorm(small, 1);
    expect(Array.from(kept[0].dataSync())).toEqual(Array.from(small[0].dataSync()));
    tf.dispose([...big, ...clipped, ...small, ...kept]);
  });

  test('clipgrad inside the optimizer: RMSprop sees the clipped gradient', () => {
    const w = tf.variable(tf.zeros([2]));
    const opt = new DflOptimizer(new Map([['w:0', w]]), { kind: 'rmsprop', clipNorm: 1 });
    const g = tf.tensor1d([30, 40]);
    opt.applyGradients(new Map([['w:0', g]]));
    const acc = opt.slots().get('acc_w_0:0')!.dataSync();
    expect(acc[0]).toBeCloseTo(0.1 * 0.6 ** 2, 7);
    expect(acc[1]).toBeCloseTo(0.1 * 0.8 ** 2, 7);
    opt.dispose();
    tf.dispose([w, g]);
  });

  test('LR dropout: Bernoulli(0.3) masks and the 500-iteration cosine factor', () => {
    const rng = createRng(42);
    const mask = bernoulliMask([400, 500], 0.3, rng);
    const vals = mask.dataSync();
    let ones = 0;
    for (const v of vals) ones += v;
    expect(ones / vals.length).toBeGreaterThan(0.3 - 0.005); // 5 σ at n = 200 000
    expect(ones / vals.length).toBeLessThan(0.3 + 0.005);
    // fresh each call: two masks agree on ≈ 0.3² + 0.7² = 58 % of the elements, not all
    const vals2 = bernoulliMask([400, 500], 0.3, rng).dataSync();
    let same = 0;
    for (let i = 0; i < vals.length; i++) same += vals[i] === vals2[i] ? 1 : 0;
    expect(same / vals.length).toBeCloseTo(0.58, 1);
    expect(lrCosFactor(0, 500)).toBe(1);
    expect(lrCosFactor(250, 500)).toBeCloseTo(0, 9);
    expect(lrCosFactor(125, 500)).toBeCloseTo(0.5, 9);
    expect(lrCosFactor(500, 500)).toBeCloseTo(1, 9);
    expect(lrCosFactor(1234, 0)).toBe(1);
    // in the optimizer about 30 % of the elements move
    const w = tf.variable(tf.zeros([20000]));
    const opt = new DflOptimizer(new Map([['w:0', w]]), { kind: 'adabelief', lrDropout: 0.3, lrCos: 500, seed: 1 });
    const g = tf.ones([20000]);
    opt.applyGradients(new Map([['w:0', g]]));
    const moved = w.dataSync().filter((v) => v !== 0).length / 20000;
    expect(moved).toBeGreaterThan(0.28);
    expect(moved).toBeLessThan(0.32);
    opt.dispose();
    tf.dispose([mask, w, g]);
  });

  test('optimizer state round-trips and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const w = tf.tidy(() => tf.variable(tf.ones([3, 2])));
    const opt = new DflOptimizer(new Map([['a/w:0', w]]), { kind: 'adabelief' });
    const g = tf.fill([3, 2], 0.5);
    opt.applyGradients(new Map([['a/w:0', g]]));
    const state = await opt.readState();
    expect(state.iters).toBe(1);
    expect([...state.slots.keys()]).toEqual(['ms_a/w_0:0', 'vs_a/w_0:0']);
    const opt2 = new DflOptimizer(new Map([['a/w:0', w]]), { kind: 'adabelief' });
    opt2.loadState(state);
    expect(opt2.iterations).toBe(1);
    expect(Array.from(opt2.slots().get('ms_a/w_0:0')!.dataSync())).toEqual(Array.from(state.slots.get('ms_a/w_0:0')!.data));
    // DFL's file dict carries the counter as an `iters:0` entry
    const opt3 = new DflOptimizer(new Map([['a/w:0', w]]), { kind: 'adabelief' });
    opt3.loadState({ slots: new Map<string, { data: ArrayLike<number | bigint> }>([['iters:0', { data: [BigInt(1234)] }], ...state.slots]) });
    expect(opt3.iterations).toBe(1234);
    opt.dispose();
    opt2.dispose();
    opt3.dispose();
    tf.dispose([w, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('discriminators (§C.6, §C.7)', () => {
  test('patch-discriminator layer plans equal DFL find_archi (values from running its algorithm in Python)', () => {
    const plans: Record<number, Array<[number, number]>> = {
      3: [[3, 2]],
      8: [[3, 2], [3, 2]],
      12: [[3, 2], [3, 1], [3, 2]],
      16: [[3, 2], [3, 2], [3, 2]],
      24: [[3, 2], [3, 2], [3, 1], [3, 2]],
      28: [[3, 2], [3, 1], [3, 2], [3, 1], [3, 2]],
      40: [[3, 2], [3, 2], [3, 1], [3, 2], [3, 2]],
      64: [[3, 2], [3, 2], [3, 2], [3, 2], [3, 2]],
      80: [[3, 2], [3, 2], [3, 2], [3, 1], [3, 2], [3, 2]],
      100: [[3, 2], [3, 1], [3, 2], [3, 2], [3, 2], [3, 1], [3, 2]],
    };
    for (const [t, plan] of Object.entries(plans)) expect(findPatchArchi(Number(t))).toEqual(plan);
  });

  test('transposed conv equals tf.conv2dTranspose with TF SAME padding (stride 1 and 2)', () => {
    const ctx = { store: new ParamStore('t', '1', 'glorot'), cosAct: false };
    for (const stride of [1, 2]) {
      const up = new Conv2DTranspose(ctx, `up${stride}`, 4, 3, 3, stride);
      tf.tidy(() => {
        up.bias.assign(tf.tensor1d([0.1, -0.2, 0.3]));
        const x = tf.randomNormal([2, 5, 6, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
        const got = up.apply(x, 5 * stride, 6 * stride);
        const want = tf.add(tf.conv2dTranspose(x, up.weight as tf.Tensor4D, [2, 5 * stride, 6 * stride, 3], stride, 'same'), up.bias);
        expect(got.shape).toEqual([2, 5 * stride, 6 * stride, 3]);
        expect(maxAbsDiff(got.dataSync(), want.dataSync())).toBeLessThan(1e-5);
      });
    }
    ctx.store.dispose();
  });

  test('code and patch discriminators: output shapes, DFL variable names, gradients reach every weight', () => {
    const cd = new CodeDiscriminator(8, 8, '1', 16); // code 8×8×8 → n = 2 convs
    expect([...cd.variables().keys()]).toEqual([
      'convs_0/weight:0', 'convs_0/bias:0', 'convs_1/weight:0', 'convs_1/bias:0', 'out_conv/weight:0', 'out_conv/bias:0',
    ]);
    expect(cd.variables().get('convs_0/weight:0')!.shape).toEqual([4, 4, 8, 16]);
    expect(cd.variables().get('convs_1/weight:0')!.shape).toEqual([3, 3, 16, 32]);
    const d = new UNetPatchDiscriminator(12, 1, 4, '2'); // plan (3,2),(3,1),(3,2)
    expect(d.variables().get('upconvs_0/weight:0')!.shape).toEqual([3, 3, 16, 32]); // deepest: in level 2 = 32, out level 1 = 16
    expect(d.variables().get('upconvs_2/weight:0')!.shape).toEqual([3, 3, 4, 16]); // 2·8 → 4
    expect(d.variables().get('out_conv/weight:0')!.shape).toEqual([1, 1, 8, 1]);
    tf.tidy(() => {
      const code = tf.randomUniform([2, 8, 8, 8], -1, 1, 'float32', 4) as tf.Tensor4D;
      expect(cd.apply(code).shape).toEqual([2, 3, 3, 1]); // 8 → 5 (k4 pad 2) → 3
      const img = tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
      const [centre, full] = d.apply(img);
      expect(centre.shape).toEqual([2, 8, 8, 1]);
      expect(full.shape).toEqual([2, 32, 32, 1]);
      const vars = [...d.variables().values()];
      const { grads } = tf.variableGrads(() => {
        const [c, f] = d.apply(img);
        return tf.sum(tf.add(bceWithLogits(1, c), bceWithLogits(0, f))) as tf.Scalar;
      }, vars);
      for (const v of vars) expect(tf.sum(tf.abs(grads[v.name])).dataSync()[0]).toBeGreaterThan(0);
    });
    cd.dispose();
    d.dispose();
  });
});

/**
 * Split-K filter gradient (issue 8): summing the patch matmul over row chunks must give the unsplit im2col result and
 * tfjs' own Conv2DBackpropFilter (via the stock conv2d gradient), within float32 rounding (relative error ≤ 1e-5).
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  autoFilterGradSplit, conv2dSym, getFilterGradSplit, im2colFilterGrad, setFilterGradSplit,
} from '../../src/core/model/layers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});
afterEach(() => setFilterGradSplit(1));

/** max |a − b| / max |b|: relative to the gradient's scale, so sums of many products are judged fairly. */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
}

/** Independent reference: the stock tfjs filter gradient (Conv2DBackpropFilter) of the DFL symmetric-pad conv. */
function stockDw(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, s: number, co: number): tf.Tensor4D {
  const w = tf.zeros([k, k, x.shape[3], co]) as tf.Tensor4D;
  return tf.grad((b: tf.Tensor) => tf.sum(tf.mul(conv2dSym(x, b as tf.Tensor4D, s, 'stock'), dy)))(w) as tf.Tensor4D;
}

describe('split-K im2col filter gradient', () => {
  // rows = N·Ho·Wo: 2·6·6 = 72, 1·5·4 = 20, 3·7·7 = 147 (odd), 1·9·9 = 81, 2·3·5 = 30, 2·6·6 = 72 (1×1).
  it.each([
    [3, 1, [2, 6, 6, 3], 4],
    [5, 2, [1, 9, 7, 2], 3],
    [3, 1, [3, 7, 7, 2], 5],
    [5, 1, [1, 9, 9, 2], 2],
    [3, 2, [2, 5, 9, 3], 4],
    [1, 1, [2, 6, 6, 4], 3],
  ] as Array<[number, number, [number, number, number, number], number]>)('k=%i stride %i x %j → %i: every split equals unsplit and stock', (k, s, xs, co) => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal(xs, 0, 1, 'float32', 31) as tf.Tensor4D;
      const p = Math.floor(k / 2);
      const ho = Math.floor((xs[1] + 2 * p - k) / s) + 1;
      const wo = Math.floor((xs[2] + 2 * p - k) / s) + 1;
      const dy = tf.randomNormal([xs[0], ho, wo, co], 0, 1, 'float32', 32) as tf.Tensor4D;
      const rows = xs[0] * ho * wo;
      const ref = stockDw(x, dy, k, s, co);
      const unsplit = im2colFilterGrad(x, dy, k, s, p, undefined, 1);
      expect(unsplit.shape).toEqual([k, k, xs[3], co]);
      expect(relErr(unsplit, ref)).toBeLessThanOrEqual(1e-5);
      // Splits are rounded down to powers of two: 3 → 2, 7 → 4; 4 and 16 mostly do not divide rows (zero-padded
      // chunks); rows and more give the largest power of two ≤ rows (chunks of one or two rows).
      for (const split of [2, 3, 7, 16, rows, rows + 5]) {
        const dw = im2colFilterGrad(x, dy, k, s, p, undefined, split);
        expect(dw.shape).toEqual(unsplit.shape);
        expect(relErr(dw, unsplit)).toBeLessThanOrEqual(1e-5);
        expect(relErr(dw, ref)).toBeLessThanOrEqual(1e-5);
        // The chunked patch paths (per kernel row, per tap) combine with the split too.
        expect(relErr(im2colFilterGrad(x, dy, k, s, p, 1, split), ref)).toBeLessThanOrEqual(1e-5);
        expect(relErr(im2colFilterGrad(x, dy, k, s, p, rows * k * xs[3], split), ref)).toBeLessThanOrEqual(1e-5);
      }
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the global setting reaches the conv gradient, which stays equal to stock', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 41) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 3, 4], 0, 0.3, 'float32', 42) as tf.Tensor4D;
      const r = tf.randomNormal([2, 7, 7, 4], 0, 1, 'float32', 43);
      const dw = (mode: 'im2col' | 'stock') =>
        tf.grad((b: tf.Tensor) => tf.sum(tf.mul(conv2dSym(x, b as tf.Tensor4D, 1, mode), r)))(w);
      const ref = dw('stock');
      for (const split of [1, 5, 'auto'] as const) {
        setFilterGradSplit(split);
        expect(getFilterGradSplit()).toBe(split);
        expect(relErr(dw('im2col'), ref)).toBeLessThanOrEqual(1e-5);
      }
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a bad split and picks auto splits per backend', () => {
    expect(() => setFilterGradSplit(0)).toThrow(/positive integer/);
    expect(() => setFilterGradSplit(2.5)).toThrow(/positive integer/);
    expect(getFilterGradSplit()).toBe(1);
    expect(autoFilterGradSplit(96 * 96 * 6, 'cpu')).toBe(1);
    expect(autoFilterGradSplit(96 * 96 * 6, 'wasm')).toBe(1);
    expect(autoFilterGradSplit(1000, 'webgpu')).toBe(1);
    const s = autoFilterGradSplit(48 * 48 * 6, 'webgpu');
    expect(s).toBeGreaterThanOrEqual(2);
    expect((48 * 48 * 6) % s).toBe(0);
    expect(Math.log2(s) % 1).toBe(0);
    expect(autoFilterGradSplit(1 << 22, 'webgpu')).toBeLessThanOrEqual(64);
  });
});

/**
 * DFL's `models_opt_on_gpu = false` (issue 8 memory; spec §C.8 optimizers, option table §C.1): the optimizer state
 * lives in host Float32Arrays and the update runs in JS. It must train like the backend path (AdaBelief and RMSprop,
 * with clipgrad and LR dropout, and the discriminator optimizers), keep its state through a checkpoint, carry the slots
 * over when the option is switched on resume, and take exactly the slot bytes out of the backend. tfjs cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/core/checkpoint/checkpointFile.ts';
import { captureState, restoreState } from '../../src/core/checkpoint/modelState.ts';
import { quickTest, type ModelOptions } from '../../src/core/model/options.ts';
import { createSaehd, type SaehdModel } from '../../src/core/model/saehd.ts';
import { DflOptimizer } from '../../src/core/train/optimizers.ts';
import { createTrainer, type TrainBatch, type Trainer } from '../../src/core/train/trainStep.ts';
import { syntheticBatch } from '../fixtures/syntheticBatch.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function tiny(over: Partial<ModelOptions> = {}): ModelOptions {
  return { ...quickTest, archi: 'df-ud', resolution: 32, ae_dims: 16, e_dims: 4, d_dims: 4, d_mask_dims: 4, channels: 1, batch_size: 2, ...over };
}

const batch = (res: number, phase: number): TrainBatch => syntheticBatch(res, 2, phase);

/** Every weight (model and discriminators) and every optimizer slot of a trainer, as copies. */
async function snapshot(model: SaehdModel, t: Trainer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const vars: Array<[string, tf.Variable]> = [
    ...model.allVariables(),
    ...[...(t.codeDiscriminator?.variables() ?? [])].map(([k, v]) => [`code/${k}`, v] as [string, tf.Variable]),
    ...[...(t.gan?.variables() ?? [])].map(([k, v]) => [`gan/${k}`, v] as [string, tf.Variable]),
  ];
  for (const [k, v] of vars) out.set(k, ((await v.data()) as Float32Array).slice());
  for (const [tag, opt] of [['g', t.srcDstOpt], ['code', t.codeOpt], ['gan', t.ganOpt]] as const) {
    if (!opt) continue;
    for (const [k, s] of (await opt.readState()).slots) out.set(`${tag}:${k}`, s.data);
  }
  return out;
}

/** Largest |a−b| relative to the largest |a| of the same array, over all arrays. */
function maxRelDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  expect([...b.keys()]).toEqual([...a.keys()]);
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    expect(y.length, k).toBe(x.length);
    let scale = 0;
    for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(x[i]));
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(scale, 1e-30));
  }
  return worst;
}

async function trainSteps(o: ModelOptions, onGpu: boolean, steps: number) {
  const opts = { ...o, models_opt_on_gpu: onGpu };
  const model = createSaehd(opts, 7);
  const trainer = createTrainer(model, opts, { seed: 3 });
  const tensors: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const r = await trainer.step(batch(32, i));
    losses.push(r.srcLoss, r.dstLoss);
    tensors.push(tf.memory().numTensors);
  }
  const values = await snapshot(model, trainer);
  return { model, trainer, values, tensors, losses };
}

describe('optimizer state in host memory (models_opt_on_gpu off)', () => {
  const variants: Array<[string, Partial<ModelOptions>]> = [
    ['AdaBelief', {}],
    ['AdaBelief + clipgrad + lr_dropout', { clipgrad: true, lr_dropout: 'y' }],
    ['RMSprop', { adabelief: false }],
    ['RMSprop + clipgrad + lr_dropout', { adabelief: false, clipgrad: true, lr_dropout: 'y' }],
    ['AdaBelief, true face + GAN', { archi: 'df', true_face_power: 0.01, gan_power: 0.1, gan_patch_size: 4, gan_dims: 4 }],
  ];
  for (const [label, over] of variants) {
    test(`${label}: 3 steps give the backend path's weights and slots (≤ 1e-5 relative), tensors stable`, async () => {
      const o = tiny(over);
      const n0 = tf.memory().numTensors;
      const gpu = await trainSteps(o, true, 3);
      const host = await trainSteps(o, false, 3);
      try {
        expect(gpu.trainer.srcDstOpt.onBackend).toBe(true);
        expect(host.trainer.srcDstOpt.onBackend).toBe(false);
        for (const opt of [host.trainer.codeOpt, host.trainer.ganOpt]) if (opt) expect(opt.onBackend).toBe(false);
        expect(host.trainer.srcDstOpt.iterations).toBe(3);
        // No tensor is left behind by a host-mode step (and none added after the first).
        expect(new Set(host.tensors).size).toBe(1);
        const diff = maxRelDiff(gpu.values, host.values);
        console.log(`${label}: max rel diff host vs backend after 3 steps ${diff}`);
        expect(diff).toBeLessThanOrEqual(1e-5);
        for (let i = 0; i < host.losses.length; i++) expect(Math.abs(host.losses[i] - gpu.losses[i])).toBeLessThanOrEqual(1e-5 * Math.abs(gpu.losses[i]));
        // Sanity: the slots were really updated (all-zero slots would agree trivially) and the weights moved.
        const slots = [...host.values].filter(([k]) => k.includes(':ms_') || k.includes(':acc_'));
        expect(slots.length).toBeGreaterThan(0);
        expect(slots.some(([, a]) => a.some((x) => x !== 0))).toBe(true);
        const fresh = createSaehd({ ...o, models_opt_on_gpu: false }, 7);
        const w0 = new Map([...fresh.allVariables()].map(([k, v]) => [k, (v.dataSync() as Float32Array).slice()]));
        fresh.dispose();
        expect(maxRelDiff(w0, new Map([...host.values].filter(([k]) => w0.has(k))))).toBeGreaterThan(1e-6);
      } finally {
        for (const r of [gpu, host]) {
          r.trainer.dispose();
          r.model.dispose();
        }
      }
      expect(tf.memory().numTensors).toBe(n0);
    }, 120_000);
  }

  test('the backend holds exactly the slot bytes less, and the step peak drops by at least that much', async () => {
    const o = tiny();
    const model = createSaehd(o, 7);
    const weightBytes = [...model.allVariables().values()].reduce((a, v) => a + v.size * 4, 0);
    const peaks: number[] = [];
    const held: number[] = [];
    for (const onGpu of [true, false]) {
      const b0 = tf.memory().numBytes;
      const t = createTrainer(model, { ...o, models_opt_on_gpu: onGpu }, { seed: 3 });
      held.push(tf.memory().numBytes - b0);
      await t.step(batch(32, 0));
      const prof = await tf.profile(async () => {
        await t.step(batch(32, 1));
      });
      peaks.push(prof.peakBytes);
      if (onGpu) expect(t.srcDstOpt.backendSlotBytes()).toBe(2 * weightBytes);
      else {
        expect(t.srcDstOpt.backendSlotBytes()).toBe(0);
        expect(t.srcDstOpt.hostSlotBytes()).toBe(2 * weightBytes);
      }
      t.dispose();
      expect(tf.memory().numBytes).toBe(b0);
    }
    // AdaBelief: m and v, float32, one each per weight element.
    expect(held[0] - held[1]).toBe(2 * weightBytes);
    expect(held[1]).toBe(0);
    console.log(`peak live bytes backend ${peaks[0]} → host ${peaks[1]} (slots ${2 * weightBytes})`);
    expect(peaks[0] - peaks[1]).toBeGreaterThanOrEqual(2 * weightBytes);
    model.dispose();
  }, 60_000);

  test('capture → restore in host mode is exact, and the next step continues identically', async () => {
    const o = tiny({ models_opt_on_gpu: false, clipgrad: true });
    const model = createSaehd(o, 5);
    const trainer = createTrainer(model, o, { seed: 5 });
    for (let i = 0; i < 2; i++) await trainer.step(batch(32, i));
    const before = await snapshot(model, trainer);
    const content = await captureState(model, trainer, o, [[1, 2], [3, 4]], { seed: 5 });
    const r = await restoreState(decodeCheckpoint(encodeCheckpoint(content)));
    try {
      expect(r.options.models_opt_on_gpu).toBe(false);
      expect(r.trainer!.srcDstOpt.onBackend).toBe(false);
      expect(r.trainer!.srcDstOpt.iterations).toBe(2);
      expect(maxRelDiff(before, await snapshot(r.model, r.trainer!))).toBe(0);
      const b = batch(32, 9);
      const [a, c] = [await trainer.step(b), await r.trainer!.step(b)];
      expect([c.srcLoss, c.dstLoss]).toEqual([a.srcLoss, a.dstLoss]);
      expect(maxRelDiff(await snapshot(model, trainer), await snapshot(r.model, r.trainer!))).toBe(0);
    } finally {
      r.trainer!.dispose();
      r.model.dispose();
      trainer.dispose();
      model.dispose();
    }
  }, 60_000);

  for (const [from, to] of [[true, false], [false, true]] as const) {
    test(`switching models_opt_on_gpu ${from} → ${to} on resume keeps the optimizer state`, async () => {
      // No lr_dropout here: its mask stream restarts from the seed on resume in either mode (not part of the checkpoint).
      const o = tiny({ models_opt_on_gpu: from, clipgrad: true });
      const model = createSaehd(o, 4);
      const trainer = createTrainer(model, o, { seed: 4 });
      for (let i = 0; i < 2; i++) await trainer.step(batch(32, i));
      const content = await captureState(model, trainer, o, [[1, 2], [3, 4]], { seed: 4 });
      const r = await restoreState(decodeCheckpoint(encodeCheckpoint(content)), { overrides: { models_opt_on_gpu: to } });
      try {
        expect(r.options.models_opt_on_gpu).toBe(to);
        expect(r.trainer!.srcDstOpt.onBackend).toBe(to);
        expect(r.trainer!.srcDstOpt.iterations).toBe(2);
        const [s1, s2] = [await trainer.srcDstOpt.readState(), await r.trainer!.srcDstOpt.readState()];
        expect(s2.slots.size).toBe(s1.slots.size);
        let nonZero = 0;
        for (const [k, v] of s1.slots) {
          expect(Buffer.from(s2.slots.get(k)!.data.buffer).equals(Buffer.from(v.data.buffer)), k).toBe(true);
          nonZero += v.data.some((x) => x !== 0) ? 1 : 0;
        }
        expect(nonZero).toBeGreaterThan(0);
        expect(r.notes.join('\n')).not.toMatch(/starts fresh/);
        // And both continue the same way (≤ 1e-5: the two paths agree to float32 rounding).
        const b = batch(32, 7);
        const [a, c] = [await trainer.step(b), await r.trainer!.step(b)];
        expect(Math.abs(c.srcLoss - a.srcLoss)).toBeLessThanOrEqual(1e-5 * a.srcLoss);
        expect(maxRelDiff(await snapshot(model, trainer), await snapshot(r.model, r.trainer!))).toBeLessThanOrEqual(1e-5);
      } finally {
        r.trainer!.dispose();
        r.model.dispose();
        trainer.dispose();
        model.dispose();
      }
    }, 60_000);
  }

  test('DflOptimizer in host mode: slot access, loadState, one hand-checked update, no backend-only calls', async () => {
    const w = tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]), true, 'hosttest/w');
    const opt = new DflOptimizer(new Map([['a/w:0', w]]), { kind: 'adabelief', onBackend: false });
    const n0 = tf.memory().numTensors;
    try {
      expect([...opt.slotInfo()]).toEqual([
        ['ms_a/w_0:0', { shape: [2, 2], size: 4 }],
        ['vs_a/w_0:0', { shape: [2, 2], size: 4 }],
      ]);
      expect(() => opt.slots()).toThrow(/host memory/);
      expect(() => opt.applyGradients(new Map())).toThrow(/update\(\)/);
      opt.setSlotData('vs_a/w_0:0', [1, 2, 3, 4]);
      opt.loadState({ iters: 7, slots: new Map([['ms_a/w_0:0', { data: [0.5, 0.25, 0, -1] }]]) });
      expect(opt.iterations).toBe(7);
      expect(() => opt.setSlotData('vs_a/w_0:0', [1])).toThrow(/1 values/);
      expect(() => opt.setSlotData('nope', [1])).toThrow(/no slot/);
      expect(tf.memory().numTensors).toBe(n0);
      const ms = await opt.slotData('ms_a/w_0:0');
      expect(Array.from(ms)).toEqual([0.5, 0.25, 0, -1]);
      ms[0] = 99; // a copy: the optimizer's own state is untouched
      expect((await opt.slotData('ms_a/w_0:0'))[0]).toBe(0.5);
      // One update by hand: the §C.8 AdaBelief formulas in float64 agree to float32 precision.
      const gv = [0.1, -0.2, 0.3, 0];
      const g = tf.tensor2d(gv, [2, 2]);
      await opt.update(new Map([['a/w:0', g]]));
      g.dispose();
      const m = [0.5, 0.25, 0, -1].map((m0, i) => 0.9 * m0 + 0.1 * gv[i]);
      const v = [1, 2, 3, 4].map((v0, i) => 0.999 * v0 + 0.001 * (gv[i] - m[i]) ** 2);
      const want = [1, -2, 3, 0.5].map((w0, i) => w0 - (5e-5 * m[i]) / (Math.sqrt(v[i]) + 1e-6));
      const got = w.dataSync();
      for (let i = 0; i < 4; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-6 * Math.abs(want[i]));
      const vs = await opt.slotData('vs_a/w_0:0');
      for (let i = 0; i < 4; i++) expect(Math.abs(vs[i] - v[i])).toBeLessThanOrEqual(1e-6 * v[i]);
      expect(opt.iterations).toBe(8);
      expect(tf.memory().numTensors).toBe(n0);
    } finally {
      opt.dispose();
      w.dispose();
    }
  });
});

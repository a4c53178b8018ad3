/** The training step (§C.2–§C.9) on a tiny model, tfjs cpu backend. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { NonFiniteLossError, TrainingBatchError } from '../../src/core/errors.ts';
import { quickTest, type ModelOptions } from '../../src/core/model/options.ts';
import { createSaehd } from '../../src/core/model/saehd.ts';
import { createTrainer, trainSettings, type TrainBatch } from '../../src/core/train/trainStep.ts';
import { syntheticSide } from '../fixtures/syntheticBatch.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Tiny options (not validated: below DFL's minimum sizes on purpose, to keep the test fast). */
function tiny(over: Partial<ModelOptions> = {}): ModelOptions {
  return { ...quickTest, archi: 'df', resolution: 32, ae_dims: 16, e_dims: 4, d_dims: 4, d_mask_dims: 4, channels: 1, batch_size: 2, ...over };
}

/** A deterministic batch side: a bright disc (the "face") on a darker gradient, with its mask; warped = target. */
const side = syntheticSide;

function batch(res: number, ch = 1, n = 2): TrainBatch {
  return { src: side(n, res, ch, 0), dst: side(n, res, ch, 5) };
}

describe('createTrainer / step', () => {
  test('tiny DF model: the loss decreases over 20 steps on a fixed batch, and no tensor leaks', async () => {
    const model = createSaehd(tiny(), 1);
    const trainer = createTrainer(model, model.options, { seed: 1 });
    const b = batch(32);
    const losses: number[] = [];
    let counts: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      const r = await trainer.step(b);
      expect(r.iter).toBe(i + 1);
      losses.push(r.srcLoss + r.dstLoss);
      counts.push(tf.memory().numTensors);
    }
    const ms = (performance.now() - t0) / 20;
    console.log(`tiny DF 32px batch 2, cpu: ${ms.toFixed(1)} ms/step; loss ${losses[0].toFixed(4)} → ${losses[19].toFixed(4)}`);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[19]).toBeLessThan(losses[0] * 0.97);
    counts = counts.slice(1);
    expect(new Set(counts).size).toBe(1); // unchanged after warm-up
    expect(trainer.srcDstOpt.iterations).toBe(20);
    trainer.dispose();
    model.dispose();
  });

  test('every optional loss on (eyes/mouth, blur-out mask, styles, true face, GAN, LR dropout, clipgrad, RMSprop): finite, no leak', async () => {
    const opts = tiny({
      eyes_mouth_prio: true, blur_out_mask: true, face_style_power: 1, bg_style_power: 1, true_face_power: 0.1,
      gan_power: 0.1, gan_patch_size: 8, gan_dims: 4, lr_dropout: 'y', clipgrad: true, adabelief: false, channels: 3,
    });
    const model = createSaehd(opts, 2);
    const trainer = createTrainer(model, opts, { seed: 2 });
    expect(trainer.codeDiscriminator).not.toBeNull();
    expect(trainer.gan).not.toBeNull();
    const b = batch(32, 3);
    const before = Array.from(trainer.codeDiscriminator!.variables().get('out_conv/weight:0')!.dataSync());
    await trainer.step(b);
    const count = tf.memory().numTensors;
    const r = await trainer.step(b);
    expect(Number.isFinite(r.srcLoss) && Number.isFinite(r.dstLoss)).toBe(true);
    expect(tf.memory().numTensors).toBe(count);
    const after = Array.from(trainer.codeDiscriminator!.variables().get('out_conv/weight:0')!.dataSync());
    expect(after).not.toEqual(before); // the code discriminator was updated
    expect(trainer.ganOpt!.iterations).toBe(2);
    expect([...trainer.srcDstOpt.slots().keys()][0]).toBe('acc_encoder/down1/downs_0/conv1/weight_0:0');
    trainer.dispose();
    model.dispose();
  });

  test('LIAE in pretrain: inter_AB is frozen (random warp off), the rest trains; pretrain turns off GAN and styles', async () => {
    const opts = tiny({ archi: 'liae', pretrain: true, gan_power: 1, face_style_power: 5, lr_dropout: 'y' });
    const s = trainSettings(opts);
    expect([s.randomWarp, s.ganPower, s.faceStyle, s.lrDropout]).toEqual([false, 0, 0, false]);
    const model = createSaehd(opts, 3);
    const trainer = createTrainer(model, opts, { seed: 3 });
    expect(trainer.gan).toBeNull();
    const ab = model.inter_AB!.variables().get('dense1/weight:0')!;
    const bw = model.inter_B!.variables().get('dense1/weight:0')!;
    const ab0 = Array.from(ab.dataSync());
    const b0 = Array.from(bw.dataSync());
    await trainer.step(batch(32));
    expect(Array.from(ab.dataSync())).toEqual(ab0);
    expect(Array.from(bw.dataSync())).not.toEqual(b0);
    trainer.dispose();
    model.dispose();
  });

  test('a non-finite loss raises NonFiniteLossError and leaves the weights untouched', async () => {
    const model = createSaehd(tiny(), 4);
    const trainer = createTrainer(model, model.options, { seed: 4 });
    const b = batch(32);
    b.dst.target[10] = Number.NaN;
    const w = model.encoder.variables().get('down1/downs_0/conv1/weight:0')!;
    const w0 = Array.from(w.dataSync());
    const count = tf.memory().numTensors;
    await expect(trainer.step(b)).rejects.toBeInstanceOf(NonFiniteLossError);
    expect(tf.memory().numTensors).toBe(count);
    expect(Array.from(w.dataSync())).toEqual(w0);
    expect(trainer.iter).toBe(0);
    expect(trainer.srcDstOpt.iterations).toBe(0);
    // a wrongly sized batch is a named error too
    const bad = batch(32);
    bad.dst.targetMask = new Float32Array(5);
    await expect(trainer.step(bad)).rejects.toBeInstanceOf(TrainingBatchError);
    expect(tf.memory().numTensors).toBe(count);
    trainer.dispose();
    model.dispose();
  });
});

/**
 * The checkpoint round trip the page and the command line share (src/core/checkpoint/modelState.ts, issue 10):
 * captureState → encodeCheckpoint → decodeCheckpoint → restoreState must give back the same weights, optimizer slots,
 * iteration and loss history bit for bit, and the next step must give the same losses as never having saved.
 * Runs on the wasm backend (the command line's default) with tiny models below DFL's minimum sizes, to stay fast.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, test } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointContent } from '../../src/core/checkpoint/checkpointFile.ts';
import {
  CheckpointMismatchError, captureState, checkpointBytes, restoreCheckpoint, restoreState, resumeOptions, storedOptionsOf, type TrainStateExtra,
} from '../../src/core/checkpoint/modelState.ts';
import { OptionError } from '../../src/core/errors.ts';
import { quickTest, validateOptions, type ModelOptions } from '../../src/core/model/options.ts';
import { createSaehd } from '../../src/core/model/saehd.ts';
import { createTrainer, type TrainBatch, type Trainer } from '../../src/core/train/trainStep.ts';
import { syntheticBatch } from '../fixtures/syntheticBatch.ts';

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
});

/** Below DFL's minimum dims on purpose (fixed-at-creation options are stored as they are). */
function tiny(over: Partial<ModelOptions> = {}): ModelOptions {
  return { ...quickTest, archi: 'df', resolution: 32, ae_dims: 16, e_dims: 4, d_dims: 4, d_mask_dims: 4, batch_size: 2, ...over };
}

const batch = (res: number, n = 2, phase = 0): TrainBatch => syntheticBatch(res, n, phase);

async function values(m: Map<string, tf.Variable>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of m) out.set(k, ((await v.data()) as Float32Array).slice());
  return out;
}

function expectSameMaps(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, x] of a) {
    const y = b.get(k)!;
    expect(y.length, k).toBe(x.length);
    // Bit-exact: compare the raw bytes (NaN-safe, and -0 ≠ +0).
    expect(Buffer.from(y.buffer, y.byteOffset, y.byteLength).equals(Buffer.from(x.buffer, x.byteOffset, x.byteLength)), k).toBe(true);
  }
}

/** Every variable and slot of a trainer, including the discriminators, keyed like the checkpoint. */
function allOf(model: ReturnType<typeof createSaehd>, t: Trainer): { w: Map<string, tf.Variable>; s: Map<string, tf.Variable> } {
  const w = new Map(model.allVariables());
  for (const [k, v] of t.codeDiscriminator?.variables() ?? []) w.set(`code_discriminator/${k}`, v);
  for (const [k, v] of t.gan?.variables() ?? []) w.set(`GAN/${k}`, v);
  const s = new Map([...t.srcDstOpt.slots(), ...(t.codeOpt?.slots() ?? []), ...(t.ganOpt?.slots() ?? [])]);
  return { w, s };
}

describe('captureState / restoreState', () => {
  test('round trip through the file is bit-exact: weights, discriminators, optimizer slots and counters, iter, loss history, extra', async () => {
    // DF with true face and GAN: every part the file can hold. State is filled with random values instead of trained.
    const o = tiny({ true_face_power: 0.01, gan_power: 0.1, gan_patch_size: 4, gan_dims: 4 });
    const model = createSaehd(o, 7);
    const trainer = createTrainer(model, o, { seed: 7, iter: 42 });
    const { w, s } = allOf(model, trainer);
    let k = 0;
    for (const v of [...w.values(), ...s.values()]) tf.tidy(() => v.assign(tf.randomUniform(v.shape, -1, 1, 'float32', ++k)));
    trainer.srcDstOpt.iterations = 40;
    trainer.codeOpt!.iterations = 39;
    trainer.ganOpt!.iterations = 38;
    const history: [number, number][] = Array.from({ length: 42 }, (_, i) => [1 / (i + 3), Math.PI / (i + 1)]);
    const before = { w: await values(w), s: await values(s) };

    const content = await captureState(model, trainer, o, history, { seed: 7, preview: ['a.jpg'] });
    const bytes = encodeCheckpoint(content);
    const tensorsBefore = tf.memory().numTensors;
    const r = await restoreState(decodeCheckpoint(bytes));
    const after = allOf(r.model, r.trainer!);
    expectSameMaps(before.w, await values(after.w));
    expectSameMaps(before.s, await values(after.s));
    expect(r.iter).toBe(42);
    expect(r.trainer!.iter).toBe(42);
    expect(r.trainer!.srcDstOpt.iterations).toBe(40);
    expect(r.trainer!.codeOpt!.iterations).toBe(39);
    expect(r.trainer!.ganOpt!.iterations).toBe(38);
    expect(r.lossHistory).toEqual(history);
    expect(r.options).toEqual(o);
    expect(r.seed).toBe(7);
    expect(r.extra).toEqual({ seed: 7, preview: ['a.jpg'] });
    expect(r.notes).toEqual([]);
    expect((content.extra.trainState as TrainStateExtra).optimizerIters).toEqual({ src_dst_opt: 40, D_code_opt: 39, GAN_opt: 38 });
    // Saving again gives the same bytes.
    expect(Buffer.from(await checkpointBytes(r.model, r.trainer!, r.options, r.lossHistory, r.extra)).equals(Buffer.from(bytes))).toBe(true);
    r.trainer!.dispose();
    r.model.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    trainer.dispose();
    model.dispose();
  });

  test('the next step after a restore gives the same losses and weights as continuing without saving', async () => {
    const o = tiny();
    const model = createSaehd(o, 3);
    const trainer = createTrainer(model, o, { seed: 3 });
    const first = await trainer.step(batch(32, 2, 0));
    const history: [number, number][] = [[first.srcLoss, first.dstLoss]];
    const file = encodeCheckpoint(await captureState(model, trainer, o, history, { seed: 3 }));

    const b = batch(32, 2, 1);
    const cont = await trainer.step(b);
    const r = await restoreCheckpoint(file);
    const resumed = await r.trainer!.step(b);
    expect(resumed.iter).toBe(2);
    expect(resumed.srcLoss).toBe(cont.srcLoss);
    expect(resumed.dstLoss).toBe(cont.dstLoss);
    expectSameMaps(await values(model.allVariables()), await values(r.model.allVariables()));
    expectSameMaps(await values(trainer.srcDstOpt.slots()), await values(r.trainer!.srcDstOpt.slots()));
    // And one more, to cover the optimizer counters.
    const b2 = batch(32, 2, 2);
    const [c2, r2] = [await trainer.step(b2), await r.trainer!.step(b2)];
    expect([r2.srcLoss, r2.dstLoss]).toEqual([c2.srcLoss, c2.dstLoss]);
    for (const t of [trainer, r.trainer!]) t.dispose();
    model.dispose();
    r.model.dispose();
  });

  test('refuses weights that do not fit, listing every problem, and keeps no tensor', async () => {
    const o = tiny();
    const model = createSaehd(o, 1);
    const trainer = createTrainer(model, o, { seed: 1 });
    const content = await captureState(model, trainer, o, []);
    trainer.dispose();
    model.dispose();
    const n0 = tf.memory().numTensors;

    // Other dims in the options than the weights were made with.
    const other: CheckpointContent = { ...content, options: { ...content.options, ae_dims: 24 } };
    const e1 = await restoreState(other).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(CheckpointMismatchError);
    const p1 = (e1 as CheckpointMismatchError).problems;
    expect(p1).toContain('weights: inter/dense1/weight:0 is 128×16, the network needs 128×24');
    expect(p1.some((p) => p.startsWith('optimizer: ms_inter/dense1/weight_0:0 is 128×16'))).toBe(true);
    expect(p1).toHaveLength(30);
    expect((e1 as Error).message).toMatch(/does not fit the network its options describe:\n {2}- weights: /);

    // A missing and an unexpected weight.
    const weights = new Map(content.weights);
    weights.delete('encoder/down1/downs_0/conv1/weight:0');
    weights.set('encoder/bogus:0', { shape: [2], data: new Float32Array(2) });
    const e2 = (await restoreState({ ...content, weights }).catch((e: unknown) => e)) as CheckpointMismatchError;
    expect(e2.problems).toEqual([
      'weights: missing encoder/down1/downs_0/conv1/weight:0 (5×5×1×4)',
      'weights: unexpected encoder/bogus:0 (2)',
    ]);
    expect(tf.memory().numTensors).toBe(n0);

    // A newer option schema, and unusable options.
    await expect(restoreState({ ...content, optionsSchemaVersion: 99 })).rejects.toThrow(/newer version/);
    await expect(restoreState({ ...content, options: { ...content.options, resolution: 'big' } })).rejects.toThrow(/resolution has an unusable value/);
    expect(tf.memory().numTensors).toBe(n0);
  });

  test('options on resume: fixed ones kept, others changed and listed; an optimizer switch starts it fresh', async () => {
    const stored = validateOptions({ ...quickTest });
    const r = resumeOptions(stored, { resolution: '128', ae_dims: 32, batch_size: '4', random_warp: 'n', lr_dropout: 'y' });
    expect(r.options.resolution).toBe(64);
    expect(r.options.batch_size).toBe(4);
    expect(r.kept).toEqual(['resolution: kept 64 (fixed when the model was created; asked for 128)']);
    expect(r.changed).toEqual(['lr_dropout n → y', 'random_warp true → false', 'batch_size 2 → 4']);
    expect(() => resumeOptions(stored, { no_such_option: 1 })).toThrow(OptionError);
    // Stored options below DFL's minimums are kept as they are.
    expect(storedOptionsOf({ ...tiny() }).e_dims).toBe(4);

    const o = tiny();
    const model = createSaehd(o, 1);
    const trainer = createTrainer(model, o, { seed: 1 });
    const content = await captureState(model, trainer, o, [[1, 2]]);
    trainer.dispose();
    model.dispose();
    const s = await restoreState(content, { overrides: { adabelief: 'n', batch_size: 1 } });
    expect(s.changed).toEqual(['adabelief true → false', 'batch_size 2 → 1']);
    expect(s.notes).toEqual(['optimizer switched to RMSprop: its state starts fresh']);
    expect([...s.trainer!.srcDstOpt.slots().keys()][0]).toMatch(/^acc_/);
    const step = await s.trainer!.step(batch(32, 1));
    expect(Number.isFinite(step.srcLoss)).toBe(true);
    s.trainer!.dispose();
    s.model.dispose();

    // §C.9: switching pretrain off restarts the count and re-draws the Inter block.
    const p = tiny({ pretrain: true });
    const pm = createSaehd(p, 1);
    const pt = createTrainer(pm, p, { seed: 1, iter: 10 });
    const pc = await captureState(pm, pt, p, []);
    const interBefore = await values(pm.inter!.variables());
    pt.dispose();
    pm.dispose();
    const q = await restoreState(pc, { overrides: { pretrain: false }, trainer: false });
    expect(q.iter).toBe(0);
    expect(q.trainer).toBeNull();
    expect(q.notes.join()).toMatch(/pretrain switched off/);
    const interAfter = await values(q.model.inter!.variables());
    expect(interAfter.get('dense1/weight:0')).not.toEqual(interBefore.get('dense1/weight:0'));
    q.model.dispose();
  });
});

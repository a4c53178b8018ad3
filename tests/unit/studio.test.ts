/**
 * Issue 5, the pure parts of the training studio (src/ui/lib/studio.ts) and the exact-resume path the studio uses:
 * captureState → encodeCheckpoint → CheckpointStore (generations of SHA-256 chunks) → load → decode → restoreState.
 */
import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, test } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/core/checkpoint/checkpointFile.ts';
import { CheckpointStore } from '../../src/core/checkpoint/checkpointStore.ts';
import { captureState, restoreState } from '../../src/core/checkpoint/modelState.ts';
import { OPTION_SCHEMA, quickTest, seed2GB, type ModelOptions } from '../../src/core/model/options.ts';
import { createSaehd } from '../../src/core/model/saehd.ts';
import { createTrainer } from '../../src/core/train/trainStep.ts';
import { syntheticBatch } from '../fixtures/syntheticBatch.ts';
import {
  autosaveDue,
  backupDue,
  backupId,
  baseIdOf,
  bestId,
  chooseBackupSlot,
  etaMs,
  formatDuration,
  formOptions,
  infoLine,
  isAuxId,
  isNewBest,
  iterationsToTarget,
  keyAction,
  KEY_HELP,
  lossSeries,
  meanLossSince,
  nextLossRange,
  optionFields,
  parseFormValues,
  previewHistoryPeriod,
  samplesPerSecond,
  targetReached,
} from '../../src/ui/lib/studio.ts';

const tinyTest: ModelOptions = { ...quickTest, resolution: 32, ae_dims: 16, e_dims: 4, d_dims: 4, d_mask_dims: 4 };

describe('time: ETA, target, rates, timers', () => {
  test('ETA to target_iter', () => {
    expect(etaMs(100, 1100, 50)).toBe(50_000);
    expect(etaMs(100, 0, 50)).toBeNull(); // no target
    expect(etaMs(1100, 1100, 50)).toBeNull(); // reached
    expect(etaMs(10, 20, undefined)).toBeNull(); // no rate yet
    expect(targetReached(20, 20)).toBe(true);
    expect(targetReached(19, 20)).toBe(false);
    expect(targetReached(5, 0)).toBe(false);
    expect(iterationsToTarget(5, 20)).toBe(15);
    expect(iterationsToTarget(5, 0)).toBe(Number.MAX_SAFE_INTEGER);
  });
  test('durations and samples/s', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(65_000)).toBe('01:05');
    expect(formatDuration(3_723_000)).toBe('01:02:03');
    expect(formatDuration(90_061_000)).toBe('1d 01:01:01');
    expect(formatDuration(null)).toBe('–');
    expect(samplesPerSecond(6, 500)).toBe(24); // src + dst batches
    expect(samplesPerSecond(6, 0)).toBeNull();
  });
  test('autosave every N minutes, autobackup every N hours, 0 = off', () => {
    expect(autosaveDue(0, 10, 599_999)).toBe(false);
    expect(autosaveDue(0, 10, 600_000)).toBe(true);
    expect(autosaveDue(0, 0, 1e12)).toBe(false);
    expect(backupDue(0, 2, 7_199_999)).toBe(false);
    expect(backupDue(0, 2, 7_200_000)).toBe(true);
    expect(backupDue(0, 0, 1e12)).toBe(false);
    expect(previewHistoryPeriod(64)).toBe(10);
    expect(previewHistoryPeriod(192)).toBe(30);
    expect(previewHistoryPeriod(32)).toBe(10);
  });
});

describe('backups', () => {
  test('ring: first empty slot, then the oldest', () => {
    expect(chooseBackupSlot([], 3)).toBe(0);
    expect(chooseBackupSlot([{ slot: 0, savedAt: 5 }], 3)).toBe(1);
    expect(chooseBackupSlot([{ slot: 0, savedAt: 5 }, { slot: 1, savedAt: 3 }, { slot: 2, savedAt: null }], 3)).toBe(2);
    expect(chooseBackupSlot([{ slot: 0, savedAt: 5 }, { slot: 1, savedAt: 3 }, { slot: 2, savedAt: 9 }], 3)).toBe(1);
    // Slots beyond K (K lowered) are ignored.
    expect(chooseBackupSlot([{ slot: 0, savedAt: 5 }, { slot: 5, savedAt: 1 }], 1)).toBe(0);
    expect(() => chooseBackupSlot([], 0)).toThrow();
    // A full ring of K slots rotates through every slot.
    const slots = [0, 1, 2].map((slot) => ({ slot, savedAt: null as number | null }));
    const used: number[] = [];
    for (let t = 1; t <= 6; t++) {
      const s = chooseBackupSlot(slots, 3);
      slots[s].savedAt = t;
      used.push(s);
    }
    expect(used).toEqual([0, 1, 2, 0, 1, 2]);
  });
  test("best-loss rule (faceswap's .bk): lower on every side than the best so far", () => {
    expect(isNewBest([0.5, 0.5], null)).toBe(true);
    expect(isNewBest([0.4, 0.4], [0.5, 0.5])).toBe(true);
    expect(isNewBest([0.4, 0.6], [0.5, 0.5])).toBe(false);
    expect(isNewBest([0.5, 0.5], [0.5, 0.5])).toBe(false);
    expect(isNewBest(null, [0.5, 0.5])).toBe(false);
    expect(isNewBest([NaN, 0.1], null)).toBe(false);
    expect(meanLossSince([[1, 2], [3, 4], [5, 6]], 1)).toEqual([4, 5]);
    expect(meanLossSince([[1, 2]], 1)).toBeNull();
  });
  test('backup ids live beside the model and map back to it', () => {
    expect(backupId('m1', 2)).toBe('m1~bk2');
    expect(bestId('m1')).toBe('m1~best');
    expect(isAuxId('m1~bk2')).toBe(true);
    expect(isAuxId('m1')).toBe(false);
    expect(baseIdOf('m1~best')).toBe('m1');
  });
});

describe('keys (§I.4)', () => {
  test('the seed key map', () => {
    const a = (key: string, targetTag = 'BODY') => keyAction({ key, targetTag });
    expect(a('2')).toBe('save');
    expect(a('s')).toBe('save');
    expect(a('S')).toBe('save');
    for (const k of ['3', '4', '5', '6', '7', '8', '9', 'p']) expect(a(k)).toBe('preview');
    expect(a('1')).toBe('cycleLoss');
    expect(a('l')).toBe('cycleLoss');
    expect(a('b')).toBe('backup');
    expect(a('0')).toBe('backup');
    expect(a('Enter')).toBe('saveStop');
    expect(a('?')).toBe('help');
    expect(a('x')).toBeNull();
    expect(a(' ')).toBeNull();
  });
  test('ignored while typing, on buttons (Enter) and with modifiers', () => {
    for (const tag of ['INPUT', 'TEXTAREA', 'SELECT', 'input']) expect(keyAction({ key: 's', targetTag: tag })).toBeNull();
    expect(keyAction({ key: 's', targetTag: 'DIV', editable: true })).toBeNull();
    expect(keyAction({ key: 'Enter', targetTag: 'BUTTON' })).toBeNull();
    expect(keyAction({ key: 's', ctrlKey: true })).toBeNull();
    expect(KEY_HELP.map((k) => k.action)).toEqual(['save', 'preview', 'cycleLoss', 'backup', 'saveStop', 'help']);
  });
});

describe('loss graph', () => {
  test('range cycle 1k → 10k → 100k → all', () => {
    expect(nextLossRange(1000)).toBe(10_000);
    expect(nextLossRange(10_000)).toBe(100_000);
    expect(nextLossRange(100_000)).toBe(0);
    expect(nextLossRange(0)).toBe(1000);
  });
  test('series: the last N iterations, thinned by bucket means', () => {
    const h: [number, number][] = Array.from({ length: 5000 }, (_, i) => [i, 2 * i]);
    const [x, s, d] = lossSeries(h, 1000);
    expect(x[0]).toBe(4001);
    expect(x[x.length - 1]).toBe(5000);
    expect(s[0]).toBe(4000);
    expect(d[0]).toBe(8000);
    const [xa, sa] = lossSeries(h, 0, 100);
    expect(xa.length).toBe(100);
    expect(sa[0]).toBeCloseTo(24.5); // mean of 0..49
    expect(lossSeries([], 0)).toEqual([[], [], []]);
  });
});

describe('option form model', () => {
  test('one field per schema option; fixed-at-creation locked when resuming', () => {
    const f = optionFields(seed2GB, false);
    expect(f.map((x) => x.key)).toEqual(OPTION_SCHEMA.map((s) => s.key));
    expect(f.some((x) => x.locked)).toBe(false);
    const r = optionFields(seed2GB, true);
    for (const x of r) expect(x.locked).toBe(x.spec.fixedAtCreation);
    expect(r.find((x) => x.key === 'resolution')!.value).toBe('192');
    expect(r.find((x) => x.key === 'random_warp')!.value).toBe('y');
  });
  test('y/n fields take 1/0; DFL rules apply (clamping, rounding)', () => {
    expect(parseFormValues({ random_warp: '0', clipgrad: '1', pretrain: 'n' })).toMatchObject({ random_warp: false, clipgrad: true, pretrain: false });
    expect(() => parseFormValues({ random_warp: 'maybe' })).toThrow();
    const { options } = formOptions({ archi: 'df-ud', resolution: '200', ae_dims: '64', e_dims: '33', d_dims: '32', d_mask_dims: '16', channels: '1', random_warp: '0', batch_size: '4' });
    expect(options.resolution).toBe(192); // multiple of 32 with -d
    expect(options.e_dims).toBe(34); // made even
    expect(options.random_warp).toBe(false);
    expect(options.channels).toBe(1);
  });
  test('the seed preset and the tiny test preset', () => {
    const show = (o: ModelOptions) => Object.fromEntries(optionFields(o, false).map((f) => [f.key, f.value]));
    expect(formOptions(show(seed2GB)).options).toEqual(seed2GB);
    // The tiny preset keeps its below-minimum fixed options.
    const t = formOptions(show(tinyTest), { tiny: tinyTest }).options;
    expect([t.resolution, t.ae_dims, t.e_dims, t.d_dims, t.d_mask_dims]).toEqual([32, 16, 4, 4, 4]);
  });
  test('resuming: fixed options come from the stored model, the others from the form', () => {
    const raw = Object.fromEntries(optionFields(seed2GB, true).map((f) => [f.key, f.value]));
    const { options } = formOptions({ ...raw, resolution: '256', batch_size: '8', lr_dropout: 'y' }, { stored: seed2GB });
    expect(options.resolution).toBe(192);
    expect(options.batch_size).toBe(8);
    expect(options.lr_dropout).toBe('y');
  });
  test('info line (§I.4)', () => {
    expect(infoLine(seed2GB)).toBe('SAEHDBW B:6 df-udt mf R:192 AEDM[128|48|32|16] Pr\u0435:0 C:1');
  });
});

// ---- exact resume through the store ------------------------------------------------------------------------------------

const batch = syntheticBatch;

describe('exact resume (save → store → reload → resume)', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
  });

  test('weights, optimizer state, iteration and loss history are bit-identical, and training continues identically', async () => {
    const o: ModelOptions = { ...tinyTest, batch_size: 2 };
    const model = createSaehd(o, 3);
    const trainer = createTrainer(model, o, { seed: 3 });
    const history: [number, number][] = [];
    for (let i = 0; i < 3; i++) {
      const r = await trainer.step(batch(o.resolution, 2, i));
      history.push([r.srcLoss, r.dstLoss]);
    }
    const extra = { seed: 3, timeTrainedMs: 1234, best: [0.5, 0.6] };
    const saved = encodeCheckpoint(await captureState(model, trainer, o, history, extra));

    // Store with small chunks (several per generation), then a second generation, then load.
    const store = new CheckpointStore('studio-test', 'checkpoints', 64 * 1024);
    await store.save('m', 'tiny', saved, { iter: trainer.iter });
    const loaded = await store.load('m');
    expect(loaded.fellBack).toBeNull();
    expect(Buffer.from(loaded.bytes).equals(Buffer.from(saved))).toBe(true);

    const before = tf.memory().numTensors;
    const r = await restoreState(decodeCheckpoint(loaded.bytes), { seed: 3 });
    expect(r.iter).toBe(3);
    expect(r.lossHistory).toEqual(history);
    expect(r.extra).toMatchObject(extra);
    // Bit for bit: capturing the restored state gives the same file.
    const again = encodeCheckpoint(await captureState(r.model, r.trainer!, r.options, r.lossHistory, r.extra));
    expect(Buffer.from(again).equals(Buffer.from(saved))).toBe(true);

    // One more step on both gives identical losses and an identical file.
    const b = batch(o.resolution, 2, 9);
    const a1 = await trainer.step(b);
    const a2 = await r.trainer!.step(b);
    expect(a2.srcLoss).toBe(a1.srcLoss);
    expect(a2.dstLoss).toBe(a1.dstLoss);
    const f1 = encodeCheckpoint(await captureState(model, trainer, o, [...history, [a1.srcLoss, a1.dstLoss]], extra));
    const f2 = encodeCheckpoint(await captureState(r.model, r.trainer!, r.options, [...r.lossHistory, [a2.srcLoss, a2.dstLoss]], r.extra));
    expect(Buffer.from(f2).equals(Buffer.from(f1))).toBe(true);

    r.trainer!.dispose();
    r.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
    model.dispose();
  }, 120_000);
});

/**
 * SAEHD / SAEHDBW network, options and counts (spec §A, §B.1–§B.3, §C.1, §C.11). Runs on the tfjs cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelCommand } from '../../cli/commands/model.ts';
import { OptionError } from '../../src/core/errors.ts';
import {
  closedFormCounts, countBuilt, flopReport, gflopPerIter, layerPlan, memoryEstimate, outputShapes, planCounts,
} from '../../src/core/model/counts.ts';
import { conv2dSym, depthToSpace2, flattenCHW, im2colFilterGrad, reshapeCHW, stopGradient, type ConvGradMode } from '../../src/core/model/layers.ts';
import {
  OPTION_SCHEMA, OPTIONS_SCHEMA_VERSION, archiString, defaultOptions, normalizeOptions, parseArchi, parseBool, quickTest,
  seed2GB, validateOptions, type ModelOptions,
} from '../../src/core/model/options.ts';
import {
  createSaehd, loadModuleWeights, modelFileName, optimizerStateKey, readModuleWeights, type SaehdModel,
} from '../../src/core/model/saehd.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Row = { archi: string; res: number; dims: [number, number, number, number]; C: 1 | 3; modules: Record<string, number>; total: number };
/** §B.1, every row. */
const B1: Row[] = [
  { archi: 'df-udt', res: 192, dims: [128, 48, 32, 16], C: 1, modules: { encoder: 8_804_448, inter: 2_364_032, decoder_src: 9_315_669, decoder_dst: 9_315_669 }, total: 29_799_818 },
  { archi: 'df-udt', res: 192, dims: [128, 48, 32, 16], C: 3, modules: { encoder: 8_806_848, inter: 2_364_032, decoder_src: 9_319_261, decoder_dst: 9_319_261 }, total: 29_809_402 },
  { archi: 'df-ud', res: 192, dims: [128, 48, 48, 16], C: 1, modules: { encoder: 2_421_120, inter: 8_262_784, decoder_src: 9_555_477, decoder_dst: 9_555_477 }, total: 29_794_858 },
  { archi: 'df-ud', res: 192, dims: [128, 48, 48, 16], C: 3, modules: { encoder: 2_423_520, inter: 8_262_784, decoder_src: 9_560_861, decoder_dst: 9_560_861 }, total: 29_808_026 },
  { archi: 'df-udt', res: 256, dims: [96, 32, 32, 16], C: 1, modules: { encoder: 3_913_792, inter: 2_168_928, decoder_src: 8_873_301, decoder_dst: 8_873_301 }, total: 23_829_322 },
  { archi: 'df-udt', res: 256, dims: [96, 32, 32, 16], C: 3, modules: { encoder: 3_915_392, inter: 2_168_928, decoder_src: 8_876_893, decoder_dst: 8_876_893 }, total: 23_838_106 },
  { archi: 'liae-ud', res: 128, dims: [256, 64, 64, 22], C: 3, modules: { encoder: 4_306_560, inter_AB: 19_933_440, inter_B: 19_933_440, decoder: 38_203_115 }, total: 82_376_555 },
  { archi: 'liae-ud', res: 128, dims: [256, 64, 64, 22], C: 1, modules: { encoder: 4_303_360, inter_AB: 19_933_440, inter_B: 19_933_440, decoder: 38_195_939 }, total: 82_366_179 },
];
const rowOptions = (r: Row): ModelOptions =>
  validateOptions({ archi: r.archi, resolution: r.res, ae_dims: r.dims[0], e_dims: r.dims[1], d_dims: r.dims[2], d_mask_dims: r.dims[3], channels: r.C, batch_size: 6 });
const label = (r: Row) => `${r.archi} ${r.res} ${r.dims.join('-')} C=${r.C}`;

/** A small 32 px model that skips validateOptions' DFL minimums (64 px, dims ≥ 16), for fast forward/gradient tests. */
const R = 32;
const tiny = (archi: string, extra: Partial<ModelOptions> = {}): ModelOptions =>
  ({ ...quickTest, archi, resolution: R, ae_dims: 8, e_dims: 4, d_dims: 4, d_mask_dims: 4, channels: 1, ...extra });

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0] / Math.max(1e-12, tf.norm(b).dataSync()[0]));
}

// ---- options -------------------------------------------------------------------------------------------------------

describe('options (§C.1, §A.1, §A.5)', () => {
  it('has one versioned schema with DFL defaults and channels = 1', () => {
    expect(OPTIONS_SCHEMA_VERSION).toBeGreaterThanOrEqual(1);
    const d = defaultOptions();
    expect(d).toMatchObject({
      resolution: 128, face_type: 'f', archi: 'liae-ud', ae_dims: 256, e_dims: 64, d_dims: 64, d_mask_dims: 22, channels: 1,
      masked_training: true, adabelief: true, lr_dropout: 'n', random_warp: true, ct_mode: 'none', random_dst_flip: true,
      random_src_flip: false, gan_patch_size: 16, gan_dims: 16, batch_size: 4, models_opt_on_gpu: true,
    });
    for (const s of OPTION_SCHEMA) expect(d).toHaveProperty(s.key);
    const fixed = OPTION_SCHEMA.filter((s) => s.fixedAtCreation).map((s) => s.key).sort();
    expect(fixed).toEqual(['ae_dims', 'archi', 'channels', 'd_dims', 'd_mask_dims', 'e_dims', 'face_type', 'resolution']);
  });

  it('rounds and clamps like DFL', () => {
    const r = (o: Record<string, unknown>) => validateOptions({ archi: 'df', ...o });
    expect(r({ resolution: 200 }).resolution).toBe(192);
    expect(r({ resolution: 100 }).resolution).toBe(96);
    expect(r({ resolution: 10 }).resolution).toBe(64);
    expect(r({ resolution: 5000 }).resolution).toBe(640);
    expect(r({ resolution: 224, archi: 'df-ud' }).resolution).toBe(224);
    expect(r({ resolution: 208, archi: 'df-ud' }).resolution).toBe(192); // ×32 with d
    expect(r({ resolution: 208, archi: 'df-t' }).resolution).toBe(192); // ×32 with t (deliberate, see options.ts)
    expect(r({ e_dims: 47 }).e_dims).toBe(48);
    expect(r({ d_dims: 15 }).d_dims).toBe(16);
    expect(r({ d_mask_dims: 257 }).d_mask_dims).toBe(256);
    expect(r({ d_mask_dims: 21 }).d_mask_dims).toBe(22);
    expect(r({ ae_dims: 5000 }).ae_dims).toBe(1024);
    expect(r({ ae_dims: 33 }).ae_dims).toBe(33); // ae is not made even
    expect(r({ true_face_power: 3 }).true_face_power).toBe(1);
    expect(r({ gan_power: 9 }).gan_power).toBe(5);
    expect(r({ autobackup_hour: 30 }).autobackup_hour).toBe(24);
    expect(r({ face_style_power: '250' }).face_style_power).toBe(100);
    expect(r({ resolution: 256 }).gan_patch_size).toBe(32); // default res // 8
    expect(r({ batch_size: '6' }).batch_size).toBe(6);
    const n = normalizeOptions({ resolution: 200, e_dims: 47 });
    expect(n.changes.join('; ')).toMatch(/resolution 200 → 192.*e_dims 47 → 48/);
  });

  it('applies the cross-option rules', () => {
    expect(validateOptions({ face_type: 'f', masked_training: false }).masked_training).toBe(true);
    expect(validateOptions({ face_type: 'wf', masked_training: '0' }).masked_training).toBe(false);
    expect(validateOptions({ archi: 'liae-ud', true_face_power: 0.5 }).true_face_power).toBe(0);
    expect(validateOptions({ archi: 'df-ud', true_face_power: 0.5 }).true_face_power).toBe(0.5);
    expect(validateOptions({ channels: 3, random_hsv_power: 0.1, ct_mode: 'rct' }).ct_mode).toBe('rct');
    expect(() => validateOptions({ channels: 1, random_hsv_power: 0.1 })).toThrow(/random_hsv_power.*3 channels/);
    expect(() => validateOptions({ channels: 1, ct_mode: 'mkl' })).toThrow(/ct_mode.*none, lct, sot/);
    expect(validateOptions({ channels: '1', ct_mode: 'SOT' }).ct_mode).toBe('sot');
    expect(validateOptions({ lr_dropout: true }).lr_dropout).toBe('y'); // legacy bool in old data.dat
    expect(validateOptions({ lr_dropout: 'cpu' }).lr_dropout).toBe('cpu');
  });

  it('rejects invalid values with clear OptionErrors', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ archi: 'dx-ud' }, /option archi: unknown type "dx"/],
      [{ archi: 'df-ux' }, /unknown flag "x".*u, d, t, c/],
      [{ archi: 'df-' }, /no flags/],
      [{ archi: 'df-u-d' }, /more than one dash/],
      [{ face_type: 'full' }, /option face_type: expected one of h, mf, f, wf, head/],
      [{ resolution: 'big' }, /option resolution: expected an integer, got "big"/],
      [{ resolution: 191.5 }, /expected an integer/],
      [{ channels: 2 }, /option channels: must be 1 .* or 3/],
      [{ eyes_mouth_prio: 'maybe' }, /option eyes_mouth_prio: expected yes\/no/],
      [{ ct_mode: 'fancy' }, /option ct_mode/],
      [{ gan_power: 'NaN' }, /expected a number/],
      [{ learn_mask: true }, /option learn_mask: unknown option/],
    ];
    for (const [o, re] of bad) {
      let err: unknown;
      try {
        validateOptions(o);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(o)).toBeInstanceOf(OptionError);
      expect((err as Error).message, JSON.stringify(o)).toMatch(re);
    }
    expect(validateOptions({ learn_mask: true }, { ignoreUnknown: true }).archi).toBe('liae-ud');
  });

  it('keeps creation-time options of an existing model', () => {
    const ok = validateOptions({ batch_size: 8, resolution: 192 }, { base: seed2GB });
    expect(ok.batch_size).toBe(8);
    expect(ok.archi).toBe('df-udt');
    expect(() => validateOptions({ resolution: 256 }, { base: seed2GB })).toThrow(/resolution: is fixed when the model is created/);
    expect(() => validateOptions({ archi: 'liae-ud' }, { base: seed2GB })).toThrow(OptionError);
  });

  it('parses archi strings, booleans, and formats the archi string', () => {
    expect(parseArchi('df-udt')).toEqual({ type: 'df', u: true, d: true, t: true, c: false });
    expect(parseArchi('LIAE')).toEqual({ type: 'liae', u: false, d: false, t: false, c: false });
    expect(parseArchi('liae-cd').c).toBe(true);
    expect(parseBool('1')).toBe(true);
    expect(parseBool('0')).toBe(false);
    expect(parseBool('y')).toBe(true);
    expect(parseBool('N')).toBe(false);
    expect(() => parseBool('2')).toThrow(OptionError);
    expect(archiString(seed2GB)).toBe('DF-UDT 192-128-48-32-16 BW');
    expect(archiString({ ...seed2GB, channels: 3 })).toBe('DF-UDT 192-128-48-32-16');
  });

  it('has the presets', () => {
    expect(seed2GB).toMatchObject({ archi: 'df-udt', resolution: 192, ae_dims: 128, e_dims: 48, d_dims: 32, d_mask_dims: 16, channels: 1, batch_size: 6, face_type: 'mf' });
    expect(quickTest).toMatchObject({ archi: 'df-ud', resolution: 64, channels: 1, batch_size: 2 });
    expect(validateOptions(quickTest)).toEqual(quickTest);
  });
});

// ---- counts ------------------------------------------------------------------------------------------------------------

describe('parameter counts (§A.10, §B.1)', () => {
  it.each(B1)('closed form and layer plan match §B.1 for $archi $res $C', (r) => {
    const o = rowOptions(r);
    const cf = closedFormCounts(o);
    expect(cf).toEqual({ ...r.modules, total: r.total });
    expect(planCounts(o)).toEqual(cf);
  });

  it('decoder split of §B.1 (image branch / mask branch / heads)', () => {
    const split = (o: ModelOptions) => {
      const dec = layerPlan(o).decoder;
      const heads = dec.filter((l) => l.name.startsWith('out_conv'));
      const extra = dec.filter((l) => l.branch === 'mask' && !l.name.startsWith('out_conv'));
      const img = dec.filter((l) => l.branch === 'image' && !l.name.startsWith('out_conv'));
      const p = (ls: typeof dec) => ls.reduce((a, l) => a + l.params, 0);
      return [p(img), p(extra), p(heads)];
    };
    // The mask column of §B.1 includes the extra d upscale; the heads column is the out-convs.
    expect(split(rowOptions(B1[0]))).toEqual([7_745_664, 1_568_192, 1_813]);
    expect(split(rowOptions(B1[1]))).toEqual([7_745_664, 1_568_192, 5_405]);
    expect(split(rowOptions(B1[2]))).toEqual([8_574_912, 977_856, 2_709]);
    expect(split(rowOptions(B1[4]))).toEqual([7_450_752, 1_420_736, 1_813]);
    expect(split(rowOptions(B1[6]))).toEqual([30_971_136, 7_221_192, 10_787]);
  });

  it('§B.4 models and closed form = plan for many variants', () => {
    const o = (archi: string, res: number, ae: number, e: number, d: number, m: number) =>
      validateOptions({ archi, resolution: res, ae_dims: ae, e_dims: e, d_dims: d, d_mask_dims: m });
    expect(closedFormCounts(o('liae-ud', 192, 96, 32, 32, 16)).total).toBe(20_875_029);
    expect(closedFormCounts(o('df-udt', 192, 80, 32, 32, 16)).total).toBe(22_188_666);
    expect(closedFormCounts(o('liae-udt', 192, 96, 32, 32, 16)).total).toBe(19_878_997);
    for (const type of ['df', 'liae'])
      for (const f of ['', '-u', '-d', '-t', '-c', '-ud', '-dt', '-udt', '-udtc'])
        for (const res of [64, 128, 192, 256])
          for (const C of [1, 3]) {
            const opts = validateOptions({ archi: type + f, resolution: res, ae_dims: 64, e_dims: 22, d_dims: 18, d_mask_dims: 16, channels: C });
            expect(planCounts(opts), `${type}${f} ${res} C=${C}`).toEqual(closedFormCounts(opts));
          }
  });

  it('FLOPs and memory of §B.3', () => {
    const g = (x: number) => x / 1e9;
    const seed = flopReport(seed2GB);
    expect(g(seed.encoderFwd)).toBeCloseTo(2.836, 3);
    expect(g(seed.interFwd)).toBeCloseTo(0.005, 3);
    expect(g(seed.decoderImageFwd)).toBeCloseTo(7.932, 3);
    expect(g(seed.decoderMaskFwd)).toBeCloseTo(1.233, 3);
    expect(g(seed.trainFwdPerPair)).toBeCloseTo(24.01, 2);
    expect(g(seed.trainPerPair)).toBeCloseTo(72.0, 1);
    expect(g(seed.mergeFwdPerFace)).toBeCloseTo(13.24, 2);
    expect(gflopPerIter(seed2GB, 6)).toBeCloseTo(432.2, 1);
    // B.2 per-layer MACs: encoder total and one decoder total.
    const plan = layerPlan(seed2GB);
    expect(plan.encoder.reduce((a, l) => a + l.macs, 0)).toBe(1_417_789_440);
    expect(plan.inter.reduce((a, l) => a + l.macs, 0)).toBe(2_359_296);
    expect(plan.decoder.reduce((a, l) => a + l.macs, 0)).toBe(4_582_342_656);
    const table: Array<[number, number, number, number]> = [
      // [row of B1, train fwd+bwd per pair, per iteration at batch 6, merge fwd]
      [1, 72.7, 436, 13.35], [2, 112.3, 674, 19.9], [4, 110.9, 666, 20.66], [6, 108.3, 650, 19.9],
    ];
    for (const [i, pair, iter, merge] of table) {
      const o = rowOptions(B1[i]);
      const f = flopReport(o);
      expect(g(f.trainPerPair), label(B1[i])).toBeCloseTo(pair, 1);
      expect(Math.round(gflopPerIter(o, 6)), label(B1[i])).toBe(iter);
      expect(g(f.mergeFwdPerFace), label(B1[i])).toBeCloseTo(merge, 2);
    }
    // Style losses add the swap decoder pass.
    expect(gflopPerIter({ ...seed2GB, bg_style_power: 1 }, 6)).toBeGreaterThan(432.2);
    // Memory budget at batch 6 (MiB): weights 114, AdaBelief 227, activations 112/pair, total 1,126.
    const m = memoryEstimate(seed2GB, 6);
    expect(Math.round(m.weightsMiB)).toBe(114);
    expect(Math.round(m.optimizerMiB)).toBe(227);
    expect(Math.round(m.activationsPerPairMiB)).toBe(112);
    expect(Math.round(m.activationsLowerBoundPerPairMiB)).toBe(47);
    expect(Math.round(m.totalMiB)).toBe(1126);
    expect(Math.round(memoryEstimate({ ...seed2GB, adabelief: false }, 6).totalMiB)).toBe(1012);
    expect(Math.round(memoryEstimate(rowOptions(B1[2]), 6).totalMiB)).toBe(1213);
    expect(Math.round(memoryEstimate(rowOptions(B1[4]), 6).totalMiB)).toBe(1444);
    expect(Math.round(memoryEstimate(rowOptions(B1[6]), 6).totalMiB)).toBe(1731);
  });

  it('per-sample output shapes (§B.2 walk-throughs)', () => {
    expect(outputShapes(seed2GB)).toEqual({ encoder: [13_824], inter: [6, 6, 128], decoder_input: [6, 6, 128], image: [192, 192, 1], mask: [192, 192, 1] });
    expect(outputShapes(rowOptions(B1[2]))).toMatchObject({ encoder: [55_296], inter: [12, 12, 128] });
    expect(outputShapes(rowOptions(B1[4]))).toMatchObject({ encoder: [16_384], inter: [8, 8, 96], image: [256, 256, 1] });
    expect(outputShapes(rowOptions(B1[6]))).toMatchObject({ encoder: [32_768], inter: [8, 8, 512], decoder_input: [8, 8, 1024], image: [128, 128, 3] });
    // Layer-plan conv output sides of DF-UD 192-128-48-48-16 (image heads at 96², mask head at 192²).
    const p = layerPlan(rowOptions(B1[2]));
    expect(p.encoder.map((l) => [l.outRes, l.outCh])).toEqual([[96, 48], [48, 96], [24, 192], [12, 384]]);
    expect(p.decoder.find((l) => l.name === 'out_conv3')!.outRes).toBe(96);
    expect(p.decoder.find((l) => l.name === 'out_convm')).toMatchObject({ inRes: 192, inCh: 16 });
  });
});

// ---- built models ---------------------------------------------------------------------------------------------------

/** Variables must carry DFL's keys and the plan's shapes (§C.11, §A.8). */
function expectVariablesMatchPlan(model: SaehdModel, o: ModelOptions): void {
  const plan = layerPlan(o);
  const expected = (ls: typeof plan.encoder) => {
    const m = new Map<string, number[]>();
    for (const l of ls) {
      m.set(`${l.name}/weight:0`, l.kind === 'dense' ? [l.inCh, l.outCh] : [l.k, l.k, l.inCh, l.outCh]);
      m.set(`${l.name}/bias:0`, [l.outCh]);
    }
    return m;
  };
  const byPart = { encoder: expected(plan.encoder), inter: expected(plan.inter), decoder: expected(plan.decoder) };
  for (const [name, vars] of model.weights()) {
    const exp = name === 'encoder' ? byPart.encoder : name.startsWith('inter') ? byPart.inter : byPart.decoder;
    const got = new Map([...vars].map(([k, v]) => [k, v.shape]));
    expect(got, name).toEqual(exp);
  }
}

describe('built models (§B.1 from variables)', () => {
  it.each(B1)('builds $archi $res $C with the §B.1 parameter counts', (r) => {
    const o = rowOptions(r);
    const before = tf.memory().numTensors;
    const model = createSaehd(o, 7, { init: r.C === 1 && r.archi === 'df-udt' && r.res === 192 ? 'glorot' : 'zeros' });
    try {
      expect(countBuilt(model)).toEqual({ ...r.modules, total: r.total });
      expect(model.paramCount()).toBe(r.total);
      expect([...model.weights().keys()]).toEqual(Object.keys(r.modules));
      expectVariablesMatchPlan(model, o);
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('uses DFL variable names (§C.11)', () => {
    const model = createSaehd(seed2GB, 1, { init: 'zeros' });
    try {
      const enc = model.encoder.variables();
      expect([...enc.keys()].slice(0, 4)).toEqual(['down1/conv1/weight:0', 'down1/conv1/bias:0', 'res1/conv1/weight:0', 'res1/conv1/bias:0']);
      expect(enc.get('down1/conv1/weight:0')!.shape).toEqual([5, 5, 1, 48]);
      expect(model.inter!.variables().get('dense1/weight:0')!.shape).toEqual([13_824, 128]);
      const dec = model.decoder_src!.variables();
      for (const k of ['upscale0/conv1/weight:0', 'res3/conv2/bias:0', 'upscalem4/conv1/weight:0', 'out_conv/weight:0', 'out_conv3/weight:0', 'out_convm/bias:0'])
        expect(dec.has(k), k).toBe(true);
      expect(dec.get('out_conv1/weight:0')!.shape).toEqual([3, 3, 64, 1]);
      expect(model.allVariables().has('decoder_dst/upscalem2/conv1/weight:0')).toBe(true);
    } finally {
      model.dispose();
    }
    const ud = createSaehd(validateOptions({ archi: 'liae-ud', resolution: 64, ae_dims: 32, e_dims: 16, d_dims: 16, d_mask_dims: 16 }), 1, { init: 'zeros' });
    try {
      expect(ud.encoder.variables().has('down1/downs_3/conv1/weight:0')).toBe(true);
      expect(ud.inter_AB!.variables().has('upscale1/conv1/bias:0')).toBe(true);
      expect([...ud.weights().keys()]).toEqual(['encoder', 'inter_AB', 'inter_B', 'decoder']);
    } finally {
      ud.dispose();
    }
    expect(optimizerStateKey('ms', 'encoder', 'down1/downs_0/conv1/weight:0')).toBe('ms_encoder/down1/downs_0/conv1/weight_0:0');
    expect(modelFileName('new', 1, 'decoder_src')).toBe('new_SAEHDBW_decoder_src.npy');
    expect(modelFileName('new', 3, 'data')).toBe('new_SAEHD_data.dat');
  });

  it('initialises deterministically with Glorot-uniform kernels and zero biases (§A.7)', async () => {
    const o = tiny('df-ud');
    const a = createSaehd(o, 42), b = createSaehd(o, 42), c = createSaehd(o, 43);
    try {
      const wa = a.allVariables(), wb = b.allVariables(), wc = c.allVariables();
      let differ = 0;
      for (const [k, v] of wa) {
        expect(maxAbsDiff(v, wb.get(k)!), k).toBe(0);
        if (k.endsWith('bias:0')) expect(tf.tidy(() => tf.max(tf.abs(v)).dataSync()[0]), k).toBe(0);
        else if (maxAbsDiff(v, wc.get(k)!) > 0) differ++;
      }
      expect(differ).toBeGreaterThan(10);
      // decoder_src and decoder_dst draw from different streams.
      expect(maxAbsDiff(a.decoder_src!.variables().get('upscale0/conv1/weight:0')!, a.decoder_dst!.variables().get('upscale0/conv1/weight:0')!)).toBeGreaterThan(0);
      const w = wa.get('encoder/down1/downs_1/conv1/weight:0')!; // [5,5,4,8]
      const limit = Math.sqrt(6 / (25 * 4 + 25 * 8));
      const vals = (await w.data()) as Float32Array;
      const max = vals.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(max).toBeLessThanOrEqual(limit);
      expect(max).toBeGreaterThan(0.8 * limit);
      // Round trip through the DFL weight-file layout.
      const saved = await readModuleWeights(a.encoder);
      const rep = loadModuleWeights(c.encoder, saved);
      expect(rep.missing).toEqual([]);
      expect(maxAbsDiff(c.encoder.variables().get('down1/downs_1/conv1/weight:0')!, w)).toBe(0);
      saved.delete('down1/downs_0/conv1/bias:0');
      expect(loadModuleWeights(c.encoder, saved).missing).toEqual(['down1/downs_0/conv1/bias:0']);
      a.reinitializeInters(5);
      expect(maxAbsDiff(a.inter!.variables().get('dense1/weight:0')!, wb.get('inter/dense1/weight:0')!)).toBeGreaterThan(0);
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  it('seed model DF-UDT 192-128-48-32-16 BW: every layer shape of §B.2 (batch 1 forward)', () => {
    const model = createSaehd(seed2GB, 3);
    const shapes: Record<string, number[]> = {};
    try {
      tf.tidy(() => {
        const x = tf.randomUniform([1, 192, 192, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
        const out = model.predict(x, 'src_src', (name, t) => {
          shapes[name] = t.shape.slice(1);
        });
        const [imin, imax] = [tf.min(out.image).dataSync()[0], tf.max(out.image).dataSync()[0]];
        expect(imin).toBeGreaterThanOrEqual(0);
        expect(imax).toBeLessThanOrEqual(1);
        expect(out.image.shape).toEqual([1, 192, 192, 1]);
        expect(out.mask.shape).toEqual([1, 192, 192, 1]);
      });
    } finally {
      model.dispose();
    }
    expect(shapes).toEqual({
      'encoder/down1': [96, 96, 48], 'encoder/res1': [96, 96, 48], 'encoder/down2': [48, 48, 96], 'encoder/down3': [24, 24, 192],
      'encoder/down4': [12, 12, 384], 'encoder/down5': [6, 6, 384], 'encoder/res5': [6, 6, 384], 'encoder/flatten': [13_824],
      'inter/dense1': [128], 'inter/dense2': [4_608], 'inter/reshape': [6, 6, 128],
      'decoder_src/upscale0': [12, 12, 256], 'decoder_src/res0': [12, 12, 256], 'decoder_src/upscale1': [24, 24, 256],
      'decoder_src/res1': [24, 24, 256], 'decoder_src/upscale2': [48, 48, 128], 'decoder_src/res2': [48, 48, 128],
      'decoder_src/upscale3': [96, 96, 64], 'decoder_src/res3': [96, 96, 64], 'decoder_src/out_convs': [96, 96, 4],
      'decoder_src/image': [192, 192, 1], 'decoder_src/upscalem0': [12, 12, 128], 'decoder_src/upscalem1': [24, 24, 128],
      'decoder_src/upscalem2': [48, 48, 64], 'decoder_src/upscalem3': [96, 96, 32], 'decoder_src/upscalem4': [192, 192, 16],
      'decoder_src/mask': [192, 192, 1],
    });
  });
});

// ---- forward wiring on tiny models -------------------------------------------------------------------------------------

describe('forward passes (§A.5, §A.6, §C.4, §F.2)', () => {
  // Every flag alone and in DFL's usual combinations; colour (C = 3) for a few.
  const variants: Array<[string, 1 | 3]> = [
    ['df', 1], ['df-u', 1], ['df-d', 1], ['df-t', 1], ['df-ud', 3], ['df-udt', 1], ['df-udt', 3], ['df-c', 1],
    ['liae', 1], ['liae-ud', 1], ['liae-udt', 3], ['liae-t', 1], ['liae-dc', 1],
  ];
  it.each(variants)('%s C=%i: shapes, [0,1] outputs, params = closed form, batched wiring = per-module wiring', (archi, C) => {
    const o = tiny(archi, { channels: C });
    const model = createSaehd(o, 11);
    const before = tf.memory().numTensors;
    try {
      expect(model.paramCount()).toBe(closedFormCounts(o).total);
      tf.tidy(() => {
        const src = tf.randomUniform([1, R, R, C], 0, 1, 'float32', 1) as tf.Tensor4D;
        const dst = tf.randomUniform([2, R, R, C], 0, 1, 'float32', 2) as tf.Tensor4D;
        const out = model.forwardSrcDst(src, dst, { swapNoCodeGrad: true });
        const g = outputShapes(o);
        expect(out.pred_src_src.shape).toEqual([1, R, R, C]);
        expect(out.pred_src_srcm.shape).toEqual([1, R, R, 1]);
        expect(out.pred_dst_dst.shape).toEqual([2, R, R, C]);
        expect(out.pred_dst_dstm.shape).toEqual([2, R, R, 1]);
        expect(out.pred_src_dst!.shape).toEqual([2, R, R, C]);
        expect(out.pred_src_dstm!.shape).toEqual([2, R, R, 1]);
        expect(out.pred_src_dst_no_code_grad!.shape).toEqual([2, R, R, C]);
        expect(out.code_src.shape).toEqual([1, ...g.decoder_input]);
        expect(out.code_dst.shape).toEqual([2, ...g.decoder_input]);
        for (const t of [out.pred_src_src, out.pred_dst_dstm, out.pred_src_dst!]) {
          expect(tf.min(t).dataSync()[0]).toBeGreaterThanOrEqual(0);
          expect(tf.max(t).dataSync()[0]).toBeLessThanOrEqual(1);
        }
        // The batched wiring equals the module-by-module definition of §A.6.
        const ss = model.predict(src, 'src_src');
        const dd = model.predict(dst, 'dst_dst');
        const sd = model.predict(dst, 'src_dst');
        expect(maxAbsDiff(ss.image, out.pred_src_src)).toBeLessThan(1e-5);
        expect(maxAbsDiff(dd.mask, out.pred_dst_dstm)).toBeLessThan(1e-5);
        expect(maxAbsDiff(sd.image, out.pred_src_dst!)).toBeLessThan(1e-5);
        expect(maxAbsDiff(out.pred_src_dst_no_code_grad!, out.pred_src_dst!)).toBeLessThan(1e-5);
        const mg = model.merge(dst);
        expect(maxAbsDiff(mg.face, sd.image)).toBeLessThan(1e-5);
        expect(maxAbsDiff(mg.faceMask, sd.mask)).toBeLessThan(1e-5);
        expect(maxAbsDiff(mg.dstMask, dd.mask)).toBeLessThan(1e-5);
        const noSwap = model.forwardSrcDst(src, dst, { swap: false });
        expect(noSwap.pred_src_dst).toBeNull();
        expect(maxAbsDiff(noSwap.pred_dst_dst, out.pred_dst_dst)).toBeLessThan(1e-5);
      });
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('LIAE wiring: src code = [AB,AB], dst code = [B,AB]; inter_AB frozen without random warp (§C.8)', () => {
    const model = createSaehd(tiny('liae-ud'), 5);
    try {
      tf.tidy(() => {
        const x = tf.randomUniform([1, R, R, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
        const e = model.encoder.apply(x);
        const ab = model.inter_AB!.apply(e);
        const b = model.inter_B!.apply(e);
        const out = model.forwardSrcDst(x, x);
        expect(maxAbsDiff(out.code_src, tf.concat([ab, ab], 3))).toBeLessThan(1e-6);
        expect(maxAbsDiff(out.code_dst, tf.concat([b, ab], 3))).toBeLessThan(1e-6);
        expect(maxAbsDiff(out.pred_src_src, out.pred_src_dst!)).toBeLessThan(1e-6); // same input → same [AB,AB] code
      });
      const all = model.trainableVariables(true).length;
      const frozen = model.trainableVariables(false);
      expect(all - frozen.length).toBe(model.inter_AB!.variables().size);
      const abVars = new Set(model.inter_AB!.variables().values());
      expect(frozen.some((v) => abVars.has(v))).toBe(false);
      expect(model.trainableVariables().length).toBe(all); // random_warp on, pretrain off by default
    } finally {
      model.dispose();
    }
  });
});

// ---- ops -------------------------------------------------------------------------------------------------------------

describe('ops (§A.2, §A.8)', () => {
  it('depth-to-space by reshape/transpose equals tf.depthToSpace (DCR) and has a gradient', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 5, 3, 12], 0, 1, 'float32', 9) as tf.Tensor4D;
      expect(maxAbsDiff(depthToSpace2(x), tf.depthToSpace(x, 2, 'NHWC'))).toBe(0);
      // out[y·2+dy, x·2+dx, k] = in[y, x, (dy·2+dx)·C + k]
      const v = depthToSpace2(x).arraySync() as number[][][][];
      const xin = x.arraySync() as number[][][][];
      expect(v[1][2 * 2 + 1][2 * 1 + 0][2]).toBe(xin[1][2][1][(1 * 2 + 0) * 3 + 2]);
      const w = tf.randomNormal([2, 10, 6, 3], 0, 1, 'float32', 10);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(depthToSpace2(t as tf.Tensor4D), w)))(x);
      expect(g.shape).toEqual(x.shape);
      expect(maxAbsDiff(depthToSpace2(g as tf.Tensor4D), w)).toBe(0); // gradient of a permutation
    });
  });

  it('flatten / reshape use (C,H,W) order', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([...Array(2 * 2 * 3).keys()], [1, 2, 2, 3]); // value = (h·2 + w)·3 + c
      expect(Array.from(flattenCHW(x).dataSync())).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
      expect(maxAbsDiff(reshapeCHW(flattenCHW(x), 2, 2, 3), x)).toBe(0);
    });
  });

  it('convs pad symmetrically ⌊k/2⌋ then VALID, unlike TF SAME for stride 2', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, 8, 8, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
      const w = tf.randomNormal([5, 5, 2, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const ref = tf.conv2d(tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]]), w, 2, 'valid');
      for (const mode of ['im2col', 'stock'] as ConvGradMode[]) {
        const y = conv2dSym(x, w, 2, mode);
        expect(y.shape).toEqual([1, 4, 4, 3]);
        expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5);
      }
      expect(maxAbsDiff(tf.conv2d(x, w, 2, 'same'), ref)).toBeGreaterThan(1e-3);
    });
  });

  it.each([
    [5, 2, [2, 12, 12, 3], 4],
    [5, 2, [1, 9, 7, 2], 3],
    [3, 1, [2, 7, 7, 4], 5],
    [1, 1, [2, 6, 6, 4], 2],
    [3, 1, [1, 6, 6, 3], 4],
  ] as Array<[number, number, [number, number, number, number], number]>)('im2col conv gradient = stock gradient (k=%i, stride %i)', (k, s, xs, co) => {
    tf.tidy(() => {
      const x = tf.randomNormal(xs, 0, 1, 'float32', 21) as tf.Tensor4D;
      const w = tf.randomNormal([k, k, xs[3], co], 0, 0.3, 'float32', 22) as tf.Tensor4D;
      const yShape = conv2dSym(x, w, s, 'stock').shape;
      const r = tf.randomNormal(yShape, 0, 1, 'float32', 23);
      const grads = (mode: ConvGradMode) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2dSym(a as tf.Tensor4D, b as tf.Tensor4D, s, mode), r)))([x, w]);
      const [dxI, dwI] = grads('im2col');
      const [dxS, dwS] = grads('stock');
      expect(relErr(dxI, dxS)).toBeLessThanOrEqual(1e-5);
      expect(relErr(dwI, dwS)).toBeLessThanOrEqual(1e-5);
      // Chunked patch building (per kernel row, per tap) gives the same filter gradient.
      const dy = r as tf.Tensor4D;
      const p = Math.floor(k / 2);
      expect(relErr(im2colFilterGrad(x, dy, k, s, p, 1), dwS)).toBeLessThanOrEqual(1e-5);
      expect(relErr(im2colFilterGrad(x, dy, k, s, p, dy.shape[0] * dy.shape[1] * dy.shape[2] * k * xs[3]), dwS)).toBeLessThanOrEqual(1e-5);
    });
  });

  it('stopGradient is an identity with zero gradient', () => {
    tf.tidy(() => {
      const x = tf.tensor1d([1, -2, 3]);
      expect(maxAbsDiff(stopGradient(x), x)).toBe(0);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.add(tf.mul(stopGradient(t), t), t)))(x);
      expect(Array.from(g.dataSync())).toEqual([2, -1, 4]); // d/dt (c·t + t) with c = t held constant
    });
  });

  it('a training gradient leaks no tensors, and im2col and stock conv gradients agree on the whole model', () => {
    const o = tiny('df-udt', { resolution: 64 });
    const model = createSaehd(o, 8, { convGrad: 'im2col' });
    const ref = createSaehd(o, 8, { convGrad: 'stock' });
    try {
      const src = tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 31) as tf.Tensor4D;
      const dst = tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 32) as tf.Tensor4D;
      const lossOf = (m: SaehdModel) => () => {
        const out = m.forwardSrcDst(src, dst, { swap: false });
        return tf.addN([
          tf.mean(tf.square(tf.sub(out.pred_src_src, src))), tf.mean(tf.square(tf.sub(out.pred_dst_dst, dst))),
          tf.mean(tf.square(tf.sub(out.pred_src_srcm, 0.5))), tf.mean(tf.square(tf.sub(out.pred_dst_dstm, 0.5))),
        ]) as tf.Scalar;
      };
      const before = tf.memory().numTensors;
      const a = tf.variableGrads(lossOf(model), model.trainableVariables());
      expect(Object.keys(a.grads)).toHaveLength(model.trainableVariables().length);
      const b = tf.variableGrads(lossOf(ref), ref.trainableVariables());
      // Same seed → same weights; compare kernels of the encoder, both heads kinds, the mask branch and the dense layer.
      const find = (g: Record<string, tf.Tensor>, m: SaehdModel, key: string) => g[m.allVariables().get(key)!.name];
      for (const key of ['encoder/down1/conv1/weight:0', 'encoder/res5/conv2/weight:0', 'decoder_src/out_conv2/weight:0', 'decoder_dst/upscalem4/conv1/weight:0', 'inter/dense1/weight:0'])
        expect(relErr(find(a.grads, model, key), find(b.grads, ref, key)), key).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(a.value.dataSync()[0] - b.value.dataSync()[0])).toBeLessThan(1e-6);
      tf.dispose([a.value, b.value]);
      tf.dispose(a.grads);
      tf.dispose(b.grads);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([src, dst]);
    } finally {
      model.dispose();
      ref.dispose();
    }
  });
});

// ---- CLI ---------------------------------------------------------------------------------------------------------------

describe('saehdbw model (CLI)', () => {
  const run = async (argv: string[]) => {
    let out = '', err = '';
    const code = await modelCommand(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  };

  it('prints one JSON object for the seed model', async () => {
    const r = await run(['--archi', 'df-udt', '--resolution', '192', '--ae-dims', '128', '--e-dims', '48', '--d-dims', '32', '--d-mask-dims', '16', '--channels', '1', '--batch', '6']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      archi: 'df-udt', archi_string: 'DF-UDT 192-128-48-32-16 BW', resolution: 192, channels: 1, ae_dims: 128, e_dims: 48,
      d_dims: 32, d_mask_dims: 16, params: 29_799_818, batch: 6, gflop_per_iter: 432.2, source: 'closed-form',
      modules: { encoder: 8_804_448, inter: 2_364_032, decoder_src: 9_315_669, decoder_dst: 9_315_669 },
      output_shapes: { encoder: [13_824], inter: [6, 6, 128], image: [192, 192, 1], mask: [192, 192, 1] },
    });
    expect(Object.keys(j.modules)).toEqual(['encoder', 'inter', 'decoder_src', 'decoder_dst']);
  });

  it('--build reports counts and shapes from a real model', async () => {
    const argv = ['--archi=liae-udt', '--resolution=64', '--ae-dims=32', '--e-dims=16', '--d-dims=16', '--d-mask-dims=16', '--channels=3', '--face-type', 'wf'];
    const closed = JSON.parse((await run(argv)).out);
    const r = await run([...argv, '--build']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.source).toBe('built');
    expect(j.params).toBe(closed.params);
    expect(j.modules).toEqual(closed.modules);
    expect(j.output_shapes).toEqual(closed.output_shapes);
    expect(j.output_shapes.decoder_input).toEqual([2, 2, 128]);
  });

  it('presets and option changes', async () => {
    const j = JSON.parse((await run(['--preset', 'seed2GB', '--channels', '3'])).out);
    expect(j.params).toBe(29_809_402);
    const k = JSON.parse((await run(['--preset', 'quickTest', '--resolution', '70'])).out);
    expect(k.resolution).toBe(64);
    expect(k.changes).toEqual(['resolution 70 → 64 (multiple of 16 within 64–640)']);
  });

  it('bad options: message on stderr, exit 2', async () => {
    for (const argv of [['--archi', 'dx-ud'], ['--resolution', 'abc'], ['--channels', '2'], ['--frobnicate', '1'], ['--archi'], ['stray'], ['--preset', 'nope']]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err, argv.join(' ')).toMatch(/^saehdbw model: \S/);
    }
    expect((await run(['--archi', 'dx-ud'])).err).toMatch(/option archi: unknown type "dx"/);
  });
});

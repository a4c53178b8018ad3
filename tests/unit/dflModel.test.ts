/**
 * DeepFaceLab model folders (spec §C.10, §C.11, §J.2): export/import round trips, key names and shapes against the
 * spec's layer tables (derived here independently of src/core/model), a folder written without the project's exporter,
 * refusals, and `saehdbw predict`. tfjs cpu backend, tiny networks (below DFL's prompt minimums, which DFL accepts
 * for stored options) so the file stays fast.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzlibSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import {
  DflModelError, exportDflModel, findDflModels, parseWeightsFile, readDflModel, unzipDflModel, zipDflModel,
  type DflFile,
} from '../../src/core/formats/dflModel.ts';
import { parsePickle } from '../../src/core/formats/pickle.ts';
import { writePickle } from '../../src/core/formats/pickleWriter.ts';
import { PyFloat, isNdArray, ndarray, type PyDict, type PyValue } from '../../src/core/formats/pyValue.ts';
import { importDflModel } from '../../src/core/model/loadDfl.ts';
import { type ModelOptions } from '../../src/core/model/options.ts';
import { createSaehd } from '../../src/core/model/saehd.ts';
import { createTrainer, type TrainBatch } from '../../src/core/train/trainStep.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { CPYTHON_DATA_DAT_HEX, hex, independentFolder, specModules, tiny, type Shapes } from '../fixtures/dflFolder.ts';
import { syntheticSide } from '../fixtures/syntheticBatch.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const side = syntheticSide;
const batch = (res: number, ch: number): TrainBatch => ({ src: side(2, res, ch, 0), dst: side(2, res, ch, 5) });

const count = (s: Shapes) => [...s.values()].reduce((a, sh) => a + sh.reduce((x, y) => x * y, 1), 0);

function byName(files: DflFile[]): Map<string, Uint8Array> {
  return new Map(files.map((f) => [f.name.split('/').pop()!, f.bytes]));
}

describe('exportDflModel: file names, key names and shapes (§C.11)', () => {
  const archis = ['df', 'df-u', 'df-d', 'df-t', 'df-udt', 'liae', 'liae-u', 'liae-d', 'liae-t', 'liae-udt'];
  it.each(archis)('%s matches the spec layer tables', async (archi) => {
    const o = tiny({ archi, channels: archi === 'df-udt' || archi === 'liae-d' ? 3 : 1 });
    const spec = specModules(o);
    // The spec's closed forms (§A.10) as a check of the derivation above.
    const { channels: C, e_dims: e } = o;
    expect(count(spec.get('encoder')!)).toBe(archi.includes('t') ? 25 * C * e + 3820 * e * e + 41 * e : 25 * C * e + 1050 * e * e + 15 * e);
    const model = createSaehd(o, 1, { init: 'zeros' });
    try {
      const files = byName(await exportDflModel(model, null, o, 0, [], 'shapes'));
      const cls = o.channels === 1 ? 'SAEHDBW' : 'SAEHD';
      expect([...files.keys()].sort()).toEqual(
        [...spec.keys(), 'data', 'summary'].map((p) => `shapes_${cls}_${p}.${p === 'data' ? 'dat' : p === 'summary' ? 'txt' : 'npy'}`).sort(),
      );
      for (const [module, shapes] of spec) {
        const problems: string[] = [];
        const { arrays } = parseWeightsFile(files.get(`shapes_${cls}_${module}.npy`)!, module, problems);
        expect(problems).toEqual([]);
        expect([...arrays.keys()].sort()).toEqual([...shapes.keys()].sort());
        for (const [k, shape] of shapes) expect(arrays.get(k)!.shape, `${module}/${k}`).toEqual(shape);
      }
      // Weight files are protocol 4 (§C.11); data.dat protocol 3 (§G.3) without our own 'channels' key.
      expect([...files.get(`shapes_${cls}_encoder.npy`)!.subarray(0, 2)]).toEqual([0x80, 4]);
      const data = parsePickle(files.get(`shapes_${cls}_data.dat`)!) as PyDict;
      expect(files.get(`shapes_${cls}_data.dat`)![1]).toBe(3);
      expect([...data.keys()]).toEqual(['iter', 'options', 'loss_history', 'sample_for_preview', 'choosed_gpu_indexes']);
      const opts = data.get('options') as PyDict;
      expect(opts.get('archi')).toBe(archi);
      expect(opts.has('channels')).toBe(false);
      expect(opts.get('gan_power')).toBeInstanceOf(PyFloat); // float options stay Python floats
    } finally {
      model.dispose();
    }
  });
});

// ---- round trips -------------------------------------------------------------------------------------------------

describe('export → import → export', () => {
  const configs: Array<[string, Partial<ModelOptions>]> = [
    ['DF-UD, 1 channel, AdaBelief', {}],
    ['LIAE-UD, 1 channel, random warp off (inter_AB frozen)', { archi: 'liae-ud', random_warp: false }],
    ['DF, 3 channels, RMSprop, true face + GAN', { archi: 'df', channels: 3, adabelief: false, true_face_power: 0.1, gan_power: 0.1, gan_patch_size: 8, gan_dims: 4 }],
  ];
  it.each(configs)('%s: same bytes, and training goes on exactly where it stopped', async (_label, over) => {
    const o = tiny(over);
    const b = batch(o.resolution, o.channels);
    const model = createSaehd(o, 7);
    const trainer = createTrainer(model, o, { seed: 3 });
    const history: Array<[number, number]> = [];
    for (let i = 0; i < 2; i++) {
      const r = await trainer.step(b);
      history.push([r.srcLoss, r.dstLoss]);
    }
    const files1 = await exportDflModel(model, trainer, o, trainer.iter, history, 'round trip');
    const names = files1.map((f) => f.name);
    const cls = o.channels === 1 ? 'SAEHDBW' : 'SAEHD';
    expect(names).toContain(`round trip_${cls}_src_dst_opt.npy`);
    if (o.gan_power) expect(names).toEqual(expect.arrayContaining(['code_discriminator', 'D_code_opt', 'GAN', 'GAN_opt'].map((p) => `round trip_${cls}_${p}.npy`)));

    const before = tf.memory().numTensors;
    const loaded = importDflModel(files1, { seed: 3 });
    expect(loaded.iter).toBe(2);
    expect(loaded.lossHistory).toEqual(history);
    expect(loaded.options).toEqual(o);
    const t2 = loaded.trainer!;
    expect(t2.iter).toBe(2);
    expect(t2.srcDstOpt.iterations).toBe(trainer.srcDstOpt.iterations);
    const [s1, s2] = [await trainer.srcDstOpt.readState(), await t2.srcDstOpt.readState()];
    expect([...s2.slots.keys()]).toEqual([...s1.slots.keys()]);
    for (const [k, v] of s1.slots) expect(s2.slots.get(k)!.data, k).toEqual(v.data);
    if (o.gan_power) {
      expect(t2.codeOpt!.iterations).toBe(2);
      expect(t2.ganOpt!.iterations).toBe(2);
      const [g1, g2] = [trainer.gan!.variables(), t2.gan!.variables()];
      for (const [k, v] of g1) expect(g2.get(k)!.dataSync(), k).toEqual(v.dataSync());
    }

    const files2 = await exportDflModel(loaded.model, t2, loaded.options, t2.iter, loaded.lossHistory, loaded.source.modelName, { source: loaded.source });
    expect(files2.map((f) => f.name)).toEqual(names);
    files2.forEach((f, i) => expect(Buffer.compare(Buffer.from(f.bytes), Buffer.from(files1[i].bytes)), f.name).toBe(0));

    // The next step of the original and of the imported model is the same step.
    const r1 = await trainer.step(b);
    const r2 = await t2.step(b);
    expect(r2.iter).toBe(3);
    expect([r2.srcLoss, r2.dstLoss]).toEqual([r1.srcLoss, r1.dstLoss]);
    const w1 = model.allVariables();
    for (const [k, v] of loaded.model.allVariables()) expect(v.dataSync(), k).toEqual(w1.get(k)!.dataSync());

    t2.dispose();
    loaded.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
    model.dispose();
  });
});

// ---- a folder written without the project's exporter (tests/fixtures/dflFolder.ts) ---------------------------------

describe('a DFL folder written independently of exportDflModel', () => {
  it('imports (folder or zip), trains a step and predicts; re-export keeps data.dat keys', async () => {
    const { files, weights } = independentFolder('indep');
    const zipped = unzipDflModel(zipDflModel(files, 'model'));
    expect(zipped.map((f) => f.name).sort()).toEqual(files.map((f) => `model/${f.name}`).sort());
    const loaded = importDflModel(zipped, { seed: 1 });
    expect(loaded.source.modelName).toBe('indep');
    expect(loaded.options).toMatchObject({ archi: 'df-ud', resolution: 32, ae_dims: 16, e_dims: 4, d_dims: 4, d_mask_dims: 4, channels: 1, batch_size: 2 });
    expect(loaded.notes.join('\n')).toMatch(/ae_dims 16 is outside DFL's prompt range; kept as stored/);
    expect(loaded.iter).toBe(3);
    expect(loaded.lossHistory).toEqual([[1.25, 2.5], [1.125, 2.375], [1.0625, 2.25]]);
    const trainer = loaded.trainer!;
    expect(trainer.srcDstOpt.iterations).toBe(3);
    const w = loaded.model.weights();
    for (const [module, arrays] of weights)
      for (const [k, data] of arrays) expect(w.get(module as never)!.get(k)!.dataSync(), `${module}/${k}`).toEqual(data);

    const r = await trainer.step(batch(32, 1));
    expect(r.iter).toBe(4);
    expect(Number.isFinite(r.srcLoss) && Number.isFinite(r.dstLoss)).toBe(true);
    const x = tf.tensor4d(side(2, 32, 1, 0).target, [2, 32, 32, 1]);
    const out = loaded.model.predict(x, 'src_dst');
    x.dispose();
    expect(out.image.shape).toEqual([2, 32, 32, 1]);
    expect(out.mask.shape).toEqual([2, 32, 32, 1]);
    const px = await out.image.data();
    expect(px.every((v) => v >= 0 && v <= 1)).toBe(true);
    tf.dispose([out.image, out.mask]);

    const history = [...loaded.lossHistory, [r.srcLoss, r.dstLoss] as [number, number]];
    const files2 = byName(await exportDflModel(loaded.model, trainer, loaded.options, trainer.iter, history, 'indep', { source: loaded.source }));
    const data = parsePickle(files2.get('indep_SAEHDBW_data.dat')!) as PyDict;
    expect(data.get('iter')).toBe(4);
    expect(data.get('choosed_gpu_indexes')).toEqual([0]);
    const preview = data.get('sample_for_preview') as PyValue[][];
    expect(preview).toHaveLength(2);
    expect(preview[1]).toHaveLength(4);
    expect(isNdArray(preview[1][3]) && preview[1][3].shape).toEqual([1, 1, 2, 2]);
    expect((data.get('loss_history') as unknown[]).length).toBe(4);
    const opts = data.get('options') as PyDict;
    expect([...opts.keys()].slice(0, 4)).toEqual(['resolution', 'face_type', 'models_opt_on_gpu', 'archi']);
    expect(opts.get('ae_dims')).toBe(16);
    trainer.dispose();
    loaded.model.dispose();
  });

  it('refuses missing and mis-shaped arrays with the full list, keeping nothing', () => {
    const { files } = independentFolder('bad');
    const edit = (module: string, fn: (d: PyDict) => void) => {
      const f = files.find((x) => x.name === `bad_SAEHDBW_${module}.npy`)!;
      const d = parsePickle(f.bytes) as PyDict;
      fn(d);
      f.bytes = writePickle(d, 4);
    };
    edit('inter', (d) => d.delete('dense1/bias:0'));
    edit('decoder_src', (d) => d.set('res1/conv2/weight:0', ndarray('f4', [3, 3, 16, 8], new Float32Array(1152))));
    edit('src_dst_opt', (d) => d.set('vs_encoder/down1/downs_0/conv1/bias_0:0', ndarray('f4', [3], new Float32Array(3))));
    const before = tf.memory().numTensors;
    let err: unknown;
    try {
      importDflModel(files);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DflModelError);
    const e = err as DflModelError;
    expect(e.code).toBe('dfl-weights');
    expect(e.problems).toEqual([
      'bad_SAEHDBW_inter.npy: missing dense1/bias:0 (16)',
      'bad_SAEHDBW_decoder_src.npy: res1/conv2/weight:0 is 3×3×16×8, the model needs 3×3×16×16',
      'bad_SAEHDBW_src_dst_opt.npy: vs_encoder/down1/downs_0/conv1/bias_0:0 is 3, the model needs 4',
    ]);
    expect(e.message).toContain('missing dense1/bias:0');
    expect(tf.memory().numTensors).toBe(before);

    // File-level problems: a missing module file and a damaged one, both listed.
    const broken = files.filter((f) => !f.name.endsWith('_decoder_dst.npy'));
    broken.find((f) => f.name.endsWith('_encoder.npy'))!.bytes = files.find((f) => f.name.endsWith('_encoder.npy'))!.bytes.slice(0, 500);
    try {
      readDflModel(broken);
      expect.unreachable();
    } catch (x) {
      expect((x as DflModelError).code).toBe('dfl-damaged');
      expect((x as DflModelError).problems).toEqual([
        expect.stringMatching(/^bad_SAEHDBW_encoder\.npy: unreadable pickle: declared length \d+ .* beyond/),
        'missing file bad_SAEHDBW_decoder_dst.npy',
      ]);
    }
  });

  it('names options and models the page cannot honour', () => {
    const { files } = independentFolder('opt');
    const withOptions = (fn: (o: PyDict) => void): DflFile[] => {
      const data = parsePickle(hex(CPYTHON_DATA_DAT_HEX)) as PyDict;
      fn(data.get('options') as PyDict);
      return files.map((f) => (f.name.endsWith('_data.dat') ? { name: f.name, bytes: writePickle(data, 3) } : f));
    };
    // A model class the page does not implement.
    expect(() => readDflModel([{ name: 'x_AMP_data.dat', bytes: hex(CPYTHON_DATA_DAT_HEX) }])).toThrow(/model class AMP is not implemented/);
    // An unknown architecture.
    expect(() => readDflModel(withOptions((o) => o.set('archi', 'df-x')))).toThrow(/option archi: unknown flag "x".*cannot honour/s);
    // Colour-only options of a 1-channel model, and an option of another DFL version: imported with notes.
    const m = readDflModel(withOptions((o) => {
      o.set('ct_mode', 'rct');
      o.set('random_hsv_power', 0.1);
      o.set('random_flip', true);
    }));
    expect(m.options.ct_mode).toBe('none');
    expect(m.options.random_hsv_power).toBe(0);
    const notes = m.notes.join('\n');
    expect(notes).toMatch(/ct_mode "rct" cannot be honoured by a 1-channel model/);
    expect(notes).toMatch(/random_hsv_power 0.1 cannot be honoured/);
    expect(notes).toMatch(/options not used by the page \(kept for export\): random_flip/);
    // A SAEHDBW model whose encoder takes colour while its heads output gray (trained without use_bw_input).
    const mixed = files.map((f) => {
      if (!f.name.endsWith('_encoder.npy')) return f;
      const d = parsePickle(f.bytes) as PyDict;
      d.set('down1/downs_0/conv1/weight:0', ndarray('f4', [5, 5, 3, 4], new Float32Array(300)));
      return { name: f.name, bytes: writePickle(d, 4) };
    });
    expect(() => readDflModel(mixed)).toThrow(/encoder takes 3 channel\(s\) but the decoder outputs 1.*cannot be honoured/s);
    // Several models: listed, and picked by name.
    const two = [...files, ...independentFolder('other').files];
    expect(findDflModels(two.map((f) => f.name)).map((x) => x.modelName)).toEqual(['opt', 'other']);
    expect(() => readDflModel(two)).toThrow(/several SAEHD\/SAEHDBW models[\s\S]*opt \(SAEHDBW\)[\s\S]*other \(SAEHDBW\)/);
    expect(readDflModel(two, { modelName: 'other' }).modelName).toBe('other');
  });
});

// ---- saehdbw predict ------------------------------------------------------------------------------------------------

/** A PNG's size, colour type and inflated IDAT length (each row = filter byte + pixels). */
function readPng(bytes: Uint8Array): { width: number; height: number; colorType: number; raw: Uint8Array } {
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Uint8Array[] = [];
  for (;;) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    const body = bytes.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = dv.getUint32(p + 8);
      height = dv.getUint32(p + 12);
      expect(body[8]).toBe(8); // bit depth
      colorType = body[9];
    } else if (type === 'IDAT') idat.push(body);
    p += 12 + len;
    if (type === 'IEND') break;
  }
  return { width, height, colorType, raw: unzlibSync(Buffer.concat(idat)) };
}

describe('saehdbw predict', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['cli/saehdbw.mjs', 'predict', ...args], { encoding: 'utf8', timeout: 120_000 });

  it('writes NAME_face.png and NAME_mask.png at the model resolution (folder; zip with --swap)', async () => {
    await initNodeJpegCodec();
    const dir = mkdtempSync(join(tmpdir(), 'saehdbw-predict-'));
    mkdirSync(join(dir, 'faces'));
    for (const f of await makeDflFaces(3, { size: 64 })) writeFileSync(join(dir, 'faces', f.name), f.bytes);
    const write = async (o: ModelOptions, name: string): Promise<DflFile[]> => {
      const model = createSaehd(o, 5);
      const trainer = createTrainer(model, o); // optimizer file written, and not read by predict
      try {
        return await exportDflModel(model, trainer, o, 1, [[1, 1]], name);
      } finally {
        trainer.dispose();
        model.dispose();
      }
    };
    // 1-channel DF-UD model from a folder: gray faces.
    mkdirSync(join(dir, 'model'));
    for (const f of await write(tiny(), 'gray')) writeFileSync(join(dir, 'model', f.name), f.bytes);
    let r = cli('--model', join(dir, 'model'), '--faces', join(dir, 'faces'), '--out', join(dir, 'out1'));
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ model: 'gray', class: 'SAEHDBW', resolution: 32, channels: 1, which: 'dst_dst', faces: 3, failed: 0 });
    expect(readdirSync(join(dir, 'model'))).toContain('gray_SAEHDBW_src_dst_opt.npy');
    expect(r.stderr).not.toMatch(/optimizer/);
    const names = ['00001_0', '00002_0', '00003_0'];
    expect(readdirSync(join(dir, 'out1')).sort()).toEqual(names.flatMap((n) => [`${n}_face.png`, `${n}_mask.png`]));
    for (const n of names)
      for (const kind of ['face', 'mask']) {
        const png = readPng(readFileSync(join(dir, 'out1', `${n}_${kind}.png`)));
        expect(png).toMatchObject({ width: 32, height: 32, colorType: 0 });
        expect(png.raw.length).toBe(32 * (1 + 32));
      }

    // 3-channel LIAE model from a zip, swap: RGB faces, gray masks.
    writeFileSync(join(dir, 'color.zip'), zipDflModel(await write(tiny({ archi: 'liae', channels: 3 }), 'color'), 'model'));
    r = cli('--model', join(dir, 'color.zip'), '--faces', join(dir, 'faces'), '--out', join(dir, 'out2'), '--swap');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ class: 'SAEHD', channels: 3, which: 'src_dst', faces: 3 });
    const face = readPng(readFileSync(join(dir, 'out2', '00002_0_face.png')));
    expect(face).toMatchObject({ width: 32, height: 32, colorType: 2 });
    expect(face.raw.length).toBe(32 * (1 + 32 * 3));
    expect(readPng(readFileSync(join(dir, 'out2', '00002_0_mask.png'))).raw.length).toBe(32 * 33);

    expect(cli('--model', join(dir, 'model'), '--faces', join(dir, 'faces'), '--out', join(dir, 'x'), '--side', 'src', '--swap').status).toBe(2);
  });
});

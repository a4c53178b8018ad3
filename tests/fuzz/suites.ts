/**
 * The five fuzz suites (DFLJPG reader, pickle parser, DFL model files, zip import, checkpoint upload). The dedicated
 * command (`npm run fuzz`) runs each with FUZZ_RUNS = 10 000 cases; tests/unit/fuzz.test.ts runs a few hundred.
 *
 * Inputs are mutations of real files (../shared/data faces when present, else self-made ones), truncations, random
 * bytes, and generated files with lying or extreme fields: JPEG segment lengths, pickle opcodes and lengths, deep
 * nesting, huge declared array shapes, memo amplification, forbidden globals (os.system, eval, …), zip bombs (small
 * zips declaring huge sizes or billions of entries, overlapping entries, a real highly-compressible entry), and
 * checkpoint headers with wrong types, sizes and overlapping tensors.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { decodeCheckpoint } from '../../src/core/checkpoint/checkpointFile.ts';
import { crc32 } from '../../src/core/formats/crc32.ts';
import { expandInputs, prepareFace } from '../../src/core/faceset/importFaces.ts';
import { DFL_MODEL_PICKLE_LIMITS, readDflModel, unzipDflModel, zipDflModel, type DflFile } from '../../src/core/formats/dflModel.ts';
import { readDflJpg, readDflPayload } from '../../src/core/formats/dfljpg.ts';
import { readJpegFrameInfo, readJpegSegments } from '../../src/core/formats/jpegSegments.ts';
import { type PickleLimits, parsePickle } from '../../src/core/formats/pickle.ts';
import { writePickle } from '../../src/core/formats/pickleWriter.ts';
import { type PyDict, type PyValue, PyFloat } from '../../src/core/formats/pyValue.ts';
import { OPTION_SCHEMA } from '../../src/core/model/options.ts';
import { FuzzFailure, FuzzRecorder, fcParams, fuzzSeed, type FuzzStats } from './harness.ts';
import { applyMutations, mutatedArb, mutationsArb, noiseArb, truncatedArb } from './mutate.ts';
import { GLOBALS, dflDictArb, hostileArb, hostilePickle, opStreamArb, pyValueArb, writtenArb } from './pickleGen.ts';
import { type Seeds, compressibleZip, loadSeeds } from './seeds.ts';
import { type Bomb, bombZip, craftZip } from './zipCraft.ts';

const MiB = 1024 * 1024;

/** `arb`'s value with probability `p`, else null (fc.option's `freq` is the other way round: 1 / freq is null). */
function sometimes<T>(arb: fc.Arbitrary<T>, p: number): fc.Arbitrary<T | null> {
  const w = Math.max(1, Math.round(1 / p) - 1);
  return fc.oneof({ weight: w, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

/** Limits the production callers use: readDflJpg's APP15 limits, and a middle ground for the pickle suite. */
const APP15_LIMITS: PickleLimits = { maxBytes: 65533, maxArrayBytes: 4 * MiB, maxItems: 1_000_000 };
const MID_LIMITS: PickleLimits = { maxArrayBytes: 32 * MiB, maxItems: 2_000_000, maxDepth: 100 };

export type SuiteName = 'dfljpg' | 'pickle' | 'dflModel' | 'zip' | 'checkpoint';

/** Declares one `it` running `runs` cases of `name`; `timeoutMs` bounds the whole suite. */
export function fuzzSuite(name: SuiteName, runs: number, timeoutMs: number): void {
  it(`${name}: ${runs} generated and mutated inputs end in a result or a named error, in bounded time and memory`, async () => {
    const seeds = await loadSeeds();
    const stats = await SUITES[name](seeds, runs, fuzzSeed());
    expect(stats.cases).toBeGreaterThanOrEqual(runs);
  }, timeoutMs);
}

const SUITES: Record<SuiteName, (s: Seeds, runs: number, seed: number) => Promise<FuzzStats>> = {
  dfljpg: dfljpgSuite,
  pickle: pickleSuite,
  dflModel: dflModelSuite,
  zip: zipSuite,
  checkpoint: checkpointSuite,
};

// ---- DFLJPG -----------------------------------------------------------------------------------------------------

/** `jpeg` with its last APP15 segment replaced by `payload` (the length field as 16 bits, so a big payload lies). */
export function withPayload(jpeg: Uint8Array, payload: Uint8Array): Uint8Array {
  const segs = readJpegSegments(jpeg);
  const app15 = segs.filter((s) => s.marker === 0xef).pop();
  const at = app15 ? app15.start : segs[0].end;
  const end = app15 ? app15.end : segs[0].end;
  const len = (payload.length + 2) & 0xffff;
  const out = new Uint8Array(jpeg.length - (end - at) + 4 + payload.length);
  out.set(jpeg.subarray(0, at));
  out.set([0xff, 0xef, len >> 8, len & 0xff], at);
  out.set(payload, at + 4);
  out.set(jpeg.subarray(end), at + 4 + payload.length);
  return out;
}

/** Marker segments with honest or lying lengths, for the segment walker. */
const segmentArb: fc.Arbitrary<number[]> = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0xc0, max: 0xfe }), fc.uint8Array({ maxLength: 24 }), fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffff })))
    .map(([m, body, lie]) => {
      const len = lie < 0 ? body.length + 2 : lie;
      return [0xff, m, len >> 8, len & 0xff, ...body];
    }),
  // A frame header with any size (0 × 0 and 65535 × 65535 included).
  fc
    .tuple(fc.constantFrom(0xc0, 0xc1, 0xc2, 0xc3, 0xc9, 0xcf), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 255 }))
    .map(([m, h, w, c]) => [0xff, m, 0, 11, 8, h >> 8, h & 0xff, w >> 8, w & 0xff, c, 1, 0x11, 0]),
  // A scan with entropy data holding stuffed bytes, restart markers and fill bytes.
  fc
    .array(fc.oneof(fc.integer({ min: 0, max: 254 }).map((b) => [b]), fc.constantFrom<number[]>([0xff, 0x00], [0xff, 0xd0], [0xff, 0xd7], [0xff, 0xff])), { maxLength: 24 })
    .map((parts) => [0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, ...parts.flat()]),
  fc.constantFrom<number[]>([0xff, 0xd9], [0xff, 0xd8], [0xff, 0x01], [0xff, 0xd3], [0xff, 0xff, 0xff], [0xff, 0x00], [0x00]),
);

const segmentSoupArb: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.array(segmentArb, { maxLength: 12 }), fc.boolean())
  .map(([segs, eoi]) => Uint8Array.from([0xff, 0xd8, ...segs.flat(), ...(eoi ? [0xff, 0xd9] : [])]));

async function dfljpgSuite(s: Seeds, runs: number, seed: number): Promise<FuzzStats> {
  const payloadArb = fc.oneof(
    { weight: 3, arbitrary: mutatedArb(s.payloads) },
    { weight: 3, arbitrary: writtenArb(dflDictArb) },
    { weight: 2, arbitrary: opStreamArb },
    { weight: 2, arbitrary: hostileArb(8 * MiB).map(hostilePickle) },
  );
  const arb = fc.oneof(
    { weight: 6, arbitrary: mutatedArb(s.faces) },
    { weight: 2, arbitrary: truncatedArb(s.faces) },
    { weight: 4, arbitrary: fc.tuple(fc.nat({ max: s.faces.length - 1 }), payloadArb).map(([i, p]) => withPayload(s.faces[i], p)) },
    { weight: 2, arbitrary: segmentSoupArb },
    { weight: 1, arbitrary: noiseArb([0xff, 0xd8], 256) },
  );
  const rec = new FuzzRecorder('dfljpg', seed, { allocBudget: (n) => 96 * MiB + 32 * n });
  fc.assert(
    fc.property(arb, (bytes) => {
      // The frame reader and payload finder on their own, then the full reader (whose outcome is tallied).
      rec.run(bytes.length, () => {
        FuzzRecorder.named(() => readJpegFrameInfo(bytes));
        FuzzRecorder.named(() => readDflPayload(bytes));
        return readDflJpg(bytes);
      }, (r) => {
        const l = r.meta.landmarks;
        if (l !== null && l.length !== 136) throw new FuzzFailure(`landmarks of ${l.length} numbers accepted`);
        if (!(r.frame.width >= 0 && r.frame.height >= 0)) throw new FuzzFailure('bad frame size');
        return 'dfl-ok';
      });
    }),
    fcParams(runs, seed),
  );
  return await rec.finish();
}

// ---- pickle -------------------------------------------------------------------------------------------------------

interface PickleCase {
  bytes: Uint8Array;
  limits: PickleLimits;
  /** 'parse': a well-formed pickle that must parse; 'forbid': names a global outside the allow-list. */
  expect: 'any' | 'parse' | 'forbid';
}

async function pickleSuite(s: Seeds, runs: number, seed: number): Promise<FuzzStats> {
  const modelPickles = s.model.filter((f) => !f.name.endsWith('.txt')).map((f) => f.bytes);
  const corpus = [...s.payloads, ...modelPickles];
  const limitsArb = fc.constantFrom(APP15_LIMITS, MID_LIMITS);
  const forbiddenFrom = GLOBALS.findIndex(([m, n]) => m === 'os' && n === 'system');
  const caseArb: fc.Arbitrary<PickleCase> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ bytes: mutatedArb(corpus), limits: limitsArb, expect: fc.constant('any' as const) }) },
    { weight: 1, arbitrary: fc.record({ bytes: truncatedArb(corpus), limits: limitsArb, expect: fc.constant('any' as const) }) },
    { weight: 2, arbitrary: fc.record({ bytes: writtenArb(pyValueArb), limits: fc.constant(MID_LIMITS), expect: fc.constant('parse' as const) }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(writtenArb(pyValueArb), mutationsArb(4), limitsArb)
        .map(([b, m, limits]) => ({ bytes: applyMutations(b, m, corpus), limits, expect: 'any' as const })),
    },
    { weight: 4, arbitrary: fc.record({ bytes: opStreamArb, limits: limitsArb, expect: fc.constant('any' as const) }) },
    {
      weight: 4,
      arbitrary: fc.tuple(hostileArb(), limitsArb).map(([h, limits]) => ({
        bytes: hostilePickle(h),
        limits,
        expect: h.t === 'global' && h.g >= forbiddenFrom ? ('forbid' as const) : ('any' as const),
      })),
    },
    { weight: 1, arbitrary: fc.record({ bytes: noiseArb([0x80, 0x04]), limits: limitsArb, expect: fc.constant('any' as const) }) },
  );
  const rec = new FuzzRecorder('pickle', seed, {
    // Arrays up to the limit, plus strings / copies proportional to the input.
    allocBudget: (n) => 32 * MiB + 64 * MiB + 48 * n,
  });
  fc.assert(
    fc.property(caseArb, (c) => {
      const out = rec.run(c.bytes.length, () => parsePickle(c.bytes, c.limits));
      if (c.expect === 'parse' && out !== 'ok') throw new FuzzFailure(`a well-formed pickle was refused: ${out}`);
      if (c.expect === 'forbid' && out !== 'forbidden-global') throw new FuzzFailure(`a forbidden global ended in ${out}, not forbidden-global`);
    }),
    fcParams(runs, seed),
  );
  return await rec.finish();
}

// ---- DFL model files ----------------------------------------------------------------------------------------------

const OPTION_KEYS = OPTION_SCHEMA.map((o) => o.key as string);

/** A data.dat whose options / iter / loss_history take odd values (types, ranges, unknown archi strings). */
const optionValueArb: fc.Arbitrary<PyValue> = fc.oneof(
  pyValueArb,
  fc.constantFrom<PyValue>(0, -1, 1, 3, 31, 32, 33, 64, 2 ** 31, 2 ** 40, 2 ** 53, 2n ** 70n, new PyFloat(1e308), 0.5, NaN, Infinity, -Infinity,
    'df', 'liae', 'df-udt', 'liae-udt', 'df-x', '', 'f', 'wf', 'head', 'none', 'rct', 'y', 'n', 'cpu', true, false, null),
);

function dataDatArb(base: PyDict): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      edits: fc.array(fc.tuple(fc.constantFrom(...OPTION_KEYS, 'unknown_opt'), optionValueArb), { maxLength: 4 }),
      iter: sometimes(optionValueArb, 1 / 3),
      loss: sometimes(fc.oneof(pyValueArb, fc.array(fc.tuple(optionValueArb, optionValueArb).map(([a, b]) => [a, b]), { maxLength: 6 })), 1 / 3),
      optionsReplaced: sometimes(pyValueArb, 1 / 8),
      protocol: fc.constantFrom(3 as const, 4 as const),
    })
    .map(({ edits, iter, loss, optionsReplaced, protocol }) => {
      const d: PyDict = new Map(base);
      const options: PyDict = new Map(base.get('options') as PyDict);
      for (const [k, v] of edits) options.set(k, v);
      d.set('options', optionsReplaced ?? options);
      if (iter !== null) d.set('iter', iter);
      if (loss !== null) d.set('loss_history', loss as PyValue);
      return writePickle(d, protocol);
    });
}

type ModelEdit =
  | { k: 'mutate'; file: number; muts: ReturnType<typeof mutationsArb> extends fc.Arbitrary<infer M> ? M : never }
  | { k: 'truncate'; file: number; frac: number }
  | { k: 'replace'; file: number; bytes: Uint8Array }
  | { k: 'drop'; file: number }
  | { k: 'rename'; file: number; name: string };

async function dflModelSuite(s: Seeds, runs: number, seed: number): Promise<FuzzStats> {
  const files = s.model;
  const dataIdx = files.findIndex((f) => f.name.endsWith('_data.dat'));
  const base = parsePickle(files[dataIdx].bytes, DFL_MODEL_PICKLE_LIMITS) as PyDict;
  const fileArb = fc.nat({ max: files.length - 1 });
  const editArb: fc.Arbitrary<ModelEdit> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant('mutate' as const), file: fileArb, muts: mutationsArb() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('truncate' as const), file: fileArb, frac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
    {
      weight: 4,
      arbitrary: fc.record({
        k: fc.constant('replace' as const),
        file: fc.oneof(fc.constant(dataIdx), fileArb),
        bytes: fc.oneof(
          { weight: 4, arbitrary: dataDatArb(base) },
          { weight: 2, arbitrary: writtenArb(pyValueArb) },
          { weight: 1, arbitrary: writtenArb(dflDictArb) },
          { weight: 2, arbitrary: hostileArb(64 * MiB).map(hostilePickle) },
          { weight: 1, arbitrary: opStreamArb },
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('drop' as const), file: fileArb }) },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant('rename' as const),
        file: fileArb,
        name: fc.oneof(
          fc.constantFrom('fz_SAEHD_data.dat', 'fz_AMP_data.dat', 'other_SAEHDBW_data.dat', 'fz_SAEHDBW_inter_AB.npy', 'fz_SAEHDBW_decoder.npy',
            'x/fz_autobackups/fz_SAEHDBW_data.dat', 'a/b/fz_SAEHDBW_encoder.npy', '_SAEHDBW_data.dat', '__proto___SAEHDBW_data.dat'),
          fc.string({ maxLength: 24 }),
        ),
      }),
    },
  );
  const caseArb = fc.record({
    edits: fc.array(editArb, { minLength: 1, maxLength: 3 }),
    weightsOnly: fc.boolean(),
    viaZip: fc.boolean(),
    zipMuts: sometimes(mutationsArb(4), 1 / 2),
  });
  const rec = new FuzzRecorder('dflModel', seed, { allocBudget: (n) => 64 * MiB + 64 * MiB + 48 * n });
  fc.assert(
    fc.property(caseArb, (c) => {
      let fs: (DflFile | null)[] = files.map((f) => ({ ...f }));
      for (const e of c.edits) {
        const f = fs[e.file];
        if (!f) continue;
        if (e.k === 'mutate') f.bytes = applyMutations(f.bytes, e.muts, files.map((x) => x.bytes));
        else if (e.k === 'truncate') f.bytes = f.bytes.slice(0, Math.floor(f.bytes.length * e.frac));
        else if (e.k === 'replace') f.bytes = e.bytes;
        else if (e.k === 'drop') fs[e.file] = null;
        else f.name = e.name;
      }
      fs = fs.filter((f) => f !== null);
      const list = fs as DflFile[];
      const size = list.reduce((n, f) => n + f.bytes.length, 0);
      if (c.viaZip) {
        let zip = zipDflModel(list.filter((f) => f.name !== ''), 'model');
        if (c.zipMuts) zip = applyMutations(zip, c.zipMuts);
        rec.run(zip.length, () => readDflModel(unzipDflModel(zip), { weightsOnly: c.weightsOnly }), () => 'zip-model-ok');
      } else rec.run(size, () => readDflModel(list, { weightsOnly: c.weightsOnly }), () => 'model-ok');
    }),
    fcParams(runs, seed),
  );
  return await rec.finish();
}

// ---- zip import ---------------------------------------------------------------------------------------------------

const ZIP_NAMES = [
  '00001_0.jpg', 'aligned/00002_0.jpg', '../../etc/evil.jpg', '/abs/x.jpg', 'C:\\faces\\y.jpg', '__proto__', '__proto__.jpg',
  'constructor', '._00003_0.jpg', '__MACOSX/._a.jpg', 'dir/', 'x.JPEG', 'README.txt', 'ü/ñ.jpg', '', '.jpg', 'a.zip', 'face.png',
];

interface ZipEntrySpec {
  name: string;
  content: { t: 'face'; i: number } | { t: 'mutated'; bytes: Uint8Array } | { t: 'noise'; bytes: Uint8Array } | { t: 'zeros'; kib: number };
  method: number;
  lieCompressed: number | null;
  lieExpanded: number | null;
  badCrc: boolean;
}

function zipFromSpecs(s: Seeds, specs: ZipEntrySpec[], deflate: (b: Uint8Array) => Uint8Array): Uint8Array {
  return craftZip(
    specs.map((e) => {
      const raw =
        e.content.t === 'face' ? s.faces[e.content.i % s.faces.length] : e.content.t === 'zeros' ? new Uint8Array(e.content.kib * 1024) : e.content.bytes;
      const data = e.method === 8 ? deflate(raw) : raw;
      return {
        name: e.name,
        data,
        method: e.method,
        crc: e.badCrc ? 0xdeadbeef : crc32(raw),
        compressedSize: e.lieCompressed ?? data.length,
        uncompressedSize: e.lieExpanded ?? raw.length,
      };
    }),
  );
}

async function zipSuite(s: Seeds, runs: number, seed: number): Promise<FuzzStats> {
  const { deflateSync } = await import('fflate');
  const compressible = compressibleZip(8); // 8 MiB of zeros in ~8 KiB: expands (within the cap), then is no JPEG
  const entryArb: fc.Arbitrary<ZipEntrySpec> = fc.record({
    name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ZIP_NAMES) }, fc.string({ maxLength: 16 }).map((x) => `${x}.jpg`)),
    content: fc.oneof(
      { weight: 3, arbitrary: fc.record({ t: fc.constant('face' as const), i: fc.nat() }) },
      { weight: 4, arbitrary: fc.record({ t: fc.constant('mutated' as const), bytes: mutatedArb(s.faces, 4) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('noise' as const), bytes: noiseArb([0xff, 0xd8, 0xff], 128) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('zeros' as const), kib: fc.integer({ min: 0, max: 512 }) }) },
    ),
    method: fc.oneof({ weight: 20, arbitrary: fc.constantFrom(0, 8) }, fc.constantFrom(1, 9, 12, 14, 99, 0xffff)),
    lieCompressed: sometimes(fc.constantFrom(0, 1, 0xfffffffe, 2 ** 32, 2 ** 40), 1 / 20),
    lieExpanded: sometimes(fc.constantFrom(0, 1, 100, 2 ** 20, 2 ** 30, 2 ** 31 - 1, 2 ** 31 + 1, 0xfffffffe, 2 ** 33, 2 ** 52), 1 / 12),
    badCrc: fc.boolean(),
  });
  const bombArb: fc.Arbitrary<Bomb> = fc.oneof(
    fc.record({
      t: fc.constant('declared' as const),
      size: fc.constantFrom(2 ** 26, 2 ** 30, 1.9 * 2 ** 30, 2 ** 31 + 1, 2 ** 32 - 2, 2 ** 40, 2 ** 53 - 1),
      method: fc.constantFrom(0 as const, 8 as const),
      name: fc.constantFrom('x.jpg', 'readme.txt'),
    }),
    fc.record({ t: fc.constant('manyEntries' as const), count: fc.constantFrom(2n ** 16n, 3_000_000n, 2n ** 32n - 2n, 2n ** 32n - 1n, 2n ** 40n, 2n ** 64n - 1n), name: fc.constantFrom('x.jpg', 'y.txt') }),
    fc.record({ t: fc.constant('manyClassic' as const), count: fc.constantFrom(2, 1000, 0xffff) }),
  );
  const arb = fc.oneof(
    { weight: 3, arbitrary: mutatedArb(s.zips) },
    { weight: 8, arbitrary: fc.array(entryArb, { minLength: 1, maxLength: 4 }).map((e) => zipFromSpecs(s, e, (b) => deflateSync(b, { level: 6 }))) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.array(entryArb, { minLength: 1, maxLength: 3 }), mutationsArb(3))
        .map(([e, m]) => applyMutations(zipFromSpecs(s, e, (b) => deflateSync(b, { level: 6 })), m)),
    },
    { weight: 2, arbitrary: bombArb.map(bombZip) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(compressible), sometimes(mutationsArb(2), 1 / 3)).map(([z, m]) => (m ? applyMutations(z, m) : z)) },
    { weight: 1, arbitrary: noiseArb([0x50, 0x4b, 0x03, 0x04], 256) },
  );
  // Two tallies: unzipping (expandInputs, 2 s per zip like the other parsers) and importing each expanded face
  // (prepareFace: parse, decode, thumbnail). A face may declare up to MAX_FACE_SIDE (4096²) and, even when its data is
  // damaged, MozJPEG decodes it grey-filled: about 1.7 s on the 2-core dev machine, so faces get 5 s each.
  const rec = new FuzzRecorder('zip', seed, { allocBudget: (n) => 64 * MiB + 1100 * n });
  const faceRec = new FuzzRecorder('zip → prepareFace', seed, { maxCaseMs: 5000, allocBudget: (n) => 256 * MiB + 32 * n, maxRetainedBytes: 96 * MiB });
  // MozJPEG reports recoverable damage on stderr ("Corrupt JPEG data: …"); the fuzz config drops those lines.
  await fc.assert(
    fc.asyncProperty(arb, async (bytes) => {
      let expanded: ReturnType<typeof expandInputs> | null = null;
      rec.run(
        bytes.length,
        () => (expanded = expandInputs([{ name: 'faces.zip', bytes }])),
        (r) => {
          for (const f of r.failed)
            if (/unexpected problem/.test(f.reason)) throw new FuzzFailure(`an unnamed error inside expandInputs: ${f.reason}`);
          if (!r.failed.length) return r.files.length ? 'expanded' : 'no-jpeg-entries';
          const why = r.failed[0].reason.replace(/^unreadable zip: /, '').replace(/ \(.*$/, '').replace(/"[\s\S]*"|\d+/g, '#');
          return `refused: ${why.split(' ').slice(0, 5).join(' ')}`;
        },
      );
      const r = expanded as ReturnType<typeof expandInputs> | null;
      if (!r || r.failed.length) return;
      for (const f of r.files.slice(0, 4))
        await faceRec.runAsync(f.bytes.length, () => prepareFace(f), () => 'face-imported');
    }),
    fcParams(runs, seed),
  );
  await faceRec.finish();
  return await rec.finish();
}

// ---- checkpoint ---------------------------------------------------------------------------------------------------

/** Recompute the trailing CRC, so a mutation reaches the header and tensor checks behind it. */
export function fixCrc(b: Uint8Array): Uint8Array {
  if (b.length < 4) return b;
  const out = b.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

/** A checkpoint file around any header value (its JSON) and data bytes, with a correct CRC. */
export function checkpointWith(header: unknown, data: Uint8Array, headerLenDelta = 0, rawHeader?: string): Uint8Array {
  const hb = new TextEncoder().encode(rawHeader ?? JSON.stringify(header) ?? 'null');
  const dataStart = (16 + hb.length + 7) & ~7;
  const out = new Uint8Array(dataStart + data.length + 4);
  out.set([...'SAEHDBWC'].map((c) => c.charCodeAt(0)));
  const v = new DataView(out.buffer);
  v.setUint32(8, 1, true);
  v.setUint32(12, (hb.length + headerLenDelta) >>> 0, true);
  out.set(hb, 16);
  out.set(data, dataStart);
  return fixCrc(out);
}

/** Mostly the right type (so the later checks are reached), sometimes any JSON value. */
const mostly = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: fc.jsonValue() });
const EXTREME_NUMBERS = [0, 1, -1, 8, -8, 0.5, 3.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 60, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER];
const extremeNumber = fc.oneof(fc.constantFrom(...EXTREME_NUMBERS), fc.integer({ min: 0, max: 64 }));
const tensorEntryArb = fc.oneof(
  {
    // Consistent entries (length = product of the shape, aligned offset) that may or may not fit the data.
    weight: 4,
    arbitrary: fc
      .record({ name: fc.string({ maxLength: 8 }), group: fc.constantFrom('w', 'o'), shape: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }), slot: fc.integer({ min: 0, max: 40 }) })
      .map(({ name, group, shape, slot }) => ({ name, group, shape, offset: slot * 8, length: shape.reduce((a, b) => a * b, 1) })),
  },
  {
    weight: 6,
    arbitrary: fc.record(
      {
        name: mostly(fc.oneof(fc.constantFrom('encoder/a:0', '__proto__', 'constructor', ''), fc.string({ maxLength: 8 }))),
        group: mostly(fc.constantFrom('w', 'o')),
        shape: mostly(fc.array(extremeNumber, { maxLength: 4 })),
        offset: mostly(fc.oneof(fc.constant(0), extremeNumber)),
        length: mostly(extremeNumber),
      },
      { requiredKeys: ['name', 'group', 'shape', 'offset', 'length'] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue() },
);

const headerArb = fc.record(
  {
    options: mostly(fc.constant({ archi: 'df-ud', resolution: 32 })),
    optionsSchemaVersion: mostly(fc.constant(1)),
    iter: mostly(extremeNumber),
    lossHistory: mostly(fc.array(fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ noNaN: true, noDefaultInfinity: true })), { maxLength: 4 })),
    extra: mostly(fc.constant({})),
    tensors: mostly(fc.array(tensorEntryArb, { maxLength: 6 })),
  },
  { requiredKeys: ['tensors'] },
);

/** Many header entries pointing at the same data (the file would be decoded into count × its size). */
const overlapArb = fc
  .record({ count: fc.integer({ min: 1, max: 400 }), floats: fc.integer({ min: 1, max: 4096 }) })
  .map(({ count, floats }) =>
    checkpointWith(
      { options: {}, optionsSchemaVersion: 1, iter: 1, lossHistory: [], extra: {}, tensors: Array.from({ length: count }, (_, i) => ({ name: `t${i}`, group: 'w', shape: [floats], offset: 0, length: floats })) },
      new Uint8Array(floats * 4),
    ),
  );

async function checkpointSuite(s: Seeds, runs: number, seed: number): Promise<FuzzStats> {
  const arb = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(mutatedArb(s.checkpoints), fc.boolean()).map(([b, fix]) => (fix ? fixCrc(b) : b)) },
    { weight: 2, arbitrary: truncatedArb(s.checkpoints).map(fixCrc) },
    { weight: 1, arbitrary: truncatedArb(s.checkpoints) },
    {
      weight: 5,
      arbitrary: fc
        .tuple(headerArb, fc.integer({ min: 0, max: 256 }), fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.integer({ min: -64, max: 64 }), fc.constant(0xffffffff)))
        .map(([h, n, delta]) => checkpointWith(h, new Uint8Array(n * 4), delta)),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ depth: fc.integer({ min: 1, max: 200_000 }), open: fc.constantFrom('[', '{"a":') })
        .map(({ depth, open }) => checkpointWith(null, new Uint8Array(8), 0, open.repeat(depth) + (open === '[' ? ']' : '}').repeat(depth))),
    },
    { weight: 1, arbitrary: overlapArb },
    { weight: 1, arbitrary: noiseArb([...'SAEHDBWC'].map((c) => c.charCodeAt(0)).concat([1, 0, 0, 0]), 128).map(fixCrc) },
  );
  const rec = new FuzzRecorder('checkpoint', seed, { allocBudget: (n) => 64 * MiB + 16 * n });
  fc.assert(
    fc.property(arb, (bytes) => {
      rec.run(bytes.length, () => decodeCheckpoint(bytes), (c) => {
        let total = 0;
        for (const t of [...c.weights.values(), ...c.optimizer.values()]) total += t.data.byteLength;
        if (total > bytes.length) throw new FuzzFailure(`decoded ${total} tensor bytes from a ${bytes.length}-byte file`);
        return 'ok';
      });
    }),
    fcParams(runs, seed),
  );
  return await rec.finish();
}

/**
 * Hostile and broken input, in the normal test run: a few hundred generated and mutated cases per parser (the
 * dedicated `npm run fuzz` runs 10 000 each; see tests/fuzz/suites.ts), and regression cases for what the fuzzers
 * found. Every case must end in a result or a named error (a SaehdError), quickly, without allocating without bound.
 */
import { describe, expect, it } from 'vitest';
import { CheckpointFormatError, decodeCheckpoint, encodeCheckpoint } from '../../src/core/checkpoint/checkpointFile.ts';
import { ForbiddenPickleGlobalError, NotAnImageError, PickleError } from '../../src/core/errors.ts';
import { expandInputs, prepareFace } from '../../src/core/faceset/importFaces.ts';
import { unzipDflModel, zipDflModel } from '../../src/core/formats/dflModel.ts';
import { parsePickle } from '../../src/core/formats/pickle.ts';
import { ZipError } from '../../src/core/formats/safeUnzip.ts';
import { fullGc, fuzzRuns } from '../fuzz/harness.ts';
import { hostilePickle } from '../fuzz/pickleGen.ts';
import { TINY, compressibleZip, tinyModelFolder } from '../fuzz/seeds.ts';
import { checkpointWith, fuzzSuite } from '../fuzz/suites.ts';
import { bombZip, craftZip, deflatedZeros, overlappingZip } from '../fuzz/zipCraft.ts';

const MiB = 1024 * 1024;

/** Array-buffer bytes allocated (and still reachable or not yet collected) while `fn` runs. */
function allocatedBy<T>(fn: () => T): { result: T; bytes: number } {
  fullGc();
  const before = process.memoryUsage().arrayBuffers;
  const result = fn();
  return { result, bytes: process.memoryUsage().arrayBuffers - before };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('fuzz: a few hundred cases per parser (npm run fuzz runs 10 000)', () => {
  fuzzSuite('dfljpg', fuzzRuns(300), 60_000);
  fuzzSuite('pickle', fuzzRuns(200), 60_000);
  fuzzSuite('dflModel', fuzzRuns(150), 60_000);
  fuzzSuite('zip', fuzzRuns(100), 60_000);
  fuzzSuite('checkpoint', fuzzRuns(300), 60_000);
});

describe('zip bombs and lying zips (regressions)', () => {
  it('a 100-byte zip declaring a 1.9 GiB entry is refused before fflate allocates it', () => {
    for (const size of [1.9 * 2 ** 30, 2 ** 31 + 1, 2 ** 40]) {
      const zip = bombZip({ t: 'declared', size, method: 8, name: 'x.jpg' });
      expect(zip.length).toBeLessThan(200);
      const { result, bytes } = allocatedBy(() => expandInputs([{ name: 'bomb.zip', bytes: zip }]));
      expect(result.files).toEqual([]);
      expect(result.failed).toEqual([{ name: 'bomb.zip', reason: expect.stringMatching(/^unreadable zip: (entry "x.jpg" claims to expand|its entries claim more data)/) }]);
      expect(bytes).toBeLessThan(16 * MiB);
    }
    // The model importer reads zips the same way.
    const model = craftZip([{ name: 'm_SAEHDBW_data.dat', data: deflatedZeros(1024), method: 8, uncompressedSize: 2 ** 30 }]);
    expect(thrown(() => unzipDflModel(model))).toBeInstanceOf(ZipError);
  });

  it('a zip64 end record declaring billions of entries is refused at once (it used to loop over all of them)', () => {
    for (const count of [3_000_000n, 2n ** 32n - 2n]) {
      const zip = bombZip({ t: 'manyEntries', count, name: 'readme.txt' });
      const t = performance.now();
      const r = expandInputs([{ name: 'many.zip', bytes: zip }]);
      expect(performance.now() - t).toBeLessThan(1000);
      expect(r.failed[0].reason).toMatch(/lists more entries than its \d+ bytes can hold/);
      expect(r.skipped.length).toBeLessThan(10);
      expect(thrown(() => unzipDflModel(zip))).toBeInstanceOf(ZipError);
    }
  });

  it('overlapping entries (one deflated 1 MiB entry listed 1000 times) are refused before expanding any', () => {
    const zip = overlappingZip(1000, MiB);
    expect(zip.length).toBeLessThan(128 * 1024);
    const { result, bytes } = allocatedBy(() => expandInputs([{ name: 'overlap.zip', bytes: zip }]));
    expect(result.failed[0].reason).toMatch(/entries claim more data than the file holds/);
    expect(result.files).toEqual([]);
    expect(bytes).toBeLessThan(16 * MiB);
  });

  it('a real highly-compressible entry expands within deflate’s ratio and the cap, then is refused as no JPEG', async () => {
    const zip = compressibleZip(32); // 32 MiB of zeros in ~32 KiB
    expect(zip.length).toBeLessThan(64 * 1024);
    const r = expandInputs([{ name: 'zeros.zip', bytes: zip }]);
    expect(r.failed).toEqual([]);
    expect(r.files.map((f) => f.bytes.length)).toEqual([32 * MiB]);
    await expect(prepareFace(r.files[0])).rejects.toBeInstanceOf(NotAnImageError);
  });

  it('damaged zips end in a named ZipError (fflate threw plain Errors / RangeErrors)', () => {
    const model = zipDflModel(tinyModelFolder('m'), 'model');
    const cut = model.slice(0, model.length - 30);
    const junk = Uint8Array.from([0x50, 0x4b, 0x05, 0x06, 1, 2, 3]);
    for (const z of [cut, junk]) {
      expect(thrown(() => unzipDflModel(z))).toBeInstanceOf(ZipError);
      const r = expandInputs([{ name: 'd.zip', bytes: z }]);
      expect(r.failed[0].reason).toMatch(/^unreadable zip: damaged or unsupported zip/);
    }
    // An unsupported compression method (bzip2, 12) of an entry that is expanded.
    const bz = craftZip([{ name: 'm_SAEHDBW_data.dat', data: new Uint8Array(16), method: 12, uncompressedSize: 16 }]);
    expect(thrown(() => unzipDflModel(bz))).toBeInstanceOf(ZipError);
    expect(expandInputs([{ name: 'bz.zip', bytes: craftZip([{ name: 'a.jpg', data: new Uint8Array(16), method: 12 }]) }]).failed[0].reason).toMatch(
      /^unreadable zip: damaged or unsupported zip \(unknown compression type 12\)/,
    );
  });
});

describe('checkpoint headers (regressions)', () => {
  const base = { options: { ...TINY }, optionsSchemaVersion: 1, iter: 3, lossHistory: [[1, 2]], extra: {} };
  const data = new Uint8Array(64);

  it('malformed tensor entries and fields end in CheckpointFormatError, not TypeError / RangeError', () => {
    const cases: unknown[] = [
      { ...base, tensors: [null] },
      { ...base, tensors: [5] },
      { ...base, tensors: [{ name: 'a', group: 'w', shape: 'ab', offset: 0, length: 2 }] },
      { ...base, tensors: [{ name: 'a', group: 'w', shape: [-1], offset: 0, length: -1 }] },
      { ...base, tensors: [{ name: 'a', group: 'w', shape: [2], offset: '0', length: 2 }] },
      { ...base, tensors: [{ name: 'a', group: 'w', shape: [2], offset: -8, length: 2 }] },
      { ...base, tensors: [{ name: 'a', group: 'x', shape: [2], offset: 0, length: 2 }] },
      { ...base, tensors: [{ name: 7, group: 'w', shape: [2], offset: 0, length: 2 }] },
      { ...base, tensors: [{ name: 'a', group: 'w', shape: [0.5, 2], offset: 0, length: 1 }] },
      { ...base, lossHistory: [[1]], tensors: [] },
      { ...base, lossHistory: [5], tensors: [] },
      { ...base, options: null, tensors: [] },
      { ...base, extra: 5, tensors: [] },
      { ...base, iter: -1, tensors: [] },
    ];
    for (const h of cases) expect(thrown(() => decodeCheckpoint(checkpointWith(h, data))), JSON.stringify(h)).toBeInstanceOf(CheckpointFormatError);
    expect(thrown(() => decodeCheckpoint(checkpointWith(null, data, 0, '{"iter":1e400,"tensors":[]}')))).toBeInstanceOf(CheckpointFormatError);
  });

  it('header entries pointing at the same data cannot multiply the file (300 × 1 MiB from a 1 MiB file)', () => {
    const n = MiB / 4;
    const tensors = Array.from({ length: 300 }, (_, i) => ({ name: `t${i}`, group: 'w', shape: [n], offset: 0, length: n }));
    const file = checkpointWith({ ...base, tensors }, new Uint8Array(MiB));
    const { result, bytes } = allocatedBy(() => thrown(() => decodeCheckpoint(file)));
    expect(result).toBeInstanceOf(CheckpointFormatError);
    expect((result as Error).message).toMatch(/lies outside the file/);
    expect(bytes).toBeLessThan(8 * MiB);
  });

  it('a well-formed checkpoint still round-trips', () => {
    const content = {
      ...base,
      lossHistory: [[1, 2]] as [number, number][],
      weights: new Map([['e/a:0', { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }], ['e/z:0', { shape: [0], data: new Float32Array(0) }]]),
      optimizer: new Map([['ms_e/a:0', { shape: [3], data: Float32Array.of(5, 6, 7) }]]),
    };
    const back = decodeCheckpoint(encodeCheckpoint(content));
    expect(back.weights).toEqual(content.weights);
    expect(back.optimizer).toEqual(content.optimizer);
    expect(back.lossHistory).toEqual([[1, 2]]);
  });
});

describe('hostile pickles stay refused (the generator’s templates)', () => {
  it('names of other globals (os.system, eval, subprocess) are refused in every form, before any call', () => {
    for (const g of [9, 12, 14, 17])
      for (const form of ['GLOBAL', 'STACK_GLOBAL', 'INST'] as const)
        expect(thrown(() => parsePickle(hostilePickle({ t: 'global', g, form, call: true })))).toBeInstanceOf(ForbiddenPickleGlobalError);
  });

  it('deep nesting, self-reference and memo amplification end in PickleError within the limits', () => {
    for (const h of [{ t: 'deepList', n: 150_000 }, { t: 'deepMarks', n: 150_000 }, { t: 'deepDict', n: 50_000 }, { t: 'selfList' }] as const)
      expect(thrown(() => parsePickle(hostilePickle(h)))).toBeInstanceOf(PickleError);
    // 20 000 arrays over one memoized 64 KiB buffer would be 1.3 GB; the APP15 limit (4 MiB) stops it.
    const { result, bytes } = allocatedBy(() =>
      thrown(() => parsePickle(hostilePickle({ t: 'memoArrays', n: 20_000, size: 65_536 }), { maxArrayBytes: 4 * MiB })),
    );
    expect(result).toBeInstanceOf(PickleError);
    expect(bytes).toBeLessThan(32 * MiB);
  });
});

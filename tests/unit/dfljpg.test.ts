import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import {
  ForbiddenPickleGlobalError,
  InvalidMetadataError,
  MetadataTooLargeError,
  NoDflMetadataError,
  NotAnImageError,
  TruncatedJpegError,
} from '../../src/core/errors.ts';
import {
  type DflMetadata,
  landmarksToPy,
  matToPy,
  metadataFromDict,
  readDflJpg,
  readDflPayload,
  writeDflJpg,
} from '../../src/core/formats/dfljpg.ts';
import { readJpegFrameInfo, readJpegSegments } from '../../src/core/formats/jpegSegments.ts';
import { parsePickle } from '../../src/core/formats/pickle.ts';
import { writePickle } from '../../src/core/formats/pickleWriter.ts';
import { type NdArray, type PyDict, type PyValue, PyBytes, PyFloat, PyTuple, ndarray } from '../../src/core/formats/pyValue.ts';
import { decodeJpeg, encodeJpeg } from '../../src/core/image/jpegCodec.ts';
import { hasSharedData, realAlignedFiles } from './sharedData.ts';

// ---- fixtures built in the test (the project commits no image data) ---------------------------------------------

let plainJpeg: Uint8Array; // MozJPEG output: SOI APP0(JFIF) DQT SOF0 DHT SOS … EOI
let grayJpeg: Uint8Array;

beforeAll(async () => {
  await initNodeJpegCodec();
  const w = 48;
  const h = 40;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37 + ((i / 3) | 0) * 11) & 255;
  plainJpeg = await encodeJpeg({ width: w, height: h, channels: 3, data: rgb }, 90);
  grayJpeg = await encodeJpeg({ width: 16, height: 8, channels: 1, data: new Uint8Array(128).map((_, i) => i * 2) }, 90);
});

/** 68 deterministic landmark points, row-major. */
function landmarks(seed = 1): Float64Array {
  const l = new Float64Array(136);
  for (let i = 0; i < 68; i++) {
    l[2 * i] = 20 + ((i * 7 + seed * 3) % 60) + 0.25 * (i % 4);
    l[2 * i + 1] = 30 + ((i * 13 + seed) % 50) + 0.5;
  }
  return l;
}
const pairs = (l: Float64Array): PyValue[] => Array.from({ length: l.length / 2 }, (_, i) => [l[2 * i], l[2 * i + 1]]);

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** What DFL's extractor + XSeg editor write (spec G.2), with every Python type that matters. */
function extractorDict(): PyDict {
  const l = landmarks();
  return new Map<string, PyValue>([
    ['face_type', 'whole_face'],
    ['landmarks', pairs(l)],
    ['source_filename', '00042.jpg'],
    ['source_rect', ndarray('i8', [4], new BigInt64Array([10n, 20n, 130n, 152n]))],
    ['source_landmarks', pairs(l.map((x) => x * 2 + 0.125))],
    ['image_to_face_mat', matToPy(new Float64Array([0.5, 0, -0.0625, 0, 0.5, -0.0625]))],
    [
      'seg_ie_polys',
      new Map([['polys', [new Map<string, PyValue>([['type', 1], ['pts', ndarray('f4', [3, 2], new Float32Array([1, 2, 30, 4, 5, 40]))]])]]]),
    ],
    ['xseg_mask', ndarray('u1', [12, 1], new Uint8Array([...PNG_SIG, 0, 0, 0, 13]))],
    ['eyebrows_expand_mod', new PyFloat(1)],
  ]);
}

/** The file without its APP15 segments (what must stay byte-identical when only metadata changes). */
function withoutApp15(bytes: Uint8Array): Uint8Array {
  const keep: number[] = [];
  let pos = 0;
  for (const s of readJpegSegments(bytes)) {
    if (s.marker !== 0xef) continue;
    for (let i = pos; i < s.start; i++) keep.push(bytes[i]);
    pos = s.end;
  }
  for (let i = pos; i < bytes.length; i++) keep.push(bytes[i]);
  return new Uint8Array(keep);
}

/** Insert a raw APP15 with `payload` after SOI (to test what the reader does with odd payloads). */
function withRawApp15(jpeg: Uint8Array, payload: Uint8Array): Uint8Array {
  const seg = new Uint8Array([0xff, 0xef, (payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload]);
  return new Uint8Array([...jpeg.subarray(0, 2), ...seg, ...jpeg.subarray(2)]);
}

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const markers = (b: Uint8Array) => readJpegSegments(b).map((s) => s.marker);

// ---- JPEG segments -------------------------------------------------------------------------------------------------

describe('JPEG segments', () => {
  it('walks an encoder-made JPEG and reads its frame header', () => {
    expect(markers(plainJpeg)).toEqual([0xd8, 0xe0, 0xdb, 0xc0, 0xc4, 0xda, 0xd9]);
    const segs = readJpegSegments(plainJpeg);
    expect(segs[0].start).toBe(0);
    expect(segs.at(-1)!.end).toBe(plainJpeg.length);
    for (let i = 1; i < segs.length; i++) expect(segs[i].start).toBe(segs[i - 1].end);
    expect(readJpegFrameInfo(plainJpeg)).toEqual({ width: 48, height: 40, channels: 3, progressive: false });
    expect(readJpegFrameInfo(grayJpeg)).toEqual({ width: 16, height: 8, channels: 1, progressive: false });
  });

  it('skips stuffed bytes and restart markers inside scan data, and reads progressive frames', () => {
    const sof2 = [0xff, 0xc2, 0, 11, 8, 0, 5, 0, 7, 1, 1, 0x11, 0];
    const sos = [0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0];
    const ecs = [0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xff, 0xd1, 0x78];
    const dri = [0xff, 0xdd, 0, 4, 0, 8];
    const b = new Uint8Array([0xff, 0xd8, ...dri, ...sof2, ...sos, ...ecs, ...sos, 0x9a, 0xff, 0xd9]);
    const segs = readJpegSegments(b);
    expect(segs.map((s) => s.marker)).toEqual([0xd8, 0xdd, 0xc2, 0xda, 0xda, 0xd9]);
    expect(segs[3].end - segs[3].dataEnd).toBe(ecs.length);
    expect(readJpegFrameInfo(b)).toEqual({ width: 7, height: 5, channels: 1, progressive: true });
  });

  it('names non-JPEG input NotAnImageError', () => {
    for (const b of [new Uint8Array(0), new Uint8Array([0xff]), new Uint8Array(PNG_SIG), new TextEncoder().encode('hello')])
      expect(() => readJpegSegments(b)).toThrow(NotAnImageError);
    expect(() => readDflJpg(new Uint8Array(PNG_SIG))).toThrow(NotAnImageError);
    // SOI and EOI but no frame header.
    expect(() => readJpegFrameInfo(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))).toThrow(NotAnImageError);
  });

  it('names every truncation TruncatedJpegError', () => {
    const dfl = writeDflJpg(plainJpeg, extractorDict());
    for (let n = 2; n < dfl.length; n++) {
      const cut = dfl.subarray(0, n);
      expect(() => readJpegSegments(cut), `cut at ${n}`).toThrow(TruncatedJpegError);
      // The metadata reader gives the same error, or NoDflMetadataError when the cut comes before APP15.
      try {
        readDflJpg(cut);
        expect.unreachable();
      } catch (e) {
        expect(e instanceof TruncatedJpegError || (n < 22 && e instanceof NoDflMetadataError), `cut at ${n}: ${String(e)}`).toBe(true);
      }
    }
  });

  it('names damaged marker structure TruncatedJpegError', () => {
    const b = plainJpeg.slice();
    b[20] = 0x00; // where DQT's marker should start
    expect(() => readJpegSegments(b)).toThrow(TruncatedJpegError);
    const badLen = plainJpeg.slice();
    badLen[4] = 0;
    badLen[5] = 1; // APP0 length below 2
    expect(() => readJpegSegments(badLen)).toThrow(TruncatedJpegError);
  });
});

// ---- reading and writing DFLJPG ------------------------------------------------------------------------------------

describe('DFLJPG read/write', () => {
  it('puts APP15 right after APP0 and keeps every other byte', () => {
    const out = writeDflJpg(plainJpeg, extractorDict());
    expect(markers(out)).toEqual([0xd8, 0xe0, 0xef, 0xdb, 0xc0, 0xc4, 0xda, 0xd9]);
    expect(eq(withoutApp15(out), plainJpeg)).toBe(true);
  });

  it('round-trips the dict with its Python types and key order', () => {
    const d = extractorDict();
    const back = readDflJpg(writeDflJpg(plainJpeg, d));
    expect([...back.dict.keys()]).toEqual([...d.keys()]);
    expect(back.dict).toEqual(d);
    expect(back.dict.get('eyebrows_expand_mod')).toBeInstanceOf(PyFloat);
    expect((back.dict.get('source_rect') as NdArray).data).toBeInstanceOf(BigInt64Array);
    expect((back.dict.get('seg_ie_polys') as PyDict).get('polys')).toBeInstanceOf(Array);
    expect(back.frame).toEqual({ width: 48, height: 40, channels: 3, progressive: false });
    // Re-pickling what was read gives the stored payload again.
    expect(eq(writePickle(back.dict), readDflPayload(writeDflJpg(plainJpeg, d))!)).toBe(true);
  });

  it('reads the typed view', () => {
    const m = readDflJpg(writeDflJpg(plainJpeg, extractorDict())).meta;
    const l = landmarks();
    expect(m.face_type).toBe('whole_face');
    expect(m.landmarks).toEqual(l);
    expect(m.source_landmarks).toEqual(l.map((x) => x * 2 + 0.125));
    expect(m.source_filename).toBe('00042.jpg');
    expect(m.source_rect).toEqual([10, 20, 130, 152]);
    expect(typeof m.source_rect![0]).toBe('number');
    expect(m.image_to_face_mat).toEqual(new Float64Array([0.5, 0, -0.0625, 0, 0.5, -0.0625]));
    expect(Array.from(m.xseg_mask!.subarray(0, 8))).toEqual(PNG_SIG);
    expect(m.seg_ie_polys).toEqual([{ type: 1, pts: new Float64Array([1, 2, 30, 4, 5, 40]) }]);
    expect(m.eyebrows_expand_mod).toBe(1);
    expect(m.keys).toEqual([...extractorDict().keys()]);
  });

  it('keeps the pixels identical when the metadata changes', async () => {
    const first = writeDflJpg(plainJpeg, extractorDict());
    const d2 = extractorDict();
    d2.set('landmarks', landmarksToPy(landmarks(2)));
    d2.set('source_filename', 'other.jpg');
    const second = writeDflJpg(first, d2);
    expect(markers(second).filter((m) => m === 0xef)).toHaveLength(1);
    expect(eq(withoutApp15(second), plainJpeg)).toBe(true);
    const sos = (b: Uint8Array) => readJpegSegments(b).find((s) => s.marker === 0xda)!;
    const a = sos(plainJpeg);
    const c = sos(second);
    expect(eq(plainJpeg.subarray(a.start, a.end), second.subarray(c.start, c.end))).toBe(true);
    expect(readDflJpg(second).dict).toEqual(d2);
    const [p0, p2] = await Promise.all([decodeJpeg(plainJpeg), decodeJpeg(second)]);
    expect(eq(p0.data, p2.data)).toBe(true);
  });

  it('inserts after SOI when there is no APPn, and after the last APPn otherwise', () => {
    const noApp = new Uint8Array([...plainJpeg.subarray(0, 2), ...plainJpeg.subarray(20)]);
    expect(markers(noApp)[1]).toBe(0xdb);
    const out = writeDflJpg(noApp, extractorDict());
    expect(markers(out).slice(0, 3)).toEqual([0xd8, 0xef, 0xdb]);
    expect(eq(withoutApp15(out), noApp)).toBe(true);
    const app1 = [0xff, 0xe1, 0, 6, 0x45, 0x78, 0x69, 0x66];
    const twoApps = new Uint8Array([...plainJpeg.subarray(0, 20), ...app1, ...plainJpeg.subarray(20)]);
    expect(markers(writeDflJpg(twoApps, extractorDict())).slice(0, 4)).toEqual([0xd8, 0xe0, 0xe1, 0xef]);
  });

  it('writes protocol 4 on request and drops None values as DFL does', () => {
    const d = extractorDict();
    const p4 = writeDflJpg(plainJpeg, d, 4);
    expect(Array.from(readDflPayload(p4)!.subarray(0, 3))).toEqual([0x80, 4, 0x95]);
    expect(readDflJpg(p4).dict).toEqual(d);
    const withNone = extractorDict().set('xseg_mask', null).set('relighted', null);
    const back = readDflJpg(writeDflJpg(plainJpeg, withNone));
    expect(back.dict.has('xseg_mask')).toBe(false);
    expect(back.dict.has('relighted')).toBe(false);
    expect(back.meta.xseg_mask).toBeNull();
  });

  it('refuses metadata over the APP15 size limit', () => {
    const d = extractorDict().set('xseg_mask', new PyBytes(new Uint8Array(70000)));
    expect(() => writeDflJpg(plainJpeg, d)).toThrow(MetadataTooLargeError);
  });

  it('names files without metadata, with a foreign APP15, or with a hostile pickle', () => {
    expect(() => readDflJpg(plainJpeg)).toThrow(NoDflMetadataError);
    expect(() => readDflJpg(withRawApp15(plainJpeg, new TextEncoder().encode('Ducky\0\0')))).toThrow(NoDflMetadataError);
    const evil = new Uint8Array([0x80, 3, ...new TextEncoder().encode('cos\nsystem\n'), 0x29, 0x52, 0x2e]);
    expect(() => readDflJpg(withRawApp15(plainJpeg, evil))).toThrow(ForbiddenPickleGlobalError);
    expect(() => readDflJpg(withRawApp15(plainJpeg, writePickle([1, 2])))).toThrow(InvalidMetadataError);
  });
});

// ---- the typed view: layouts and validation ------------------------------------------------------------------------

describe('metadataFromDict', () => {
  it('gives the same landmarks for list, tuple, float64, float32 and Fortran-order arrays', () => {
    const l = landmarks(); // multiples of 0.25: exact in float32
    const fortran = new Float64Array(136);
    for (let i = 0; i < 68; i++) {
      fortran[i] = l[2 * i];
      fortran[68 + i] = l[2 * i + 1];
    }
    const forms: PyValue[] = [
      pairs(l),
      new PyTuple(pairs(l).map((p) => new PyTuple(p as PyValue[]))),
      pairs(l).map((p) => (p as number[]).map((x) => (Number.isInteger(x) ? new PyFloat(x) : x))),
      landmarksToPy(l),
      ndarray('f4', [68, 2], Float32Array.from(l)),
      { ...ndarray('f8', [68, 2], fortran), fortran: true },
    ];
    for (const form of forms) {
      const m = metadataFromDict(new Map([['landmarks', form]]));
      expect(m.landmarks).toBeInstanceOf(Float64Array);
      expect(m.landmarks).toEqual(l);
    }
  });

  it('reads the 2019 layout (full_face, ie_polys, fanseg_mask, pitch_yaw_roll)', () => {
    const l = landmarks(3);
    const d: PyDict = new Map<string, PyValue>([
      ['face_type', 'full_face'],
      ['landmarks', pairs(l)],
      ['ie_polys', [new PyTuple([1, [[1.5, 2], [3, 4.5], [5, 6]]]), new PyTuple([0, [[7, 8], [9, 10.5], [11, 12]]])]],
      ['source_filename', '00001.png'],
      ['source_rect', ndarray('i4', [4], new Int32Array([5, 6, 70, 80]))],
      ['source_landmarks', pairs(l)],
      ['image_to_face_mat', matToPy(new Float64Array([1, 0, 0, 0, 1, 0]))],
      ['fanseg_mask', ndarray('u1', [6], new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0]))],
      ['pitch_yaw_roll', new PyTuple([0.1, -0.2, new PyFloat(0)])],
    ]);
    const m = metadataFromDict(d);
    expect(m.face_type).toBe('full_face');
    expect(m.seg_ie_polys).toEqual([
      { type: 1, pts: new Float64Array([1.5, 2, 3, 4.5, 5, 6]) },
      { type: 0, pts: new Float64Array([7, 8, 9, 10.5, 11, 12]) },
    ]);
    expect(m.source_rect).toEqual([5, 6, 70, 80]);
    expect(m.xseg_mask).toBeNull();
    expect(m.eyebrows_expand_mod).toBeNull();
    expect(m.keys).toContain('fanseg_mask');
    // It survives a write/read cycle unchanged.
    expect(readDflJpg(writeDflJpg(plainJpeg, d)).dict).toEqual(d);
  });

  it("defaults face_type to 'full_face' and leaves absent keys null", () => {
    const m: DflMetadata = metadataFromDict(new Map());
    expect(m).toEqual({
      face_type: 'full_face',
      landmarks: null,
      source_filename: null,
      source_rect: null,
      source_landmarks: null,
      image_to_face_mat: null,
      xseg_mask: null,
      seg_ie_polys: null,
      eyebrows_expand_mod: null,
      keys: [],
    });
    expect(metadataFromDict(new Map([['seg_ie_polys', new Map([['polys', []]])]])).seg_ie_polys).toEqual([]);
  });

  it('refuses wrongly typed or shaped keys with InvalidMetadataError', () => {
    const l = landmarks();
    const bad: [string, PyValue][] = [
      ['face_type', 3],
      ['landmarks', pairs(l).slice(1)],
      ['landmarks', ndarray('f8', [68, 3], new Float64Array(204))],
      ['landmarks', [...pairs(l).slice(1), ['a', 'b']]],
      ['landmarks', ndarray('f8', [68, 2], new Float64Array(136).fill(NaN))],
      ['source_filename', new PyBytes(new Uint8Array(3))],
      ['source_rect', ndarray('i8', [3], new BigInt64Array(3))],
      ['image_to_face_mat', ndarray('f8', [3, 3], new Float64Array(9))],
      ['xseg_mask', ndarray('f4', [4, 1], new Float32Array(4))],
      ['seg_ie_polys', new Map([['polys', [new Map([['type', 'x']])]]])],
      ['seg_ie_polys', 'nope'],
      ['eyebrows_expand_mod', 'wide'],
    ];
    for (const [k, v] of bad) expect(() => metadataFromDict(new Map([[k, v]])), k).toThrow(InvalidMetadataError);
    expect(() => writeDflJpg(plainJpeg, new Map([['landmarks', 5]]))).toThrow(InvalidMetadataError);
    expect(() => landmarksToPy(new Float64Array(3))).toThrow(InvalidMetadataError);
    expect(() => matToPy(new Float64Array(4))).toThrow(InvalidMetadataError);
  });

  it('builds the arrays DFL’s resizer writes', () => {
    const a = landmarksToPy(landmarks());
    expect([a.dtype, a.shape]).toEqual(['f8', [68, 2]]);
    const m = matToPy(new Float64Array(6));
    expect([m.dtype, m.shape]).toEqual(['f8', [2, 3]]);
  });
});

// ---- real DeepFaceLab files ------------------------------------------------------------------------------------------

describe.skipIf(!hasSharedData)(`real DFL files${hasSharedData ? '' : ' (skipped: ../shared/data absent)'}`, () => {
  const files = realAlignedFiles();
  const isGenerated = (f: string) => /[\\/]facesets[\\/]/.test(f);
  const isOfurman = (f: string) => /dfl_ofurman_sample/.test(f);

  it('finds the aligned files', () => {
    expect(files.length).toBeGreaterThanOrEqual(356);
    expect(files.filter(isOfurman).length).toBe(6);
  });

  it('reads every file: face type, 68 landmarks, frame size, source frame name', () => {
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(f));
      const { frame, meta, dict } = readDflJpg(bytes);
      expect(frame, f).toEqual({ width: 256, height: 256, channels: 3, progressive: false });
      expect(readJpegFrameInfo(bytes)).toEqual(frame);
      expect(meta.face_type, f).toBe('whole_face');
      expect(meta.landmarks).toHaveLength(136);
      expect(meta.source_landmarks).toHaveLength(136);
      expect(meta.image_to_face_mat).toHaveLength(6);
      // DFL names aligned faces <frame stem>_<face index>.jpg.
      expect(meta.source_filename, f).toBe(basename(f).replace(/_\d+\.jpg$/i, '.jpg'));
      const frameDir = isGenerated(f) ? join(dirname(dirname(f)), 'frames') : dirname(dirname(f));
      expect(existsSync(join(frameDir, meta.source_filename!)), f).toBe(true);
      expect(meta.source_rect!.every((x) => typeof x === 'number' && Number.isInteger(x))).toBe(true);
      const rect = dict.get('source_rect') as NdArray;
      expect(rect.dtype).toBe('i8');
      expect(meta.keys.slice(0, 6)).toEqual(['face_type', 'landmarks', 'source_filename', 'source_rect', 'source_landmarks', 'image_to_face_mat']);
    }
  });

  it('image_to_face_mat maps source_landmarks onto landmarks', () => {
    let worst = 0;
    for (const f of files) {
      const { meta } = readDflJpg(new Uint8Array(readFileSync(f)));
      const m = meta.image_to_face_mat!;
      const s = meta.source_landmarks!;
      const l = meta.landmarks!;
      for (let i = 0; i < 68; i++) {
        const x = m[0] * s[2 * i] + m[1] * s[2 * i + 1] + m[2];
        const y = m[3] * s[2 * i] + m[4] * s[2 * i + 1] + m[5];
        worst = Math.max(worst, Math.abs(x - l[2 * i]), Math.abs(y - l[2 * i + 1]));
      }
    }
    // Measured: about 8e-6 px on the generated sets (float32 landmarks), 0 on the ofurman files.
    expect(worst).toBeLessThan(1e-3);
  });

  it('reads the XSeg mask and polygons of the ofurman files', () => {
    for (const f of files.filter(isOfurman)) {
      const { meta } = readDflJpg(new Uint8Array(readFileSync(f)));
      expect(Array.from(meta.xseg_mask!.subarray(0, 8))).toEqual(PNG_SIG);
      expect(meta.seg_ie_polys!.length).toBeGreaterThan(0);
      for (const p of meta.seg_ie_polys!) {
        expect([0, 1]).toContain(p.type);
        expect(p.pts.length % 2).toBe(0);
        expect(p.pts.length).toBeGreaterThanOrEqual(6);
        expect(p.pts.every((v) => v >= -256 && v <= 512)).toBe(true);
      }
    }
    for (const f of files.filter(isGenerated)) expect(readDflJpg(new Uint8Array(readFileSync(f))).meta.xseg_mask).toBeNull();
  });

  it('re-pickles every APP15 payload byte for byte, and rewrites every file byte for byte', () => {
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(f));
      const payload = readDflPayload(bytes)!;
      expect(payload[1], f).toBe(3); // protocol 3, as the README says
      const dict = parsePickle(payload) as PyDict;
      expect(eq(writePickle(dict, 3), payload), f).toBe(true);
      expect(eq(writeDflJpg(bytes, dict), bytes), f).toBe(true);
      // Protocol 4 is a different byte stream with the same content.
      expect(parsePickle(writePickle(dict, 4))).toEqual(dict);
    }
  });

  it('reads list landmarks and ndarray landmarks alike on real data', () => {
    for (const f of files.filter((_, i) => i % 25 === 0)) {
      const { dict, meta } = readDflJpg(new Uint8Array(readFileSync(f)));
      expect(Array.isArray(dict.get('landmarks'))).toBe(true);
      const resized = new Map(dict).set('landmarks', landmarksToPy(meta.landmarks!)).set('source_landmarks', landmarksToPy(meta.source_landmarks!));
      const back = readDflJpg(writeDflJpg(new Uint8Array(readFileSync(f)), resized));
      expect(back.meta.landmarks).toEqual(meta.landmarks);
      expect(back.meta.source_landmarks).toEqual(meta.source_landmarks);
      expect(back.dict).toEqual(resized);
    }
  });
});

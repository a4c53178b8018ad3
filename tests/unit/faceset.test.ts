import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { strToU8, zipSync } from 'fflate';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { convertFace } from '../../src/core/faceset/convert.ts';
import { expandInputs, importFaces, prepareFace } from '../../src/core/faceset/importFaces.ts';
import { FacesetStore } from '../../src/core/faceset/store.ts';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { decodeJpeg } from '../../src/core/image/jpegCodec.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { hasSharedData, realAlignedFiles, sharedDataDir } from './sharedData.ts';

let dbCount = 0;
const freshStore = () => new FacesetStore(`test-${++dbCount}`, 'facesets');

beforeAll(async () => {
  await initNodeJpegCodec();
});

describe('faceset store', () => {
  it('stores faces with their index in one step and lists them after reopening', async () => {
    const store = freshStore();
    const fs = await store.forRole('src');
    const faces = await makeDflFaces(3, { size: 64 });
    const prepared = await Promise.all(faces.map((f) => prepareFace(f)));
    await store.addFaces(fs.id, prepared);
    const reopened = new FacesetStore(`test-${dbCount}`, 'facesets');
    const info = await reopened.forRole('src');
    expect(info.id).toBe(fs.id);
    expect(info.faces.map((f) => f.name)).toEqual(['00001_0.jpg', '00002_0.jpg', '00003_0.jpg']);
    const rec = await reopened.face(fs.id, '00002_0.jpg');
    expect(rec.bytes).toEqual(faces[1].bytes);
    expect(rec.meta.landmarks).toHaveLength(136);
    const thumbs = await reopened.thumbs(fs.id, ['00001_0.jpg']);
    expect(thumbs[0]![0]).toBe(0xff);
  });

  it('keeps both roles when the two panels open their facesets at the same time', async () => {
    const store = freshStore();
    const [src, dst] = await Promise.all([store.forRole('src'), store.forRole('dst')]);
    expect(await store.roles()).toEqual({ src: src.id, dst: dst.id });
    expect((await store.list()).map((f) => f.id).sort()).toEqual([src.id, dst.id].sort());
    expect((await store.forRole('src')).id).toBe(src.id);
  });

  it('never overwrites a stored face with a new one of the same name', async () => {
    const store = freshStore();
    const fs = await store.forRole('dst');
    const [a] = await makeDflFaces(1, { size: 64 });
    const b = { name: a.name, bytes: (await makeDflFaces(2, { size: 64 }))[1].bytes };
    await store.addFaces(fs.id, [await prepareFace(a)]);
    await store.addFaces(fs.id, [await prepareFace(b)]);
    const info = await store.get(fs.id);
    expect(info.faces.map((f) => f.name)).toEqual(['00001_0.jpg', '00001_0_1.jpg']);
    expect((await store.face(fs.id, '00001_0.jpg')).bytes).toEqual(a.bytes);
  });

  it('removes faces and clears a faceset, and sweeps records no index lists', async () => {
    const store = freshStore();
    const fs = await store.forRole('src');
    const faces = await makeDflFaces(3, { size: 64 });
    await store.addFaces(fs.id, await Promise.all(faces.map((f) => prepareFace(f))));
    await store.removeFaces(fs.id, ['00002_0.jpg']);
    expect((await store.get(fs.id)).faces.map((f) => f.name)).toEqual(['00001_0.jpg', '00003_0.jpg']);
    await expect(store.face(fs.id, '00002_0.jpg')).rejects.toThrow(/not in faceset/);
    const { set, createStore } = await import('idb-keyval');
    await set(`faceset/${fs.id}/face/orphan.jpg`, { x: 1 }, createStore(`test-${dbCount}`, 'facesets'));
    expect(await store.sweepOrphans()).toBe(1);
    await store.clear(fs.id);
    expect((await store.get(fs.id)).faces).toEqual([]);
  });
});

describe('import', () => {
  it('imports the good files of a drop and reports each bad one with its reason', async () => {
    const store = freshStore();
    const fs = await store.forRole('src');
    const good = await makeDflFaces(4, { size: 64 });
    const { readJpegSegments } = await import('../../src/core/formats/jpegSegments.ts');
    const app15 = readJpegSegments(good[0].bytes).find((s) => s.marker === 0xef)!;
    const plain = new Uint8Array([...good[0].bytes.subarray(0, app15.start), ...good[0].bytes.subarray(app15.end)]);
    const files = [
      ...good,
      { name: 'readme.txt', bytes: strToU8('hello') },
      { name: 'fake.jpg', bytes: strToU8('not a jpeg') },
      { name: 'cut.jpg', bytes: good[1].bytes.subarray(0, good[1].bytes.length - 200) },
      { name: 'plain.jpg', bytes: plain },
    ];
    const progress: number[] = [];
    const report = await importFaces(files, store, fs.id, { batchSize: 2, onProgress: (p) => progress.push(p.done) });
    expect(report.imported).toBe(4);
    const reasons = Object.fromEntries(report.failed.map((f) => [f.name, f.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['cut.jpg', 'fake.jpg', 'plain.jpg']);
    expect(reasons['plain.jpg']).toBe('no DeepFaceLab metadata: extract faces first');
    expect(reasons['cut.jpg']).toMatch(/truncated|damaged/);
    expect(reasons['fake.jpg']).toMatch(/not/);
    expect(report.skipped.map((s) => s.name)).toEqual(['readme.txt']);
    expect(progress.at(-1)).toBe(7);
    expect((await store.get(fs.id)).faces).toHaveLength(4);
  });

  it('reports a hostile pickle and an absurd declared size per file, and stores the rest', async () => {
    const store = freshStore();
    const fs = await store.forRole('src');
    const [good, other] = await makeDflFaces(2, { size: 64 });
    const { readJpegSegments } = await import('../../src/core/formats/jpegSegments.ts');
    const segs = readJpegSegments(other.bytes);
    // APP15 whose pickle calls os.system: the parser must refuse it without running anything.
    const app15 = segs.find((x) => x.marker === 0xef)!;
    const evil = new Uint8Array([0x80, 2, ...new TextEncoder().encode('cos\nsystem\n'), 0x58, 2, 0, 0, 0, 0x69, 0x64, 0x85, 0x52, 0x2e]);
    const hostile = new Uint8Array([
      ...other.bytes.subarray(0, app15.start),
      0xff, 0xef, (evil.length + 2) >> 8, (evil.length + 2) & 0xff, ...evil,
      ...other.bytes.subarray(app15.end),
    ]);
    // SOF declaring 60000x60000: refused from the header, before any decoding.
    const sof = segs.find((x) => x.marker === 0xc0)!;
    const huge = other.bytes.slice();
    huge[sof.dataStart + 1] = 0xea; huge[sof.dataStart + 2] = 0x60; // height 60000
    huge[sof.dataStart + 3] = 0xea; huge[sof.dataStart + 4] = 0x60; // width 60000
    const report = await importFaces(
      [good, { name: 'evil.jpg', bytes: hostile }, { name: 'huge.jpg', bytes: huge }],
      store,
      fs.id,
    );
    expect(report.imported).toBe(1);
    const reasons = Object.fromEntries(report.failed.map((f) => [f.name, f.reason]));
    expect(reasons['evil.jpg']).toContain('refused pickle global "os.system"');
    expect(reasons['huge.jpg']).toContain('60000x60000 is beyond');
  });

  it('stops at a full disk, says so, and keeps every face stored before', async () => {
    const store = freshStore();
    const fs = await store.forRole('src');
    const faces = await makeDflFaces(5, { size: 64 });
    const real = store.addFaces.bind(store);
    let calls = 0;
    store.addFaces = async (id, batch) => {
      if (++calls === 2) {
        const e = new Error('The quota has been exceeded.');
        e.name = 'QuotaExceededError';
        const { QuotaError } = await import('../../src/core/errors.ts');
        throw new QuotaError(e.message);
      }
      return real(id, batch);
    };
    const report = await importFaces(faces, store, fs.id, { batchSize: 2 });
    expect(report.imported).toBe(2);
    expect(report.stopped).toMatch(/storage is full.*kept/);
    expect((await store.get(fs.id)).faces.map((f) => f.name)).toEqual(['00001_0.jpg', '00002_0.jpg']);
  });

  it('reads faces from a zip, skipping other entries', async () => {
    const faces = await makeDflFaces(2, { size: 64 });
    const zip = zipSync({ 'aligned/00001_0.jpg': faces[0].bytes, 'aligned/00002_0.jpg': faces[1].bytes, 'aligned/notes.txt': strToU8('x') });
    const out = expandInputs([{ name: 'set.zip', bytes: zip }]);
    expect(out.files.map((f) => f.name).sort()).toEqual(['00001_0.jpg', '00002_0.jpg']);
    expect(out.skipped).toHaveLength(1);
    const broken = expandInputs([{ name: 'broken.zip', bytes: zip.subarray(0, 100) }]);
    expect(broken.failed[0].name).toBe('broken.zip');
    expect(broken.failed[0].reason).toMatch(/zip/);
  });

  it('keeps the batches committed before a cancel', async () => {
    const store = freshStore();
    const fs = await store.forRole('src');
    const faces = await makeDflFaces(6, { size: 64 });
    const ac = new AbortController();
    const report = await importFaces(faces, store, fs.id, {
      batchSize: 2,
      signal: ac.signal,
      onProgress: (p) => p.done === 3 && ac.abort(),
    });
    expect(report.cancelled).toBe(true);
    expect(report.imported).toBe(2);
    expect((await store.get(fs.id)).faces).toHaveLength(2);
  });
});

describe('grayscale / resize conversion (spec I.3)', () => {
  it('writes 1-channel faces with landmarks and matrix scaled exactly by the size ratio', async () => {
    const [face] = await makeDflFaces(1, { size: 256 });
    const before = readDflJpg(face.bytes);
    const out = await convertFace(face.bytes, { size: 128, gray: true });
    const after = readDflJpg(out.bytes);
    expect(after.frame).toMatchObject({ width: 128, height: 128, channels: 1 });
    for (let i = 0; i < 136; i++) expect(after.meta.landmarks![i]).toBe(before.meta.landmarks![i] * 0.5);
    for (let i = 0; i < 6; i++) expect(after.meta.image_to_face_mat![i]).toBe(before.meta.image_to_face_mat![i] * 0.5);
    expect(Array.from(after.meta.source_landmarks!)).toEqual(Array.from(before.meta.source_landmarks!));
    expect(after.meta.source_rect).toEqual(before.meta.source_rect);
    expect(after.meta.source_filename).toBe(before.meta.source_filename);
    const img = await decodeJpeg(out.bytes, { channels: 1 });
    expect(img.width).toBe(128);
  });

  it('gray without resize keeps the size and the landmarks', async () => {
    const [face] = await makeDflFaces(1, { size: 96 });
    const out = await convertFace(face.bytes, { size: null, gray: true });
    const a = readDflJpg(face.bytes).meta;
    const b = readDflJpg(out.bytes).meta;
    expect(out.width).toBe(96);
    expect(out.channels).toBe(1);
    expect(Array.from(b.landmarks!)).toEqual(Array.from(a.landmarks!));
  });

  it('the gray pixels are OpenCV BGR2GRAY of the colour pixels (before JPEG loss)', async () => {
    const [face] = await makeDflFaces(1, { size: 128 });
    const colour = await decodeJpeg(face.bytes, { channels: 3 });
    const out = await convertFace(face.bytes, { size: null, gray: true, quality: 100 });
    const gray = await decodeJpeg(out.bytes, { channels: 1 });
    let err = 0;
    for (let i = 0; i < gray.data.length; i++) {
      const ref = 0.299 * colour.data[3 * i] + 0.587 * colour.data[3 * i + 1] + 0.114 * colour.data[3 * i + 2];
      err += Math.abs(gray.data[i] - ref);
    }
    expect(err / gray.data.length).toBeLessThan(1.5); // quality-100 JPEG round trip of the gray image
  });

  it('refuses sizes outside the resizer range with a clear message', async () => {
    const [face] = await makeDflFaces(1, { size: 64 });
    await expect(convertFace(face.bytes, { size: 8, gray: true })).rejects.toThrow(/size 8 is outside/);
  });

  describe.skipIf(!hasSharedData)(`real DFL files${hasSharedData ? '' : ' (skipped: ../shared/data absent)'}`, () => {
    it('converts every real whole_face file 256 → 192 gray with exact landmark scaling', async () => {
      const files = realAlignedFiles().filter((_, i) => i % 10 === 0);
      expect(files.length).toBeGreaterThan(20);
      for (const path of files) {
        const bytes = new Uint8Array(readFileSync(path));
        const before = readDflJpg(bytes);
        const out = await convertFace(bytes, { size: 192, gray: true });
        const after = readDflJpg(out.bytes);
        expect(after.frame.channels).toBe(1);
        expect(after.frame.width).toBe(192);
        const k = 192 / before.frame.width;
        for (let i = 0; i < 136; i++) expect(after.meta.landmarks![i]).toBeCloseTo(before.meta.landmarks![i] * k, 10);
        expect(after.meta.keys).toEqual(before.meta.keys);
      }
    });
    it('keeps the XSeg polygons of the real ofurman files scaled with the face', async () => {
      const path = join(sharedDataDir, 'dfl_ofurman_sample/data_src/aligned/10_0.jpg');
      const bytes = new Uint8Array(readFileSync(path));
      const before = readDflJpg(bytes).meta;
      const after = readDflJpg((await convertFace(bytes, { size: 128, gray: true })).bytes).meta;
      expect(after.seg_ie_polys!.length).toBe(before.seg_ie_polys!.length);
      const p0 = before.seg_ie_polys![0].pts;
      const q0 = after.seg_ie_polys![0].pts;
      for (let i = 0; i < p0.length; i++) expect(q0[i]).toBeCloseTo(p0[i] * 0.5, 4);
      expect(after.xseg_mask).toEqual(before.xseg_mask);
    });
  });
});

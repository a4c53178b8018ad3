/**
 * Issue 6, the merger over frames (src/core/frames): matching faces to frames by `source_filename` (spec §F.1), the
 * batch merge into a 'merged' frame set with resume and cancel, frames without faces copied, the one-channel rules
 * (§F.4), and the preview path giving the batch's pixels. A tiny untrained model on the wasm backend stands in for a
 * trained one: the merge does not care what the face looks like, only where it goes and what it leaves alone.
 */
import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { FrameStore, type StoredFrame } from '../../src/core/frames/frameStore.ts';
import { matchFacesToFrames, mergedFrameName } from '../../src/core/frames/matchFrames.ts';
import { facesDigest, JOB_BLOB, mergeAllFrames, outputNames, renderFrame, type MergeDeps, type MergeJobKey } from '../../src/core/frames/mergeJob.ts';
import { floatToRaw, rawToFloat } from '../../src/core/frames/mergeFrames.ts';
import { mergeModelInfo, modelPredictor } from '../../src/core/frames/modelPredictor.ts';
import { encodePng } from '../../src/core/image/png.ts';
import type { RawImage } from '../../src/core/image/rawImage.ts';
import { defaultMergeSettings, mergeGeometry, type MergeFaceMeta, type MergeSettings } from '../../src/core/merge/index.ts';
import { squareFrameRect } from '../../src/core/merge/masks.ts';
import type { ModelOptions } from '../../src/core/model/options.ts';
import { createSaehd, type SaehdModel } from '../../src/core/model/saehd.ts';
import { tinyTest } from '../../src/ui/lib/trainPresets.ts';
import { decodePng } from '../fixtures/decodePng.ts';
import { syntheticLandmarks } from '../fixtures/makeFaces.ts';

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('matching faces to frames (§F.1)', () => {
  it('matches by name, then by stem, lists missing frames and faces without a source, in natural order', () => {
    const plan = matchFacesToFrames(
      [
        { name: '00010_0.jpg', sourceFilename: '00010.png' },
        { name: '00002_1.jpg', sourceFilename: '00002.jpg' }, // frame stored as PNG: matched by stem
        { name: '00002_0.jpg', sourceFilename: 'C:\\clips\\00002.jpg' }, // a Windows path: the file name counts
        { name: '00007_0.jpg', sourceFilename: '00007.jpg' }, // no such frame
        { name: 'loose.jpg', sourceFilename: null },
        { name: 'CASE_0.jpg', sourceFilename: 'case.JPG' },
      ],
      ['00010.png', '00002.png', '00001.png', 'Case.png'],
    );
    expect(plan.frames).toEqual([
      { name: '00001.png', faces: [] },
      { name: '00002.png', faces: ['00002_0.jpg', '00002_1.jpg'] },
      { name: '00010.png', faces: ['00010_0.jpg'] },
      { name: 'Case.png', faces: ['CASE_0.jpg'] },
    ]);
    expect(plan.missing).toEqual([{ face: '00007_0.jpg', sourceFilename: '00007.jpg' }]);
    expect(plan.noSource).toEqual(['loose.jpg']);
  });

  it('prefers the exact file name when two frames share a stem, and names outputs after the input frames', () => {
    const plan = matchFacesToFrames([{ name: 'a_0.jpg', sourceFilename: 'a.jpg' }], ['a.png', 'a.jpg']);
    expect(plan.frames.find((f) => f.name === 'a.jpg')!.faces).toEqual(['a_0.jpg']);
    expect(plan.frames.find((f) => f.name === 'a.png')!.faces).toEqual([]);
    expect(mergedFrameName('00001.jpg', 'png')).toBe('00001.png');
    expect(mergedFrameName('00001.png', 'jpeg')).toBe('00001.jpg');
    const names = outputNames(['a.png', 'a.jpg', 'b.jpg'], 'png');
    expect(new Set(names.values()).size).toBe(3);
    expect(names.get('b.jpg')).toBe('b.png');
  });
});

// ---- batch merge ---------------------------------------------------------------------------------------------------

const FACE = 128;
const W = 300, H = 260;

/** The frame landmarks of the self-made face `i` (tests/fixtures/makeFaces.ts: aligned × 1.5 + (40, 30)). */
function frameLandmarks(i: number): Float64Array {
  return Float64Array.from(syntheticLandmarks(FACE, i % 5).flatMap(([x, y]) => [x * 1.5 + 40, y * 1.5 + 30]));
}
/** source_rect of those faces: [l, t, r, b]. */
const SOURCE_RECT = [40, 30, 40 + FACE * 1.5, 30 + FACE * 1.5];

/** A colour frame with texture everywhere (so "unchanged" means something) and a face-like blob where the face is. */
function frame(seed: number, channels: 1 | 3 = 3): RawImage {
  const data = new Uint8Array(W * H * channels);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const inFace = ((x - 136) / 90) ** 2 + ((y - 130) / 100) ** 2 < 1;
      for (let c = 0; c < channels; c++)
        data[(y * W + x) * channels + c] = inFace ? 150 + ((x * 3 + y + c * 20 + seed) % 60) : (x * 7 + y * 13 + c * 50 + seed * 11) % 256;
    }
  return { width: W, height: H, channels, data };
}

interface Setup {
  frames: FrameStore;
  setId: string;
  deps: MergeDeps;
  metas: Map<string, MergeFaceMeta>;
  model: SaehdModel;
  inputs: Map<string, RawImage>;
}

let dbN = 0;
async function setup(options: ModelOptions, frameChannels: 1 | 3 = 3): Promise<Setup> {
  const frames = new FrameStore(`merge-test-${++dbN}`, 'frames');
  const set = await frames.createSet({ name: 'clip', kind: 'frames', width: 0, height: 0 });
  const inputs = new Map<string, RawImage>();
  const stored: StoredFrame[] = [];
  for (let i = 1; i <= 4; i++) {
    const img = frame(i, frameChannels);
    const name = `${String(i).padStart(5, '0')}.png`;
    inputs.set(name, img);
    stored.push({ name, bytes: encodePng(img, 1), width: W, height: H, type: 'image/png' });
  }
  await frames.putFrames(set.id, stored);
  const metas = new Map<string, MergeFaceMeta>([
    ['00001_0.jpg', { source_landmarks: frameLandmarks(0) }],
    ['00002_0.jpg', { source_landmarks: frameLandmarks(1) }],
    ['00004_0.jpg', { source_landmarks: frameLandmarks(3) }],
  ]);
  const model = createSaehd(options, 7);
  const deps: MergeDeps = {
    frames,
    model: mergeModelInfo(model),
    predict: modelPredictor(model),
    faceMeta: async (n) => {
      const m = metas.get(n);
      if (!m) throw new Error(`no face ${n}`);
      return m;
    },
    decode: async (f) => decodePng(f.bytes),
    encode: async (img) => encodePng(img, 1),
  };
  return { frames, setId: set.id, deps, metas, model, inputs };
}

function planOf(s: Setup, extra: { name: string; sourceFilename: string }[] = []) {
  return matchFacesToFrames(
    [...[...s.metas.keys()].map((n) => ({ name: n, sourceFilename: `${n.slice(0, 5)}.jpg` })), ...extra],
    ['00001.png', '00002.png', '00003.png', '00004.png'],
  );
}

const keyFor = (settings: MergeSettings, over: Partial<MergeJobKey> = {}): MergeJobKey => ({
  modelId: 'm1', generation: 1, facesetId: 'dst', settings, format: 'png', quality: 95, ...over,
});

describe('batch merge into a frame set', () => {
  it('merges every frame at its size, leaves pixels outside the mask alone, puts the face inside source_rect, and equals the preview', async () => {
    const s = await setup(tinyTest);
    const settings: MergeSettings = { ...defaultMergeSettings(1), bw_colour_frames: 'luma', blur_mask_modifier: 40, erode_mask_modifier: 10 };
    const plan = planOf(s, [{ name: '00009_0.jpg', sourceFilename: '00009.jpg' }]);
    expect(plan.missing.map((m) => m.face)).toEqual(['00009_0.jpg']);
    const tensors = tf.memory().numTensors;
    const progress: number[] = [];
    const r = await mergeAllFrames(s.deps, s.setId, plan, keyFor(settings), { onProgress: (p) => progress.push(p.done) });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(r).toMatchObject({ total: 4, merged: 3, copied: 1, skipped: 0, failed: [], cancelled: false, frameConversion: 'luma' });
    expect(progress).toEqual([1, 2, 3, 4]);
    const out = await s.frames.getSet(r.outputSetId);
    expect(out).toMatchObject({ kind: 'merged', sourceSetId: s.setId, count: 4, width: W, height: H });
    expect(await s.frames.frameNames(r.outputSetId)).toEqual(['00001.png', '00002.png', '00003.png', '00004.png']);

    // frame 3 has no face: its bytes are copied as they are
    const input3 = await s.frames.getFrame(s.setId, '00003.png');
    expect((await s.frames.getFrame(r.outputSetId, '00003.png')).bytes).toEqual(input3.bytes);

    for (const [name, faceIdx] of [['00001.png', 0], ['00002.png', 1], ['00004.png', 3]] as const) {
      const stored = await s.frames.getFrame(r.outputSetId, name);
      expect([stored.width, stored.height, stored.type]).toEqual([W, H, 'image/png']);
      const got = decodePng(stored.bytes);
      const input = s.inputs.get(name)!;
      expect([got.width, got.height, got.channels]).toEqual([W, H, 3]);
      // the preview's path (decode → predict → render) gives exactly the stored pixels
      const preview = await renderFrame(s.deps, await s.frames.getFrame(s.setId, name), [`${name.slice(0, 5)}_0.jpg`], settings);
      expect(Buffer.from(preview.image.data).equals(Buffer.from(got.data))).toBe(true);
      const rect = preview.maskRect!;
      expect(rect).not.toBeNull();
      // the mask lies inside the face square the model's face type cuts from the frame …
      const g = mergeGeometry({ source_landmarks: frameLandmarks(faceIdx) }, s.deps.model);
      const square = squareFrameRect(g.faceMaskOutputMat, g.maskSize, W, H, 4)!;
      expect(rect.x0).toBeGreaterThanOrEqual(square.x0);
      expect(rect.x1).toBeLessThanOrEqual(square.x1);
      // … and the face lands inside source_rect
      const cx = (rect.x0 + rect.x1) / 2, cy = (rect.y0 + rect.y1) / 2;
      expect(cx).toBeGreaterThan(SOURCE_RECT[0]);
      expect(cx).toBeLessThan(SOURCE_RECT[2]);
      expect(cy).toBeGreaterThan(SOURCE_RECT[1]);
      expect(cy).toBeLessThan(SOURCE_RECT[3]);
      // outside the mask's bounding box every byte is the input's (luma overlay keeps colour frames' pixels)
      let outsideDiff = 0, insideDiff = 0;
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const inside = x >= rect.x0 && x < rect.x1 && y >= rect.y0 && y < rect.y1;
          for (let c = 0; c < 3; c++) {
            const d = got.data[(y * W + x) * 3 + c] !== input.data[(y * W + x) * 3 + c] ? 1 : 0;
            if (inside) insideDiff += d;
            else outsideDiff += d;
          }
        }
      expect(outsideDiff).toBe(0);
      expect(insideDiff).toBeGreaterThan(100);
    }
  });

  it('resumes after a cancel, skipping the frames already written; other settings get their own output set and the first is kept', async () => {
    const s = await setup(tinyTest);
    const settings = defaultMergeSettings(1);
    const plan = planOf(s);
    const ac = new AbortController();
    const first = await mergeAllFrames(s.deps, s.setId, plan, keyFor(settings), { signal: ac.signal, onProgress: (p) => p.done === 2 && ac.abort() });
    expect(first).toMatchObject({ cancelled: true, merged: 2, copied: 0 });
    expect(await s.frames.frameNames(first.outputSetId)).toEqual(['00001.png', '00002.png']);
    const before = (await s.frames.getFrame(first.outputSetId, '00002.png')).bytes;

    const second = await mergeAllFrames(s.deps, s.setId, plan, keyFor(settings));
    expect(second).toMatchObject({ outputSetId: first.outputSetId, skipped: 2, merged: 1, copied: 1, cancelled: false });
    expect((await s.frames.getSet(second.outputSetId)).count).toBe(4);
    expect((await s.frames.getFrame(second.outputSetId, '00002.png')).bytes).toEqual(before);

    // other settings: a fresh output set (never a sequence merged two ways), and the first one is kept untouched
    const third = await mergeAllFrames(s.deps, s.setId, plan, keyFor({ ...settings, blur_mask_modifier: 20 }));
    expect(third.outputSetId).not.toBe(first.outputSetId);
    expect(third).toMatchObject({ skipped: 0, merged: 3, copied: 1 });
    const merged = (await s.frames.listSets()).filter((x) => x.kind === 'merged');
    expect(merged.map((x) => x.id).sort()).toEqual([first.outputSetId, third.outputSetId].sort());
    expect(new Set(merged.map((x) => x.name)).size).toBe(2);
    expect((await s.frames.getFrame(first.outputSetId, '00002.png')).bytes).toEqual(before);
    expect(new TextDecoder().decode(await s.frames.getBlob(third.outputSetId, JOB_BLOB))).toContain('"blur_mask_modifier":20');
    // back to the first settings: that output is found again and nothing is merged twice
    const fourth = await mergeAllFrames(s.deps, s.setId, plan, keyFor(settings));
    expect(fourth).toMatchObject({ outputSetId: first.outputSetId, skipped: 4, merged: 0, copied: 0 });
  });

  it('writes gray frames for a one-channel model in gray mode, faceless frames too (§F.4), and JPEG on request', async () => {
    const s = await setup(tinyTest);
    const settings = defaultMergeSettings(1); // bw_colour_frames 'gray'
    let jpegCalls = 0;
    const deps: MergeDeps = { ...s.deps, encode: async (img, format, q) => (jpegCalls++, expect(format).toBe('jpeg'), expect(q).toBe(80), encodePng(img, 1)) };
    const r = await mergeAllFrames(deps, s.setId, planOf(s), keyFor(settings, { format: 'jpeg', quality: 80 }));
    expect(r.frameConversion).toBe('gray');
    expect(jpegCalls).toBe(4); // the faceless frame is converted too, not copied
    expect(await s.frames.frameNames(r.outputSetId)).toEqual(['00001.jpg', '00002.jpg', '00003.jpg', '00004.jpg']);
    const f3 = decodePng((await s.frames.getFrame(r.outputSetId, '00003.jpg')).bytes);
    expect((await s.frames.getFrame(r.outputSetId, '00003.jpg')).type).toBe('image/jpeg');
    for (let i = 0; i < W * H; i++) {
      expect(f3.data[3 * i]).toBe(f3.data[3 * i + 1]);
      expect(f3.data[3 * i + 1]).toBe(f3.data[3 * i + 2]);
    }
    // gray = the luma of the input, rounded
    const in3 = s.inputs.get('00003.png')!;
    const y0 = 0.299 * in3.data[0] + 0.587 * in3.data[1] + 0.114 * in3.data[2];
    expect(Math.abs(f3.data[0] - y0)).toBeLessThanOrEqual(0.5 + 1e-3);
  });

  it('merges a 3-channel model with the overlay, and reports a frame whose face cannot be merged without stopping', async () => {
    const s = await setup({ ...tinyTest, channels: 3 });
    s.metas.set('00004_0.jpg', { source_landmarks: null });
    const settings: MergeSettings = { ...defaultMergeSettings(3), color_transfer_mode: 'rct' };
    const r = await mergeAllFrames(s.deps, s.setId, planOf(s), keyFor(settings));
    expect(r.merged).toBe(2);
    expect(r.failed).toEqual([{ frame: '00004.png', reason: expect.stringMatching(/no source_landmarks/) }]);
    expect(r.frameConversion).toBeNull();
    expect(await s.frames.frameNames(r.outputSetId)).toEqual(['00001.png', '00002.png', '00003.png']);
    // the failed frame is not written, so running again retries just that one
    s.metas.set('00004_0.jpg', { source_landmarks: frameLandmarks(3) });
    const again = await mergeAllFrames(s.deps, s.setId, planOf(s), keyFor(settings));
    expect(again).toMatchObject({ skipped: 3, merged: 1, failed: [] });
  });

  it('facesDigest changes when faces are re-made under the same names, not when only their order changes', () => {
    const faces = [
      { name: '00001_0.jpg', bytes: 5120, sourceFilename: '00001.png' },
      { name: '00002_0.jpg', bytes: 4800, sourceFilename: '00002.png' },
    ];
    const d = facesDigest(faces);
    expect(facesDigest([...faces].reverse())).toBe(d);
    expect(facesDigest([faces[0], { ...faces[1], bytes: 4801 }])).not.toBe(d);
    expect(facesDigest([faces[0], { ...faces[1], sourceFilename: '00003.png' }])).not.toBe(d);
    expect(facesDigest([faces[0]])).not.toBe(d);
  });

  it('round-trips frame bytes through floats exactly', () => {
    const img = frame(3);
    expect(Buffer.from(floatToRaw(rawToFloat(img)).data).equals(Buffer.from(img.data))).toBe(true);
  });
});

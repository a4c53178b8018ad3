import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { compareWithDfl, matchDetection, summarizeAccuracy, type FaceAccuracy } from '../../src/core/extract/accuracy.ts';
import { dflSourceRect, type DetectedFace } from '../../src/core/extract/detect.ts';
import { alignFace, extractFrameFaces, extractedToNewFace, frameStem, polygonArea } from '../../src/core/extract/extract.ts';
import { blurScore, estimateSharpness, sortScores, yawScore } from '../../src/core/extract/sortFaces.ts';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { PyFloat, isNdArray } from '../../src/core/formats/pyValue.ts';
import { prepareFace } from '../../src/core/faceset/importFaces.ts';
import { decodeJpeg } from '../../src/core/image/jpegCodec.ts';
import type { RawImage } from '../../src/core/image/rawImage.ts';
import { transformPoints } from '../../src/core/image/warpAffine.ts';
import { LANDMARKS_2D_NEW, getTransformMat } from '../../src/core/samples/faceAlign.ts';
import { faceApiSharesTfjs, nodeFaceDetector } from './extractNode.ts';
import { hasSharedData, sharedDataDir } from './sharedData.ts';

// ---- self-made data --------------------------------------------------------------------------------------------

/** 68 landmarks whose alignment points (17…48, 54) are the §H.2 template, the rest plausible filler, in a unit face. */
function templateLandmarks(): Float64Array {
  const lm = new Float64Array(136);
  for (let i = 0; i < 68; i++) {
    // jaw and mouth: rough positions in template space
    const t = i / 67;
    lm[2 * i] = 0.1 + 0.8 * t;
    lm[2 * i + 1] = 0.9 - 0.3 * Math.sin(Math.PI * t);
  }
  for (let i = 17; i <= 48; i++) {
    lm[2 * i] = LANDMARKS_2D_NEW[2 * (i - 17)];
    lm[2 * i + 1] = LANDMARKS_2D_NEW[2 * (i - 17) + 1];
  }
  lm[108] = LANDMARKS_2D_NEW[64];
  lm[109] = LANDMARKS_2D_NEW[65];
  return lm;
}

/** A similarity x' = s·R(θ)·x + t applied to [x, y, …]. */
function similarity(pts: ArrayLike<number>, s: number, theta: number, tx: number, ty: number): Float64Array {
  const c = Math.cos(theta) * s, d = Math.sin(theta) * s;
  return transformPoints(pts, [c, -d, tx, d, c, ty]);
}

/** A textured test frame: smooth gradients plus a checkerboard, so crops and blur are measurable. */
function testFrame(w: number, h: number, blur = false): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const check = ((x >> 3) + (y >> 3)) & 1;
      const v = blur ? 128 + 60 * Math.sin(x / 6) * Math.sin(y / 6) : check ? 220 : 40;
      const p = 3 * (y * w + x);
      data[p] = v;
      data[p + 1] = (x * 255) / w;
      data[p + 2] = (y * 255) / h;
    }
  return { width: w, height: h, channels: 3, data };
}

function detectionFrom(landmarks: Float64Array): DetectedFace {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < 136; i += 2) {
    x0 = Math.min(x0, landmarks[i]);
    x1 = Math.max(x1, landmarks[i]);
    y0 = Math.min(y0, landmarks[i + 1]);
    y1 = Math.max(y1, landmarks[i + 1]);
  }
  const box = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  return { score: 0.99, box, rect: dflSourceRect(box), landmarks };
}

describe('extraction maths on self-made landmarks (spec §H, §G.2)', () => {
  beforeAll(async () => {
    await initNodeJpegCodec();
  });

  it('aligning the template itself puts it where §H.4 says, for every face type and any similarity of the input', () => {
    const unit = templateLandmarks();
    for (const [ft, pad] of [['half_face', 0], ['midfull_face', 0.0675], ['full_face', 0.2109375], ['whole_face', 0.4]] as const) {
      const size = 256;
      const side = size / (1 + 2 * Math.SQRT2 * pad); // template side in the crop (§H.4 step 4)
      const up = ft === 'whole_face' ? 0.07 : 0; // whole_face moves the crop up by 7 % of the template side
      for (const [s, th, tx, ty] of [[200, 0, 50, 40], [143.5, 0.35, 300, 120], [80, -1.1, 30, 400]]) {
        const frameLm = similarity(unit, s, th, tx, ty);
        const a = alignFace({ landmarks: frameLm, rect: [0, 0, 1000, 1000] }, ft, size);
        for (const i of [17, 27, 30, 36, 45, 48, 54]) {
          const u = unit[2 * i], v = unit[2 * i + 1];
          expect(a.landmarks[2 * i]).toBeCloseTo((u - 0.5) * side + size / 2, 2);
          expect(a.landmarks[2 * i + 1]).toBeCloseTo((v - 0.5) * side + size / 2 + up * side, 2);
        }
        // image_to_face_mat maps source_landmarks onto landmarks (float32 rounding only)
        const mapped = transformPoints(a.sourceLandmarks, a.mat);
        for (let k = 0; k < 136; k++) expect(Math.abs(mapped[k] - a.landmarks[k])).toBeLessThan(1e-3);
      }
    }
  });

  it('head faces are larger crops than whole faces, which are larger than full faces (padding order, §D.7)', () => {
    const lm = similarity(templateLandmarks(), 150, 0.2, 200, 150);
    const area = (ft: string) => alignFace({ landmarks: lm, rect: [0, 0, 1, 1] }, ft, 256).cropArea;
    expect(area('head')).toBeGreaterThan(area('whole_face'));
    expect(area('whole_face')).toBeGreaterThan(area('full_face'));
    expect(area('full_face')).toBeGreaterThan(area('midfull_face'));
    expect(area('midfull_face')).toBeGreaterThan(area('half_face'));
  });

  it('writes DFL aligned JPGs with the extractor keys, order and Python types; read back by readDflJpg', async () => {
    const frame = testFrame(480, 360);
    const big = similarity(templateLandmarks(), 150, 0.1, 170, 90);
    const small = similarity(templateLandmarks(), 60, -0.2, 40, 240);
    const faces = [detectionFrom(big), detectionFrom(small)];
    const { faces: out, dropped } = await extractFrameFaces(frame, 'clip/00042.png', faces, { faceType: 'whole_face', size: 192 });
    expect(dropped).toEqual([]);
    expect(out.map((f) => f.name)).toEqual(['00042_0.jpg', '00042_1.jpg']);
    for (const [i, f] of out.entries()) {
      const { frame: info, dict, meta } = readDflJpg(f.bytes);
      expect([info.width, info.height, info.channels]).toEqual([192, 192, 3]);
      expect([...dict.keys()]).toEqual(['face_type', 'landmarks', 'source_filename', 'source_rect', 'source_landmarks', 'image_to_face_mat']);
      expect(dict.get('face_type')).toBe('whole_face');
      expect(dict.get('source_filename')).toBe('00042.png');
      for (const key of ['landmarks', 'source_landmarks']) {
        const list = dict.get(key) as unknown[];
        expect(Array.isArray(list) && list.length).toBe(68);
        for (const p of list) {
          expect(Array.isArray(p) && p.length === 2).toBe(true);
          for (const v of p as unknown[]) expect(typeof v === 'number' || v instanceof PyFloat).toBe(true);
        }
      }
      const rect = dict.get('source_rect');
      expect(isNdArray(rect) && rect.dtype === 'i8' && rect.shape).toEqual([4]);
      expect(meta.source_rect).toEqual(faces[i].rect);
      const mat = dict.get('image_to_face_mat');
      expect(isNdArray(mat) && mat.dtype === 'f8' && mat.shape).toEqual([2, 3]);
      // the stored matrix is get_transform_mat of the stored source landmarks, and maps them onto the landmarks
      const again = getTransformMat(meta.source_landmarks!, 192, 'whole_face');
      for (let k = 0; k < 6; k++) expect(meta.image_to_face_mat![k]).toBeCloseTo(again[k], 10);
      const mapped = transformPoints(meta.source_landmarks!, meta.image_to_face_mat!);
      for (let k = 0; k < 136; k++) expect(Math.abs(mapped[k] - meta.landmarks![k])).toBeLessThan(1e-3);
      // landmarks have float32 precision, like DFL's
      for (const v of meta.landmarks!) expect(Math.fround(v)).toBe(v);
      // the faceset store accepts it like an imported DFL face
      const rec = await prepareFace({ name: f.name, bytes: f.bytes });
      expect(rec.summary.faceType).toBe('whole_face');
      const nf = await extractedToNewFace(f);
      expect(nf.summary).toEqual(rec.summary);
    }
    // the crop really is the warped frame: a landmark's pixel matches the frame pixel under it
    const a = alignFace(faces[0], 'whole_face', 192);
    const [fx, fy] = [Math.round(a.sourceLandmarks[60]), Math.round(a.sourceLandmarks[61])];
    const decoded = await decodeJpeg(out[0].bytes);
    const [ax, ay] = transformPoints([fx, fy], a.mat);
    const got = decoded.data[3 * (Math.round(ay) * 192 + Math.round(ax)) + 1];
    expect(Math.abs(got - frame.data[3 * (fy * 480 + fx) + 1])).toBeLessThan(12);
  });

  it('gray output is a 1-channel JPEG; the 4× area filter drops faces far larger than their detector box', async () => {
    const frame = testFrame(320, 240);
    const lm = similarity(templateLandmarks(), 100, 0, 100, 60);
    const det = detectionFrom(lm);
    const { faces } = await extractFrameFaces(frame, '00001.jpg', [det], { faceType: 'full_face', size: 128, gray: true });
    expect(readDflJpg(faces[0].bytes).frame.channels).toBe(1);
    expect(faces[0].image.channels).toBe(1);
    const tiny: DetectedFace = { ...det, rect: [100, 60, 110, 70] };
    const r = await extractFrameFaces(frame, '00001.jpg', [tiny, det], { faceType: 'full_face', size: 128 });
    expect(r.dropped.map((d) => d.detection)).toEqual([0]);
    expect(r.faces.map((f) => [f.name, f.detection])).toEqual([['00001_0.jpg', 1]]);
    // whole_face is never filtered (only types up to full_face_no_align are)
    expect((await extractFrameFaces(frame, '00001.jpg', [tiny], { faceType: 'whole_face', size: 128 })).faces).toHaveLength(1);
    expect(polygonArea([0, 0, 2, 0, 2, 3, 0, 3])).toBe(6);
    expect(frameStem('a/b/00007.frame.png')).toBe('00007.frame');
  });

  it('source_rect follows S3FD: bottom extended by 10 % of the height, truncated like int()', () => {
    expect(dflSourceRect({ x: 175.46, y: 92.72, width: 144.05, height: 185.26 })).toEqual([175, 92, 319, 296]);
  });

  it('accuracy maths: identical landmarks give zero error; a 1 px shift gives 1 px in the frame', () => {
    const lm = similarity(templateLandmarks(), 150, 0.1, 170, 90);
    const a = alignFace({ landmarks: lm, rect: [0, 0, 1, 1] }, 'whole_face', 256);
    const dfl = {
      face_type: 'whole_face', landmarks: a.landmarks, source_filename: 'x.jpg', source_rect: [0, 0, 1, 1],
      source_landmarks: a.sourceLandmarks, image_to_face_mat: a.mat, xseg_mask: null, seg_ie_polys: null,
      eyebrows_expand_mod: null, keys: [],
    };
    const same = compareWithDfl(a.sourceLandmarks, dfl, 256);
    expect(same.meanPct).toBeLessThan(1e-4);
    expect(same.cornerPx).toBeLessThan(1e-6);
    const shifted = compareWithDfl(transformPoints(a.sourceLandmarks, [1, 0, 1, 0, 1, 0]), dfl, 256);
    const scale = Math.hypot(a.mat[0], a.mat[3]); // aligned px per frame px
    expect(shifted.meanPctInDflCrop).toBeCloseTo((100 * scale) / 256, 4);
    expect(shifted.meanPct).toBeLessThan(1e-3); // a pure translation is aligned away
    expect(shifted.cornerPx).toBeCloseTo(1, 6);
    expect(matchDetection([detectionFrom(similarity(lm, 1, 0, 80, 0)), detectionFrom(lm)], dfl)).toBe(1);
    expect(summarizeAccuracy([same, shifted]).faces).toBe(2);
  });

  it('blur score (CPBD) ranks a sharp face above a blurred copy; yaw sorts a mirrored face to the other side', () => {
    const lm = similarity(templateLandmarks(), 150, 0, 53, 70);
    const sharp = testFrame(256, 256);
    const soft = testFrame(256, 256, true);
    const s1 = blurScore(sharp, lm);
    const s2 = blurScore(soft, lm);
    expect(s1).toBeGreaterThan(s2);
    expect(estimateSharpness(new Uint8Array(128 * 128), 128, 128)).toBe(0); // flat: no edge block → DFL's trash
    // a face turned one way: move the nose and inner features sideways
    const turned = lm.slice();
    for (const i of [27, 28, 29, 30, 31, 32, 33, 34, 35, 48, 54]) turned[2 * i] += 18;
    const mirrored = turned.slice();
    const flip = [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65];
    for (let i = 0; i < 68; i++) {
      mirrored[2 * i] = 256 - turned[2 * flip[i]];
      mirrored[2 * i + 1] = turned[2 * flip[i] + 1];
    }
    const y1 = yawScore(turned, 256), y2 = yawScore(mirrored, 256);
    expect(Math.sign(y1)).toBe(-Math.sign(y2));
    const { sorted, trash } = sortScores([{ name: 'a', value: 0.2 }, { name: 'b', value: 0 }, { name: 'c', value: 0.7 }], 'blur');
    expect(sorted.map((s) => s.name)).toEqual(['c', 'a']);
    expect(trash.map((s) => s.name)).toEqual(['b']);
    expect(sortScores([{ name: 'a', value: -0.2 }, { name: 'b', value: 0.3 }], 'yaw').sorted.map((s) => s.name)).toEqual(['b', 'a']);
  });
});

// ---- real data -------------------------------------------------------------------------------------------------

const obamaDir = join(sharedDataDir, 'facesets', 'obama');
const ofurmanDir = join(sharedDataDir, 'dfl_ofurman_sample', 'data_src');
const fmt = (v: number, d = 2) => v.toFixed(d);

describe.skipIf(!hasSharedData)('face-api extraction on real frames (shared data: obama faceset, ofurman real DFL faces)', () => {
  beforeAll(async () => {
    await nodeFaceDetector();
  });

  it('face-api runs on the project tfjs instance and leaks no tensors', async () => {
    expect(faceApiSharesTfjs()).toBe(true);
    const det = await nodeFaceDetector();
    const img = await decodeJpeg(new Uint8Array(readFileSync(join(obamaDir, 'frames', '00001.jpg'))));
    await det.detect(img);
    const before = tf.memory().numTensors;
    await det.detect(img);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reproduces the shared obama faceset (made with face-api the same way) from its frames', async () => {
    const det = await nodeFaceDetector();
    const rows: FaceAccuracy[] = [];
    const frames = Array.from({ length: 10 }, (_, i) => String(1 + i * 25).padStart(5, '0'));
    let detectMs = 0, extractMs = 0;
    for (const stem of frames) {
      const frameBytes = new Uint8Array(readFileSync(join(obamaDir, 'frames', `${stem}.jpg`)));
      const theirs = readDflJpg(new Uint8Array(readFileSync(join(obamaDir, 'aligned', `${stem}_0.jpg`))));
      const img = await decodeJpeg(frameBytes);
      let t = performance.now();
      const faces = await det.detect(img, { largestOnly: true });
      detectMs += performance.now() - t;
      expect(faces).toHaveLength(1);
      t = performance.now();
      const { faces: out } = await extractFrameFaces(img, `${stem}.jpg`, faces, { faceType: 'whole_face', size: 256 });
      extractMs += performance.now() - t;
      expect(out[0].name).toBe(`${stem}_0.jpg`);
      const ours = readDflJpg(out[0].bytes);
      expect(ours.meta.source_filename).toBe(theirs.meta.source_filename);
      expect(ours.meta.keys).toEqual(theirs.meta.keys);
      for (let k = 0; k < 4; k++) expect(Math.abs(ours.meta.source_rect![k] - theirs.meta.source_rect![k])).toBeLessThanOrEqual(3);
      rows.push(compareWithDfl(faces[0].landmarks, theirs.meta, 256));
    }
    const s = summarizeAccuracy(rows);
    console.log(
      `obama vs shared faceset (${s.faces} frames): landmarks in aligned crop mean ${fmt(s.meanPct)} % / max ${fmt(s.maxPct)} % of 256 px; ` +
        `crop corners ${fmt(s.cornerPx)} px (${fmt(s.cornerPct)} % of the crop side); ` +
        `detect+landmarks ${fmt(detectMs / frames.length, 0)} ms/frame, align+write ${fmt(extractMs / frames.length, 0)} ms/frame`,
    );
    expect(s.meanPct).toBeLessThan(1);
    expect(s.cornerPct).toBeLessThan(1.5);
    for (const r of rows) expect(r.meanPct).toBeLessThan(1.5);
  });

  it('reproduces real DFL whole_face extractions (ofurman): mean landmark error ≤ 3 % of the crop', async () => {
    const det = await nodeFaceDetector();
    const rows: FaceAccuracy[] = [];
    const lines: string[] = [];
    for (const stem of ['10', '15', '55', '57', '58', '84']) {
      const dfl = readDflJpg(new Uint8Array(readFileSync(join(ofurmanDir, 'aligned', `${stem}_0.jpg`))));
      const img = await decodeJpeg(new Uint8Array(readFileSync(join(ofurmanDir, `${stem}.jpg`))));
      const faces = await det.detect(img);
      const i = matchDetection(faces, dfl.meta);
      expect(i).toBeGreaterThanOrEqual(0);
      const r = compareWithDfl(faces[i].landmarks, dfl.meta, dfl.frame.width);
      rows.push(r);
      lines.push(`${stem}: ${fmt(r.meanPct)} / ${fmt(r.maxPct)} % (in DFL's crop ${fmt(r.meanPctInDflCrop)} %), corners ${fmt(r.cornerPx, 1)} px = ${fmt(r.cornerPct)} %`);
      // our file for the same face is a valid DFL face of DFL's type and size
      const { faces: out } = await extractFrameFaces(img, `${stem}.jpg`, [faces[i]], { faceType: dfl.meta.face_type, size: dfl.frame.width });
      expect(readDflJpg(out[0].bytes).meta.face_type).toBe('whole_face');
    }
    const s = summarizeAccuracy(rows);
    console.log(
      `ofurman vs real DFL (${s.faces} faces): landmarks in aligned crop mean ${fmt(s.meanPct)} % / max ${fmt(s.maxPct)} % of the crop; ` +
        `in DFL's own crop mean ${fmt(s.meanPctInDflCrop)} % / max ${fmt(s.maxPctInDflCrop)} %; crop corners ${fmt(s.cornerPx, 1)} px ` +
        `(${fmt(s.cornerPct)} % of DFL's crop side)\n  ${lines.join('\n  ')}`,
    );
    expect(s.meanPct).toBeLessThanOrEqual(3);
    for (const r of rows) expect(r.meanPct).toBeLessThan(4);
  });

  it('blur sort puts the crisp obama faces above a blurred copy of one', async () => {
    const bytes = new Uint8Array(readFileSync(join(obamaDir, 'aligned', '00100_0.jpg')));
    const { meta } = readDflJpg(bytes);
    const img = await decodeJpeg(bytes);
    // box-blur 5×5 copy
    const soft = { ...img, data: new Uint8Array(img.data.length) };
    for (let y = 0; y < 256; y++)
      for (let x = 0; x < 256; x++)
        for (let c = 0; c < 3; c++) {
          let s = 0, n = 0;
          for (let dy = -2; dy <= 2; dy++)
            for (let dx = -2; dx <= 2; dx++) {
              const xx = x + dx, yy = y + dy;
              if (xx < 0 || yy < 0 || xx > 255 || yy > 255) continue;
              s += img.data[3 * (yy * 256 + xx) + c];
              n++;
            }
          soft.data[3 * (y * 256 + x) + c] = Math.round(s / n);
        }
    const sharp = blurScore(img, meta.landmarks!);
    const blurred = blurScore(soft, meta.landmarks!);
    console.log(`CPBD on obama 00100: ${fmt(sharp, 3)} sharp, ${fmt(blurred, 3)} after a 5×5 box blur`);
    expect(sharp).toBeGreaterThan(blurred);
  });
});

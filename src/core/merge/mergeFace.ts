/**
 * Merging one swapped face back into its frame — DFL's `MergeMaskedFace` (spec §F.3) with SAEHDBW's one-channel
 * rules (§F.4), as pure functions on FloatImages.
 *
 * The model is NOT run here: the caller takes the model input from `prepareMergeFace` (the dst face cut from the
 * frame for the model's face type and resolution, in the model's channels and channel order), runs the model's
 * `merge` (§F.2) on it, and passes the three outputs (face, learned-prd mask, learned-dst mask; S×S) to `mergeFace`.
 * So this module needs no tfjs and runs the same in a worker, in Node, and for the live preview.
 *
 * Frames are RGB (or gray) FloatImages in [0,1] at their original size. Output channels: 3 for colour models (a gray
 * frame is replicated first, like DFL's `normalize_channels`); for one-channel models, a gray frame stays 1-channel,
 * a colour frame becomes gray (replicated to 3 channels, SAEHDBW's behaviour, §F.4) or — with
 * `bw_colour_frames: 'luma'` — keeps its colour and only its luminance is replaced inside the mask.
 */
import { getColorTransfer } from '../color/index.ts';
import { colorHistMatch } from '../color/histMatch.ts';
import { SaehdError } from '../errors.ts';
import type { FloatImage } from '../image/rawImage.ts';
import { resize } from '../image/resize.ts';
import { type Affine, type Interpolation, warpAffine } from '../image/warpAffine.ts';
import { getTransformMat } from '../samples/faceAlign.ts';
import type { Rng } from '../samples/random.ts';
import { cropWindow, grayTo3, lumaTransfer, overlayBlend, seamlessClone, seamlessMask, toGray } from './blend.ts';
import type { MergeSettings } from './index.ts';
import {
  areaMask,
  buildMergeMasks,
  dstHullMask,
  type MaskWindow,
  maskHasRegion,
  type Rect,
  shiftAffine,
  squareFrameRect,
  workingMask,
} from './masks.ts';

/** What the merger needs to know about the model. */
export interface MergeModelInfo {
  /** Model resolution S (the model's input and output size). */
  resolution: number;
  /** The model's face type (`h`, `mf`, `f`, `wf`, `head` or a full name); the crop is recomputed for it (§F.1). */
  faceType: string;
  /** 1 (SAEHDBW) or 3. */
  channels: 1 | 3;
  /** Channel order of 3-channel model images; DFL models are BGR (default), frames here are RGB. */
  channelOrder?: 'bgr' | 'rgb';
}

/** The parts of a dst face's metadata the merger uses (a `DflMetadata` fits). */
export interface MergeFaceMeta {
  /** 68 landmarks in frame pixels [x0, y0, …] (§F.1; `image_to_face_mat` is deliberately not used, J.4 #9). */
  source_landmarks: ArrayLike<number> | null;
}

/** The model's merge outputs for one face (§F.2), S×S, as FloatImages. */
export interface MergePrediction {
  /** Swapped face, S×S×C in the model's channel order. */
  face: FloatImage;
  /** learned-prd mask, S×S×1. */
  faceMask: FloatImage;
  /** learned-dst mask, S×S×1. */
  dstMask: FloatImage;
}

export interface MergeFaceOptions {
  /** Random source for SOT / IDT / mix colour transfers (default: a fixed seed, so results are reproducible). */
  rng?: Rng;
}

export interface MergeFaceResult {
  /** The merged frame (or, for `raw-predict`, the predicted face O×O). */
  image: FloatImage;
  /** The merging mask where it can be non-zero (frame coordinates; for `raw-predict` the O×O working mask). */
  mask: MaskWindow | null;
  /** How a one-channel model treated a colour frame ('gray' or 'luma'), or null when no conversion happened. */
  frameConversion: 'gray' | 'luma' | null;
}

/** Matrices of one face (spec §F.3 step 2). */
export interface MergeGeometry {
  /** S = O (no super-resolution in this port). */
  size: number;
  /** U = 4·S, the mask working size. */
  maskSize: number;
  /** frame → O×O crop of the model's face type. */
  faceMat: Float64Array;
  /** The same with scale 1 + 0.01·output_face_scale (where the face is pasted). */
  faceOutputMat: Float64Array;
  /** faceOutputMat for the U×U mask. */
  faceMaskOutputMat: Float64Array;
}

function landmarksOf(meta: MergeFaceMeta): ArrayLike<number> {
  const lm = meta.source_landmarks;
  if (!lm || lm.length < 136) throw new SaehdError('bad-merge-input', 'the face has no source_landmarks (68 points in frame pixels); re-extract it');
  for (let i = 0; i < 136; i++)
    if (!Number.isFinite(lm[i])) throw new SaehdError('bad-merge-input', 'the face has non-finite source_landmarks');
  return lm;
}

/** Step 2: face_mat, face_output_mat and face_mask_output_mat. */
export function mergeGeometry(meta: MergeFaceMeta, model: MergeModelInfo, outputFaceScale = 0): MergeGeometry {
  const lm = landmarksOf(meta);
  const S = model.resolution;
  const U = 4 * S;
  const scale = 1 + 0.01 * outputFaceScale;
  return {
    size: S,
    maskSize: U,
    faceMat: getTransformMat(lm, S, model.faceType),
    faceOutputMat: getTransformMat(lm, S, model.faceType, scale),
    faceMaskOutputMat: getTransformMat(lm, U, model.faceType, scale),
  };
}

function checkFrame(frame: FloatImage): void {
  if (frame.channels !== 1 && frame.channels !== 3)
    throw new SaehdError('bad-merge-input', `frames must be gray or RGB (got ${frame.channels} channels; drop the alpha channel first)`);
  if (frame.data.length !== frame.width * frame.height * frame.channels) throw new SaehdError('bad-merge-input', 'frame buffer size does not match its dimensions');
}

/** The frame in the model's channels (RGB order): colour model → 3 channels, one-channel model → luma. */
function workFrame(frame: FloatImage, channels: 1 | 3): FloatImage {
  if (channels === 3) return frame.channels === 3 ? frame : grayTo3(frame);
  return frame.channels === 1 ? frame : toGray(frame);
}

/** Swap channels 0 and 2 (RGB ↔ BGR) into a new image; other images are copied. */
function swapRB(img: FloatImage): FloatImage {
  const d = img.data.slice();
  if (img.channels === 3)
    for (let i = 0; i < d.length; i += 3) {
      const t = d[i];
      d[i] = d[i + 2];
      d[i + 2] = t;
    }
  return { ...img, data: d };
}

function clip01(img: FloatImage): FloatImage {
  const d = img.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    d[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return img;
}

/**
 * Step 3 (spec §F.3): the dst face crop, warpAffine(frame, face_mat, O×O, bicubic), clipped — in the frame's order
 * (RGB) and the model's channel count.
 */
function dstFaceCrop(work: FloatImage, g: MergeGeometry): FloatImage {
  return clip01(warpAffine(work, g.faceMat, g.size, g.size, { interpolation: 'cubic' }));
}

/**
 * The model input for one face (spec §F.3 steps 2–4): the dst crop at S×S in the model's channels and channel
 * order. Run the model's `merge` on it and pass the outputs to `mergeFace`.
 */
export function prepareMergeFace(frame: FloatImage, meta: MergeFaceMeta, model: MergeModelInfo): { input: FloatImage; geometry: MergeGeometry } {
  checkFrame(frame);
  const g = mergeGeometry(meta, model, 0);
  let crop = dstFaceCrop(workFrame(frame, model.channels), g);
  if (model.channels === 3 && (model.channelOrder ?? 'bgr') === 'bgr') crop = swapRB(crop);
  return { input: crop, geometry: g };
}

/** The first channel of a mask at O×O, clipped to [0,1] (step 4). */
function maskAt(m: FloatImage, O: number, what: string): FloatImage {
  let one: FloatImage = m;
  if (m.channels !== 1) {
    const P = m.width * m.height;
    const d = new Float32Array(P);
    for (let i = 0; i < P; i++) d[i] = m.data[i * m.channels];
    one = { width: m.width, height: m.height, channels: 1, data: d };
  } else one = { ...m, data: m.data.slice() };
  if (one.data.length !== one.width * one.height) throw new SaehdError('bad-merge-input', `${what} buffer size does not match its dimensions`);
  if (one.width !== O || one.height !== O) one = resize(one, O, O, 'cubic');
  return clip01(one);
}

/** Step 4: the predicted face in RGB order at O×O, clipped, and the two masks. */
function predictionAt(p: MergePrediction, model: MergeModelInfo, O: number): { face: FloatImage; prdMask: FloatImage; dstMask: FloatImage } {
  const C = model.channels;
  if (p.face.channels !== C)
    throw new SaehdError('bad-merge-input', `the predicted face has ${p.face.channels} channels, the model ${C}`);
  if (p.face.data.length !== p.face.width * p.face.height * C) throw new SaehdError('bad-merge-input', 'predicted face buffer size does not match its dimensions');
  let face = C === 3 && (model.channelOrder ?? 'bgr') === 'bgr' ? swapRB(p.face) : { ...p.face, data: p.face.data.slice() };
  if (face.width !== O || face.height !== O) face = resize(face, O, O, 'cubic');
  return { face: clip01(face), prdMask: maskAt(p.faceMask, O, 'learned-prd mask'), dstMask: maskAt(p.dstMask, O, 'learned-dst mask') };
}

/** Warp an O×O face into the frame window with face_output_mat (inverse mapping), clipped (step 9e). */
function warpFaceToWindow(face: FloatImage, mat: Affine, win: Rect, interp: Interpolation): FloatImage {
  return clip01(
    warpAffine(face, shiftAffine(mat, win.x0, win.y0), win.x1 - win.x0, win.y1 - win.y0, {
      interpolation: interp,
      inverseMap: true,
      // DFL warps onto a copy of the frame with BORDER_TRANSPARENT; outside the face square the mask is 0, so
      // replicating the edge only matters for the few partially covered edge pixels.
      border: 'replicate',
    }),
  );
}

/** Colour transfer of the predicted face toward the dst crop as the merger calls it (spec §E.1, §F.3 step 9b). */
function mergeColorTransfer(name: string, prd: FloatImage, dst: FloatImage, area: FloatImage, rng: Rng | undefined): FloatImage {
  const mode = getColorTransfer(name);
  if (name === 'none') return prd;
  if (!mode.channels.includes(prd.channels as 1 | 3))
    throw new SaehdError('bad-merge-input', `colour transfer "${name}" does not work with ${prd.channels}-channel faces (spec §E.9)`);
  // RCT uses the mask for its statistics, "-m" modes multiply by it; LCT / MKL / IDT take the whole crops (§E.1).
  const useMask = mode.masked || name === 'rct';
  return mode.transfer(prd, dst, rng, { order: 'rgb', targetMask: useMask ? area : null, referenceMask: useMask ? area : null });
}

/** `hist-match` (spec §E.8): optionally masked with the working mask (outside set to white), then matched per channel. */
function histMatchMerged(prd: FloatImage, dst: FloatImage, wrkO: FloatImage, masked: boolean, threshold: number): FloatImage {
  const C = prd.channels, P = prd.width * prd.height;
  const a = new Float32Array(P * C), b = new Float32Array(P * C);
  for (let i = 0; i < P; i++) {
    const m = masked ? wrkO.data[i] : 1;
    for (let c = 0; c < C; c++) {
      const v = prd.data[i * C + c] * m + (1 - m);
      a[i * C + c] = v > 1 ? 1 : v;
      b[i * C + c] = dst.data[i * C + c] * m + (1 - m); // DFL's clip of this one tests the other image (a no-op)
    }
  }
  return colorHistMatch({ ...prd, data: a }, { ...dst, data: b }, threshold);
}

/**
 * Merge one face into its frame (spec §F.3, §F.4) and return the frame-sized result with its merging mask.
 * `prediction` is the model's output for `prepareMergeFace(frame, meta, model).input`.
 */
export function mergeFaceDetailed(
  frame: FloatImage,
  meta: MergeFaceMeta,
  prediction: MergePrediction,
  settings: MergeSettings,
  model: MergeModelInfo,
  opts: MergeFaceOptions = {},
): MergeFaceResult {
  checkFrame(frame);
  const Cm = model.channels;
  const frameConversion: MergeFaceResult['frameConversion'] = Cm === 1 && frame.channels === 3 ? settings.bw_colour_frames : null;
  const g = mergeGeometry(meta, model, settings.output_face_scale);
  const O = g.size, U = g.maskSize;
  const work = workFrame(frame, Cm);
  const W = frame.width, H = frame.height;

  const dstFace = dstFaceCrop(work, g);
  const pred = predictionAt(prediction, model, O);
  const dstHull = settings.mask_mode === 'dst' ? dstHullMask(landmarksOf(meta), g.faceMat, O, W, H) : null;
  const wrk = workingMask(settings.mask_mode, { prdMask: pred.prdMask, dstMask: pred.dstMask, dstHull }, O);
  const raw = settings.mode === 'raw-rgb' || settings.mode === 'raw-predict';
  const win = squareFrameRect(g.faceMaskOutputMat, U, W, H, 4);
  const masks = buildMergeMasks(wrk, U, settings.erode_mask_modifier, settings.blur_mask_modifier, raw, g.faceMaskOutputMat, win);
  const frameMask = masks.frameMask;
  const wrkO = masks.wrkO;
  // SAEHDBW pastes one-channel faces with Lanczos-4 (§F.4), DFL with bicubic (§F.3 step 9e)
  const interp: Interpolation = Cm === 1 ? 'lanczos4' : 'cubic';

  if (settings.mode === 'original') return { image: { ...frame, data: frame.data.slice() }, mask: frameMask, frameConversion: null };
  if (settings.mode === 'raw-predict')
    return { image: pred.face, mask: { x: 0, y: 0, mask: wrkO }, frameConversion };

  const out: FloatImage = { ...work, data: work.data.slice() };
  if (settings.mode === 'raw-rgb') {
    if (win) {
      // the whole predicted square, no soft mask: the square's own coverage (a warped all-ones image) as the blend weight
      const face = warpFaceToWindow(pred.face, g.faceOutputMat, win, interp);
      const ones: FloatImage = { width: O, height: O, channels: 1, data: new Float32Array(O * O).fill(1) };
      const cover = warpAffine(ones, shiftAffine(g.faceOutputMat, win.x0, win.y0), win.x1 - win.x0, win.y1 - win.y0, {
        interpolation: interp,
        inverseMap: true,
      });
      clip01(cover);
      overlayBlend(out, work, face, { x: win.x0, y: win.y0, mask: cover });
    }
  } else if (win && frameMask && maskHasRegion(frameMask)) {
    const seamless = settings.mode === 'seamless' || settings.mode === 'seamless-hist-match';
    const area = areaMask(wrkO);
    let prd = pred.face;
    if (!seamless) prd = mergeColorTransfer(settings.color_transfer_mode, prd, dstFace, area, opts.rng);
    if (settings.mode === 'hist-match') prd = histMatchMerged(prd, dstFace, wrkO, settings.masked_hist_match, settings.hist_match_threshold);
    let face = warpFaceToWindow(prd, g.faceOutputMat, win, interp);
    if (seamless) {
      const sm = seamlessMask(frameMask);
      if (sm)
        face = seamlessClone(face, cropWindow(work, win), sm, {
          frameEdges: { left: win.x0 === 0, top: win.y0 === 0, right: win.x1 === W, bottom: win.y1 === H },
        });
    }
    overlayBlend(out, work, face, frameMask);
    const postCt = seamless && settings.color_transfer_mode !== 'none';
    if (postCt || settings.mode === 'seamless-hist-match') {
      // step 9h: re-extract the blended face (face_mat, bicubic), adjust it, paste it again with the same mask
      let outFace = warpAffine(out, g.faceMat, O, O, { interpolation: 'cubic' });
      if (postCt) outFace = mergeColorTransfer(settings.color_transfer_mode, outFace, dstFace, area, opts.rng);
      if (settings.mode === 'seamless-hist-match') outFace = colorHistMatch(outFace, dstFace, settings.hist_match_threshold);
      overlayBlend(out, work, warpFaceToWindow(outFace, g.faceOutputMat, win, interp), frameMask);
    }
  }

  let image: FloatImage;
  if (frameConversion === 'luma') {
    image = { ...frame, data: frame.data.slice() };
    if (win) lumaTransfer(image, work, out, win);
  } else if (frameConversion === 'gray') image = grayTo3(out);
  else image = out;
  return { image, mask: frameMask, frameConversion };
}

/** `mergeFaceDetailed(…).image`: the merged frame. */
export function mergeFace(
  frame: FloatImage,
  meta: MergeFaceMeta,
  prediction: MergePrediction,
  settings: MergeSettings,
  model: MergeModelInfo,
  opts: MergeFaceOptions = {},
): FloatImage {
  return mergeFaceDetailed(frame, meta, prediction, settings, model, opts).image;
}

/**
 * A whole frame with any number of faces (spec §F.3 step 10): each face is merged onto the original frame, then the
 * results are composited in order, img = img·(1 − m) + new·m, and the masks added and clipped. No faces: the frame
 * is returned unchanged with an empty mask (§F.1). Returns the frame and the combined frame-sized mask.
 */
export function mergeFrame(
  frame: FloatImage,
  faces: readonly { meta: MergeFaceMeta; prediction: MergePrediction }[],
  settings: MergeSettings,
  model: MergeModelInfo,
  opts: MergeFaceOptions = {},
): { image: FloatImage; mask: FloatImage; frameConversion: MergeFaceResult['frameConversion'] } {
  let image: FloatImage | null = null;
  let mask: FloatImage | null = null;
  let conv: MergeFaceResult['frameConversion'] = null;
  for (const f of faces) {
    const r = mergeFaceDetailed(frame, f.meta, f.prediction, settings, model, opts);
    conv = r.frameConversion;
    if (!image || !mask) {
      image = r.image;
      mask = { width: r.image.width, height: r.image.height, channels: 1, data: new Float32Array(r.image.width * r.image.height) };
      if (r.mask) pasteMaskAdd(mask, r.mask);
      continue;
    }
    if (!r.mask) continue;
    const C = image.channels, W = image.width;
    const m = r.mask.mask;
    if (r.image.channels !== C || r.image.width !== W) throw new SaehdError('bad-merge-input', 'faces of one frame produced different image sizes');
    for (let y = 0; y < m.height; y++)
      for (let x = 0; x < m.width; x++) {
        const a = m.data[y * m.width + x];
        if (a === 0) continue;
        const p = ((y + r.mask.y) * W + x + r.mask.x) * C;
        for (let c = 0; c < C; c++) image.data[p + c] = image.data[p + c] * (1 - a) + r.image.data[p + c] * a;
      }
    pasteMaskAdd(mask, r.mask);
  }
  if (!image || !mask)
    return { image: { ...frame, data: frame.data.slice() }, mask: { width: frame.width, height: frame.height, channels: 1, data: new Float32Array(frame.width * frame.height) }, frameConversion: null };
  return { image, mask, frameConversion: conv };
}

function pasteMaskAdd(dst: FloatImage, w: MaskWindow): void {
  const m = w.mask;
  for (let y = 0; y < m.height; y++)
    for (let x = 0; x < m.width; x++) {
      const i = (y + w.y) * dst.width + x + w.x;
      dst.data[i] = Math.min(1, dst.data[i] + m.data[y * m.width + x]);
    }
}

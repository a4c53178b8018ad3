/**
 * Frame → DFL aligned faces, as DeepFaceLab's extractor writes them (`mainscripts/Extractor.py`, final stage):
 * for each detected face (detect.ts) the frame → aligned matrix is `get_transform_mat(source_landmarks, size,
 * face_type)` (spec §H.2–§H.4, faceAlign.ts), the crop is `warpAffine(frame, mat, size×size)` with bilinear sampling
 * and a black border (§H.4 "Use": the Lanczos constant lands in the dst slot, so OpenCV's default, bilinear, is what
 * runs), it is saved as JPEG quality 90 (optionally 1-channel gray, §I.1/§I.3) and the metadata dict goes into APP15
 * with the extractor's keys, order and Python types (§G.1, §G.2):
 *   face_type (str), landmarks (list of 68 [x, y] floats, aligned px), source_filename (str),
 *   source_rect (int64 ndarray (4,)), source_landmarks (list of 68 [x, y] floats, frame px),
 *   image_to_face_mat (float64 ndarray (2, 3)).
 * Landmarks carry float32 precision, as DFL's come out of a float32 network and `transform_points` (cv2.transform on
 * float32 points). Faces are named `<frame stem>_<i>.jpg`, i counting the faces kept in this frame.
 *
 * The extractor's filter is kept: for face types up to full_face_no_align, a face whose aligned square mapped back
 * into the frame covers more than 4× the detector rect's area is dropped (§H.4, `Extractor.final_stage`).
 */
import { type DflMetadata, metadataFromDict, writeDflJpg } from '../formats/dfljpg.ts';
import { type PyDict, type PyValue, PyFloat, ndarray } from '../formats/pyValue.ts';
import { THUMB_SIDE } from '../faceset/importFaces.ts';
import type { NewFace } from '../faceset/store.ts';
import { encodeJpeg, rgbToGray } from '../image/jpegCodec.ts';
import type { RawImage } from '../image/rawImage.ts';
import { downscaleArea } from '../image/thumbnail.ts';
import { transformPoints, warpAffine } from '../image/warpAffine.ts';
import { FACE_TYPES, type FaceTypeName, getTransformMat, normalizeFaceType } from '../samples/faceAlign.ts';
import type { DetectedFace } from './detect.ts';

/** DFL's extractor default (`jpeg_quality` 90). */
export const EXTRACT_JPEG_QUALITY = 90;
export const MIN_EXTRACT_SIZE = 64;
export const MAX_EXTRACT_SIZE = 2048;

/** The face types the extractor offers (spec §D.7; `mark_only` and the `_no_align` types are not offered by DFL's UI). */
export const EXTRACT_FACE_TYPES: readonly FaceTypeName[] = ['half_face', 'midfull_face', 'full_face', 'whole_face', 'head'];

export interface ExtractOptions {
  faceType: FaceTypeName | string;
  /** Output side in pixels (DFL: 256 for whole_face by default, 512 for head). */
  size: number;
  /** Save a 1-channel JPEG (BT.601 weights in OpenCV's fixed point, as SAEHDBW's gray facesets). */
  gray?: boolean;
  /** JPEG quality, default 90. */
  quality?: number;
}

export interface ExtractedFace {
  /** `<frame stem>_<i>.jpg` */
  name: string;
  /** The DFL JPEG (APP15 metadata included). */
  bytes: Uint8Array;
  meta: DflMetadata;
  /** The aligned crop as saved (before JPEG), 1 or 3 channels. */
  image: RawImage;
  /** Which detection it came from (index into the `faces` array given to extractFrameFaces). */
  detection: number;
}

export interface DroppedFace {
  detection: number;
  reason: string;
}

/** A Python float for pickling: integral values must be PyFloat or the writer emits an int (pyValue.ts). */
function pyFloat(v: number): number | PyFloat {
  return Number.isInteger(v) ? new PyFloat(v) : v;
}

/** `points.tolist()` of a (68, 2) float32 array: a list of [x, y] Python floats. */
function pointList(pts: ArrayLike<number>): PyValue[] {
  const out: PyValue[] = [];
  for (let i = 0; i + 1 < pts.length; i += 2) out.push([pyFloat(pts[i]), pyFloat(pts[i + 1])]);
  return out;
}

/** Round every value to float32 (DFL's landmarks are float32 arrays). */
export function toFloat32Precision(a: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.fround(a[i]);
  return out;
}

/** `mathlib.polygon_area`: the shoelace formula, absolute value. */
export function polygonArea(pts: ArrayLike<number>): number {
  const n = pts.length >> 1;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    s += pts[2 * i] * pts[2 * j + 1] - pts[2 * j] * pts[2 * i + 1];
  }
  return Math.abs(s) / 2;
}

/** The frame stem DFL uses in `<stem>_<i>.jpg` (the file name without its last extension and any folder). */
export function frameStem(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** 3-channel RGB view of a frame (alpha dropped, gray repeated), so the crop always starts from colour like DFL's. */
export function toRgb(img: RawImage): RawImage {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const c = img.channels;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const s = i * c;
    out[3 * i] = img.data[s];
    out[3 * i + 1] = img.data[c === 1 ? s : s + 1];
    out[3 * i + 2] = img.data[c === 1 ? s : s + 2];
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** RGB → 1-channel gray with OpenCV's BGR2GRAY weights (jpegCodec.rgbToGray). */
export function toGray(img: RawImage): RawImage {
  if (img.channels === 1) return img;
  const n = img.width * img.height;
  const c = img.channels;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rgbToGray(img.data[i * c], img.data[i * c + 1], img.data[i * c + 2]);
  return { width: img.width, height: img.height, channels: 1, data: out };
}

/** The alignment of one face: matrix, aligned landmarks, and whether DFL's area filter keeps it. */
export interface FaceAlignment {
  /** frame → aligned, 2×3 row-major, float64 (`image_to_face_mat`). */
  mat: Float64Array;
  /** Source landmarks at float32 precision (`source_landmarks`). */
  sourceLandmarks: Float64Array;
  /** Aligned landmarks at float32 precision (`landmarks`). */
  landmarks: Float64Array;
  /** Area of the aligned square mapped back into the frame, and of the detector rect (for the 4× filter). */
  cropArea: number;
  rectArea: number;
  /** True when DFL's extractor would drop the face (§H.4 filter). */
  dropped: boolean;
}

/** Spec §H.4 plus the extractor's area filter, without touching pixels (used by extraction and accuracy alike). */
export function alignFace(face: Pick<DetectedFace, 'landmarks' | 'rect'>, faceType: FaceTypeName | string, size: number): FaceAlignment {
  const ft = normalizeFaceType(faceType);
  const sourceLandmarks = toFloat32Precision(face.landmarks);
  const mat = getTransformMat(sourceLandmarks, size, ft);
  const landmarks = toFloat32Precision(transformPoints(sourceLandmarks, mat));
  const s1 = size - 1;
  const cropArea = polygonArea(transformPoints([0, 0, 0, s1, s1, s1, s1, 0], mat, true));
  const [l, t, r, b] = face.rect;
  const rectArea = polygonArea([l, t, r, t, r, b, l, b]);
  const filtered = FACE_TYPES[ft].code <= FACE_TYPES.full_face_no_align.code;
  return { mat, sourceLandmarks, landmarks, cropArea, rectArea, dropped: filtered && cropArea > 4 * rectArea };
}

/** The extractor's metadata dict, keys in its order and with its Python types (§G.2). */
export function extractorDict(faceType: FaceTypeName, a: FaceAlignment, sourceFilename: string, rect: readonly number[]): PyDict {
  const dict: PyDict = new Map();
  dict.set('face_type', faceType);
  dict.set('landmarks', pointList(a.landmarks));
  dict.set('source_filename', sourceFilename);
  dict.set('source_rect', ndarray('i8', [4], BigInt64Array.from(rect.map((v) => BigInt(Math.trunc(v))))));
  dict.set('source_landmarks', pointList(a.sourceLandmarks));
  dict.set('image_to_face_mat', ndarray('f8', [2, 3], Float64Array.from(a.mat)));
  return dict;
}

/**
 * Cut, encode and tag the faces of one frame. `faces` are the detections in the order detect.ts returns them
 * (largest first); the faces the area filter drops are reported in `dropped` and take no index.
 */
export async function extractFrameFaces(
  frame: RawImage,
  frameName: string,
  faces: readonly DetectedFace[],
  opts: ExtractOptions,
): Promise<{ faces: ExtractedFace[]; dropped: DroppedFace[] }> {
  const ft = normalizeFaceType(opts.faceType);
  if (ft === 'mark_only') throw new RangeError('mark_only faces have no aligned crop');
  const size = Math.round(opts.size);
  if (!(size >= MIN_EXTRACT_SIZE && size <= MAX_EXTRACT_SIZE)) throw new RangeError(`face size must be ${MIN_EXTRACT_SIZE}…${MAX_EXTRACT_SIZE} px`);
  const quality = opts.quality ?? EXTRACT_JPEG_QUALITY;
  const rgb = toRgb(frame);
  const sourceFilename = frameName.split(/[\\/]/).pop() ?? frameName;
  const stem = frameStem(frameName);
  const out: ExtractedFace[] = [];
  const dropped: DroppedFace[] = [];
  for (let i = 0; i < faces.length; i++) {
    const a = alignFace(faces[i], ft, size);
    if (a.dropped) {
      dropped.push({ detection: i, reason: `aligned area ${a.cropArea.toFixed(0)} px² > 4× the detector box (${a.rectArea.toFixed(0)} px²)` });
      continue;
    }
    const warped = warpAffine(rgb, a.mat, size, size, { interpolation: 'linear', border: 'constant', borderValue: 0 });
    const image = opts.gray ? toGray(warped) : warped;
    const jpeg = await encodeJpeg(image, quality);
    const dict = extractorDict(ft, a, sourceFilename, faces[i].rect);
    const bytes = writeDflJpg(jpeg, dict, 3);
    out.push({ name: `${stem}_${out.length}.jpg`, bytes, meta: metadataFromDict(dict), image, detection: i });
  }
  return { faces: out, dropped };
}

/** A faceset store record for an extracted face (same shape as importFaces.prepareFace builds). */
export async function extractedToNewFace(face: ExtractedFace): Promise<NewFace> {
  const { width, height, channels } = face.image;
  const thumb = await encodeJpeg(downscaleArea(face.image, THUMB_SIDE), 85);
  return {
    record: { name: face.name, bytes: face.bytes, meta: face.meta, width, height, channels },
    thumb,
    summary: { name: face.name, width, height, channels, faceType: face.meta.face_type, sourceFilename: face.meta.source_filename, bytes: face.bytes.length },
  };
}

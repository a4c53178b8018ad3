/**
 * Grayscale / resize conversion of aligned faces, as SAEHDBW's faceset resizer does it with the same face type
 * (spec I.3): Lanczos-4 resize, optional BGR→gray, JPEG quality 100, landmarks and XSeg polygons divided by
 * old/new size, `image_to_face_mat` for the new size. The source-frame data (source_landmarks, source_rect,
 * source_filename) is unchanged; the XSeg mask image is left as is, as DFL does.
 *
 * Deliberate difference: DFL recomputes `image_to_face_mat` from `source_landmarks` with Umeyama; for the same face
 * type that matrix is the old one with both rows scaled by new/old size, which we apply directly (exact, and it keeps
 * files whose source landmarks are missing convertible).
 */
import { InvalidMetadataError } from '../errors.ts';
import { ndarray, type PyDict, type PyValue, isNdArray } from '../formats/pyValue.ts';
import { landmarksToPy, matToPy, metadataFromDict, readDflJpg, writeDflJpg, type DflMetadata } from '../formats/dfljpg.ts';
import { decodeJpeg, encodeJpeg } from '../image/jpegCodec.ts';
import { resizeLanczos4 } from '../image/resize.ts';
import type { RawImage } from '../image/rawImage.ts';

export interface ConvertOptions {
  /** New side in pixels; null keeps the size (gray only, `only_convert_to_grayscale`). */
  size: number | null;
  gray: boolean;
  /** DFL's resizer writes quality 100. */
  quality?: number;
}

export const MIN_CONVERT_SIZE = 64;
export const MAX_CONVERT_SIZE = 2048;

export interface ConvertedFace {
  bytes: Uint8Array;
  /** The converted pixels (for a thumbnail without decoding again). */
  image: RawImage;
  meta: DflMetadata;
  width: number;
  height: number;
  channels: number;
}

/** Scale the points of `seg_ie_polys` ({'polys': [{'type', 'pts'}]}) by `k`, keeping their dtype. */
function scalePolys(v: PyValue, k: number): PyValue {
  if (!(v instanceof Map)) return v;
  const polys = v.get('polys');
  if (!Array.isArray(polys)) return v;
  const scaled = polys.map((p) => {
    if (!(p instanceof Map)) return p;
    const pts = p.get('pts');
    if (!isNdArray(pts)) return p;
    const data = pts.data instanceof Float32Array ? new Float32Array(pts.data.length) : new Float64Array(pts.data.length);
    for (let i = 0; i < data.length; i++) data[i] = Number(pts.data[i]) * k;
    return new Map(p).set('pts', ndarray(pts.dtype, [...pts.shape], data));
  });
  return new Map(v).set('polys', scaled);
}

export async function convertFace(bytes: Uint8Array, opts: ConvertOptions): Promise<ConvertedFace> {
  const dfl = readDflJpg(bytes);
  const { width, height } = dfl.frame;
  if (width !== height) throw new InvalidMetadataError(`aligned faces are square, this one is ${width}x${height}`);
  const size = opts.size ?? width;
  if (!Number.isInteger(size) || size < MIN_CONVERT_SIZE || size > MAX_CONVERT_SIZE)
    throw new InvalidMetadataError(`size ${size} is outside ${MIN_CONVERT_SIZE}–${MAX_CONVERT_SIZE}`);
  const gray = opts.gray || dfl.frame.channels === 1;
  let img = await decodeJpeg(bytes, { channels: gray ? 1 : 3 });
  if (size !== width) img = resizeLanczos4(img, size, size);
  const jpeg = await encodeJpeg(img, opts.quality ?? 100);

  const k = size / width;
  const dict: PyDict = new Map(dfl.dict);
  const meta = dfl.meta;
  if (size !== width) {
    if (meta.landmarks) {
      const l = new Float64Array(meta.landmarks.length);
      for (let i = 0; i < l.length; i++) l[i] = meta.landmarks[i] * k;
      dict.set('landmarks', landmarksToPy(l));
    }
    if (meta.image_to_face_mat) {
      const m = new Float64Array(6);
      for (let i = 0; i < 6; i++) m[i] = meta.image_to_face_mat[i] * k;
      dict.set('image_to_face_mat', matToPy(m));
    }
    if (dict.has('seg_ie_polys')) dict.set('seg_ie_polys', scalePolys(dict.get('seg_ie_polys') ?? null, k));
  }
  const out = writeDflJpg(jpeg, dict);
  return { bytes: out, image: img, meta: metadataFromDict(dict), width: size, height: size, channels: gray ? 1 : img.channels };
}

/** DFL's own name for a converted file keeps the input name (the resizer writes `<folder>_resized/<same name>`). */
export function convertedFacesetName(name: string, opts: ConvertOptions): string {
  return `${name} ${opts.gray ? 'gray ' : ''}${opts.size ?? 'same'}`.trim();
}

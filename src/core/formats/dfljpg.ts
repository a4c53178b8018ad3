/**
 * DeepFaceLab aligned faces (DFLJPG, spec G): a JPEG whose APP15 segment holds a pickled dict of face metadata.
 * Reading walks the segments, parses the pickle with the safe parser and gives a typed, validated view of the keys
 * (G.2); writing splices a new APP15 into an existing JPEG exactly where DFL's `DFLJPG.dump` puts it (G.1), leaving
 * every other byte, including the entropy-coded image data, as it was.
 */
import { InvalidMetadataError, MetadataTooLargeError, NoDflMetadataError, NotAnImageError } from '../errors.ts';
import {
  type JpegFrameInfo,
  type JpegSegment,
  MARKER_APP15,
  frameInfoFromSegment,
  isAppMarker,
  isSofMarker,
  readJpegSegments,
} from './jpegSegments.ts';
import { type PickleLimits, parsePickle } from './pickle.ts';
import { writePickle } from './pickleWriter.ts';
import {
  type NdArray,
  type PyDict,
  type PyValue,
  PyBytes,
  PyTuple,
  cOrderData,
  isNdArray,
  ndarray,
  pyNumber,
} from './pyValue.ts';

/** Normalised, typed view of the metadata dict. */
export interface DflMetadata {
  /** Default 'full_face' when missing (DFL's reader default, G.2). */
  face_type: string;
  /** 68 × 2 numbers row-major [x0, y0, x1, y1, …] in aligned pixels, whether stored as a list or an ndarray. */
  landmarks: Float64Array | null;
  source_filename: string | null;
  /** [left, top, right, bottom] in frame pixels (plain numbers even when stored as int64). */
  source_rect: number[] | null;
  /** 68 × 2 numbers in frame pixels. */
  source_landmarks: Float64Array | null;
  /** The frame → aligned affine matrix, 6 numbers row-major 2 × 3. */
  image_to_face_mat: Float64Array | null;
  /** The encoded mask image (PNG, or JPEG when large) when present. */
  xseg_mask: Uint8Array | null;
  /** XSeg polygons in file order (type 1 include, 0 exclude), from `seg_ie_polys` or the legacy `ie_polys`. */
  seg_ie_polys: { type: number; pts: Float64Array }[] | null;
  eyebrows_expand_mod: number | null;
  /** Dict keys in file order. */
  keys: string[];
}

export interface DflJpg {
  frame: JpegFrameInfo;
  /** The dict exactly as parsed (values keep their Python types, so it can be written back unchanged). */
  dict: PyDict;
  meta: DflMetadata;
}

/** The APP15 length field is 16 bits and counts itself (G.1). */
export const MAX_DFL_PAYLOAD = 65533;
export const LANDMARK_COUNT = 68;

/**
 * Limits for the APP15 pickle: it is at most 64 KiB, so generous caps still stop a payload that would reference the
 * same bytes many times (memo reuse) from allocating gigabytes.
 */
const APP15_PICKLE_LIMITS: PickleLimits = { maxBytes: MAX_DFL_PAYLOAD, maxArrayBytes: 4 * 1024 * 1024, maxItems: 1_000_000 };

/**
 * The last APP15 segment whose payload is a pickle (starts with PROTO, as every protocol ≥ 2 pickle does), as DFL's
 * loader keeps the last one it meets. Other programs' APP15 segments are skipped.
 */
function findDflSegment(bytes: Uint8Array, segs: JpegSegment[]): JpegSegment | null {
  let found: JpegSegment | null = null;
  for (const s of segs) if (s.marker === MARKER_APP15 && s.dataEnd > s.dataStart && bytes[s.dataStart] === 0x80) found = s;
  return found;
}

/** The raw APP15 pickle of a DFL JPEG (null when there is none). */
export function readDflPayload(bytes: Uint8Array): Uint8Array | null {
  const s = findDflSegment(bytes, readJpegSegments(bytes));
  return s ? bytes.subarray(s.dataStart, s.dataEnd) : null;
}

/**
 * Read an aligned face: frame size from the SOF header, the dict from APP15. Throws NotAnImageError /
 * TruncatedJpegError for a bad JPEG, NoDflMetadataError when there is no APP15 pickle, PickleError /
 * ForbiddenPickleGlobalError for a bad pickle and InvalidMetadataError for wrongly typed keys.
 */
export function readDflJpg(bytes: Uint8Array): DflJpg {
  const segs = readJpegSegments(bytes);
  const app15 = findDflSegment(bytes, segs);
  if (!app15) throw new NoDflMetadataError();
  const sof = segs.find((s) => isSofMarker(s.marker));
  if (!sof) throw new NotAnImageError('the JPEG has no frame header (SOF)');
  const frame = frameInfoFromSegment(bytes, sof);
  const dict = parsePickle(bytes.subarray(app15.dataStart, app15.dataEnd), APP15_PICKLE_LIMITS);
  if (!(dict instanceof Map)) throw new InvalidMetadataError('the APP15 pickle is not a dict');
  return { frame, dict, meta: metadataFromDict(dict) };
}

// ---- typed view ----------------------------------------------------------------------------------------------------

function num(v: PyValue | undefined, what: string): number {
  const n = typeof v === 'boolean' ? null : pyNumber(v);
  if (n === null || !Number.isFinite(n)) throw new InvalidMetadataError(`${what} must be a finite number`);
  return n;
}

function seqItems(v: PyValue | undefined): PyValue[] | null {
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return v.items;
  return null;
}

function arrayNumbers(a: NdArray, what: string): Float64Array {
  if (a.dtype === 'b1') throw new InvalidMetadataError(`${what} must be numeric, not boolean`);
  const d = cOrderData(a);
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  for (const x of out) if (!Number.isFinite(x)) throw new InvalidMetadataError(`${what} holds a non-finite number`);
  return out;
}

/** An (rows, cols) table of numbers stored as an ndarray or as nested lists, row-major. */
function table(v: PyValue | undefined, what: string, rows: number | null, cols: number): Float64Array {
  if (isNdArray(v)) {
    const s = v.shape;
    const emptyOk = rows === null && s.length === 1 && s[0] === 0;
    if (!emptyOk && (s.length !== 2 || s[1] !== cols || (rows !== null && s[0] !== rows)))
      throw new InvalidMetadataError(`${what} has shape (${s.join(', ')}), expected (${rows ?? 'n'}, ${cols})`);
    return arrayNumbers(v, what);
  }
  const items = seqItems(v);
  if (!items) throw new InvalidMetadataError(`${what} must be a list or an array`);
  if (rows !== null && items.length !== rows)
    throw new InvalidMetadataError(`${what} has ${items.length} rows, expected ${rows}`);
  const out = new Float64Array(items.length * cols);
  items.forEach((row, i) => {
    const r = seqItems(row);
    if (!r || r.length !== cols) throw new InvalidMetadataError(`${what} row ${i} must hold ${cols} numbers`);
    for (let j = 0; j < cols; j++) out[i * cols + j] = num(r[j], what);
  });
  return out;
}

function vector(v: PyValue | undefined, what: string, n: number): number[] {
  if (isNdArray(v)) {
    if (v.shape.length !== 1 || v.shape[0] !== n)
      throw new InvalidMetadataError(`${what} has shape (${v.shape.join(', ')}), expected (${n},)`);
    return Array.from(arrayNumbers(v, what));
  }
  const items = seqItems(v);
  if (!items || items.length !== n) throw new InvalidMetadataError(`${what} must hold ${n} numbers`);
  return items.map((x) => num(x, what));
}

function polyList(v: PyValue | undefined, what: string): { type: number; pts: Float64Array }[] {
  // Current form: {'polys': [{'type': int, 'pts': ndarray (n, 2)}, …]}; legacy form: [(type, [[x, y], …]), …]
  // (both accepted by DFL's SegIEPolys.load). DFL sorts include polygons first when it loads them; the order here is
  // the file's.
  let entries: [PyValue | undefined, PyValue | undefined][];
  if (v instanceof Map) {
    const polys = seqItems(v.get('polys'));
    if (!polys) throw new InvalidMetadataError(`${what} has no 'polys' list`);
    entries = polys.map((p, i) => {
      if (!(p instanceof Map)) throw new InvalidMetadataError(`${what} polygon ${i} is not a dict`);
      return [p.get('type'), p.get('pts')];
    });
  } else {
    const list = seqItems(v);
    if (!list) throw new InvalidMetadataError(`${what} must be a dict or a list`);
    entries = list.map((p, i) => {
      const pair = seqItems(p);
      if (!pair || pair.length !== 2) throw new InvalidMetadataError(`${what} polygon ${i} must be (type, points)`);
      return [pair[0], pair[1]];
    });
  }
  return entries.map(([type, pts], i) => {
    const t = typeof type === 'boolean' ? null : pyNumber(type);
    if (t === null || !Number.isInteger(t)) throw new InvalidMetadataError(`${what} polygon ${i} has no integer type`);
    return { type: t, pts: table(pts, `${what} polygon ${i} points`, null, 2) };
  });
}

/** Validate the types and shapes of the known keys and return the typed view (InvalidMetadataError otherwise). */
export function metadataFromDict(dict: PyDict): DflMetadata {
  if (!(dict instanceof Map)) throw new InvalidMetadataError('the metadata is not a dict');
  const get = (k: string): PyValue | undefined => {
    const v = dict.get(k);
    return v === null ? undefined : v;
  };

  const ft = get('face_type');
  if (ft !== undefined && typeof ft !== 'string') throw new InvalidMetadataError('face_type must be a string');

  const sf = get('source_filename');
  if (sf !== undefined && typeof sf !== 'string') throw new InvalidMetadataError('source_filename must be a string');

  const landmarks = get('landmarks');
  const sourceLandmarks = get('source_landmarks');
  const rect = get('source_rect');
  const mat = get('image_to_face_mat');

  let xseg: Uint8Array | null = null;
  const xm = get('xseg_mask');
  if (xm !== undefined) {
    if (xm instanceof PyBytes) xseg = xm.bytes;
    else if (isNdArray(xm) && xm.dtype === 'u1' && (xm.shape.length === 1 || (xm.shape.length === 2 && xm.shape[1] === 1)))
      xseg = xm.data as Uint8Array;
    else throw new InvalidMetadataError('xseg_mask must be a uint8 array (N, 1) of encoded image bytes');
  }

  const polys = get('seg_ie_polys') !== undefined ? get('seg_ie_polys') : get('ie_polys');
  const polyWhat = get('seg_ie_polys') !== undefined ? 'seg_ie_polys' : 'ie_polys';

  const ebm = get('eyebrows_expand_mod');

  return {
    face_type: ft ?? 'full_face',
    landmarks: landmarks === undefined ? null : table(landmarks, 'landmarks', LANDMARK_COUNT, 2),
    source_filename: sf ?? null,
    source_rect: rect === undefined ? null : vector(rect, 'source_rect', 4),
    source_landmarks: sourceLandmarks === undefined ? null : table(sourceLandmarks, 'source_landmarks', LANDMARK_COUNT, 2),
    image_to_face_mat: mat === undefined ? null : table(mat, 'image_to_face_mat', 2, 3),
    xseg_mask: xseg,
    seg_ie_polys: polys === undefined ? null : polyList(polys, polyWhat),
    eyebrows_expand_mod: ebm === undefined ? null : num(ebm, 'eyebrows_expand_mod'),
    keys: [...dict.keys()].map(String),
  };
}

// ---- writing -------------------------------------------------------------------------------------------------------

/**
 * Put `dict` into `jpeg` as DFL does (G.1): entries whose value is None are dropped, existing APP15 segments are
 * removed, and the new one goes right after the last APPn segment (or after SOI when there is none). All other bytes
 * are copied unchanged. Throws MetadataTooLargeError when the pickle exceeds 65,533 bytes and InvalidMetadataError
 * when a known key has the wrong type.
 */
export function writeDflJpg(jpeg: Uint8Array, dict: PyDict, protocol: 3 | 4 = 3): Uint8Array {
  const clean: PyDict = new Map();
  for (const [k, v] of dict) if (v !== null) clean.set(k, v);
  metadataFromDict(clean);
  const payload = writePickle(clean, protocol);
  if (payload.length > MAX_DFL_PAYLOAD) throw new MetadataTooLargeError(payload.length);

  const segs = readJpegSegments(jpeg);
  const drop = segs.filter((s) => s.marker === MARKER_APP15);
  let insertAt = segs[0].end;
  for (const s of segs) if (isAppMarker(s.marker) && s.marker !== MARKER_APP15) insertAt = s.end;

  const seg = new Uint8Array(4 + payload.length);
  seg[0] = 0xff;
  seg[1] = MARKER_APP15;
  seg[2] = (payload.length + 2) >> 8;
  seg[3] = (payload.length + 2) & 0xff;
  seg.set(payload, 4);

  // Kept byte ranges: everything except the old APP15 segments, split at the insertion point.
  const parts: Uint8Array[] = [];
  let pos = 0;
  const keepUntil = (end: number) => {
    for (const d of drop) {
      if (d.start >= end || d.end <= pos) continue;
      if (d.start > pos) parts.push(jpeg.subarray(pos, d.start));
      pos = Math.max(pos, d.end);
    }
    if (end > pos) parts.push(jpeg.subarray(pos, end));
    pos = Math.max(pos, end);
  };
  keepUntil(insertAt);
  parts.push(seg);
  keepUntil(jpeg.length);

  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Landmarks as DFL's faceset resizer writes them: float64 ndarray (n, 2). */
export function landmarksToPy(l: Float64Array): NdArray {
  if (l.length % 2) throw new InvalidMetadataError(`landmarks need an even count of numbers, got ${l.length}`);
  return ndarray('f8', [l.length / 2, 2], Float64Array.from(l));
}

/** The frame → aligned matrix as DFL writes it: float64 ndarray (2, 3). */
export function matToPy(m: Float64Array): NdArray {
  if (m.length !== 6) throw new InvalidMetadataError(`image_to_face_mat needs 6 numbers, got ${m.length}`);
  return ndarray('f8', [2, 3], Float64Array.from(m));
}

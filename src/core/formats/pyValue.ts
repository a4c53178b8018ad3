/**
 * The Python values a DeepFaceLab metadata pickle can hold (spec G.2, G.3), as plain JavaScript data.
 *
 * Mapping (and why):
 * - `None` → `null`, `bool` → `boolean`, `str` → `string`.
 * - `int` → `number` when it is a safe integer, otherwise `bigint`, so ordinary values stay easy to use and huge
 *   ones stay exact.
 * - `float` → `number` when the value is not integral. An integral float (`1.0`) becomes `PyFloat`, because a plain
 *   integral JS number is written back as a Python int, and the metadata must round-trip with its types.
 * - `bytes` / `bytearray` → `PyBytes`; `list` → JS array; `tuple` → `PyTuple`; `dict` → `Map` in file order.
 * - `numpy.ndarray` → `NdArray` (typed array + shape); NumPy scalars → number / bigint / boolean.
 */

import { InvalidMetadataError } from '../errors.ts';

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyBytes
  | PyValue[]
  | PyTuple
  | PyDict
  | NdArray
  | PyFloat;

export class PyTuple {
  constructor(public items: PyValue[]) {}
}

export class PyBytes {
  constructor(public bytes: Uint8Array) {}
}

/** A Python float whose value is integral (e.g. 1.0); non-integral floats are plain numbers. */
export class PyFloat {
  constructor(public value: number) {}
}

/** A Python dict; a Map keeps insertion order, which is DFL's key order and matters for byte-identical rewriting. */
export type PyDict = Map<string | number, PyValue>;

/**
 * NumPy dtype codes as `numpy.dtype.__reduce__` spells them ('f8', 'u1', …; spec G.3).
 * 'f2' (float16) has no JS typed array in ES2023, so its values are held in a Float32Array (exact: every half is a
 * float32) and are converted back to half precision when pickled.
 */
export type NdDtype = 'f8' | 'f4' | 'f2' | 'i8' | 'i4' | 'i2' | 'i1' | 'u8' | 'u4' | 'u2' | 'u1' | 'b1';

export interface NdArray {
  kind: 'ndarray';
  dtype: NdDtype;
  shape: number[];
  /**
   * The elements in memory order, native byte order: C order, or Fortran order when `fortran` is true (kept as
   * stored so a rewrite is byte-identical; use `cOrderData` for row-major values).
   */
  data:
    | Float64Array
    | Float32Array
    | Int32Array
    | BigInt64Array
    | Uint8Array
    | Int16Array
    | Int8Array
    | Uint16Array
    | Uint32Array
    | BigUint64Array;
  /** Present and true only for arrays stored in Fortran (column-major) order. */
  fortran?: boolean;
  /**
   * Present only when the file's byte-order character is not the default ('<' for multi-byte types, '|' for
   * one-byte types), e.g. '>' for big-endian arrays. `data` is always native; the writer re-applies this order.
   */
  byteOrder?: string;
}

/** Bytes per element of each dtype. */
export const DTYPE_ITEMSIZE: Readonly<Record<NdDtype, number>> = {
  f8: 8, f4: 4, f2: 2, i8: 8, i4: 4, i2: 2, i1: 1, u8: 8, u4: 4, u2: 2, u1: 1, b1: 1,
};

const DTYPE_ARRAY: Readonly<Record<NdDtype, new (n: number) => NdArray['data']>> = {
  f8: Float64Array, f4: Float32Array, f2: Float32Array, i8: BigInt64Array, i4: Int32Array, i2: Int16Array,
  i1: Int8Array, u8: BigUint64Array, u4: Uint32Array, u2: Uint16Array, u1: Uint8Array, b1: Uint8Array,
};

export function isNdDtype(s: string): s is NdDtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_ITEMSIZE, s);
}

/** A zero-filled typed array of the JS type that holds `dtype`. */
export function allocDtypeArray(dtype: NdDtype, n: number): NdArray['data'] {
  return new DTYPE_ARRAY[dtype](n);
}

/** Product of a shape; NaN for a shape with a non-integer or negative dimension. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return NaN;
    n *= d;
  }
  return n;
}

/**
 * Build an NdArray, checking that the typed array matches the dtype and the shape (a mismatch is a programming
 * error, reported as a SaehdError so it never surfaces as a raw stack trace).
 */
export function ndarray(dtype: NdDtype, shape: number[], data: NdArray['data']): NdArray {
  if (!isNdDtype(dtype)) throw new InvalidMetadataError(`unknown array dtype ${String(dtype)}`);
  const Ctor = DTYPE_ARRAY[dtype];
  if (!(data instanceof Ctor))
    throw new InvalidMetadataError(`array dtype ${dtype} needs a ${Ctor.name}, got ${data.constructor.name}`);
  const n = shapeSize(shape);
  if (n !== data.length)
    throw new InvalidMetadataError(`array shape (${shape.join(', ')}) needs ${n} elements, got ${data.length}`);
  return { kind: 'ndarray', dtype, shape: shape.slice(), data };
}

export function isNdArray(v: unknown): v is NdArray {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'ndarray' && !Array.isArray(v);
}

/** The elements in row-major (C) order, converting a Fortran-ordered array (a copy only when needed). */
export function cOrderData(a: NdArray): NdArray['data'] {
  if (!a.fortran || a.shape.length < 2) return a.data;
  const shape = a.shape;
  const n = a.data.length;
  const out = allocDtypeArray(a.dtype, n);
  // Fortran strides: the first index varies fastest. Walk C order with an index counter.
  const fStride: number[] = [];
  let s = 1;
  for (let i = 0; i < shape.length; i++) {
    fStride.push(s);
    s *= shape[i];
  }
  const idx = new Array<number>(shape.length).fill(0);
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let i = 0; i < shape.length; i++) f += idx[i] * fStride[i];
    (out as unknown as unknown[])[c] = (a.data as unknown as unknown[])[f];
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** A Python float or int read as a JS number (ints beyond 2^53 lose precision); null for anything else. */
export function pyNumber(v: PyValue | undefined): number | null {
  if (typeof v === 'number') return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

/**
 * Which NumPy dtype object each parsed array was built from. Builtin dtypes are singletons in NumPy, so a fresh
 * array's dtype is pickled once and then referenced from the memo, while arrays that came out of an unpickler have
 * separate dtype objects. The reader records the identity here so the writer can reproduce the original byte stream
 * (spec G.3); a WeakMap keeps it out of the NdArray's own fields, so deep equality of values is unaffected.
 */
export const ndarrayDtypeIdentity = new WeakMap<NdArray, { readonly code: string; readonly byteOrder: string }>();

/**
 * UTF-8 encoding as Python's pickle does it ('surrogatepass'): a lone UTF-16 surrogate (which a str made from an
 * undecodable file name can hold) is written as its 3-byte form instead of being replaced, so it round-trips.
 */
export function encodeUtf8Pass(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 3);
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out[o++] = c;
    else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    } else {
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 63);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    }
  }
  return out.slice(0, o);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The inverse of `encodeUtf8Pass`: strict UTF-8, except that 3-byte encoded surrogates are accepted (as Python's
 * unpickler does). Returns null for bytes that are not UTF-8 even so.
 */
export function decodeUtf8Pass(b: Uint8Array): string | null {
  try {
    return strictUtf8.decode(b);
  } catch {
    // Fall through to the slow path, which also accepts encoded surrogates.
  }
  let s = '';
  let i = 0;
  const n = b.length;
  const cont = (k: number): number => {
    if (k >= n || (b[k] & 0xc0) !== 0x80) throw new RangeError('bad continuation byte');
    return b[k] & 63;
  };
  try {
    while (i < n) {
      const c = b[i];
      let cp: number;
      if (c < 0x80) {
        cp = c;
        i += 1;
      } else if (c >= 0xc2 && c < 0xe0) {
        cp = ((c & 31) << 6) | cont(i + 1);
        i += 2;
      } else if (c >= 0xe0 && c < 0xf0) {
        cp = ((c & 15) << 12) | (cont(i + 1) << 6) | cont(i + 2);
        if (cp < 0x800) return null;
        i += 3;
      } else if (c >= 0xf0 && c < 0xf5) {
        cp = ((c & 7) << 18) | (cont(i + 1) << 12) | (cont(i + 2) << 6) | cont(i + 3);
        if (cp < 0x10000 || cp > 0x10ffff) return null;
        i += 4;
      } else return null;
      s += String.fromCodePoint(cp);
    }
  } catch {
    return null;
  }
  return s;
}

/** IEEE half (as its 16 bits) → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** number → IEEE half bits, round to nearest even (exact for any value that came from a half). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  return sign | h;
}

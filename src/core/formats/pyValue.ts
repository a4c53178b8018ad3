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
export const ndarrayDtypeIdentity = new WeakMap<NdArray, object>();

/**
 * Generated pickles for fuzzing the safe parser: (1) opcode streams built from the protocol's opcodes with honest,
 * lying and extreme arguments, (2) hostile templates (deep nesting, huge declared array shapes, memo amplification,
 * forbidden globals such as os.system), and (3) well-formed values of every kind DFL metadata can hold, written by the
 * project's own writer (and then mutated by the caller).
 */
import fc from 'fast-check';
import { writePickle } from '../../src/core/formats/pickleWriter.ts';
import {
  type NdArray,
  type NdDtype,
  type PyDict,
  type PyValue,
  PyBytes,
  PyFloat,
  PyTuple,
  allocDtypeArray,
} from '../../src/core/formats/pyValue.ts';

const enc = new TextEncoder();

/** Little-endian unsigned integer of `width` bytes (values past 2^53 via BigInt). */
export function le(v: number | bigint, width: number): number[] {
  let x = BigInt.asUintN(width * 8, BigInt(typeof v === 'number' ? Math.trunc(v) : v));
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
}

export const op = {
  PROTO: (v: number) => [0x80, v],
  FRAME: (n: number | bigint) => [0x95, ...le(n, 8)],
  STOP: [0x2e],
  MARK: [0x28],
  POP: [0x30],
  POP_MARK: [0x31],
  DUP: [0x32],
  NONE: [0x4e],
  TRUE: [0x88],
  FALSE: [0x89],
  BININT1: (v: number) => [0x4b, v & 0xff],
  BININT2: (v: number) => [0x4d, ...le(v, 2)],
  BININT: (v: number) => [0x4a, ...le(v, 4)],
  LONG1: (bytes: number[]) => [0x8a, bytes.length & 0xff, ...bytes],
  LONG4: (n: number, bytes: number[]) => [0x8b, ...le(n, 4), ...bytes],
  BINFLOAT: (v: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return [0x47, ...b];
  },
  /** A str with its honest length. */
  UNICODE: (s: string) => {
    const b = [...enc.encode(s)];
    return b.length < 256 ? [0x8c, b.length, ...b] : [0x58, ...le(b.length, 4), ...b];
  },
  BINUNICODE: (n: number, body: number[]) => [0x58, ...le(n, 4), ...body],
  BINUNICODE8: (n: number | bigint, body: number[]) => [0x8d, ...le(n, 8), ...body],
  SHORT_BINSTRING: (body: number[]) => [0x55, body.length & 0xff, ...body],
  BINSTRING: (n: number, body: number[]) => [0x54, ...le(n, 4), ...body],
  SHORT_BINBYTES: (body: number[]) => [0x43, body.length & 0xff, ...body],
  BINBYTES: (n: number, body: number[]) => [0x42, ...le(n, 4), ...body],
  BINBYTES8: (n: number | bigint, body: number[]) => [0x8e, ...le(n, 8), ...body],
  BYTEARRAY8: (n: number | bigint, body: number[]) => [0x96, ...le(n, 8), ...body],
  EMPTY_DICT: [0x7d],
  EMPTY_LIST: [0x5d],
  EMPTY_TUPLE: [0x29],
  DICT: [0x64],
  LIST: [0x6c],
  TUPLE: [0x74],
  TUPLE1: [0x85],
  TUPLE2: [0x86],
  TUPLE3: [0x87],
  APPEND: [0x61],
  APPENDS: [0x65],
  SETITEM: [0x73],
  SETITEMS: [0x75],
  BINPUT: (i: number) => [0x71, i & 0xff],
  LONG_BINPUT: (i: number) => [0x72, ...le(i, 4)],
  MEMOIZE: [0x94],
  BINGET: (i: number) => [0x68, i & 0xff],
  LONG_BINGET: (i: number) => [0x6a, ...le(i, 4)],
  GLOBAL: (module: string, name: string) => [0x63, ...enc.encode(`${module}\n${name}\n`)],
  STACK_GLOBAL: (module: string, name: string) => [...op.UNICODE(module), ...op.UNICODE(name), 0x93],
  INST: (module: string, name: string) => [0x69, ...enc.encode(`${module}\n${name}\n`)],
  REDUCE: [0x52],
  BUILD: [0x62],
};

/** Globals a hostile pickle might name; the first ones are on the parser's allow-list, the rest must be refused. */
export const GLOBALS: readonly [string, string][] = [
  ['numpy.core.multiarray', '_reconstruct'],
  ['numpy._core.multiarray', '_reconstruct'],
  ['numpy', 'ndarray'],
  ['numpy', 'dtype'],
  ['numpy.core.numeric', '_frombuffer'],
  ['numpy.core.multiarray', 'scalar'],
  ['_codecs', 'encode'],
  ['builtins', 'bytes'],
  ['builtins', 'bytearray'],
  ['os', 'system'],
  ['posix', 'system'],
  ['nt', 'system'],
  ['subprocess', 'Popen'],
  ['subprocess', 'check_output'],
  ['builtins', 'eval'],
  ['builtins', 'exec'],
  ['builtins', 'getattr'],
  ['builtins', '__import__'],
  ['__builtin__', 'eval'],
  ['pickle', 'loads'],
  ['numpy', 'load'],
  ['numpy.testing._private.utils', 'runstring'],
  ['torch._utils', '_rebuild_tensor_v2'],
  ['copyreg', '_reconstructor'],
  ['webbrowser', 'open'],
  ['', ''],
  ['numpy\nos', 'system'],
];

/** The bytes of an ndarray as `ndarray.__reduce_ex__(2..4)` writes it, with every field open to lies. */
export interface ArraySpec {
  module: string;
  dtype: string;
  order: string;
  shape: (number | bigint)[];
  fortran: number;
  dataLen: number;
  /** Use the protocol-5 `_frombuffer` form instead of `_reconstruct` + BUILD. */
  frombuffer: boolean;
}

export function arrayPickle(a: ArraySpec): number[] {
  const dims = a.shape.flatMap((d) =>
    typeof d === 'bigint' || d > 0x7fffffff || d < -0x80000000
      ? (() => {
          const bytes = le(typeof d === 'bigint' ? d : BigInt(Math.trunc(d)), 9);
          return op.LONG1(bytes);
        })()
      : op.BININT(d),
  );
  const shapeTuple = [...op.MARK, ...dims, ...op.TUPLE];
  const dtype = [...op.GLOBAL('numpy', 'dtype'), ...op.UNICODE(a.dtype), ...op.FALSE, ...op.TRUE, ...op.TUPLE3, ...op.REDUCE,
    ...op.MARK, ...op.BININT1(3), ...op.UNICODE(a.order), ...op.NONE, ...op.NONE, ...op.NONE, ...op.BININT(-1), ...op.BININT(-1), ...op.BININT1(0), ...op.TUPLE, ...op.BUILD];
  const data = new Array<number>(Math.max(0, a.dataLen)).fill(0x41);
  if (a.frombuffer) {
    return [...op.GLOBAL('numpy.core.numeric', '_frombuffer'), ...op.MARK, ...op.BYTEARRAY8(data.length, data), ...dtype, ...shapeTuple,
      ...op.UNICODE(a.fortran ? 'F' : 'C'), ...op.TUPLE, ...op.REDUCE];
  }
  return [
    ...op.GLOBAL(a.module, '_reconstruct'), ...op.GLOBAL('numpy', 'ndarray'), ...op.BININT1(0), ...op.TUPLE1, ...op.SHORT_BINBYTES([0x62]), ...op.TUPLE3, ...op.REDUCE,
    ...op.MARK, ...op.BININT1(1), ...shapeTuple, ...dtype, ...op.BININT1(a.fortran), ...op.BINBYTES(data.length, data), ...op.TUPLE, ...op.BUILD,
  ];
}

const HUGE_DIMS = [0, 1, 2, 68, 0x7fffffff, -1, -0x80000000, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, 2 ** 62];

export const arraySpecArb: fc.Arbitrary<ArraySpec> = fc.record({
  module: fc.constantFrom('numpy.core.multiarray', 'numpy._core.multiarray', 'os'),
  dtype: fc.constantFrom('f8', 'f4', 'f2', 'i8', 'u1', 'b1', '<f8', '>i4', 'O8', 'V16', 'U10', 'S3', 'f16', 'c16', ''),
  order: fc.constantFrom('<', '>', '|', '=', '!', 'x', ''),
  shape: fc.array(fc.oneof(fc.constantFrom(...HUGE_DIMS), fc.integer({ min: 0, max: 8 }), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })), { maxLength: 5 }),
  fortran: fc.constantFrom(0, 1, 2),
  dataLen: fc.oneof(fc.constantFrom(0, 1, 8, 16, 64, 1088), fc.integer({ min: 0, max: 2048 })),
  frombuffer: fc.boolean(),
});

/** One opcode of a random stream, with arguments honest, lying or extreme. */
const bytesBody = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 24 });
const lyingLen = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(0xffffffff, 0x7fffffff, 0x80000000, 2 ** 53, 2 ** 63));
const strArb = fc.oneof(
  fc.constantFrom('face_type', 'landmarks', 'source_rect', 'xseg_mask', 'seg_ie_polys', 'polys', 'pts', 'type', 'latin1', 'C', 'F', 'f8', 'u1'),
  fc.string({ maxLength: 12 }),
);

const streamOpArb: fc.Arbitrary<number[]> = fc.oneof(
  fc.constantFrom(
    op.MARK, op.STOP, op.POP, op.POP_MARK, op.DUP, op.NONE, op.TRUE, op.FALSE, op.EMPTY_DICT, op.EMPTY_LIST, op.EMPTY_TUPLE,
    op.DICT, op.LIST, op.TUPLE, op.TUPLE1, op.TUPLE2, op.TUPLE3, op.APPEND, op.APPENDS, op.SETITEM, op.SETITEMS, op.MEMOIZE,
    op.REDUCE, op.BUILD,
    // Opcodes outside the subset: object creation, persistence, extensions, sets, protocol-0 text, out-of-band buffers.
    [0x6f], [0x81], [0x92], [0x50], [0x51, 0x4e], [0x82, 1], [0x83, 1, 0], [0x84, 1, 0, 0, 0], [0x8f], [0x90], [0x91],
    [0x49, 0x31, 0x0a], [0x4c, 0x31, 0x0a], [0x46, 0x31, 0x0a], [0x53, 0x27, 0x27, 0x0a], [0x56, 0x0a], [0x70, 0x30, 0x0a], [0x67, 0x30, 0x0a],
    [0x97], [0x98],
  ),
  fc.integer({ min: 0, max: 255 }).map((b) => [b]),
  fc.integer({ min: 0, max: 7 }).map((v) => op.PROTO(v)),
  fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(2 ** 32, 2 ** 53, 2 ** 63, 2 ** 64 - 1)).map((n) => op.FRAME(n)),
  fc.integer({ min: 0, max: 255 }).map(op.BININT1),
  fc.integer({ min: 0, max: 0xffff }).map(op.BININT2),
  fc.integer().map(op.BININT),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }).map(op.LONG1),
  fc.tuple(fc.oneof(fc.integer({ min: -8, max: 16 }), fc.constantFrom(4096, 4097, 0x7fffffff)), bytesBody).map(([n, b]) => op.LONG4(n, b)),
  fc.double().map(op.BINFLOAT),
  strArb.map(op.UNICODE),
  fc.tuple(lyingLen, bytesBody).map(([n, b]) => op.BINUNICODE(n, b)),
  fc.tuple(lyingLen, bytesBody).map(([n, b]) => op.BINUNICODE8(n, b)),
  bytesBody.map(op.SHORT_BINSTRING),
  fc.tuple(fc.oneof(lyingLen, fc.constant(-1)), bytesBody).map(([n, b]) => op.BINSTRING(n, b)),
  bytesBody.map(op.SHORT_BINBYTES),
  fc.tuple(lyingLen, bytesBody).map(([n, b]) => op.BINBYTES(n, b)),
  fc.tuple(lyingLen, bytesBody).map(([n, b]) => op.BINBYTES8(n, b)),
  fc.tuple(lyingLen, bytesBody).map(([n, b]) => op.BYTEARRAY8(n, b)),
  fc.integer({ min: 0, max: 255 }).map(op.BINPUT),
  fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(0xffffffff)).map(op.LONG_BINPUT),
  fc.integer({ min: 0, max: 8 }).map(op.BINGET),
  fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(0xffffffff)).map(op.LONG_BINGET),
  fc.constantFrom(...GLOBALS).map(([m, n]) => op.GLOBAL(m, n)),
  fc.constantFrom(...GLOBALS).map(([m, n]) => op.STACK_GLOBAL(m, n)),
  fc.constantFrom(...GLOBALS).map(([m, n]) => op.INST(m, n)),
  fc.constantFrom(...GLOBALS).map(([m]) => [0x63, ...enc.encode(m)]), // unterminated GLOBAL
  arraySpecArb.map(arrayPickle),
);

/** A random opcode stream, usually framed like a real pickle (PROTO … STOP). */
export const opStreamArb: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.boolean(), fc.array(streamOpArb, { maxLength: 40 }), fc.boolean())
  .map(([proto, ops, stop]) => Uint8Array.from([...(proto ? op.PROTO(4) : []), ...ops.flat(), ...(stop ? op.STOP : [])]));

/** Hostile pickles that target one limit each. */
export type Hostile =
  | { t: 'deepList'; n: number }
  | { t: 'deepMarks'; n: number }
  | { t: 'deepTuple'; n: number }
  | { t: 'deepDict'; n: number }
  | { t: 'selfList' }
  | { t: 'selfDict' }
  | { t: 'wideDag'; n: number }
  | { t: 'memoArrays'; n: number; size: number }
  | { t: 'memoEncode'; n: number; size: number }
  | { t: 'manyItems'; n: number }
  | { t: 'hugeLong'; n: number }
  | { t: 'global'; g: number; form: 'GLOBAL' | 'STACK_GLOBAL' | 'INST'; call: boolean }
  | { t: 'array'; spec: ArraySpec }
  | { t: 'hugeLength'; opcode: number; n: bigint };

/**
 * Hostile pickles. `maxAmplified` caps n × size of the memo-amplification cases (the bytes the parser would build from
 * one memoized object before its limit stops it): the APP15 limit is 4 MiB, a model file's 1 GiB, so callers pass what
 * the limits under test make safe to try.
 */
export const hostileArb = (maxAmplified = 2 ** 31): fc.Arbitrary<Hostile> => fc.oneof(
  fc.record({ t: fc.constant('deepList' as const), n: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200_000 })) }),
  fc.record({ t: fc.constant('deepMarks' as const), n: fc.integer({ min: 1, max: 200_000 }) }),
  fc.record({ t: fc.constant('deepTuple' as const), n: fc.integer({ min: 1, max: 100_000 }) }),
  fc.record({ t: fc.constant('deepDict' as const), n: fc.integer({ min: 1, max: 100_000 }) }),
  fc.constant({ t: 'selfList' as const }),
  fc.constant({ t: 'selfDict' as const }),
  fc.record({ t: fc.constant('wideDag' as const), n: fc.integer({ min: 1, max: 60 }) }),
  fc
    .record({ t: fc.constant('memoArrays' as const), n: fc.integer({ min: 1, max: 20_000 }), size: fc.constantFrom(8, 1024, 65_536) })
    .map((h) => ({ ...h, n: Math.max(1, Math.min(h.n, Math.floor(maxAmplified / h.size))) })),
  fc
    .record({ t: fc.constant('memoEncode' as const), n: fc.integer({ min: 1, max: 20_000 }), size: fc.constantFrom(8, 1024, 65_536) })
    .map((h) => ({ ...h, n: Math.max(1, Math.min(h.n, Math.floor(maxAmplified / h.size))) })),
  fc.record({ t: fc.constant('manyItems' as const), n: fc.integer({ min: 1, max: 300_000 }) }),
  fc.record({ t: fc.constant('hugeLong' as const), n: fc.integer({ min: 1, max: 2000 }) }),
  fc.record({
    t: fc.constant('global' as const),
    g: fc.nat({ max: GLOBALS.length - 1 }),
    form: fc.constantFrom('GLOBAL' as const, 'STACK_GLOBAL' as const, 'INST' as const),
    call: fc.boolean(),
  }),
  fc.record({ t: fc.constant('array' as const), spec: arraySpecArb }),
  fc.record({
    t: fc.constant('hugeLength' as const),
    opcode: fc.constantFrom(0x58, 0x8d, 0x54, 0x42, 0x8e, 0x96, 0x95, 0x8b),
    n: fc.constantFrom(2n ** 31n - 1n, 2n ** 32n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
  }),
);

function repeat(part: readonly number[], n: number): number[] {
  const out = new Array<number>(part.length * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < part.length; j++) out[i * part.length + j] = part[j];
  return out;
}

export function hostilePickle(h: Hostile): Uint8Array {
  const P = op.PROTO(4);
  let body: number[];
  switch (h.t) {
    case 'deepList': // [[[[…]]]]: push n empty lists, then APPEND each into the one below
      body = [...repeat(op.EMPTY_LIST, h.n), ...repeat(op.APPEND, h.n - 1)];
      break;
    case 'deepMarks': // n MARKs and a LIST for each
      body = [...repeat(op.MARK, h.n), ...repeat(op.LIST, h.n)];
      break;
    case 'deepTuple':
      body = [...op.EMPTY_TUPLE, ...repeat(op.TUPLE1, h.n)];
      break;
    case 'deepDict': // {'k': {'k': …}}
      body = [...op.EMPTY_DICT, ...repeat([...op.UNICODE('k'), ...op.EMPTY_DICT], h.n), ...repeat(op.SETITEM, h.n)];
      break;
    case 'selfList': // l = []; l.append(l)
      body = [...op.EMPTY_LIST, ...op.BINPUT(0), ...op.BINGET(0), ...op.APPEND];
      break;
    case 'selfDict':
      body = [...op.EMPTY_DICT, ...op.BINPUT(0), ...op.UNICODE('a'), ...op.BINGET(0), ...op.SETITEM];
      break;
    case 'wideDag': // x0 = []; x_{i+1} = [x_i, x_i] — 2^n leaves if walked naively
      body = [...op.EMPTY_LIST, ...repeat([...op.DUP, ...op.TUPLE2], h.n)];
      break;
    case 'memoArrays': { // one bytes object, memoized, used as the data of n arrays
      const count = h.size;
      body = [...op.BINBYTES(count, new Array<number>(count).fill(1)), ...op.LONG_BINPUT(0), ...op.EMPTY_LIST, ...op.MARK];
      const one = [
        ...op.GLOBAL('numpy.core.multiarray', '_reconstruct'), ...op.GLOBAL('numpy', 'ndarray'), ...op.BININT1(0), ...op.TUPLE1,
        ...op.SHORT_BINBYTES([0x62]), ...op.TUPLE3, ...op.REDUCE, ...op.MARK, ...op.BININT1(1), ...op.MARK, ...op.BININT(count), ...op.TUPLE,
        ...op.GLOBAL('numpy', 'dtype'), ...op.UNICODE('u1'), ...op.FALSE, ...op.TRUE, ...op.TUPLE3, ...op.REDUCE,
        ...op.BININT1(0), ...op.LONG_BINGET(0), ...op.TUPLE, ...op.BUILD,
      ];
      body = [...body, ...repeat(one, h.n), ...op.APPENDS];
      break;
    }
    case 'memoEncode': { // one latin-1 str, memoized, encoded n times
      body = [...op.BINUNICODE(h.size, new Array<number>(h.size).fill(0x61)), ...op.LONG_BINPUT(0), ...op.EMPTY_LIST, ...op.MARK];
      const one = [...op.GLOBAL('_codecs', 'encode'), ...op.LONG_BINGET(0), ...op.UNICODE('latin1'), ...op.TUPLE2, ...op.REDUCE];
      body = [...body, ...repeat(one, h.n), ...op.APPENDS];
      break;
    }
    case 'manyItems':
      body = [...op.EMPTY_LIST, ...op.MARK, ...repeat(op.NONE, h.n), ...op.APPENDS];
      break;
    case 'hugeLong':
      body = repeat(op.LONG4(4096, new Array<number>(4096).fill(0xff)), Math.min(h.n, 50));
      break;
    case 'global': {
      const [m, n] = GLOBALS[h.g];
      const g = h.form === 'GLOBAL' ? op.GLOBAL(m, n) : h.form === 'STACK_GLOBAL' ? op.STACK_GLOBAL(m, n) : op.INST(m, n);
      body = [...g, ...(h.call ? [...op.UNICODE('echo pwned'), ...op.TUPLE1, ...op.REDUCE] : [])];
      break;
    }
    case 'array':
      body = arrayPickle(h.spec);
      break;
    case 'hugeLength': {
      const len = le(h.n, h.opcode === 0x58 || h.opcode === 0x54 || h.opcode === 0x42 || h.opcode === 0x8b ? 4 : 8);
      body = [h.opcode, ...len, 0x61, 0x62, 0x63];
      break;
    }
  }
  return Uint8Array.from([...P, ...body, ...op.STOP]);
}

// ---- well-formed values ---------------------------------------------------------------------------------------------

const DTYPES: readonly NdDtype[] = ['f8', 'f4', 'f2', 'i8', 'i4', 'i2', 'i1', 'u8', 'u4', 'u2', 'u1', 'b1'];

export const ndArrayArb: fc.Arbitrary<NdArray> = fc
  .record({
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
    fortran: fc.boolean(),
    seed: fc.nat(),
  })
  .map(({ dtype, shape, fortran, seed }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = allocDtypeArray(dtype, n);
    for (let i = 0; i < n; i++) {
      const v = ((seed + i * 2654435761) >>> 0) % 200;
      if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = BigInt(v);
      else data[i] = dtype === 'b1' ? v & 1 : v - (dtype[0] === 'u' ? 0 : 100);
    }
    const a: NdArray = { kind: 'ndarray', dtype, shape, data };
    if (fortran && shape.length > 1) a.fortran = true;
    return a;
  });

const DFL_KEYS = [
  'face_type', 'landmarks', 'source_filename', 'source_rect', 'source_landmarks', 'image_to_face_mat', 'xseg_mask',
  'seg_ie_polys', 'ie_polys', 'eyebrows_expand_mod',
];

const leafArb: fc.Arbitrary<PyValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: false }).filter((x) => !Number.isInteger(x)),
  fc.integer({ min: -1000, max: 1000 }).map((x) => new PyFloat(x)),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.string({ maxLength: 16 }),
  fc.uint8Array({ maxLength: 16 }).map((b) => new PyBytes(b)),
  ndArrayArb,
);

/** Tables shaped almost like landmarks / polygons / matrices (right or wrong row counts, odd element types). */
const tableArb: fc.Arbitrary<PyValue> = fc
  .record({ rows: fc.constantFrom(0, 1, 2, 3, 67, 68, 69), cols: fc.constantFrom(1, 2, 3), cell: leafArb, tuple: fc.boolean() })
  .map(({ rows, cols, cell, tuple }) => {
    const row = (i: number): PyValue => {
      const r = Array.from({ length: cols }, (_, j) => (i === 1 && j === 0 ? cell : i * cols + j + 0.5));
      return tuple ? new PyTuple(r) : r;
    };
    return Array.from({ length: rows }, (_, i) => row(i));
  });

export const pyValueArb: fc.Arbitrary<PyValue> = fc.letrec<{ v: PyValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    tableArb,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.array(tie('v'), { maxLength: 3 }).map((items) => new PyTuple(items)),
    fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...DFL_KEYS, 'polys', 'type', 'pts'), fc.string({ maxLength: 8 }), fc.integer()), tie('v')), { maxLength: 4 })
      .map((kv) => new Map<string | number, PyValue>(kv)),
  ),
})).v;

/** A dict with DFL's key names and values of any shape or type. */
export const dflDictArb: fc.Arbitrary<PyDict> = fc
  .array(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...DFL_KEYS) }, fc.string({ maxLength: 8 })), fc.oneof(pyValueArb, tableArb)), { maxLength: 8 })
  .map((kv) => new Map<string | number, PyValue>(kv));

/** A well-formed pickle (protocol 3 or 4) of `arb`'s values, written by the project's writer. */
export function writtenArb(arb: fc.Arbitrary<PyValue>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(arb, fc.constantFrom(3 as const, 4 as const)).map(([v, p]) => writePickle(v, p));
}

/**
 * A safe parser for the subset of Python pickles that DeepFaceLab writes (spec G.3): dicts, lists, tuples, str,
 * bytes, numbers, and NumPy arrays / dtypes / scalars. It interprets the opcodes as data only: GLOBAL / STACK_GLOBAL
 * may name nothing but the few NumPy (and byte-string) constructors on an allow-list, each of which is emulated here;
 * anything else is refused with ForbiddenPickleGlobalError. Nothing is ever executed.
 *
 * Hostile input ends quickly in a named error: every declared length is checked against the bytes that remain, array
 * sizes must equal shape × item size, and the item count, the total bytes of arrays, and the nesting depth of the
 * result are capped (see PickleLimits). Recursive (self-containing) structures are refused.
 *
 * Big-endian arrays ('>' in the dtype state) are converted to native order on reading; the array keeps
 * `byteOrder: '>'` so the writer can restore the original bytes. NumPy scalars (`numpy.float64(2.5)`, which DFL does
 * not write but a hand-edited dict might hold) become plain numbers, so they are written back as Python floats/ints.
 */
import { ForbiddenPickleGlobalError, PickleError } from '../errors.ts';
import {
  DTYPE_ITEMSIZE,
  type NdArray,
  type NdDtype,
  type PyDict,
  type PyValue,
  PyBytes,
  PyFloat,
  PyTuple,
  allocDtypeArray,
  decodeUtf8Pass,
  halfToFloat,
  isNdArray,
  isNdDtype,
  ndarrayDtypeIdentity,
} from './pyValue.ts';

export interface PickleLimits {
  /** Refuse inputs longer than this (default 512 MiB). */
  maxBytes?: number;
  /** Deepest nesting of containers in the result (default 100; DFL's metadata is 5 deep). */
  maxDepth?: number;
  /** Total bytes of all NumPy arrays and other derived byte buffers (default 512 MiB). */
  maxArrayBytes?: number;
  /** Total values pushed while parsing (default 10 million). */
  maxItems?: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<Required<PickleLimits>> = {
  maxBytes: 512 * 1024 * 1024,
  maxDepth: 100,
  maxArrayBytes: 512 * 1024 * 1024,
  maxItems: 10_000_000,
};

/** Highest pickle protocol this parser knows (Python 3.8+ writes up to 5). */
export const HIGHEST_PROTOCOL = 5;

type GlobalKind = 'reconstruct' | 'ndarray' | 'dtype' | 'frombuffer' | 'scalar' | 'codecs_encode' | 'bytes' | 'bytearray';

/**
 * The only globals a pickle may name. The NumPy ones are what `ndarray.__reduce_ex__` and `dtype.__reduce__` write
 * (numpy.core in NumPy 1, numpy._core in NumPy 2; `_frombuffer` for protocol 5). `_codecs.encode`, `bytes` and
 * `bytearray` are how Python 3 spells byte strings in protocol 2 (`_codecs.encode(latin-1 text, 'latin1')`) and
 * bytearrays before protocol 5; they are emulated as pure data conversions.
 */
const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalKind> = new Map<string, GlobalKind>([
  ['numpy.core.multiarray\n_reconstruct', 'reconstruct'],
  ['numpy._core.multiarray\n_reconstruct', 'reconstruct'],
  ['numpy\nndarray', 'ndarray'],
  ['numpy\ndtype', 'dtype'],
  ['numpy.core.numeric\n_frombuffer', 'frombuffer'],
  ['numpy._core.numeric\n_frombuffer', 'frombuffer'],
  ['numpy.core.multiarray\nscalar', 'scalar'],
  ['numpy._core.multiarray\nscalar', 'scalar'],
  ['_codecs\nencode', 'codecs_encode'],
  ['builtins\nbytes', 'bytes'],
  ['__builtin__\nbytes', 'bytes'],
  ['builtins\nbytearray', 'bytearray'],
  ['__builtin__\nbytearray', 'bytearray'],
]);

/** A reference to an allowed global, as it sits on the stack before REDUCE. */
class GlobalRef {
  constructor(
    readonly kind: GlobalKind,
    readonly qualname: string,
  ) {}
}

/** A numpy.dtype under construction: the type code from its REDUCE, the byte order from its BUILD. */
class NpDtype {
  byteOrder = '=';
  constructor(readonly code: NdDtype) {}
}

function lookupGlobal(module: string, name: string): GlobalRef {
  const kind = ALLOWED_GLOBALS.get(`${module}\n${name}`);
  if (!kind) throw new ForbiddenPickleGlobalError(`${module}.${name}`);
  return new GlobalRef(kind, `${module}.${name}`);
}

/** Whether this machine stores typed arrays little-endian (all current browsers and Node platforms do). */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes → str with code point = byte (true Latin-1; TextDecoder's 'latin1' label is windows-1252). */
function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'number' || typeof v === 'bigint') return 'int/float';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyBytes) return 'bytes';
  if (v instanceof PyFloat) return 'float';
  if (v instanceof GlobalRef) return v.qualname;
  if (v instanceof NpDtype) return 'numpy.dtype';
  if (isNdArray(v)) return 'numpy.ndarray';
  return typeof v;
}

/** A Python int as a plain number: safe integers only (bool counts, as in Python). */
function asInt(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new PickleError(`${what} must be an integer, got ${describe(v)}`);
}

/** Bytes from a bytes object, or from a Python 2 str (latin-1), as old NumPy pickles hold raw data. */
function asRawBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof PyBytes) return v.bytes;
  if (typeof v === 'string') return latin1Bytes(v, what);
  throw new PickleError(`${what} must be bytes, got ${describe(v)}`);
}

function latin1Bytes(s: string, what: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new PickleError(`${what} has a character outside latin-1`);
    out[i] = c;
  }
  return out;
}

class Parser {
  private readonly b: Uint8Array;
  private readonly dv: DataView;
  private pos = 0;
  private readonly stack: unknown[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, unknown>();
  private items = 0;
  private arrayBytes = 0;
  private readonly limits: Required<PickleLimits>;
  /** Arrays made by `_reconstruct` whose BUILD has not come yet (NumPy would hold an empty int8 array). */
  private readonly unbuilt = new WeakSet<NdArray>();

  constructor(bytes: Uint8Array, limits: Required<PickleLimits>) {
    this.b = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limits = limits;
  }

  // ---- input ----

  private need(n: number, what: string): number {
    if (!(n >= 0) || n > this.b.length - this.pos)
      throw new PickleError(`${what} needs ${n} bytes at offset ${this.pos}, only ${this.b.length - this.pos} remain (truncated or damaged)`);
    const p = this.pos;
    this.pos += n;
    return p;
  }
  private u8(): number {
    return this.b[this.need(1, 'an opcode argument')];
  }
  private u16(): number {
    return this.dv.getUint16(this.need(2, 'an opcode argument'), true);
  }
  private i32(): number {
    return this.dv.getInt32(this.need(4, 'an opcode argument'), true);
  }
  private u32(): number {
    return this.dv.getUint32(this.need(4, 'an opcode argument'), true);
  }
  /** An 8-byte little-endian length; anything past the input is refused before it can be allocated. */
  private u64len(): number {
    const p = this.need(8, 'a length');
    const lo = this.dv.getUint32(p, true);
    const hi = this.dv.getUint32(p + 4, true);
    const n = hi * 2 ** 32 + lo;
    if (hi >= 0x200000 || n > this.b.length - this.pos)
      throw new PickleError(`declared length ${hi >= 0x200000 ? '(over 2^53)' : n} at offset ${p} is beyond the ${this.b.length - this.pos} bytes that remain`);
    return n;
  }
  private take(n: number, what: string): Uint8Array {
    const p = this.need(n, what);
    return this.b.slice(p, p + n);
  }
  private line(): string {
    const end = this.b.indexOf(0x0a, this.pos);
    if (end < 0) throw new PickleError(`unterminated name line at offset ${this.pos} (truncated)`);
    const s = decodeUtf8Pass(this.b.subarray(this.pos, end));
    this.pos = end + 1;
    if (s === null) throw new PickleError('a global name is not valid UTF-8');
    return s;
  }
  private utf8(n: number): string {
    const p = this.need(n, 'a string');
    const s = decodeUtf8Pass(this.b.subarray(p, p + n));
    if (s === null) throw new PickleError(`the string at offset ${p} is not valid UTF-8`);
    return s;
  }

  // ---- stack ----

  private push(v: unknown): void {
    if (++this.items > this.limits.maxItems)
      throw new PickleError(`more than ${this.limits.maxItems} values (limit reached; hostile or not DFL metadata)`);
    this.stack.push(v);
  }
  /** The lowest stack index the current MARK lets an opcode reach (Python's "fence"). */
  private fence(): number {
    return this.marks.length ? this.marks[this.marks.length - 1] : 0;
  }
  private pop(): unknown {
    if (this.stack.length <= this.fence()) throw new PickleError('stack underflow (damaged pickle)');
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length <= this.fence()) throw new PickleError('stack underflow (damaged pickle)');
    return this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) throw new PickleError('an opcode needs a MARK that is not there (damaged pickle)');
    return this.stack.splice(m);
  }
  private memoGet(i: number): void {
    if (!this.memo.has(i)) throw new PickleError(`memo reference ${i} is not defined (damaged or hostile pickle)`);
    this.push(this.memo.get(i));
  }
  private memoPut(i: number): void {
    this.memo.set(i, this.top());
  }

  // ---- values ----

  private long(n: number): number | bigint {
    if (n > 4096) throw new PickleError(`an integer of ${n} bytes is beyond the 4096-byte limit`);
    const p = this.need(n, 'an integer');
    if (n === 0) return 0;
    let hex = '';
    for (let i = n - 1; i >= 0; i--) hex += this.b[p + i].toString(16).padStart(2, '0');
    let v = BigInt('0x' + hex);
    if (this.b[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return intValue(v);
  }

  private chargeBytes(n: number): void {
    this.arrayBytes += n;
    if (this.arrayBytes > this.limits.maxArrayBytes)
      throw new PickleError(`arrays need more than ${this.limits.maxArrayBytes} bytes (limit reached)`);
  }

  /** The elements of an array of `dtype` from `raw` (C or Fortran order as stored), native byte order. */
  private arrayData(dtype: NpDtype, shape: number[], raw: Uint8Array): NdArray['data'] {
    const size = DTYPE_ITEMSIZE[dtype.code];
    let count = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new PickleError(`array dimension ${d} is not a valid size`);
      count *= d;
      if (count * size > this.limits.maxArrayBytes)
        throw new PickleError(`array of shape (${shape.join(', ')}) is beyond the ${this.limits.maxArrayBytes}-byte limit`);
    }
    if (count * size !== raw.length)
      throw new PickleError(`array of shape (${shape.join(', ')}) and dtype ${dtype.code} needs ${count * size} bytes, the pickle holds ${raw.length}`);
    this.chargeBytes(raw.length);
    // A copy in a fresh ArrayBuffer (a Node Buffer's slice() is a view into a shared pool, not a copy).
    const buf = new Uint8Array(raw);
    const o = dtype.byteOrder;
    const dataBigEndian = o === '>' || o === '!' || ((o === '=' || o === '|') && !LITTLE_ENDIAN_HOST);
    if (size > 1 && dataBigEndian === LITTLE_ENDIAN_HOST) {
      for (let i = 0; i < buf.length; i += size) buf.subarray(i, i + size).reverse();
    }
    if (dtype.code === 'f2') {
      const h = new Uint16Array(buf.buffer);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(h[i]);
      return out;
    }
    const out = allocDtypeArray(dtype.code, 0);
    const Ctor = out.constructor as new (b: ArrayBufferLike) => NdArray['data'];
    return new Ctor(buf.buffer);
  }

  private finishArray(a: NdArray, dtype: NpDtype, shape: number[], fortran: boolean, raw: Uint8Array): void {
    a.dtype = dtype.code;
    a.shape = shape;
    a.data = this.arrayData(dtype, shape, raw);
    if (fortran && shape.length > 1) a.fortran = true;
    else delete a.fortran;
    // Record only a non-default order of a multi-byte type ('=', native, counts as the default; one-byte types have
    // no order, NumPy writes '|' for them).
    const o = dtype.byteOrder;
    if (DTYPE_ITEMSIZE[dtype.code] > 1 && o !== '<' && o !== '=') a.byteOrder = o;
    else delete a.byteOrder;
    ndarrayDtypeIdentity.set(a, dtype);
  }

  private shapeOf(v: unknown): number[] {
    if (!(v instanceof PyTuple)) throw new PickleError(`an array shape must be a tuple, got ${describe(v)}`);
    return v.items.map((d) => asInt(d, 'an array dimension'));
  }

  private dtypeOf(v: unknown): NpDtype {
    if (!(v instanceof NpDtype)) throw new PickleError(`expected a numpy.dtype, got ${describe(v)}`);
    return v;
  }

  /** The call a REDUCE makes, emulated for each allowed global. */
  private call(fn: unknown, argsV: unknown): unknown {
    if (!(fn instanceof GlobalRef)) throw new PickleError(`REDUCE on ${describe(fn)}, which is not callable here`);
    if (!(argsV instanceof PyTuple)) throw new PickleError(`REDUCE arguments must be a tuple, got ${describe(argsV)}`);
    const args = argsV.items;
    switch (fn.kind) {
      case 'reconstruct': {
        // _reconstruct(ndarray, (0,), b'b'): an empty int8 array that BUILD then fills (spec G.3).
        if (args.length !== 3 || !(args[0] instanceof GlobalRef) || (args[0] as GlobalRef).kind !== 'ndarray')
          throw new PickleError(`${fn.qualname} is only supported for numpy.ndarray`);
        const a: NdArray = { kind: 'ndarray', dtype: 'i1', shape: [0], data: new Int8Array(0) };
        this.unbuilt.add(a);
        return a;
      }
      case 'dtype': {
        // numpy.dtype('f8', False, True); the byte order comes with BUILD. A leading order character is accepted.
        const code = args[0];
        if (typeof code !== 'string') throw new PickleError(`numpy.dtype needs a type string, got ${describe(code)}`);
        let c = code;
        let order: string | null = null;
        if (c.length === 3 && '<>|=!'.includes(c[0])) {
          order = c[0];
          c = c.slice(1);
        }
        if (!isNdDtype(c)) throw new PickleError(`NumPy dtype '${code}' is not supported (DFL metadata uses numeric arrays only)`);
        const d = new NpDtype(c);
        if (order) d.byteOrder = order;
        return d;
      }
      case 'frombuffer': {
        // Protocol 5: _frombuffer(buffer, dtype, shape, order) (numpy/_core/numeric.py).
        if (args.length !== 4) throw new PickleError('_frombuffer needs 4 arguments');
        const raw = asRawBytes(args[0], 'the array buffer');
        const dtype = this.dtypeOf(args[1]);
        const shape = this.shapeOf(args[2]);
        const order = args[3];
        if (order !== 'C' && order !== 'F') throw new PickleError(`array order must be 'C' or 'F', got ${describe(order)}`);
        const a: NdArray = { kind: 'ndarray', dtype: 'i1', shape: [0], data: new Int8Array(0) };
        this.finishArray(a, dtype, shape, order === 'F', raw);
        return a;
      }
      case 'scalar': {
        // numpy.core.multiarray.scalar(dtype, raw bytes): one element, e.g. a np.float64 value.
        if (args.length !== 2) throw new PickleError('numpy scalar needs 2 arguments');
        const dtype = this.dtypeOf(args[0]);
        const raw = asRawBytes(args[1], 'a NumPy scalar');
        const data = this.arrayData(dtype, [], raw);
        const v = data[0];
        if (dtype.code === 'b1') return v !== 0;
        if (typeof v === 'bigint') return intValue(v);
        if (dtype.code[0] === 'f') return Number.isInteger(v) ? new PyFloat(v) : v;
        return v;
      }
      case 'codecs_encode': {
        // _codecs.encode(text, 'latin1'): Python 3's protocol-2 spelling of bytes.
        const [text, enc] = args;
        if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1'))
          throw new PickleError('_codecs.encode is only supported as (str, "latin1")');
        this.chargeBytes(text.length);
        return new PyBytes(latin1Bytes(text, 'encoded bytes'));
      }
      case 'bytes':
      case 'bytearray': {
        if (args.length === 0) return new PyBytes(new Uint8Array(0));
        if (args.length === 1 && args[0] instanceof PyBytes) return new PyBytes((args[0] as PyBytes).bytes);
        if (args.length === 2 && typeof args[0] === 'string' && (args[1] === 'latin1' || args[1] === 'latin-1')) {
          this.chargeBytes((args[0] as string).length);
          return new PyBytes(latin1Bytes(args[0] as string, 'encoded bytes'));
        }
        throw new PickleError(`${fn.qualname} is only supported with bytes or (str, 'latin-1')`);
      }
      case 'ndarray':
        throw new PickleError('calling numpy.ndarray directly is not supported');
    }
  }

  /** BUILD: set the state of an array made by _reconstruct, or of a dtype. */
  private build(target: unknown, stateV: unknown): void {
    if (!(stateV instanceof PyTuple)) throw new PickleError(`BUILD state must be a tuple, got ${describe(stateV)}`);
    const st = stateV.items;
    if (target instanceof NpDtype) {
      // (3, '<', subarray, names, fields, elsize, alignment, flags) — version 4 adds metadata (NumPy arraydescr_setstate).
      const version = st[0];
      if ((version !== 3 && version !== 4) || st.length < 8) throw new PickleError('unsupported numpy.dtype state');
      if (st[2] !== null || st[3] !== null || st[4] !== null)
        throw new PickleError('structured or sub-array NumPy dtypes are not supported');
      const order = st[1];
      if (typeof order !== 'string' || !['<', '>', '|', '=', '!'].includes(order))
        throw new PickleError(`invalid dtype byte order ${describe(order)}`);
      target.byteOrder = order;
      return;
    }
    if (isNdArray(target)) {
      if (!this.unbuilt.has(target)) throw new PickleError('BUILD on an array that is already complete');
      // (version 1, shape, dtype, is_fortran, raw bytes); very old NumPy omits the version.
      const s = st.length === 5 ? st.slice(1) : st;
      if (s.length !== 4 || (st.length === 5 && st[0] !== 1)) throw new PickleError('unsupported numpy.ndarray state');
      const shape = this.shapeOf(s[0]);
      const dtype = this.dtypeOf(s[1]);
      const fortran = asInt(s[2], 'the Fortran-order flag') !== 0;
      if (Array.isArray(s[3])) throw new PickleError('NumPy object arrays are not supported');
      const raw = asRawBytes(s[3], 'array data');
      this.finishArray(target, dtype, shape, fortran, raw);
      this.unbuilt.delete(target);
      return;
    }
    throw new PickleError(`BUILD on ${describe(target)} is not supported`);
  }

  private setItems(target: unknown, kv: unknown[]): void {
    if (!(target instanceof Map)) throw new PickleError(`SETITEM(S) on ${describe(target)}, not a dict`);
    if (kv.length % 2) throw new PickleError('SETITEMS with an odd number of values');
    const d = target as PyDict;
    for (let i = 0; i < kv.length; i += 2) d.set(dictKey(kv[i]), kv[i + 1] as PyValue);
  }

  private appendItems(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target)) throw new PickleError(`APPEND(S) on ${describe(target)}, not a list`);
    for (const x of items) target.push(x);
  }

  // ---- the loop ----

  run(): PyValue {
    const b = this.b;
    for (;;) {
      if (this.pos >= b.length) throw new PickleError('the pickle ends without a STOP opcode (truncated)');
      const opAt = this.pos;
      const op = b[this.pos++];
      switch (op) {
        case 0x80: { // PROTO
          const v = this.u8();
          if (v > HIGHEST_PROTOCOL) throw new PickleError(`pickle protocol ${v} is newer than ${HIGHEST_PROTOCOL}`);
          break;
        }
        case 0x95: // FRAME: only a hint for buffered readers; its length must fit in what remains.
          this.u64len();
          break;
        case 0x2e: { // STOP
          const v = this.pop();
          return this.finish(v);
        }
        case 0x28: // MARK
          if (++this.items > this.limits.maxItems) throw new PickleError('too many MARKs (limit reached)');
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          if (this.stack.length > this.fence()) this.stack.pop();
          else this.popMark();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x4b: // BININT1
          this.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.push(this.u16());
          break;
        case 0x4a: // BININT
          this.push(this.i32());
          break;
        case 0x8a: // LONG1
          this.push(this.long(this.u8()));
          break;
        case 0x8b: { // LONG4
          const n = this.i32();
          if (n < 0) throw new PickleError('negative LONG4 length');
          this.push(this.long(n));
          break;
        }
        case 0x47: { // BINFLOAT: 8-byte big-endian double
          const v = this.dv.getFloat64(this.need(8, 'a float'), false);
          this.push(Number.isInteger(v) ? new PyFloat(v) : v);
          break;
        }
        case 0x58: // BINUNICODE
          this.push(this.utf8(this.u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(this.utf8(this.u8()));
          break;
        case 0x8d: // BINUNICODE8
          this.push(this.utf8(this.u64len()));
          break;
        case 0x55: { // SHORT_BINSTRING (Python 2 str): latin-1 text
          const n = this.u8();
          this.push(latin1(this.take(n, 'a string')));
          break;
        }
        case 0x54: { // BINSTRING
          const n = this.i32();
          if (n < 0) throw new PickleError('negative BINSTRING length');
          this.push(latin1(this.take(n, 'a string')));
          break;
        }
        case 0x43: // SHORT_BINBYTES
          this.push(new PyBytes(this.take(this.u8(), 'bytes')));
          break;
        case 0x42: // BINBYTES
          this.push(new PyBytes(this.take(this.u32(), 'bytes')));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8 (protocol 5 in-band buffers, e.g. NumPy array data)
          this.push(new PyBytes(this.take(this.u64len(), 'bytes')));
          break;
        case 0x97: // NEXT_BUFFER
        case 0x98: // READONLY_BUFFER
          throw new PickleError('protocol-5 out-of-band buffers are not supported (DFL writes its data in-band)');
        case 0x7d: // EMPTY_DICT
          this.push(new Map());
          break;
        case 0x5d: // EMPTY_LIST
          this.push([]);
          break;
        case 0x29: // EMPTY_TUPLE
          this.push(new PyTuple([]));
          break;
        case 0x64: { // DICT (protocol 0/1 form, harmless)
          const kv = this.popMark();
          const d: PyDict = new Map();
          this.setItems(d, kv);
          this.push(d);
          break;
        }
        case 0x6c: // LIST
          this.push(this.popMark());
          break;
        case 0x74: // TUPLE
          this.push(new PyTuple(this.popMark() as PyValue[]));
          break;
        case 0x85: // TUPLE1
          this.push(new PyTuple([this.pop() as PyValue]));
          break;
        case 0x86: { // TUPLE2
          const y = this.pop();
          const x = this.pop();
          this.push(new PyTuple([x, y] as PyValue[]));
          break;
        }
        case 0x87: { // TUPLE3
          const z = this.pop();
          const y = this.pop();
          const x = this.pop();
          this.push(new PyTuple([x, y, z] as PyValue[]));
          break;
        }
        case 0x61: { // APPEND
          const x = this.pop();
          this.appendItems(this.top(), [x]);
          break;
        }
        case 0x65: { // APPENDS
          const xs = this.popMark();
          this.appendItems(this.top(), xs);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case 0x75: { // SETITEMS
          const kv = this.popMark();
          this.setItems(this.top(), kv);
          break;
        }
        case 0x71: // BINPUT
          this.memoPut(this.u8());
          break;
        case 0x72: // LONG_BINPUT
          this.memoPut(this.u32());
          break;
        case 0x94: // MEMOIZE
          this.memoPut(this.memo.size);
          break;
        case 0x68: // BINGET
          this.memoGet(this.u8());
          break;
        case 0x6a: // LONG_BINGET
          this.memoGet(this.u32());
          break;
        case 0x63: { // GLOBAL 'module\nname\n'
          const module = this.line();
          const name = this.line();
          this.push(lookupGlobal(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string')
            throw new PickleError('STACK_GLOBAL needs two strings');
          this.push(lookupGlobal(module, name));
          break;
        }
        case 0x69: { // INST: names a class inline; checked like a global, then refused.
          lookupGlobal(this.line(), this.line());
          throw new PickleError('the INST opcode (class instances) is not supported');
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.push(this.call(fn, args));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case 0x6f: // OBJ
        case 0x81: // NEWOBJ
        case 0x92: // NEWOBJ_EX
          throw new PickleError(`opcode 0x${op.toString(16)} (object creation) is not supported`);
        case 0x50: // PERSID
        case 0x51: // BINPERSID
          throw new PickleError('persistent ids are not supported');
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: // EXT4
          throw new PickleError('the copyreg extension registry is not supported');
        case 0x8f: // EMPTY_SET
        case 0x90: // ADDITEMS
        case 0x91: // FROZENSET
          throw new PickleError('Python sets are not supported (DFL metadata has none)');
        case 0x49: // INT
        case 0x4c: // LONG
        case 0x46: // FLOAT
        case 0x53: // STRING
        case 0x56: // UNICODE
        case 0x70: // PUT
        case 0x67: // GET
          throw new PickleError(`text opcode '${String.fromCharCode(op)}' of protocol 0 is not supported (DFL writes protocol 3 or 4)`);
        default:
          throw new PickleError(`unknown opcode 0x${op.toString(16)} at offset ${opAt}`);
      }
    }
  }

  /**
   * Check the result holds only PyValues, is not recursive, and is at most maxDepth deep. Heights are memoised per
   * object, so shared sub-structures are visited once and the check is linear in the size of the result; the walk
   * uses its own stack, so even a hostile depth cannot overflow the JS call stack.
   */
  private finish(root: unknown): PyValue {
    const max = this.limits.maxDepth;
    const height = new Map<object, number>();
    const active = new Set<object>();
    const tooDeep = () => new PickleError(`nesting deeper than ${max} levels (limit reached; hostile or not DFL metadata)`);
    /** Children of a container, or null for a leaf; throws for objects that are not PyValues. */
    const childrenOf = (x: unknown): readonly unknown[] | null => {
      if (x === null || typeof x === 'boolean' || typeof x === 'number' || typeof x === 'bigint' || typeof x === 'string')
        return null;
      if (x instanceof PyBytes || x instanceof PyFloat || isNdArray(x)) return null;
      if (x instanceof GlobalRef || x instanceof NpDtype)
        throw new PickleError(`the pickle holds a bare ${describe(x)} object, which DFL metadata never contains`);
      if (Array.isArray(x)) return x;
      if (x instanceof PyTuple) return x.items;
      if (x instanceof Map) return [...x.values()];
      throw new PickleError(`unexpected ${describe(x)} in the result`);
    };
    interface Frame {
      node: object;
      kids: readonly unknown[];
      next: number;
      h: number;
    }
    const frames: Frame[] = [];
    /** Enter `x` at depth `frames.length`; returns its height when it needs no frame. */
    const enter = (x: unknown): number | null => {
      const kids = childrenOf(x);
      if (kids === null) return 0;
      const node = x as object;
      const known = height.get(node);
      if (known !== undefined) {
        if (frames.length + known > max) throw tooDeep();
        return known;
      }
      if (active.has(node)) throw new PickleError('recursive (self-containing) structures are not supported');
      if (frames.length >= max) throw tooDeep();
      active.add(node);
      frames.push({ node, kids, next: 0, h: 0 });
      return null;
    };
    enter(root);
    while (frames.length) {
      const f = frames[frames.length - 1];
      if (f.next < f.kids.length) {
        const h = enter(f.kids[f.next++]);
        if (h !== null) f.h = Math.max(f.h, h + 1);
        continue;
      }
      frames.pop();
      active.delete(f.node);
      height.set(f.node, f.h);
      if (frames.length) {
        const parent = frames[frames.length - 1];
        parent.h = Math.max(parent.h, f.h + 1);
      }
    }
    return root as PyValue;
  }
}

/** A Python int as a number when it is exactly representable, else a bigint. */
function intValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Dict keys: str and int only (all DFL writes); bools, floats and tuples are refused rather than mangled. */
function dictKey(k: unknown): string | number {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' && Number.isInteger(k)) return k;
  throw new PickleError(`dict key of type ${describe(k)} is not supported`);
}

/**
 * Parse a pickle of the subset DFL writes (protocols 2–5; see the module comment). Throws PickleError for anything
 * damaged, unsupported or over a limit, and ForbiddenPickleGlobalError for a global outside the allow-list.
 */
export function parsePickle(bytes: Uint8Array, limits: PickleLimits = {}): PyValue {
  const lim: Required<PickleLimits> = { ...DEFAULT_PICKLE_LIMITS, ...stripUndefined(limits) };
  if (bytes.length > lim.maxBytes) throw new PickleError(`${bytes.length} bytes is beyond the ${lim.maxBytes}-byte limit`);
  if (bytes.length === 0) throw new PickleError('empty pickle');
  return new Parser(bytes, lim).run();
}

function stripUndefined(l: PickleLimits): PickleLimits {
  const out: PickleLimits = {};
  for (const [k, v] of Object.entries(l)) if (v !== undefined) (out as Record<string, number>)[k] = v;
  return out;
}

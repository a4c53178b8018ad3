/**
 * Writes PyValues as a Python pickle, opcode for opcode as CPython's C pickler (`_pickle.c`) writes the same
 * objects (spec G.3), so a dict read from a DFL file and written back gives the original APP15 payload:
 *
 * - protocol 3 (DFL's official builds, Python 3.6): BINPUT/LONG_BINPUT memo, GLOBAL, BINUNICODE;
 *   protocol 4 adds FRAME (64 KiB frames; payloads of 64 KiB or more are written outside frames, as CPython does),
 *   SHORT_BINUNICODE, STACK_GLOBAL and MEMOIZE.
 * - lists and dicts in batches of 1000 (MARK … APPENDS / SETITEMS; a single element uses APPEND / SETITEM; a dict
 *   whose size is a multiple of 1000 ends with an empty MARK SETITEMS batch, a quirk of the C pickler kept on purpose).
 * - ints as BININT1 / BININT2 / BININT / LONG1 / LONG4, floats as BINFLOAT.
 * - NumPy arrays through `_reconstruct(ndarray, (0,), b'b')` + BUILD (1, shape, dtype, is_fortran, raw bytes), the dtype
 *   through `numpy.dtype(code, False, True)` + BUILD (3, order, None, None, None, -1, -1, 0).
 *
 * Python's memo works by object identity, which plain JS values do not have, so the memo follows what identity
 * means in practice for these pickles:
 * - globals: one entry per name (a class or function is one object);
 * - strings: dict keys share one entry per text (they are interned literals in DFL's code, so e.g. a second poly's
 *   'type' key is a BINGET), as do strings of at most one Latin-1 character (CPython caches those, which is why the
 *   dtype order '<' is a BINGET the second time); other strings get a fresh entry each time;
 * - bytes of at most one byte likewise (b'b' in every array); longer bytes, lists, dicts, tuples and arrays by JS
 *   object identity;
 * - dtypes: arrays that came out of the same dtype object when read share it (see `ndarrayDtypeIdentity`); other
 *   arrays share one dtype per code and byte order, as NumPy's builtin dtypes are singletons.
 */
import { PickleError } from '../errors.ts';
import {
  DTYPE_ITEMSIZE,
  type NdArray,
  type PyValue,
  PyBytes,
  PyFloat,
  PyTuple,
  encodeUtf8Pass,
  floatToHalf,
  isNdArray,
  ndarrayDtypeIdentity,
} from './pyValue.ts';

const FRAME_SIZE_TARGET = 64 * 1024;
const FRAME_SIZE_MIN = 4;
const FRAME_HEADER_SIZE = 9;
const BATCHSIZE = 1000;
/** Deepest nesting the writer follows before refusing (guards against cycles through tuples). */
const MAX_WRITE_DEPTH = 1000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Internal stand-ins for the objects a NumPy array is reduced to. */
class GlobalName {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}
class DtypeObj {
  constructor(
    readonly code: string,
    readonly order: string,
    readonly memoKey: unknown,
  ) {}
}
type Writable = PyValue | GlobalName | DtypeObj;

const RECONSTRUCT = new GlobalName('numpy.core.multiarray', '_reconstruct');
const NDARRAY = new GlobalName('numpy', 'ndarray');
const DTYPE = new GlobalName('numpy', 'dtype');

class Writer {
  private buf = new Uint8Array(1024);
  private len = 0;
  private framing = false;
  private frameStart = -1;
  private readonly memo = new Map<unknown, number>();
  private depth = 0;

  constructor(private readonly proto: 3 | 4) {}

  // ---- output with CPython's framing ----

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }
  /** Like `_Pickler_Write`: the first write of a frame reserves room for its FRAME header. */
  private write(bytes: ArrayLike<number>): void {
    const newFrame = this.framing && this.frameStart === -1;
    this.grow(bytes.length + (newFrame ? FRAME_HEADER_SIZE : 0));
    if (newFrame) {
      this.frameStart = this.len;
      this.len += FRAME_HEADER_SIZE;
    }
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }
  private op(...bytes: number[]): void {
    this.write(bytes);
  }
  /** Like `_Pickler_CommitFrame`: fill in the header, or drop it for a frame under 4 bytes. */
  private commitFrame(): void {
    if (!this.framing || this.frameStart === -1) return;
    const frameLen = this.len - this.frameStart - FRAME_HEADER_SIZE;
    if (frameLen >= FRAME_SIZE_MIN) {
      const h = this.frameStart;
      this.buf[h] = 0x95;
      new DataView(this.buf.buffer).setBigUint64(h + 1, BigInt(frameLen), true);
    } else {
      this.buf.copyWithin(this.frameStart, this.frameStart + FRAME_HEADER_SIZE, this.len);
      this.len -= FRAME_HEADER_SIZE;
    }
    this.frameStart = -1;
  }
  /** Like `_Pickler_OpcodeBoundary`, called as each object starts: close a frame once it reaches 64 KiB. */
  private boundary(): void {
    if (this.framing && this.frameStart !== -1 && this.len - this.frameStart - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET)
      this.commitFrame();
  }
  /** Like `_Pickler_write_bytes`: a payload of 64 KiB or more goes outside any frame. */
  private writeHeaderAndData(header: number[], data: Uint8Array): void {
    const bypass = this.framing && data.length >= FRAME_SIZE_TARGET;
    if (bypass) {
      this.commitFrame();
      this.framing = false;
    }
    this.write(header);
    this.write(data);
    if (bypass) this.framing = true;
  }

  // ---- memo ----

  private memoize(key: unknown): void {
    const idx = this.memo.size;
    if (this.proto >= 4) this.op(0x94);
    else if (idx < 256) this.op(0x71, idx);
    else this.op(0x72, ...u32le(idx));
    // A fresh (unshareable) entry still takes an index, as every object does in Python's memo.
    this.memo.set(key ?? Symbol(), idx);
  }
  /** Write a memo reference when `key` is known; true if it was. */
  private memoGet(key: unknown): boolean {
    const idx = this.memo.get(key);
    if (idx === undefined) return false;
    if (idx < 256) this.op(0x68, idx);
    else this.op(0x6a, ...u32le(idx));
    return true;
  }

  // ---- values ----

  dump(v: PyValue): Uint8Array {
    this.op(0x80, this.proto);
    if (this.proto >= 4) this.framing = true;
    this.save(v);
    this.op(0x2e);
    this.commitFrame();
    return this.buf.slice(0, this.len);
  }

  private save(v: Writable, asKey = false): void {
    this.boundary();
    if (v === null) return this.op(0x4e);
    if (v === true) return this.op(0x88);
    if (v === false) return this.op(0x89);
    if (typeof v === 'number') return Number.isInteger(v) ? this.saveInt(v) : this.saveFloat(v);
    if (typeof v === 'bigint') return this.saveInt(v);
    if (typeof v === 'string') return this.saveStr(v, asKey);
    if (v instanceof PyFloat) return this.saveFloat(v.value);
    if (typeof v !== 'object') throw new PickleError(`cannot pickle a value of type ${typeof v}`);
    if (++this.depth > MAX_WRITE_DEPTH) throw new PickleError('nesting too deep to pickle (recursive structure?)');
    try {
      if (v instanceof PyBytes) this.saveBytes(v);
      else if (Array.isArray(v)) this.saveList(v);
      else if (v instanceof Map) this.saveDict(v);
      else if (v instanceof PyTuple) this.saveTuple(v);
      else if (v instanceof GlobalName) this.saveGlobal(v);
      else if (v instanceof DtypeObj) this.saveDtype(v);
      else if (isNdArray(v)) this.saveArray(v);
      else throw new PickleError(`cannot pickle ${Object.prototype.toString.call(v)}`);
    } finally {
      this.depth--;
    }
  }

  private saveInt(v: number | bigint): void {
    if (typeof v === 'number' && Number.isSafeInteger(v)) {
      if (v >= 0 && v < 256) return this.op(0x4b, v);
      if (v >= 0 && v < 65536) return this.op(0x4d, v & 0xff, v >> 8);
      if (v >= -0x80000000 && v <= 0x7fffffff) return this.op(0x4a, ...u32le(v >>> 0));
    }
    const b = BigInt(v);
    if (b >= -0x80000000n && b <= 0x7fffffffn) return this.saveInt(Number(b));
    const bytes = encodeLong(b);
    if (bytes.length < 256) this.write([0x8a, bytes.length, ...bytes]);
    else this.write([0x8b, ...u32le(bytes.length), ...bytes]);
  }

  private saveFloat(v: number): void {
    const b = new Uint8Array(9);
    b[0] = 0x47;
    new DataView(b.buffer).setFloat64(1, v, false);
    this.write(b);
  }

  private saveStr(s: string, asKey: boolean): void {
    const shared = asKey || s.length === 0 || (s.length === 1 && s.charCodeAt(0) < 256);
    const key = shared ? 's:' + s : undefined;
    if (key !== undefined && this.memoGet(key)) return;
    const u = encodeUtf8Pass(s);
    if (this.proto >= 4 && u.length < 256) this.writeHeaderAndData([0x8c, u.length], u);
    else if (this.proto >= 4 && u.length > 0xffffffff) this.writeHeaderAndData([0x8d, ...u64le(u.length)], u);
    else this.writeHeaderAndData([0x58, ...u32le(u.length)], u);
    this.memoize(key);
  }

  private saveBytes(v: PyBytes): void {
    const b = v.bytes;
    const key: unknown = b.length <= 1 ? 'b:' + (b.length ? b[0] : '') : v;
    if (this.memoGet(key)) return;
    if (b.length < 256) this.writeHeaderAndData([0x43, b.length], b);
    else if (this.proto >= 4 && b.length > 0xffffffff) this.writeHeaderAndData([0x8e, ...u64le(b.length)], b);
    else this.writeHeaderAndData([0x42, ...u32le(b.length)], b);
    this.memoize(key);
  }

  private saveList(l: PyValue[]): void {
    if (this.memoGet(l)) return;
    this.op(0x5d);
    this.memoize(l);
    const n = l.length;
    if (n === 0) return;
    if (n === 1) {
      this.save(l[0]);
      return this.op(0x61);
    }
    let total = 0;
    do {
      this.op(0x28);
      let inBatch = 0;
      while (total < n) {
        this.save(l[total++]);
        if (++inBatch === BATCHSIZE) break;
      }
      this.op(0x65);
    } while (total < n);
  }

  private saveDict(d: Map<string | number, PyValue>): void {
    if (this.memoGet(d)) return;
    this.op(0x7d);
    this.memoize(d);
    if (d.size === 0) return;
    const it = d.entries();
    if (d.size === 1) {
      const [k, v] = it.next().value as [string | number, PyValue];
      this.save(k, true);
      this.save(v);
      return this.op(0x73);
    }
    let i: number;
    do {
      i = 0;
      this.op(0x28);
      for (let e = it.next(); !e.done; e = it.next()) {
        this.save(e.value[0], true);
        this.save(e.value[1]);
        if (++i === BATCHSIZE) break;
      }
      this.op(0x75);
    } while (i === BATCHSIZE);
  }

  private saveTuple(t: PyTuple): void {
    const n = t.items.length;
    if (n === 0) return this.op(0x29);
    if (this.memoGet(t)) return;
    // As in CPython's save_tuple: if saving the items memoised this tuple (a cycle through a list or dict), drop the
    // items again and refer to the memo instead.
    if (n <= 3) {
      for (const x of t.items) this.save(x);
      if (this.memo.has(t)) {
        this.write(new Array<number>(n).fill(0x30));
        this.memoGet(t);
        return;
      }
      this.op(0x84 + n); // TUPLE1..TUPLE3
    } else {
      this.op(0x28);
      for (const x of t.items) this.save(x);
      if (this.memo.has(t)) {
        this.op(0x31);
        this.memoGet(t);
        return;
      }
      this.op(0x74);
    }
    this.memoize(t);
  }

  private saveGlobal(g: GlobalName): void {
    const key = 'g:' + g.module + '\n' + g.name;
    if (this.memoGet(key)) return;
    if (this.proto >= 4) {
      // Module and attribute names are interned in CPython, hence shared like dict keys.
      this.save(g.module, true);
      this.save(g.name, true);
      this.op(0x93);
    } else {
      this.write([0x63, ...encodeUtf8Pass(`${g.module}\n${g.name}\n`)]);
    }
    this.memoize(key);
  }

  /** save_reduce(callable, args, state, obj): callable, args, REDUCE, memo, state, BUILD. */
  private saveReduce(fn: GlobalName, args: Writable[], state: Writable[], memoKey: unknown): void {
    this.save(fn);
    // Fresh tuples, as NumPy's __reduce__ builds new ones on every call (so they are never shared).
    this.save(new PyTuple(args as PyValue[]));
    this.op(0x52);
    this.memoize(memoKey);
    this.save(new PyTuple(state as PyValue[]));
    this.op(0x62);
  }

  private saveDtype(d: DtypeObj): void {
    if (this.memoGet(d.memoKey)) return;
    this.saveReduce(DTYPE, [d.code, false, true], [3, d.order, null, null, null, -1, -1, 0], d.memoKey);
  }

  private saveArray(a: NdArray): void {
    if (this.memoGet(a)) return;
    const size = DTYPE_ITEMSIZE[a.dtype];
    if (size === undefined) throw new PickleError(`cannot pickle an array of dtype ${String(a.dtype)}`);
    let count = 1;
    for (const d of a.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new PickleError(`invalid array dimension ${d}`);
      count *= d;
    }
    if (count !== a.data.length)
      throw new PickleError(`array shape (${a.shape.join(', ')}) needs ${count} elements, it has ${a.data.length}`);
    const def = size === 1 ? '|' : '<';
    const order = a.byteOrder ?? def;
    const tok = ndarrayDtypeIdentity.get(a);
    const tokOrder = tok && (tok.byteOrder === '=' ? def : tok.byteOrder);
    const memoKey = tok && tok.code === a.dtype && tokOrder === order ? tok : 'd:' + a.dtype + order;
    const fortran = a.fortran === true;
    this.saveReduce(
      RECONSTRUCT,
      [NDARRAY, new PyTuple([0]), new PyBytes(new Uint8Array([0x62]))],
      [1, new PyTuple(a.shape.slice()), new DtypeObj(a.dtype, order, memoKey), fortran, new PyBytes(arrayBytes(a, order))],
      a,
    );
  }
}

/** The raw bytes of an array's elements in the given byte order. */
function arrayBytes(a: NdArray, order: string): Uint8Array {
  const size = DTYPE_ITEMSIZE[a.dtype];
  let out: Uint8Array;
  if (a.dtype === 'f2') {
    const h = new Uint16Array(a.data.length);
    for (let i = 0; i < h.length; i++) h[i] = floatToHalf(Number(a.data[i]));
    out = new Uint8Array(h.buffer);
  } else {
    out = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength).slice();
  }
  const bigEndian = order === '>' || order === '!' || ((order === '=' || order === '|') && !LITTLE_ENDIAN_HOST);
  if (size > 1 && bigEndian === LITTLE_ENDIAN_HOST) {
    for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
  }
  return out;
}

/** Python's `pickle.encode_long`: minimal little-endian two's complement. */
function encodeLong(x: bigint): number[] {
  if (x === 0n) return [];
  const out: number[] = [];
  let v = x;
  // Emit bytes until the remaining value is all sign bits and the sign bit of the last byte matches.
  for (;;) {
    const byte = Number(v & 0xffn);
    out.push(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return out;
}

function u32le(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function u64le(v: number): number[] {
  const lo = v % 2 ** 32;
  const hi = Math.floor(v / 2 ** 32);
  return [...u32le(lo), ...u32le(hi)];
}

/**
 * Pickle a value as CPython would (protocol 3 by default, as DFL's official builds write; 4 as Python ≥ 3.8 does).
 * Throws PickleError for values outside PyValue or recursive structures.
 */
export function writePickle(value: PyValue, protocol: 3 | 4 = 3): Uint8Array {
  if (protocol !== 3 && protocol !== 4) throw new PickleError(`writing pickle protocol ${String(protocol)} is not supported`);
  return new Writer(protocol).dump(value);
}

/**
 * Hand-built zips whose headers can lie: declared sizes that do not match the data, entry counts far beyond the
 * file, zip64 records. fflate's zipSync only writes honest zips, so the zip-bomb cases are assembled here.
 */
import { crc32 } from '../../src/core/formats/crc32.ts';
import { deflateSync } from 'fflate';

export interface CraftEntry {
  name: string;
  /** The stored bytes (already deflated when method is 8). */
  data: Uint8Array;
  /** 0 stored, 8 deflated; anything else is a method fflate does not support. */
  method: number;
  crc?: number;
  /** Declared sizes (default: honest). Values above 0xFFFFFFFE go to a zip64 extra field. */
  compressedSize?: number;
  uncompressedSize?: number;
}

export interface CraftOptions {
  /** Write a zip64 end record declaring this many entries (up to 2^64 - 1). */
  zip64Entries?: bigint;
  /** Declared entry count in the classic end record (default: the real count). */
  entries?: number;
}

function u16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}
function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
function u64(v: bigint | number): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
}

export function craftZip(entries: readonly CraftEntry[], opts: CraftOptions = {}): Uint8Array {
  const out: number[] = [];
  const central: number[] = [];
  const enc = new TextEncoder();
  for (const e of entries) {
    const name = [...enc.encode(e.name)];
    const cs = e.compressedSize ?? e.data.length;
    const us = e.uncompressedSize ?? (e.method === 0 ? e.data.length : 0);
    const big = cs > 0xfffffffe || us > 0xfffffffe;
    const extra = big ? [...u16(1), ...u16(16), ...u64(us), ...u64(cs)] : [];
    const crc = e.crc ?? (e.method === 0 ? crc32(e.data) : 0);
    const offset = out.length;
    const head = (sig: number) => [...u32(sig)];
    out.push(...head(0x04034b50), ...u16(big ? 45 : 20), ...u16(0x800), ...u16(e.method), ...u16(0), ...u16(0x21), ...u32(crc),
      ...u32(big ? 0xffffffff : cs), ...u32(big ? 0xffffffff : us), ...u16(name.length), ...u16(extra.length), ...name, ...extra);
    for (const b of e.data) out.push(b);
    central.push(...head(0x02014b50), ...u16(big ? 45 : 20), ...u16(big ? 45 : 20), ...u16(0x800), ...u16(e.method), ...u16(0), ...u16(0x21),
      ...u32(crc), ...u32(big ? 0xffffffff : cs), ...u32(big ? 0xffffffff : us), ...u16(name.length), ...u16(extra.length), ...u16(0),
      ...u16(0), ...u16(0), ...u32(0), ...u32(offset), ...name, ...extra);
  }
  const cdOffset = out.length;
  out.push(...central);
  const count = opts.entries ?? entries.length;
  if (opts.zip64Entries !== undefined) {
    const z64 = out.length;
    out.push(...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0), ...u64(opts.zip64Entries), ...u64(opts.zip64Entries),
      ...u64(central.length), ...u64(cdOffset));
    out.push(...u32(0x07064b50), ...u32(0), ...u64(z64), ...u32(1));
  }
  out.push(...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(Math.min(count, 0xffff)), ...u16(Math.min(count, 0xffff)),
    ...u32(central.length), ...u32(opts.zip64Entries !== undefined ? 0xffffffff : cdOffset), ...u16(0));
  return Uint8Array.from(out);
}

/** A small deflate stream of zeros (honest length `n`), for entries that then lie about their expanded size. */
export function deflatedZeros(n: number): Uint8Array {
  return deflateSync(new Uint8Array(n), { level: 9 });
}

/** Zip-bomb shapes: a small zip declaring a huge expanded size, and a zip64 end record declaring 2^32+ entries. */
export type Bomb =
  | { t: 'declared'; size: number; method: 0 | 8; name: string }
  | { t: 'manyEntries'; count: bigint; name: string }
  | { t: 'manyClassic'; count: number };

export function bombZip(b: Bomb): Uint8Array {
  switch (b.t) {
    case 'declared':
      return craftZip([{ name: b.name, data: b.method === 8 ? deflatedZeros(1024) : new Uint8Array(64), method: b.method, uncompressedSize: b.size }]);
    case 'manyEntries':
      return craftZip([{ name: b.name, data: new Uint8Array(4), method: 0 }], { zip64Entries: b.count });
    case 'manyClassic':
      return craftZip([{ name: 'x.jpg', data: new Uint8Array(4), method: 0 }], { entries: b.count });
  }
}

/**
 * The overlapping-entries bomb: one deflated entry, listed `copies` times in the central directory (every record
 * pointing at the same local header), so a reader that trusts the directory expands the same data `copies` times.
 */
export function overlappingZip(copies: number, expanded: number, name = 'x.jpg'): Uint8Array {
  const one = craftZip([{ name, data: deflatedZeros(expanded), method: 8, uncompressedSize: expanded, crc: crc32(new Uint8Array(expanded)) }]);
  const v = new DataView(one.buffer);
  const eocd = one.length - 22;
  const cdSize = v.getUint32(eocd + 12, true);
  const cdOffset = v.getUint32(eocd + 16, true);
  const record = one.subarray(cdOffset, cdOffset + cdSize);
  const out = new Uint8Array(cdOffset + cdSize * copies + 22);
  out.set(one.subarray(0, cdOffset));
  for (let i = 0; i < copies; i++) out.set(record, cdOffset + i * cdSize);
  const end = cdOffset + cdSize * copies;
  out.set(one.subarray(eocd), end);
  const w = new DataView(out.buffer);
  w.setUint16(end + 8, Math.min(copies, 0xffff), true);
  w.setUint16(end + 10, Math.min(copies, 0xffff), true);
  w.setUint32(end + 12, cdSize * copies, true);
  return out;
}

/**
 * Byte-level mutations for fuzzing: each mutation is a small plain-data descriptor (so fast-check can shrink a failing
 * case to the fewest, smallest edits) applied to a copy of a seed file. Positions are taken modulo the current length,
 * so any descriptor fits any input.
 */
import fc from 'fast-check';

/** Integers that tend to break length checks, written at some width and byte order. */
const EXTREME = [
  0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0x100, 0x7ffe, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
  0xfffffffe, 0xffffffff, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 63, 2 ** 64 - 1,
];

export type Mutation =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; v: number }
  | { k: 'insert'; at: number; bytes: number[] }
  | { k: 'delete'; at: number; len: number }
  | { k: 'truncate'; at: number }
  | { k: 'dup'; at: number; len: number; to: number }
  | { k: 'int'; at: number; width: 1 | 2 | 4 | 8; le: boolean; v: number }
  /** Overwrite the 16-bit big-endian length after the n-th 0xFF (a JPEG segment length) with an extreme value. */
  | { k: 'ffLen'; nth: number; v: number }
  /** Copy a range of another seed into this one (cross-over between files). */
  | { k: 'splice'; seed: number; from: number; len: number; at: number };

const pos = fc.nat({ max: 0x7fffffff });

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('flip' as const), at: pos, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('set' as const), at: pos, v: fc.integer({ min: 0, max: 255 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('insert' as const), at: pos, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), at: pos, len: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('truncate' as const), at: pos }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dup' as const), at: pos, len: fc.integer({ min: 1, max: 256 }), to: pos }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('int' as const),
      at: pos,
      width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      le: fc.boolean(),
      v: fc.oneof(fc.constantFrom(...EXTREME), fc.nat()),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('ffLen' as const), nth: fc.nat({ max: 64 }), v: fc.constantFrom(0, 1, 2, 3, 4, 0x7fff, 0xfffe, 0xffff) }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('splice' as const), seed: fc.nat(), from: pos, len: fc.integer({ min: 1, max: 512 }), at: pos }),
  },
);

/** Mutations biased to few edits (most real corruption is one or two bad spots). */
export const mutationsArb = (maxLength = 6): fc.Arbitrary<Mutation[]> => fc.array(mutationArb, { minLength: 1, maxLength });

function writeInt(b: Uint8Array, at: number, width: number, le: boolean, v: number): void {
  let x = BigInt.asUintN(64, BigInt(Math.trunc(v)));
  for (let i = 0; i < width && at + i < b.length; i++) {
    const byte = Number(x & 0xffn);
    x >>= 8n;
    b[le ? at + i : at + width - 1 - i] = byte;
  }
}

/** Apply the mutations in order to a copy of `seed`; `others` are the files `splice` copies from. */
export function applyMutations(seed: Uint8Array, muts: readonly Mutation[], others: readonly Uint8Array[] = []): Uint8Array {
  let b = seed.slice();
  for (const m of muts) {
    const n = b.length;
    const at = (x: number) => (n ? x % n : 0);
    switch (m.k) {
      case 'flip':
        if (n) b[at(m.at)] ^= 1 << m.bit;
        break;
      case 'set':
        if (n) b[at(m.at)] = m.v;
        break;
      case 'insert': {
        const p = m.at % (n + 1);
        const out = new Uint8Array(n + m.bytes.length);
        out.set(b.subarray(0, p));
        out.set(m.bytes, p);
        out.set(b.subarray(p), p + m.bytes.length);
        b = out;
        break;
      }
      case 'delete': {
        if (!n) break;
        const p = at(m.at);
        const out = new Uint8Array(n - Math.min(m.len, n - p));
        out.set(b.subarray(0, p));
        out.set(b.subarray(p + m.len), p);
        b = out;
        break;
      }
      case 'truncate':
        b = b.slice(0, m.at % (n + 1));
        break;
      case 'dup': {
        if (!n) break;
        const from = at(m.at);
        const chunk = b.slice(from, from + m.len);
        const p = m.to % (n + 1);
        const out = new Uint8Array(n + chunk.length);
        out.set(b.subarray(0, p));
        out.set(chunk, p);
        out.set(b.subarray(p), p + chunk.length);
        b = out;
        break;
      }
      case 'int':
        if (n) writeInt(b, at(m.at), m.width, m.le, m.v);
        break;
      case 'ffLen': {
        const ffs: number[] = [];
        for (let i = 0; i + 3 < n && ffs.length < 256; i++) if (b[i] === 0xff && b[i + 1] !== 0 && b[i + 1] !== 0xff) ffs.push(i);
        if (ffs.length) writeInt(b, ffs[m.nth % ffs.length] + 2, 2, false, m.v);
        break;
      }
      case 'splice': {
        if (!others.length || !n) break;
        const src = others[m.seed % others.length];
        if (!src.length) break;
        const from = m.from % src.length;
        const chunk = src.subarray(from, from + m.len);
        const p = at(m.at);
        const out = new Uint8Array(Math.max(n, p + chunk.length));
        out.set(b);
        out.set(chunk, p);
        b = out;
        break;
      }
    }
  }
  return b;
}

/** A seed picked from `seeds` with mutations applied. */
export function mutatedArb(seeds: readonly Uint8Array[], maxMutations = 6): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), mutationsArb(maxMutations))
    .map(([i, muts]) => applyMutations(seeds[i], muts, seeds));
}

/** A seed cut at some point (every prefix is a plausible interrupted download). */
export function truncatedArb(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.double({ min: 0, max: 1, noNaN: true })).map(([i, f]) => seeds[i].slice(0, Math.floor(seeds[i].length * f)));
}

/** Random bytes, optionally starting with a given magic. */
export function noiseArb(prefix: readonly number[] = [], maxLength = 512): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ maxLength }).map((b) => {
    const out = new Uint8Array(prefix.length + b.length);
    out.set(prefix);
    out.set(b, prefix.length);
    return out;
  });
}

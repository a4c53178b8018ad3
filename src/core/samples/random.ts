/**
 * A small seeded PRNG for the sample generator: xoshiro128** (32-bit state words, period 2^128 − 1) seeded through
 * splitmix32, so any 32-bit seed (and a stream number) gives a well-mixed, reproducible sequence in every runtime.
 *
 * DFL uses NumPy's Mersenne Twister with one seed per sample (spec §D.2); this port does not reproduce NumPy's
 * streams bit for bit (nothing depends on them), only the distributions.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  /** `stream` selects an independent sequence for the same seed (e.g. the warp stream of §D.4). */
  constructor(seed: number, stream = 0) {
    let x = (seed ^ Math.imul(stream + 1, 0x632be59b)) | 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n), unbiased (rejection). */
  int(n: number): number {
    if (!(n >= 1) || n > 0x100000000) throw new RangeError(`Rng.int: bad bound ${n}`);
    if (n === 1) return 0;
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const v = this.nextU32();
      if (v < limit) return v % n;
    }
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  intBetween(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** Standard normal sample (Marsaglia polar method, one spare kept). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.next() - 1;
      v = 2 * this.next() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * m;
    return u * m;
  }

  /**
   * DFL's `random_normal` (spec §D.4 step 3): a normal sample redrawn until it lies in [−trunc, trunc], then divided by
   * trunc, so the result is in [−1, 1].
   */
  truncatedNormal(trunc = 2.5): number {
    for (;;) {
      const x = this.normal();
      if (x >= -trunc && x <= trunc) return x / trunc;
    }
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[] | Int32Array | Uint32Array): typeof a {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Epoch sampling without replacement (spec §D.6): a shuffled permutation of 0…n−1, reshuffled when exhausted. Items
 * are taken from the end of the shuffled list, as DFL pops them.
 */
export class ShuffledIndexStream {
  private order: number[] = [];
  constructor(
    private readonly n: number,
    private readonly rng: Rng,
  ) {
    if (n <= 0) throw new RangeError('ShuffledIndexStream needs at least one item');
  }
  next(): number {
    if (this.order.length === 0) {
      this.order = Array.from({ length: this.n }, (_, i) => i);
      this.rng.shuffle(this.order);
    }
    return this.order.pop()!;
  }
}

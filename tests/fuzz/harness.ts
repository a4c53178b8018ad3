/**
 * The fuzz property and its measurements. Every case must end in a result or a named error (an instance of
 * SaehdError; anything else escaping — TypeError, RangeError, fflate's plain Error — fails the case), within a time
 * bound, without allocating more than a per-case budget; after all cases, the heap and array buffers (after a full GC)
 * must be back near where they started.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SaehdError } from '../../src/core/errors.ts';

/** Cases per parser: FUZZ_RUNS (the dedicated `npm run fuzz` sets 10 000), else `fallback`. */
export function fuzzRuns(fallback: number): number {
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
}

/** FUZZ_SEED replays a run; otherwise the normal test run is deterministic and the dedicated run is fresh each time. */
export function fuzzSeed(): number {
  if (process.env.FUZZ_SEED) return Number(process.env.FUZZ_SEED) | 0;
  return process.env.FUZZ_RUNS ? (Date.now() ^ (process.pid << 8)) | 0 : 0x5aeb0;
}

/** A full garbage collection (the flag can be set at run time; the function comes from a fresh context). */
export const fullGc: () => void = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as (() => void) | undefined;
    if (typeof fn === 'function') return fn;
  } catch {
    // fall through
  }
  return () => {};
})();

const MiB = 1024 * 1024;
const mem = () => {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, ab: m.arrayBuffers, rss: m.rss };
};

export interface FuzzOptions {
  /** Longest a single case may take (default 2 s). */
  maxCaseMs?: number;
  /** Bytes a case may allocate (heap + array buffers growth while it runs), given its input size. */
  allocBudget?: (inputBytes: number) => number;
  /** Heap / array-buffer growth over the whole run (after GC) that counts as a leak (default 64 MiB). */
  maxRetainedBytes?: number;
}

export interface FuzzStats {
  name: string;
  cases: number;
  seed: number;
  totalMs: number;
  maxCaseMs: number;
  /** Outcome and input size of the slowest case. */
  slowest: string;
  maxAllocMiB: number;
  retainedHeapMiB: number;
  retainedArrayBuffersMiB: number;
  peakRssMiB: number;
  outcomes: Record<string, number>;
}

export class FuzzFailure extends Error {}

/** Describes what escaped, with the first stack lines (fast-check prints it with the counterexample). */
function describeEscape(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `non-Error thrown: ${String(e)}`;
}

/**
 * Counts outcomes and measures one fuzz run. `run` / `runAsync` execute one case and throw FuzzFailure (which makes
 * fast-check shrink and report the case) when it breaks the property.
 */
export class FuzzRecorder {
  readonly outcomes: Record<string, number> = {};
  private cases = 0;
  private maxMs = 0;
  private maxMsOutcome = '';
  private maxMsBytes = 0;
  private maxAlloc = 0;
  private peakRss = 0;
  private readonly t0 = performance.now();
  private readonly start: ReturnType<typeof mem>;
  private readonly maxCaseMs: number;
  private readonly budget: (n: number) => number;
  private readonly maxRetained: number;

  constructor(
    readonly name: string,
    readonly seed: number,
    opts: FuzzOptions = {},
  ) {
    this.maxCaseMs = opts.maxCaseMs ?? 2000;
    this.budget = opts.allocBudget ?? ((n) => 64 * MiB + 32 * n);
    this.maxRetained = opts.maxRetainedBytes ?? 64 * MiB;
    fullGc();
    this.start = mem();
  }

  /** Call `fn` for its side checks: a named error is a fine outcome, anything else escapes (and fails the case). */
  static named(fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof SaehdError)) throw e;
    }
  }

  private classify(e: unknown): string {
    if (e instanceof SaehdError) return e.code;
    throw new FuzzFailure(`${this.name}: an unnamed error escaped: ${describeEscape(e)}`);
  }

  private measure(before: ReturnType<typeof mem>, t: number, inputBytes: number, outcome: string): void {
    const ms = performance.now() - t;
    const after = mem();
    const alloc = Math.max(0, after.heap - before.heap) + Math.max(0, after.ab - before.ab);
    this.cases++;
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    if (ms > this.maxMs) {
      this.maxMs = ms;
      this.maxMsOutcome = outcome;
      this.maxMsBytes = inputBytes;
    }
    this.maxAlloc = Math.max(this.maxAlloc, alloc);
    this.peakRss = Math.max(this.peakRss, after.rss);
    if (ms > this.maxCaseMs) throw new FuzzFailure(`${this.name}: a case took ${ms.toFixed(0)} ms (limit ${this.maxCaseMs} ms), outcome ${outcome}`);
    const budget = this.budget(inputBytes);
    if (alloc > budget)
      throw new FuzzFailure(`${this.name}: a case of ${inputBytes} bytes allocated ${(alloc / MiB).toFixed(1)} MiB (budget ${(budget / MiB).toFixed(1)} MiB), outcome ${outcome}`);
  }

  /**
   * One synchronous case; `check` may inspect a successful result (and throw FuzzFailure) and may return a finer
   * outcome label for the tally. Returns the outcome (the error code, or 'ok' / the label).
   */
  run<T>(inputBytes: number, fn: () => T, check?: (r: T) => string | void): string {
    const before = mem();
    const t = performance.now();
    let outcome = 'ok';
    let result: T | undefined;
    try {
      result = fn();
    } catch (e) {
      outcome = this.classify(e);
    }
    const label = outcome === 'ok' && check ? check(result as T) : undefined;
    this.measure(before, t, inputBytes, label ?? outcome);
    return label ?? outcome;
  }

  async runAsync<T>(inputBytes: number, fn: () => Promise<T>, check?: (r: T) => string | void): Promise<string> {
    const before = mem();
    const t = performance.now();
    let outcome = 'ok';
    let result: T | undefined;
    try {
      result = await fn();
    } catch (e) {
      outcome = this.classify(e);
    }
    const label = outcome === 'ok' && check ? check(result as T) : undefined;
    this.measure(before, t, inputBytes, label ?? outcome);
    return label ?? outcome;
  }

  /** Final numbers; throws when the heap or array buffers kept growing (a leak across cases). */
  async finish(): Promise<FuzzStats> {
    // Array-buffer memory is released by a sweeper after the GC that finds it dead: collect, let it run, collect again.
    fullGc();
    await new Promise((r) => setTimeout(r, 100));
    fullGc();
    const end = mem();
    const stats: FuzzStats = {
      name: this.name,
      cases: this.cases,
      seed: this.seed,
      totalMs: Math.round(performance.now() - this.t0),
      maxCaseMs: Math.round(this.maxMs * 10) / 10,
      slowest: `${this.maxMsOutcome}, ${this.maxMsBytes} bytes`,
      maxAllocMiB: Math.round((this.maxAlloc / MiB) * 10) / 10,
      retainedHeapMiB: Math.round(((end.heap - this.start.heap) / MiB) * 10) / 10,
      retainedArrayBuffersMiB: Math.round(((end.ab - this.start.ab) / MiB) * 10) / 10,
      peakRssMiB: Math.round(this.peakRss / MiB),
      outcomes: this.outcomes,
    };
    console.log(formatStats(stats));
    if (end.heap - this.start.heap > this.maxRetained || end.ab - this.start.ab > this.maxRetained)
      throw new FuzzFailure(`${this.name}: memory kept after ${this.cases} cases: heap +${stats.retainedHeapMiB} MiB, array buffers +${stats.retainedArrayBuffersMiB} MiB`);
    return stats;
  }
}

export function formatStats(s: FuzzStats): string {
  const outcomes = Object.entries(s.outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return (
    `[fuzz] ${s.name}: ${s.cases} cases in ${(s.totalMs / 1000).toFixed(1)} s (seed ${s.seed}); max ${s.maxCaseMs} ms/case (${s.slowest}); ` +
    `max alloc ${s.maxAllocMiB} MiB/case; after GC heap ${s.retainedHeapMiB >= 0 ? '+' : ''}${s.retainedHeapMiB} MiB, ` +
    `array buffers ${s.retainedArrayBuffersMiB >= 0 ? '+' : ''}${s.retainedArrayBuffersMiB} MiB; peak RSS ${s.peakRssMiB} MiB\n` +
    `        outcomes: ${outcomes}`
  );
}

/** fast-check parameters shared by all suites (a failure reports its seed and path for replay). */
export function fcParams(numRuns: number, seed: number): { numRuns: number; seed: number } {
  return { numRuns, seed };
}

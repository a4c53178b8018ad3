/**
 * The WebGPU backend's buffer pool, measured and bounded (issue 8, "never above 1.45 GiB").
 *
 * tfjs-backend-webgpu keeps every released GPU buffer in a free list keyed by exact byte size and usage, and only
 * reuses a buffer of the very same size. A training step allocates hundreds of distinct sizes, so the pool grows to
 * the sum over sizes of the most buffers of that size ever alive at once, well above the live peak (5.49 GB of pool
 * against 2.91 GiB live for the seed model before issue 8's memory work, on SwiftShader). What the card must hold is
 * the pool, not the live tensors.
 *
 * `watchWebgpuPool` wraps the backend's buffer manager to record the peaks of bytes in use (tensors, uniforms and
 * staging buffers, including buffers whose tensors were disposed but whose commands are not yet submitted) and of
 * bytes allocated (in use + free). With `maxFreeBytes` set, each new allocation first destroys free buffers, largest
 * first, until the free list holds at most that many bytes, so allocated ≤ in-use peak + maxFreeBytes + one buffer.
 * With `capBytes` set, free buffers are destroyed only when a new allocation would take the pool past the cap, so
 * allocated ≤ max(cap, in-use peak) while the pool still reuses everything it can below the cap.
 * Destroying a free buffer is safe: tfjs puts a buffer on the free list only after the commands that use it were
 * submitted, and WebGPU keeps a destroyed buffer alive for work already submitted.
 *
 * It reaches into the backend's `bufferManager` (tfjs-backend-webgpu 4.22 internals), so it checks the shape it
 * relies on and does nothing on a backend without one.
 */

/** The parts of a GPUBuffer this module touches. */
interface PoolBuffer {
  readonly size: number;
  readonly usage: number;
  destroy(): void;
}

/** tfjs-backend-webgpu 4.22's BufferManager, as far as this module relies on it. */
interface BufferManagerLike {
  numBytesUsed: number;
  numBytesAllocated: number;
  numFreeBuffers: number;
  freeBuffers: Map<string, PoolBuffer[]>;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): PoolBuffer;
  releaseBuffer(buffer: PoolBuffer, reuse?: boolean): void;
}

export interface PoolStats {
  /** Bytes in use right now (tensors, uniforms, staging, and buffers awaiting submission). */
  usedBytes: number;
  /** Bytes allocated right now: in use + free list. */
  allocatedBytes: number;
  usedPeak: number;
  allocatedPeak: number;
  /** Buffers created (free-list misses) and bytes destroyed by the bound since the watch began or was last reset. */
  created: number;
  destroyedBytes: number;
}

export interface PoolWatch {
  stats(): PoolStats;
  /** Restart the peaks from the current values. */
  resetPeaks(): void;
  /** Destroy free buffers until the free list holds at most `keepBytes`; returns the bytes destroyed. */
  trim(keepBytes?: number): number;
  /** Change the bound on free bytes (null: tfjs' unbounded pool). */
  setMaxFreeBytes(maxFreeBytes: number | null): void;
  /** Change the cap on allocated bytes: a new buffer that would pass it first destroys free buffers (null: no cap). */
  setCapBytes(capBytes: number | null): void;
  /** Put the buffer manager's own methods back. */
  unwatch(): void;
}

function bufferManagerOf(backend: unknown): BufferManagerLike | null {
  const bm = (backend as { bufferManager?: Partial<BufferManagerLike> } | null)?.bufferManager;
  if (!bm || typeof bm.acquireBuffer !== 'function' || typeof bm.releaseBuffer !== 'function') return null;
  if (!(bm.freeBuffers instanceof Map) || typeof bm.numBytesAllocated !== 'number' || typeof bm.numBytesUsed !== 'number') return null;
  return bm as BufferManagerLike;
}

/** Watch (and optionally bound) the buffer pool of a tfjs WebGPU backend; null for a backend without one. */
export function watchWebgpuPool(backend: unknown, opts: { maxFreeBytes?: number | null; capBytes?: number | null } = {}): PoolWatch | null {
  const bm = bufferManagerOf(backend);
  if (!bm) return null;
  let maxFree = opts.maxFreeBytes ?? null;
  let cap = opts.capBytes ?? null;
  let usedPeak = bm.numBytesUsed;
  let allocatedPeak = bm.numBytesAllocated;
  let created = 0;
  let destroyedBytes = 0;
  const freeBytes = () => bm.numBytesAllocated - bm.numBytesUsed;

  const trim = (keep: number): number => {
    let over = freeBytes() - keep;
    if (over <= 0) return 0;
    const lists = [...bm.freeBuffers.values()].filter((l) => l.length > 0).sort((a, b) => b[0].size - a[0].size);
    let freed = 0;
    // Best fit when one buffer is enough: the smallest free buffer that covers the excess, so the pool gives back
    // little more than it must and keeps the rest for reuse. Otherwise largest first: fewest buffers destroyed (and
    // created again later) per byte given back.
    const fit = lists.filter((l) => l[0].size >= over).pop();
    if (fit) {
      const b = fit.pop()!;
      b.destroy();
      bm.numFreeBuffers--;
      bm.numBytesAllocated -= b.size;
      destroyedBytes += b.size;
      return b.size;
    }
    for (const list of lists) {
      while (list.length > 0 && over > 0) {
        const b = list.pop()!;
        b.destroy();
        bm.numFreeBuffers--;
        bm.numBytesAllocated -= b.size;
        freed += b.size;
        over -= b.size;
      }
      if (over <= 0) break;
    }
    destroyedBytes += freed;
    return freed;
  };

  const origAcquire = bm.acquireBuffer;
  const origRelease = bm.releaseBuffer;
  bm.acquireBuffer = function (size, usage, mappedAtCreation = false, reuse = true) {
    const before = bm.numBytesAllocated;
    // A miss (no free buffer of this exact key) allocates: make room in the free list first.
    if (maxFree !== null || cap !== null) {
      const hit = reuse && (bm.freeBuffers.get(`${size}_${usage}`)?.length ?? 0) > 0;
      if (!hit && maxFree !== null) trim(maxFree);
      // The cap: free buffers go only when this allocation would pass it, so the pool keeps reusing below it.
      if (!hit && cap !== null && bm.numBytesAllocated + size > cap) trim(Math.max(0, cap - size - bm.numBytesUsed));
    }
    const allocBefore = bm.numBytesAllocated;
    const buf = origAcquire.call(bm, size, usage, mappedAtCreation, reuse);
    if (bm.numBytesAllocated > allocBefore) created++;
    usedPeak = Math.max(usedPeak, bm.numBytesUsed);
    allocatedPeak = Math.max(allocatedPeak, bm.numBytesAllocated, before);
    return buf;
  };
  bm.releaseBuffer = function (buffer, reuse = true) {
    origRelease.call(bm, buffer, reuse);
    if (maxFree !== null && freeBytes() > maxFree) trim(maxFree);
  };

  return {
    stats: () => ({
      usedBytes: bm.numBytesUsed,
      allocatedBytes: bm.numBytesAllocated,
      usedPeak,
      allocatedPeak,
      created,
      destroyedBytes,
    }),
    resetPeaks() {
      usedPeak = bm.numBytesUsed;
      allocatedPeak = bm.numBytesAllocated;
      created = 0;
      destroyedBytes = 0;
    },
    trim: (keep = 0) => trim(keep),
    setMaxFreeBytes(m) {
      maxFree = m;
      if (m !== null) trim(m);
    },
    setCapBytes(c) {
      cap = c;
    },
    unwatch() {
      bm.acquireBuffer = origAcquire;
      bm.releaseBuffer = origRelease;
    },
  };
}

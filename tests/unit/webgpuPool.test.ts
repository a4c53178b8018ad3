/**
 * The WebGPU buffer-pool watch and cap (src/core/webgpu/webgpuPool.ts) on tfjs-backend-webgpu's real BufferManager,
 * with a fake device whose buffers record their destruction.
 */
import { BufferManager } from '@tensorflow/tfjs-backend-webgpu/dist/buffer_manager.js';
import { describe, expect, it } from 'vitest';
import { watchWebgpuPool } from '../../src/core/webgpu/webgpuPool.ts';

interface FakeBuffer {
  size: number;
  usage: number;
  destroyed: boolean;
  destroy(): void;
}

function fakeBackend() {
  const created: FakeBuffer[] = [];
  const device = {
    createBuffer({ size, usage }: { size: number; usage: number }): FakeBuffer {
      const b: FakeBuffer = { size, usage, destroyed: false, destroy() { this.destroyed = true; } };
      created.push(b);
      return b;
    },
  };
  const bufferManager = new BufferManager(device as unknown as GPUDevice) as unknown as {
    acquireBuffer(size: number, usage: number): FakeBuffer;
    releaseBuffer(b: FakeBuffer): void;
    numBytesAllocated: number;
    numBytesUsed: number;
    getNumFreeBuffers(): number;
  };
  return { backend: { bufferManager }, bm: bufferManager, created };
}

const STORAGE = 128;
const KIB = 1024;

describe('webgpuPool', () => {
  it('records the in-use and allocated peaks as tfjs pools buffers by exact size', () => {
    const { backend, bm, created } = fakeBackend();
    const w = watchWebgpuPool(backend)!;
    const a = bm.acquireBuffer(100 * KIB, STORAGE);
    const b = bm.acquireBuffer(50 * KIB, STORAGE);
    bm.releaseBuffer(a);
    bm.releaseBuffer(b);
    const c = bm.acquireBuffer(60 * KIB, STORAGE); // no 60 KiB buffer in the pool: a new one
    const d = bm.acquireBuffer(100 * KIB, STORAGE); // reused
    expect(created.length).toBe(3);
    expect(d).toBe(a);
    const s = w.stats();
    expect(s.usedPeak).toBe(160 * KIB);
    expect(s.allocatedPeak).toBe(210 * KIB);
    expect(s.allocatedBytes).toBe(210 * KIB);
    expect(s.created).toBe(3);
    bm.releaseBuffer(c);
    bm.releaseBuffer(d);
    w.resetPeaks();
    expect(w.stats().usedPeak).toBe(0);
    expect(w.stats().allocatedPeak).toBe(210 * KIB);
  });

  it('keeps the pool under the cap by destroying free buffers, and still reuses what fits', () => {
    const run = (cap: number | null) => {
      const { backend, bm, created } = fakeBackend();
      const w = watchWebgpuPool(backend, { capBytes: cap })!;
      // A step's worth of distinct sizes, each freed before the next is made, three times over.
      for (let step = 0; step < 3; step++)
        for (let i = 1; i <= 10; i++) bm.releaseBuffer(bm.acquireBuffer(i * 10 * KIB, STORAGE));
      return { s: w.stats(), created, bm };
    };
    const free = run(null);
    expect(free.s.allocatedPeak).toBe(550 * KIB); // every size kept
    expect(free.created.length).toBe(10);
    const capped = run(200 * KIB);
    expect(capped.s.allocatedPeak).toBeLessThanOrEqual(200 * KIB);
    expect(capped.s.usedPeak).toBe(100 * KIB);
    const destroyed = capped.created.filter((b) => b.destroyed);
    expect(destroyed.length).toBeGreaterThan(0);
    // Book-keeping matches the buffers that are really alive.
    const alive = capped.created.filter((b) => !b.destroyed).reduce((a, b) => a + b.size, 0);
    expect(capped.bm.numBytesAllocated).toBe(alive);
    expect(capped.bm.getNumFreeBuffers()).toBe(capped.created.filter((b) => !b.destroyed).length);
    expect(capped.s.destroyedBytes).toBe(destroyed.reduce((a, b) => a + b.size, 0));
  });

  it('gives back the smallest free buffer that covers the excess (best fit), not the largest', () => {
    const { backend, bm, created } = fakeBackend();
    const w = watchWebgpuPool(backend, { capBytes: 180 * KIB })!;
    for (const kib of [10, 50, 100]) bm.releaseBuffer(bm.acquireBuffer(kib * KIB, STORAGE));
    // 160 KiB free; a new 40 KiB buffer would make 200: 20 KiB too many, so the 50 KiB buffer goes.
    bm.acquireBuffer(40 * KIB, STORAGE);
    expect(created.filter((b) => b.destroyed).map((b) => b.size)).toEqual([50 * KIB]);
    expect(w.stats().destroyedBytes).toBe(50 * KIB);
    expect(bm.numBytesAllocated).toBe(150 * KIB);
  });

  it('never frees a buffer in use: a step that needs more than the cap still gets it', () => {
    const { backend, bm, created } = fakeBackend();
    const w = watchWebgpuPool(backend, { capBytes: 100 * KIB })!;
    const held = [1, 2, 3].map((i) => bm.acquireBuffer(i * 40 * KIB, STORAGE));
    expect(created.every((b) => !b.destroyed)).toBe(true);
    expect(w.stats().allocatedPeak).toBe(240 * KIB);
    held.forEach((b) => bm.releaseBuffer(b));
    // The next miss brings the free list down so that the pool fits the cap again.
    bm.acquireBuffer(30 * KIB, STORAGE);
    expect(bm.numBytesAllocated).toBeLessThanOrEqual(100 * KIB);
  });

  it('bounds the free list with maxFreeBytes, and unwatch puts the manager back', () => {
    const { backend, bm } = fakeBackend();
    const acquire = bm.acquireBuffer;
    const w = watchWebgpuPool(backend, { maxFreeBytes: 50 * KIB })!;
    for (let i = 1; i <= 5; i++) bm.releaseBuffer(bm.acquireBuffer(i * 20 * KIB, STORAGE));
    expect(bm.numBytesAllocated - bm.numBytesUsed).toBeLessThanOrEqual(50 * KIB);
    expect(w.trim(0)).toBeGreaterThan(0);
    expect(bm.numBytesAllocated).toBe(0);
    w.unwatch();
    expect(bm.acquireBuffer).toBe(acquire);
  });

  it('is null for a backend without a buffer manager (wasm, cpu)', () => {
    expect(watchWebgpuPool({})).toBeNull();
    expect(watchWebgpuPool(null)).toBeNull();
  });
});

/// <reference lib="webworker" />
/**
 * Sample worker: one faceset side → a queue of ready training batches (samples.protocol.ts). Batches are produced one
 * after another (the generator is single-threaded JS; two of these workers, src and dst, run side by side), and the
 * queue is topped up after every `next`, so at steady state the trainer's request is answered from memory.
 */
import { SampleError } from '../src/core/errors.ts';
import { FacesetStore } from '../src/core/faceset/store.ts';
import { SampleGenerator, type FaceSource, type SampleBatch } from '../src/core/samples/generator.ts';
import { generatorOptionsFor } from '../src/core/samples/sideOptions.ts';
import { facesetFaceSources } from './lib/facesetFaces.ts';
import { serve } from './lib/serve.ts';
import type { SampleSideOptions, SamplesCalls } from './samples.protocol.ts';

const store = new FacesetStore();

let state: {
  options: SampleSideOptions;
  faces: FaceSource[];
  /** Reference faces of `ct_mode` (spec §D.2 step 2), or null without colour transfer. */
  ctFaces: FaceSource[] | null;
  generator: SampleGenerator;
  queue: Promise<SampleBatch>[];
  /** The production chain: each batch starts when the previous one is finished. */
  tail: Promise<unknown>;
} | null = null;

/**
 * The dst faces `ct_mode` draws its references from (spec §D.2 step 2): the faceset the trainer names, else the one the
 * app's destination panel shows (the faceset a studio session trains dst on).
 */
async function referenceFaces(o: SampleSideOptions): Promise<FaceSource[]> {
  const id = o.ctFacesetId ?? (await store.roles()).dst;
  if (!id) throw new SampleError(`ct_mode ${o.ctMode} needs a destination faceset to take colours from`);
  const faces = await facesetFaceSources(store, id, o.channels);
  if (!faces.length) throw new SampleError(`ct_mode ${o.ctMode} needs destination faces to take colours from: import them first`);
  return faces;
}

/** Queue batches until `prefetch` are ready or in production. */
function fill(): void {
  const s = state;
  if (!s) return;
  while (s.queue.length < s.options.prefetch) {
    const p = s.tail.then(() => s.generator.nextBatch());
    // The chain must go on after a failed batch; the failure itself reaches the `next` call that takes `p`.
    s.tail = p.catch(() => undefined);
    p.catch(() => undefined);
    s.queue.push(p);
  }
}

serve<SamplesCalls>({
  async init(req) {
    const o = req.options;
    if (!(o.prefetch >= 1)) throw new SampleError(`prefetch must be at least 1, not ${o.prefetch}`);
    const faces = await facesetFaceSources(store, o.facesetId, o.channels);
    if (!faces.length) throw new SampleError('the faceset is empty: import faces first');
    const ctFaces = o.ctMode && o.ctMode !== 'none' ? await referenceFaces(o) : null;
    state = { options: o, faces, ctFaces, generator: new SampleGenerator(generatorOptionsFor(o, faces, { ctFaces })), queue: [], tail: Promise.resolve() };
    fill();
    return { faces: faces.length };
  },

  async next(_req, ctx) {
    if (!state) throw new SampleError('the sample worker was not initialised');
    const t0 = performance.now();
    const p = state.queue.shift()!;
    fill();
    const b = await p;
    ctx.transfer(b.warped.buffer as ArrayBuffer, b.target.buffer as ArrayBuffer, b.targetMask.buffer as ArrayBuffer, b.targetEmMask.buffer as ArrayBuffer);
    return {
      warped: b.warped,
      target: b.target,
      targetMask: b.targetMask,
      targetEmMask: b.targetEmMask,
      faceIds: b.faceIds,
      waitMs: performance.now() - t0,
    };
  },

  async measure(req) {
    const s = state;
    if (!s) throw new SampleError('the sample worker was not initialised');
    await Promise.allSettled(s.queue);
    const n = Math.max(1, req.batches);
    const time = async (gen: SampleGenerator, warmup: number): Promise<number> => {
      for (let i = 0; i < warmup; i++) await gen.nextBatch();
      const t0 = performance.now();
      let samples = 0;
      for (let i = 0; i < n; i++) samples += (await gen.nextBatch()).batchSize;
      return samples / ((performance.now() - t0) / 1000);
    };
    // cacheBytes 0: nothing is kept, every sample reads, decodes and re-crops its face (the large-faceset case).
    const uncached = await time(new SampleGenerator(generatorOptionsFor(s.options, s.faces, { ctFaces: s.ctFaces, seed: s.options.seed + 1, cacheBytes: 0 })), 1);
    // Default cache; one epoch of warm-up prepares every face (the shuffled stream visits each once per epoch).
    const warm = Math.ceil(s.faces.length / s.options.batchSize);
    const cached = await time(new SampleGenerator(generatorOptionsFor(s.options, s.faces, { ctFaces: s.ctFaces, seed: s.options.seed + 2 })), warm);
    return { uncached, cached };
  },
});

/**
 * Sample-pipeline benchmark (issue 8 "Pipeline"): samples per second of one SampleGenerator (= one sample worker) at
 * the seed configuration (seed2GB: 192 px, face type mf, random warp, masks, batch 6), 1 and 3 channels, with the
 * prepared-face cache warm (every face decoded once) and with no cache (every sample reads, decodes and re-crops its
 * face), in Node on the real 256 px DFL faces (or self-made ones when ../shared/data is absent). Then:
 * * the 1-channel / 3-channel ratio (goal ≥ 2.5×);
 * * "delivers N× what the trainer consumes" (goal ≥ 3×): the trainer takes batch × 2 sides per iteration, so at
 *   s seconds per iteration it consumes 2·batch/s samples per second; N = one generator's rate over that (a
 *   conservative figure: the page runs one sample worker per side);
 * * a stage profile of one sample (read, decode, gray, float, masks, re-crop, warp params, warp, affine, mask warps).
 *
 * Options (after `npm run bench -- --only pipeline`): `--batches N` timed batches per measurement (default 12),
 * `--faces N` faces used (default 60: the cached measurement warms one epoch first), `--reps N` alternating repetitions
 * whose best rate is kept (default 3; the machine is shared), `--ms-per-iter name=ms,…`
 * trainer step times to compare with (default: SwiftShader 975 s, wasm 240 s, and DFL's 1.05 s on a GTX 750 Ti, the
 * real target).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import decodeJpegWasm from '@jsquash/jpeg/decode.js';
import { initNodeJpegCodec } from '../cli/nodeCodec.ts';
import { type NodeFace, readDflFolder } from '../cli/nodeFaces.ts';
import { decodeJpeg } from '../src/core/image/jpegCodec.ts';
import { warpAffine } from '../src/core/image/warpAffine.ts';
import { seed2GB } from '../src/core/model/options.ts';
import { getTransformMat, normalizeFaceType } from '../src/core/samples/faceAlign.ts';
import { SampleGenerator, type SampleGeneratorOptions, toModelChannels } from '../src/core/samples/generator.ts';
import { eyesMouthMask, fullFaceMask } from '../src/core/samples/masks.ts';
import { Rng } from '../src/core/samples/random.ts';
import { generatorOptionsFor, sideOptions } from '../src/core/samples/sideOptions.ts';
import { genWarpParams, type GrayPlaneJob, warpAffineGrayPlanes, warpByParams, warpSampleGray } from '../src/core/samples/warp.ts';
import { hasSharedData, sharedDataDir } from '../tests/e2e/data.ts';
import { makeDflFaces } from '../tests/fixtures/makeFaces.ts';

export interface PipelineRow {
  name: string;
  channels: number | null;
  cache: string;
  samples_per_s: number | null;
  /** Samples per CPU second of the process (user + system; GC threads included), best of the repetitions. */
  samples_per_cpu_s: number | null;
  /** Trainer seconds per iteration the row compares with (consumption rows). */
  s_per_iter: number | null;
  /** Trainer consumption (2 sides × batch per iteration), samples/s. */
  consumes_per_s: number | null;
  /** Generator rate over consumption (consumption rows), or the 1ch/3ch ratio. */
  ratio: number | null;
  note: string;
}

/** The trainer step times compared with (issue 8's latest measurements; DFL's GTX 750 Ti figure is the target). */
export const DEFAULT_S_PER_ITER: Record<string, number> = { swiftshader: 975, wasm: 240, 'gtx750ti-dfl': 1.05 };

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function parseIters(v: string | undefined): Record<string, number> {
  if (!v) return DEFAULT_S_PER_ITER;
  const out: Record<string, number> = {};
  for (const part of v.split(',')) {
    const [k, ms] = part.split('=');
    const n = Number(ms);
    if (!k || !(n > 0)) throw new Error(`--ms-per-iter wants name=ms,… (e.g. gtx=1050), got "${part}"`);
    out[k] = n / 1000;
  }
  return out;
}

/** The faces: the real obama aligned folder, or self-made 256 px DFL faces written to a temporary folder. */
async function loadFaces(count: number, channels: 1 | 3): Promise<{ faces: NodeFace[]; data: string; cleanup: () => void }> {
  await initNodeJpegCodec();
  if (hasSharedData) {
    const dir = join(sharedDataDir, 'facesets/obama/aligned');
    const { faces } = readDflFolder(dir, { channels });
    return { faces: faces.slice(0, count), data: `real DFL 256 px whole_face (obama, ${Math.min(count, faces.length)} faces)`, cleanup: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'saehdbw-pipe-'));
  for (const f of await makeDflFaces(count, { size: 256 })) writeFileSync(join(dir, f.name), f.bytes);
  const { faces } = readDflFolder(dir, { channels });
  return { faces, data: `self-made 256 px faces (${count}; ../shared/data absent)`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The seed configuration's generator options for one side, as the page's sample worker builds them. */
function seedOptions(faces: NodeFace[], channels: 1 | 3, seed: number, cacheBytes?: number): SampleGeneratorOptions {
  return generatorOptionsFor(sideOptions({ ...seed2GB, channels }, 'dst', 'bench', seed, 2), faces, { cacheBytes });
}

/** Samples per wall-clock second and per CPU second of this process (steadier on a shared machine). */
async function rate(g: SampleGenerator, warmup: number, batches: number): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < warmup; i++) await g.nextBatch();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let n = 0;
  for (let i = 0; i < batches; i++) n += (await g.nextBatch()).batchSize;
  const c = process.cpuUsage(c0);
  return { wall: n / ((performance.now() - t0) / 1000), cpu: n / ((c.user + c.system) / 1e6) };
}

/** Milliseconds per face of each stage of one sample, timed separately over `n` faces (averaged). */
async function stageProfile(faces: NodeFace[], channels: 1 | 3, n: number): Promise<Record<string, number>> {
  const res = seed2GB.resolution;
  const ft = normalizeFaceType(seed2GB.face_type);
  const t: Record<string, number> = {};
  const add = (k: string, ms: number) => (t[k] = (t[k] ?? 0) + ms);
  const now = () => performance.now();
  for (let i = 0; i < n; i++) {
    const f = faces[i % faces.length];
    let a = now();
    const bytes = new Uint8Array(readFileSync(f.path));
    add('read', now() - a);
    a = now();
    await decodeJpegWasm(new Uint8Array(bytes).buffer as ArrayBuffer);
    add('decode (wasm → RGBA)', now() - a);
    a = now();
    const raw = await decodeJpeg(bytes, { channels });
    add('decodeJpeg (RGBA → model channels, incl. decode)', now() - a);
    a = now();
    const img = toModelChannels(raw, channels);
    add('to float', now() - a);
    a = now();
    const full = fullFaceMask(raw.width, raw.height, f.landmarks);
    const em = seed2GB.eyes_mouth_prio ? eyesMouthMask(raw.width, raw.height, f.landmarks, full) : null;
    add('masks (hull)', now() - a);
    a = now();
    const mat = getTransformMat(f.landmarks, res, ft);
    const image = warpAffine(img, mat, res, res, { interpolation: 'cubic', border: 'replicate' });
    add('re-crop image (cubic)', now() - a);
    a = now();
    const mask = warpAffine(full, mat, res, res, { interpolation: 'linear', border: 'constant' });
    if (em) warpAffine(em, mat, res, res, { interpolation: 'linear', border: 'constant' });
    add('re-crop masks (linear)', now() - a);
    a = now();
    const p = genWarpParams(res, new Rng(i, 0), true, undefined, undefined, undefined, undefined, new Rng(i, 1));
    add('sample: warp params', now() - a);
    a = now();
    warpByParams(p, image, true, true, true, true, 'cubic');
    add('sample: warped (remap + affine)', now() - a);
    a = now();
    warpByParams(p, image, false, true, true, true, 'cubic');
    add('sample: target (affine)', now() - a);
    a = now();
    warpByParams(p, mask, false, true, true, false, 'linear');
    add('sample: mask (affine)', now() - a);
    if (channels === 1) {
      // FUSED-1CH: the generator's 1-channel path (warp.ts), all planes of one sample in one go
      const o = { warped: new Float32Array(res * res), target: new Float32Array(res * res), mask: new Float32Array(res * res), em: null, off: 0 };
      a = now();
      warpSampleGray(p, image, image, mask, null, true, o);
      add('sample, fused 1-ch path: warped + target + mask', now() - a);
      a = now();
      const jobs: GrayPlaneJob[] = [
        { src: img.data, sw: img.width, sh: img.height, interpolation: 'cubic', replicate: true, dst: new Float32Array(res * res), off: 0, clip: false },
        { src: full.data, sw: img.width, sh: img.height, interpolation: 'linear', replicate: false, dst: new Float32Array(res * res), off: 0, clip: false },
      ];
      warpAffineGrayPlanes(mat, res, res, jobs, false);
      add('re-crop, fused 1-ch path: image + mask', now() - a);
    }
  }
  for (const k of Object.keys(t)) t[k] /= n;
  return t;
}

export async function benchPipeline(opts: { only: string | null; argv: string[] }): Promise<PipelineRow[]> {
  const { argv } = opts;
  const batches = Number(flag(argv, '--batches') ?? 12);
  const nFaces = Number(flag(argv, '--faces') ?? 60);
  const iters = parseIters(flag(argv, '--ms-per-iter'));
  const batch = seed2GB.batch_size;
  const reps = Math.max(1, Number(flag(argv, '--reps') ?? 3));
  const rows: PipelineRow[] = [];
  const rates: Record<string, number> = {};
  const cpuRates: Record<string, number> = {};
  const sets = { 1: await loadFaces(nFaces, 1), 3: await loadFaces(nFaces, 3) };
  const data = sets[1].data;
  try {
    // Cached generators warm one epoch first (the shuffled stream visits each face once per epoch).
    const cachedGen = { 1: new SampleGenerator(seedOptions(sets[1].faces, 1, 12)), 3: new SampleGenerator(seedOptions(sets[3].faces, 3, 12)) };
    const warm = Math.ceil(nFaces / batch);
    for (const ch of [1, 3] as const) await rate(cachedGen[ch], warm, 1);
    // The machine is shared: channels and cache modes alternate, `reps` times, and each keeps its best rate.
    for (let r = 0; r < reps; r++)
      for (const ch of [1, 3] as const) {
        const unc = await rate(new SampleGenerator(seedOptions(sets[ch].faces, ch, 11 + r, 0)), 1, batches);
        const cached = await rate(cachedGen[ch], 0, batches);
        rates[`${ch}u`] = Math.max(rates[`${ch}u`] ?? 0, unc.wall);
        rates[`${ch}c`] = Math.max(rates[`${ch}c`] ?? 0, cached.wall);
        cpuRates[`${ch}u`] = Math.max(cpuRates[`${ch}u`] ?? 0, unc.cpu);
        cpuRates[`${ch}c`] = Math.max(cpuRates[`${ch}c`] ?? 0, cached.cpu);
      }
    for (const ch of [1, 3] as const) {
      rows.push({ name: `${ch}ch uncached`, channels: ch, cache: 'none', samples_per_s: rates[`${ch}u`], samples_per_cpu_s: cpuRates[`${ch}u`], s_per_iter: null, consumes_per_s: null, ratio: null, note: data });
      rows.push({ name: `${ch}ch cached`, channels: ch, cache: 'warm', samples_per_s: rates[`${ch}c`], samples_per_cpu_s: cpuRates[`${ch}c`], s_per_iter: null, consumes_per_s: null, ratio: null, note: data });
    }
    for (const ch of [1, 3] as const) {
      const p = await stageProfile(sets[ch].faces, ch, Math.min(20, sets[ch].faces.length));
      console.log(`  stage profile, ${ch} channel(s), ms per face (decode … re-crop) or per sample (sample: …):`);
      for (const [k, v] of Object.entries(p)) console.log(`    ${k.padEnd(52)} ${v.toFixed(2)}`);
    }
  } finally {
    sets[1].cleanup();
    sets[3].cleanup();
  }
  for (const c of ['u', 'c'] as const)
    rows.push({
      name: `1ch/3ch ${c === 'u' ? 'uncached' : 'cached'}`,
      channels: null,
      cache: c === 'u' ? 'none' : 'warm',
      samples_per_s: null,
      samples_per_cpu_s: null,
      s_per_iter: null,
      consumes_per_s: null,
      ratio: rates[`1${c}`] / rates[`3${c}`],
      note: `goal ≥ 2.5 (per CPU second: ${(cpuRates[`1${c}`] / cpuRates[`3${c}`]).toFixed(2)})`,
    });
  for (const [name, s] of Object.entries(iters)) {
    const consumes = (2 * batch) / s;
    for (const ch of [1, 3])
      for (const c of ['u', 'c'] as const) {
        const r = rates[`${ch}${c}`];
        rows.push({
          name: `vs ${name}`,
          channels: ch,
          cache: c === 'u' ? 'none' : 'warm',
          samples_per_s: r,
          samples_per_cpu_s: null,
          s_per_iter: s,
          consumes_per_s: consumes,
          ratio: r / consumes,
          note: `delivers ${(r / consumes).toFixed(r / consumes < 100 ? 1 : 0)}× what the trainer consumes`,
        });
      }
  }
  return rows;
}

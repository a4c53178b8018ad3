/**
 * `saehdbw soak [--iters N] [--preview-every K] [--save-every M] [--report-every R] [--json FILE] [--src DIR --dst DIR]
 *               [--backend wasm|cpu] [--seed N]`   (also `npm run soak -- …`)
 *
 * Issue 9 "Long runs": trains the tiny test model (32 px DF-UD, dims 16/4/4/4, batch 2, src/ui/lib/trainPresets.ts)
 * in Node on the wasm backend for N iterations (default 10 000) with the page's own pieces, and checks that nothing
 * accumulates:
 *  - every K iterations (default 100) a preview is rendered as the studio worker renders it (src→src, dst→dst,
 *    dst→src of the fixed preview faces, images and masks read back to the CPU, tensors disposed);
 *  - every M iterations (default 500) a checkpoint cycle: capture → encode → atomic file save (temp file, fsync,
 *    rename) → read back → decode → every tensor compared with what was captured → restore into a second model and
 *    trainer (the upload / resume path) → that model's prediction compared with the live one → dispose, and the
 *    tensor count must be back where it was;
 *  - after every step the tensor count and tensor bytes (tf.memory()) are recorded; from the second step on (the first
 *    creates the optimizer slots) both must stay exactly at their value after step 2 — any growth fails the run.
 *
 * Writes the whole curve (per iteration: tensors, bytes, src/dst loss, ms; and each preview / checkpoint event) to a
 * JSON file, prints a table every R iterations (default 500) and a summary. Exit status 1 when tensors or bytes grow,
 * a loss turns non-finite, or a checkpoint does not read back identical; 2 for bad arguments.
 *
 * Faces: --src/--dst DFL aligned folders; default the workplace's real faces (../shared/data facesets obama and
 * faceswap_clip, as the tests use) when present, else 16 self-made faces per side (tests/fixtures/makeFaces.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { captureState, restoreState } from '../../src/core/checkpoint/modelState.ts';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointContent } from '../../src/core/checkpoint/checkpointFile.ts';
import { toUserMessage } from '../../src/core/errors.ts';
import type { ModelOptions } from '../../src/core/model/options.ts';
import { createSaehd, type SaehdModel } from '../../src/core/model/saehd.ts';
import { SampleGenerator } from '../../src/core/samples/generator.ts';
import { createTrainer, type Trainer, type TrainBatch } from '../../src/core/train/trainStep.ts';
import { tinyTest } from '../../src/ui/lib/trainPresets.ts';
import { makeDflFaces } from '../../tests/fixtures/makeFaces.ts';
import { UsageError } from '../args.ts';
import { initNodeJpegCodec } from '../nodeCodec.ts';
import { readDflFolder, type NodeFace } from '../nodeFaces.ts';
import { generatorOptions, setupNodeBackendOrSay, writeAtomically } from './train.ts';

const USAGE = `usage: saehdbw soak [--iters N] [--preview-every K] [--save-every M] [--report-every R] [--json FILE]
       [--src DIR --dst DIR] [--backend wasm|cpu] [--seed N]
Trains the tiny test model for N iterations (default 10000) with a preview every K (default 100) and a checkpoint
save + read-back + restore every M (default 500); fails (exit 1) when the tensor count or tensor bytes grow, a loss
turns non-finite or a checkpoint does not read back identical. The curve goes to FILE (default
bench/results/soak.json); a table line every R iterations (default 500).
`;

interface SoakArgs {
  iters: number;
  previewEvery: number;
  saveEvery: number;
  reportEvery: number;
  json: string;
  src?: string;
  dst?: string;
  backend: 'wasm' | 'cpu';
  seed: number;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function parseArgs(argv: string[]): SoakArgs | null {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return null;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const flag = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${flag} needs a value`);
    if (!['iters', 'preview-every', 'save-every', 'report-every', 'json', 'src', 'dst', 'backend', 'seed'].includes(flag))
      throw new UsageError(`unknown option --${flag}`);
    raw[flag] = value;
  }
  const int = (k: string, d: number, min: number) => {
    if (raw[k] === undefined) return d;
    if (!/^\d+$/.test(raw[k]) || Number(raw[k]) < min) throw new UsageError(`--${k} must be an integer ≥ ${min}, got "${raw[k]}"`);
    return Number(raw[k]);
  };
  if ((raw.src === undefined) !== (raw.dst === undefined)) throw new UsageError('--src and --dst go together');
  const backend = (raw.backend ?? 'wasm') as 'wasm' | 'cpu';
  if (backend !== 'wasm' && backend !== 'cpu') throw new UsageError(`--backend must be wasm or cpu, got "${raw.backend}"`);
  return {
    iters: int('iters', 10_000, 3),
    previewEvery: int('preview-every', 100, 1),
    saveEvery: int('save-every', 500, 1),
    reportEvery: int('report-every', 500, 1),
    json: raw.json ?? join(ROOT, 'bench/results/soak.json'),
    src: raw.src,
    dst: raw.dst,
    backend,
    seed: int('seed', 1, 0),
  };
}

/** The faces of both sides: given folders, the workplace's real faces, or self-made ones in a temporary folder. */
async function loadFaces(args: SoakArgs, channels: 1 | 3): Promise<{ src: NodeFace[]; dst: NodeFace[]; note: string; cleanup: () => void }> {
  const read = (dir: string) => {
    const r = readDflFolder(dir, { channels });
    if (!r.faces.length) throw new UsageError(`${dir} has no usable DFL aligned faces`);
    return r.faces;
  };
  if (args.src && args.dst) return { src: read(args.src), dst: read(args.dst), note: `${args.src} → ${args.dst}`, cleanup: () => {} };
  const shared = resolve(process.env.SAEHDBW_SHARED_DATA ?? join(ROOT, '../shared/data'));
  const s = join(shared, 'facesets/obama/aligned');
  const d = join(shared, 'facesets/faceswap_clip/aligned');
  if (existsSync(s) && existsSync(d)) return { src: read(s), dst: read(d), note: 'real faces: obama → faceswap_clip', cleanup: () => {} };
  const tmp = mkdtempSync(join(tmpdir(), 'saehdbw-soak-faces-'));
  const faces = await makeDflFaces(32, { size: 128 });
  for (const side of ['src', 'dst'] as const) {
    mkdirSync(join(tmp, side));
    for (const f of faces.slice(side === 'src' ? 0 : 16, side === 'src' ? 16 : 32)) writeFileSync(join(tmp, side, f.name), f.bytes);
  }
  return { src: read(join(tmp, 'src')), dst: read(join(tmp, 'dst')), note: 'self-made faces (no ../shared/data)', cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

/** The studio worker's preview (workers/studio.worker.ts renderPreview): three predictions, read back, disposed. */
async function renderPreview(model: SaehdModel, o: ModelOptions, faces: { src: Float32Array; dst: Float32Array; n: number }): Promise<number> {
  const res = o.resolution;
  const ch = o.channels;
  const outs = tf.tidy(() => {
    const src = tf.tensor4d(faces.src, [faces.n, res, res, ch]);
    const dst = tf.tensor4d(faces.dst, [faces.n, res, res, ch]);
    const ss = model.predict(src, 'src_src');
    const dd = model.predict(dst, 'dst_dst');
    const sd = model.predict(dst, 'src_dst');
    return [ss.image, dd.image, sd.image, ss.mask, dd.mask, sd.mask].map((t) => tf.keep(t));
  });
  try {
    const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    let sum = 0;
    for (const d of data) for (let i = 0; i < d.length; i++) sum += d[i];
    if (!Number.isFinite(sum)) throw new Error('the preview has non-finite pixels');
    return sum;
  } finally {
    tf.dispose(outs);
  }
}

function sameTensors(a: CheckpointContent['weights'], b: CheckpointContent['weights'], what: string): string[] {
  const bad: string[] = [];
  if (a.size !== b.size) bad.push(`${what}: ${a.size} tensors written, ${b.size} read back`);
  for (const [k, t] of a) {
    const u = b.get(k);
    if (!u) bad.push(`${what} ${k} missing after read-back`);
    else if (u.shape.join('x') !== t.shape.join('x') || !Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)))
      bad.push(`${what} ${k} differs after read-back`);
  }
  return bad;
}

/** dst→src prediction of the preview's first dst face, as numbers (to compare a restored model with the live one). */
async function probe(model: SaehdModel, o: ModelOptions, faces: { dst: Float32Array }): Promise<Float32Array> {
  const one = o.resolution ** 2 * o.channels;
  const out = tf.tidy(() => model.predict(tf.tensor4d(faces.dst.subarray(0, one), [1, o.resolution, o.resolution, o.channels]), 'src_dst').image);
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}

interface SaveEvent {
  iter: number;
  bytes: number;
  ms: number;
  tensorsBefore: number;
  tensorsAfter: number;
  maxRestoreDiff: number;
}

export async function soakCommand(argv: string[]): Promise<number> {
  const err = (t: string) => void process.stderr.write(`saehdbw soak: ${t}\n`);
  let args: SoakArgs | null;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`saehdbw soak: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (!args) {
    process.stdout.write(USAGE);
    return 0;
  }
  const o: ModelOptions = { ...tinyTest };
  await initNodeJpegCodec();
  let faces: Awaited<ReturnType<typeof loadFaces>>;
  try {
    faces = await loadFaces(args, o.channels);
  } catch (e) {
    err(toUserMessage(e instanceof UsageError ? new Error(e.message) : e).replace(/^unexpected problem: /, ''));
    return 2;
  }
  const engine = await setupNodeBackendOrSay(args.backend, err);
  if (engine === null) return 2;
  const tmp = mkdtempSync(join(tmpdir(), 'saehdbw-soak-'));
  const file = join(tmp, 'soak.saehdbw');
  const model = createSaehd(o, args.seed);
  const params = model.paramCount();
  const trainer: Trainer = createTrainer(model, o, { seed: args.seed });
  const gens = {
    src: new SampleGenerator(generatorOptions(o, 'src', faces.src, args.seed, 0)),
    dst: new SampleGenerator(generatorOptions(o, 'dst', faces.dst, args.seed, 0)),
  };
  err(`tiny model ${o.resolution}-${o.ae_dims}-${o.e_dims}-${o.d_dims}-${o.d_mask_dims} BW batch ${o.batch_size}, ${params} parameters, ${engine}; ${faces.note}`);
  err(`${args.iters} iterations, preview every ${args.previewEvery}, checkpoint every ${args.saveEvery}; curve → ${args.json}`);

  const n = args.iters;
  const curve = { iter: [] as number[], numTensors: [] as number[], numBytes: [] as number[], srcLoss: [] as number[], dstLoss: [] as number[], ms: [] as number[] };
  const previews: { iter: number; ms: number; tensorsBefore: number; tensorsAfter: number }[] = [];
  const saves: SaveEvent[] = [];
  const problems: string[] = [];
  const lossHistory: [number, number][] = [];
  let previewFaces: { src: Float32Array; dst: Float32Array; n: number } | null = null;
  let base: { numTensors: number; numBytes: number } | null = null;
  const t0 = performance.now();
  const rows: string[] = [];
  const header = '   iter  tensors  tensor KiB  src loss  dst loss  ms/iter  rss MiB';
  process.stdout.write(`${header}\n`);
  let acc = { n: 0, ms: 0, src: 0, dst: 0 };
  try {
    for (let i = 1; i <= n; i++) {
      const ts = performance.now();
      const [src, dst] = await Promise.all([gens.src.nextBatch(), gens.dst.nextBatch()]);
      const batch: TrainBatch = { src, dst };
      if (!previewFaces) {
        // Fixed preview faces: the targets of the first batch (as the studio does, §C.10).
        const one = o.resolution ** 2 * o.channels;
        const k = Math.min(4, o.batch_size);
        previewFaces = { src: src.target.slice(0, k * one), dst: dst.target.slice(0, k * one), n: k };
      }
      const r = await trainer.step(batch);
      const ms = performance.now() - ts;
      lossHistory.push([r.srcLoss, r.dstLoss]);
      const mem = tf.memory();
      curve.iter.push(r.iter);
      curve.numTensors.push(mem.numTensors);
      curve.numBytes.push(mem.numBytes);
      curve.srcLoss.push(r.srcLoss);
      curve.dstLoss.push(r.dstLoss);
      curve.ms.push(Math.round(ms * 100) / 100);
      if (!Number.isFinite(r.srcLoss) || !Number.isFinite(r.dstLoss)) {
        problems.push(`iteration ${r.iter}: loss is not finite (src ${r.srcLoss}, dst ${r.dstLoss})`);
        break;
      }
      if (i === 2) base = { numTensors: mem.numTensors, numBytes: mem.numBytes };
      else if (base && (mem.numTensors > base.numTensors || mem.numBytes > base.numBytes)) {
        problems.push(`iteration ${r.iter}: ${mem.numTensors} tensors / ${mem.numBytes} bytes after the step, ${base.numTensors} / ${base.numBytes} after step 2`);
        break;
      }
      acc.n++;
      acc.ms += ms;
      acc.src += r.srcLoss;
      acc.dst += r.dstLoss;

      if (i % args.previewEvery === 0) {
        const before = tf.memory().numTensors;
        const tp = performance.now();
        await renderPreview(model, o, previewFaces);
        const after = tf.memory().numTensors;
        previews.push({ iter: r.iter, ms: Math.round(performance.now() - tp), tensorsBefore: before, tensorsAfter: after });
        if (after !== before) problems.push(`preview at iteration ${r.iter}: ${before} tensors before, ${after} after`);
      }
      if (i % args.saveEvery === 0) {
        const before = tf.memory().numTensors;
        const tc = performance.now();
        const captured = await captureState(model, trainer, o, lossHistory, { seed: args.seed });
        const bytes = encodeCheckpoint(captured);
        writeAtomically(file, bytes);
        const back = decodeCheckpoint(new Uint8Array(readFileSync(file)));
        const bad = [...sameTensors(captured.weights, back.weights, 'weight'), ...sameTensors(captured.optimizer, back.optimizer, 'optimizer slot')];
        if (back.iter !== trainer.iter) bad.push(`iteration ${back.iter} read back, ${trainer.iter} written`);
        if (back.lossHistory.length !== lossHistory.length) bad.push(`loss history of ${back.lossHistory.length} read back, ${lossHistory.length} written`);
        // The upload / resume path: a second model from the file predicts what the live one predicts.
        const restored = await restoreState(back, { seed: args.seed });
        let maxDiff = Infinity;
        try {
          const [a, b] = [await probe(model, o, previewFaces), await probe(restored.model, o, previewFaces)];
          maxDiff = 0;
          for (let k = 0; k < a.length; k++) maxDiff = Math.max(maxDiff, Math.abs(a[k] - b[k]));
          if (!(maxDiff <= 1e-6)) bad.push(`the restored model's prediction differs by ${maxDiff}`);
        } finally {
          restored.trainer?.dispose();
          restored.model.dispose();
        }
        const after = tf.memory().numTensors;
        if (after !== before) bad.push(`${before} tensors before the checkpoint cycle, ${after} after`);
        saves.push({ iter: r.iter, bytes: bytes.length, ms: Math.round(performance.now() - tc), tensorsBefore: before, tensorsAfter: after, maxRestoreDiff: maxDiff });
        for (const b of bad) problems.push(`checkpoint at iteration ${r.iter}: ${b}`);
        if (bad.length) break;
      }
      if (i % args.reportEvery === 0 || i === n) {
        const row =
          `${String(r.iter).padStart(7)}  ${String(mem.numTensors).padStart(7)}  ${(mem.numBytes / 1024).toFixed(1).padStart(10)}  ` +
          `${(acc.src / acc.n).toFixed(4).padStart(8)}  ${(acc.dst / acc.n).toFixed(4).padStart(8)}  ${(acc.ms / acc.n).toFixed(1).padStart(7)}  ` +
          `${(process.memoryUsage().rss / 2 ** 20).toFixed(0).padStart(7)}`;
        rows.push(row);
        process.stdout.write(`${row}\n`);
        acc = { n: 0, ms: 0, src: 0, dst: 0 };
      }
      // Let Ctrl-C and other events in: the step resolves through microtasks only.
      if (i % 50 === 0) await new Promise<void>((res) => setImmediate(res));
    }
  } catch (e) {
    problems.push(`training stopped: ${toUserMessage(e)}`);
  } finally {
    trainer.dispose();
    model.dispose();
    rmSync(tmp, { recursive: true, force: true });
    faces.cleanup();
  }

  const totalS = (performance.now() - t0) / 1000;
  const stat = (a: number[]) => ({ first: a[0], last: a[a.length - 1], min: Math.min(...a), max: Math.max(...a) });
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / Math.max(1, a.length);
  const head = Math.min(100, curve.iter.length);
  const sortedMs = curve.ms.slice(1).sort((a, b) => a - b);
  const summary = {
    iterations: curve.iter.length,
    totalSeconds: Math.round(totalS),
    msPerIterMedian: sortedMs[sortedMs.length >> 1] ?? null,
    numTensors: stat(curve.numTensors),
    numBytes: stat(curve.numBytes),
    baselineAfterStep2: base,
    lossFirst100: { src: mean(curve.srcLoss.slice(0, head)), dst: mean(curve.dstLoss.slice(0, head)) },
    lossLast100: { src: mean(curve.srcLoss.slice(-head)), dst: mean(curve.dstLoss.slice(-head)) },
    previews: previews.length,
    checkpoints: saves.length,
    checkpointBytes: saves.length ? stat(saves.map((s) => s.bytes)) : null,
    ok: problems.length === 0,
    problems,
  };
  const out = {
    command: `saehdbw soak ${argv.join(' ')}`.trim(),
    date: new Date().toISOString(),
    engine,
    faces: faces.note,
    model: { options: o, params },
    settings: { iters: n, previewEvery: args.previewEvery, saveEvery: args.saveEvery },
    summary,
    curve,
    previews,
    checkpoints: saves,
  };
  try {
    mkdirSync(dirname(resolve(args.json)), { recursive: true });
    writeFileSync(args.json, JSON.stringify(out));
  } catch (e) {
    err(`could not write ${args.json}: ${toUserMessage(e)}`);
    problems.push(`curve not written`);
  }
  const t = summary.numTensors;
  const b = summary.numBytes;
  process.stdout.write(
    `\n${summary.iterations} iterations in ${summary.totalSeconds} s (median ${summary.msPerIterMedian} ms/iter), ${previews.length} previews, ${saves.length} checkpoint cycles\n` +
      `tensors: first ${t.first}, last ${t.last}, max ${t.max}; tensor bytes: first ${b.first}, last ${b.last}, max ${b.max}\n` +
      `loss (mean of first / last 100): src ${summary.lossFirst100.src.toFixed(4)} → ${summary.lossLast100.src.toFixed(4)}, dst ${summary.lossFirst100.dst.toFixed(4)} → ${summary.lossLast100.dst.toFixed(4)}\n` +
      (problems.length ? `FAILED:\n${problems.map((p) => `  ${p}`).join('\n')}\n` : 'OK: tensor count and bytes flat, losses finite, every checkpoint read back identical\n'),
  );
  return problems.length ? 1 : 0;
}

/**
 * `saehdbw train --src DIR --dst DIR --model FILE [--preset NAME | model options] [--iters N] [--backend wasm|webgpu|cpu]
 *                [--save-every MIN] [--seed N] [--holdout-every K] [--json]`
 *
 * Trains a SAEHD / SAEHDBW model in Node on two DFL aligned folders with the page's core: the same sample generator
 * settings per side as the trainer worker (spec §C.1, §C.9, §D), the same training step (§C.2–§C.8) and optimizers.
 * FILE is the page's checkpoint file (src/core/checkpoint/checkpointFile.ts, via modelState.ts), so a model moves
 * between the terminal and the studio. When FILE exists training resumes from it; options fixed at creation are kept,
 * the others may be given again to change them (§C.1), and every change is reported.
 *
 * Saving is atomic (FILE.tmp written and synced, then renamed over FILE): every --save-every minutes (default 25, as
 * DFL), at the end, and on Ctrl-C (the running iteration finishes, the model is saved, exit status 130; a second
 * Ctrl-C exits at once without saving). One progress line per save interval goes to stdout, in DFL's format
 * `[hh:mm:ss][#iter][ms/iter][src loss][dst loss]` (means over the interval), or as JSON with --json; a live line
 * goes to stderr only when stderr is a terminal. Notes (resume, option changes, skipped files) go to stderr.
 */
import { accessSync, closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { captureState, restoreState, storedOptionsOf } from '../../src/core/checkpoint/modelState.ts';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointContent } from '../../src/core/checkpoint/checkpointFile.ts';
import { NonFiniteLossError, toUserMessage } from '../../src/core/errors.ts';
import { OPTION_SCHEMA, PRESETS, normalizeOptions, type ModelOptions } from '../../src/core/model/options.ts';
import { createSaehd, type SaehdModel } from '../../src/core/model/saehd.ts';
import { SampleGenerator, type SampleGeneratorOptions } from '../../src/core/samples/generator.ts';
import { generatorOptionsFor, sideOptions } from '../../src/core/samples/sideOptions.ts';
import { createTrainer, type Trainer } from '../../src/core/train/trainStep.ts';
import { UsageError } from '../args.ts';
import { readDflFolder, type NodeFace } from '../nodeFaces.ts';
import { initNodeJpegCodec } from '../nodeCodec.ts';
import { installFastWasmKernels } from '../wasmKernels.ts';

const USAGE = `usage: saehdbw train --src DIR --dst DIR --model FILE [--preset quickTest|seed2GB] [--<model option> VALUE ...]
       [--iters N] [--backend wasm|cpu|webgpu] [--save-every MIN] [--seed N] [--holdout-every K] [--json]
Trains on two DFL aligned folders and keeps the model in FILE (the page's checkpoint file: it uploads into the
studio, and a studio download trains on here). Resumes when FILE exists: options fixed at creation are kept, the
others (e.g. --batch-size, --random-warp n, --lr-dropout y) change the model's settings.
  --iters N         iterations to run now (default: until target_iter, or until Ctrl-C)
  --backend         wasm (default: XNNPACK SIMD on the CPU), cpu (plain JS, slow), webgpu (needs a Node WebGPU)
  --save-every MIN  minutes between saves and progress lines (default 25); also saves at the end and on Ctrl-C
  --seed N          seed of a new model's weights and of the sample and optimizer streams (default 1; on resume the
                    stored one)
  --holdout-every K leave out every K-th face of each folder (the ones \`saehdbw eval --holdout-every K\` scores)
  --json            progress lines as JSON
Model options as in \`saehdbw model\`: --archi df-ud --resolution 128 --ae-dims 256 --e-dims 64 --d-dims 64
  --d-mask-dims 22 --channels 1 --face-type f --batch-size 4 … (DFL's names, '-' or '_').
`;

export type NodeBackend = 'wasm' | 'cpu' | 'webgpu';

/** The backend could not start; `status` 2 = a usage/environment problem the user can fix. */
export class BackendSetupError extends Error {}

interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

/** setupNodeBackend, with a backend that cannot start told to the user (`say`) and null returned (exit status 2). */
export async function setupNodeBackendOrSay(name: NodeBackend, say: (text: string) => void): Promise<string | null> {
  try {
    return await setupNodeBackend(name);
  } catch (e) {
    if (e instanceof BackendSetupError) {
      say(e.message);
      return null;
    }
    throw e;
  }
}

/**
 * Activate a tfjs backend in Node. wasm: the package's Node build finds its .wasm files next to itself in
 * node_modules (dist/tfjs-backend-wasm-simd.wasm; no setWasmPaths needed), and runs one thread (no worker threads in
 * its Node build); the backward-pass kernels of cli/wasmKernels.ts are installed over it. webgpu: needs `navigator.gpu`, which Node does not have; the `webgpu` npm package (dawn.node)
 * provides one when installed (shared/notes/webgpu-on-this-machine.md "Node-side WebGPU").
 * Returns a one-line description of the engine.
 */
export async function setupNodeBackend(name: NodeBackend): Promise<string> {
  if (name === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new BackendSetupError('the cpu backend failed to start');
    await tf.ready();
    return 'cpu: plain JavaScript (slow)';
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Faster dx / transposed-matmul kernels (cli/wasmKernels.ts); SAEHDBW_STOCK_WASM_KERNELS=1 keeps tfjs' own.
    const fast = process.env.SAEHDBW_STOCK_WASM_KERNELS !== '1';
    if (fast) installFastWasmKernels();
    if (!(await tf.setBackend('wasm'))) throw new BackendSetupError('the wasm backend failed to start');
    await tf.ready();
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const n = wasm.getThreadsCount();
    return `wasm: XNNPACK${simd ? ' SIMD' : ''} on the CPU, ${n} thread${n === 1 ? '' : 's'}, ${fast ? 'fast' : 'stock'} backward kernels`;
  }
  const g = globalThis as unknown as { navigator?: { gpu?: GpuLike } };
  if (!g.navigator?.gpu) {
    try {
      // Optional dependency, not installed by this project: dawn.node's Node WebGPU.
      const pkg = 'webgpu';
      const m = (await import(pkg)) as { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
      Object.assign(globalThis, m.globals);
      Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: m.create((process.env.SAEHDBW_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean)) }, configurable: true });
    } catch {
      throw new BackendSetupError(
        'the webgpu backend needs a WebGPU implementation for Node (navigator.gpu), and there is none here: ' +
          'install the `webgpu` npm package (dawn.node) with a Vulkan driver Dawn accepts, or use --backend wasm (the default, ' +
          'the fastest choice on a CPU-only machine)',
      );
    }
  }
  const adapter = await g.navigator!.gpu!.requestAdapter().catch(() => null);
  if (!adapter)
    throw new BackendSetupError('navigator.gpu is there but gives no WebGPU adapter (no GPU, or no Vulkan driver Dawn accepts); use --backend wasm');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new BackendSetupError('the webgpu backend failed to start');
  await tf.ready();
  const info = (adapter as { info?: { vendor?: string; architecture?: string; device?: string; description?: string } }).info;
  return `webgpu: Node WebGPU adapter ${[info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' / ') || '(no adapter info)'}`;
}

// ---- arguments ----------------------------------------------------------------------------------------------------

interface TrainArgs {
  src: string;
  dst: string;
  model: string;
  preset?: keyof typeof PRESETS;
  options: Record<string, string>;
  iters?: number;
  backend: NodeBackend;
  saveEveryMin: number;
  seed?: number;
  holdoutEvery?: number;
  json: boolean;
  help: boolean;
}

const OPTION_KEYS = new Set(OPTION_SCHEMA.map((s) => s.key as string));
const ALIASES: Record<string, string> = { batch: 'batch_size' };
const VALUE_FLAGS = new Set(['src', 'dst', 'model', 'preset', 'iters', 'backend', 'save_every', 'seed', 'holdout_every']);

function presetName(v: string): keyof typeof PRESETS {
  const norm = v.replace(/[-_\s]/g, '').toLowerCase();
  const hit = (Object.keys(PRESETS) as (keyof typeof PRESETS)[]).find((k) => k.toLowerCase() === norm);
  if (!hit) throw new UsageError(`unknown preset "${v}" (known: ${Object.keys(PRESETS).join(', ')})`);
  return hit;
}

function intArg(v: string, name: string, min: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return Number(v);
}

function parseTrainArgs(argv: string[]): TrainArgs {
  const raw: Record<string, string> = {};
  const options: Record<string, string> = {};
  let json = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a === '--json') {
      json = true;
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const flag = (eq >= 0 ? a.slice(2, eq) : a.slice(2)).replace(/-/g, '_');
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${flag.replace(/_/g, '-')} needs a value`);
    if (VALUE_FLAGS.has(flag)) raw[flag] = value;
    else {
      const key = ALIASES[flag] ?? flag;
      if (!OPTION_KEYS.has(key)) throw new UsageError(`unknown option --${flag.replace(/_/g, '-')}`);
      options[key] = value;
    }
  }
  if (help) return { src: '', dst: '', model: '', options, backend: 'wasm', saveEveryMin: 25, json, help };
  for (const k of ['src', 'dst', 'model']) if (!raw[k]) throw new UsageError(`--${k} is required`);
  const backend = (raw.backend ?? 'wasm') as NodeBackend;
  if (!['wasm', 'cpu', 'webgpu'].includes(backend)) throw new UsageError(`--backend must be wasm, cpu or webgpu, got "${raw.backend}"`);
  let saveEveryMin = 25;
  if (raw.save_every !== undefined) {
    saveEveryMin = Number(raw.save_every);
    if (!(saveEveryMin > 0) || !Number.isFinite(saveEveryMin)) throw new UsageError(`--save-every must be a positive number of minutes, got "${raw.save_every}"`);
  }
  return {
    src: raw.src,
    dst: raw.dst,
    model: raw.model,
    preset: raw.preset !== undefined ? presetName(raw.preset) : undefined,
    options,
    iters: raw.iters !== undefined ? intArg(raw.iters, 'iters', 0) : undefined,
    backend,
    saveEveryMin,
    seed: raw.seed !== undefined ? intArg(raw.seed, 'seed', 0) : undefined,
    holdoutEvery: raw.holdout_every !== undefined ? intArg(raw.holdout_every, 'holdout-every', 2) : undefined,
    json,
    help,
  };
}

// ---- sample generators ----------------------------------------------------------------------------------------------

/**
 * Generator settings of one side, from the same function as the page's sample workers (src/core/samples/sideOptions.ts:
 * flips per side, HSV jitter on src only, §C.1; pretrain overrides, §C.9). The seed is the page's (seed·2 + side) for
 * a new model; a resumed run mixes in the iteration so it does not replay the samples of the first run. Colour transfer
 * (ct_mode, src side only) takes its references from `ctFaces`, the dst folder's faces (spec §D.2 step 2), as the page's
 * sample worker takes them from the dst faceset.
 */
export function generatorOptions(
  o: ModelOptions, side: 'src' | 'dst', faces: NodeFace[], seed: number, iter: number, ctFaces?: NodeFace[],
): SampleGeneratorOptions {
  const s = sideOptions(o, side, '', seed, 1);
  return generatorOptionsFor(s, faces, { ctFaces, seed: (s.seed + Math.imul(iter, 0x9e3779b1)) >>> 0 });
}

// ---- output -------------------------------------------------------------------------------------------------------------

const pad = (n: number, w: number) => String(Math.floor(n)).padStart(w, '0');
function clock(): string {
  const d = new Date();
  return `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}`;
}

/** DFL's save-line format (mainscripts/Trainer.py): [time][#iter][NNNNms or N.NNNNs][src][dst]. */
function dflLine(iter: number, msPerIter: number, src: number, dst: number): string {
  const t = msPerIter >= 10_000 ? `${(msPerIter / 1000).toFixed(4).slice(0, 5)}s` : `${pad(msPerIter, 4)}ms`;
  return `[${clock()}][#${pad(iter, 6)}][${t}][${src.toFixed(4)}][${dst.toFixed(4)}]`;
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

export function writeAtomically(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.tmp`;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp); // a half-written file; fails harmlessly when tmp is not a plain file
    } catch {
      /* nothing to clean */
    }
    throw e;
  }
}

// ---- the command --------------------------------------------------------------------------------------------------------

export async function trainCommand(argv: string[]): Promise<number> {
  const err = (t: string) => void process.stderr.write(`saehdbw train: ${t}\n`);
  let args: TrainArgs;
  try {
    args = parseTrainArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`saehdbw train: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  // 1. The model file (read before anything heavy, so a bad file or bad options stop early).
  const file = args.model;
  const resuming = existsSync(file);
  try {
    accessSync(dirname(resolve(file)), constants.W_OK);
  } catch {
    err(`cannot write into the folder of ${file} (missing or read-only)`);
    return 2;
  }
  let content: CheckpointContent | null = null;
  let newOptions: ModelOptions | null = null;
  let channels: 1 | 3;
  try {
    if (resuming) {
      content = decodeCheckpoint(new Uint8Array(readFileSync(file)));
      channels = storedOptionsOf(content.options).channels;
      if (args.preset) err(`--preset ${args.preset} is ignored when resuming (the model keeps its options; give single options to change them)`);
    } else {
      const base = args.preset ? { ...PRESETS[args.preset] } : {};
      const r = normalizeOptions({ ...base, ...args.options });
      newOptions = r.options;
      channels = newOptions.channels;
      for (const c of r.changes) err(`note: ${c}`);
    }
  } catch (e) {
    err(`${file}: ${toUserMessage(e)}`);
    return resuming ? 1 : 2;
  }

  // 2. The faces.
  let srcFaces: NodeFace[];
  let dstFaces: NodeFace[];
  try {
    await initNodeJpegCodec();
    const read = (dir: string, side: string) => {
      const r = readDflFolder(dir, { channels, holdoutEvery: args.holdoutEvery, holdout: 'exclude' });
      for (const s of r.skipped.slice(0, 5)) err(`${side}: skipped ${s.path}: ${s.reason}`);
      if (r.skipped.length > 5) err(`${side}: skipped ${r.skipped.length - 5} more files`);
      if (!r.faces.length) throw new UsageError(`${side} folder ${dir} has no usable DFL aligned faces`);
      err(`${side}: ${r.faces.length} faces from ${dir}${r.heldOut ? ` (${r.heldOut} held out)` : ''}`);
      return r.faces;
    };
    srcFaces = read(args.src, 'src');
    dstFaces = read(args.dst, 'dst');
  } catch (e) {
    err(toUserMessage(e instanceof UsageError ? new Error(e.message) : e).replace(/^unexpected problem: /, ''));
    return 2;
  }

  // 3. The backend.
  const engine = await setupNodeBackendOrSay(args.backend, err);
  if (engine === null) return 2;

  // 4. Model and trainer: restored from FILE, or new.
  let model: SaehdModel;
  let trainer: Trainer;
  let options: ModelOptions;
  let lossHistory: [number, number][];
  let extra: Record<string, unknown>;
  let seed: number;
  const attachments = content?.attachments;
  if (content) {
    try {
      const r = await restoreState(content, { seed: args.seed, overrides: args.options });
      model = r.model;
      trainer = r.trainer!;
      options = r.options;
      lossHistory = r.lossHistory;
      extra = r.extra;
      seed = r.seed;
      err(`resuming ${file} at iteration ${r.iter}`);
      for (const c of r.changed) err(`changed: ${c}`);
      for (const k of r.kept) err(`kept: ${k}`);
      for (const n of r.notes) err(`note: ${n}`);
    } catch (e) {
      err(`${file}: ${toUserMessage(e)}`);
      return 1;
    }
  } else {
    options = newOptions!;
    seed = args.seed ?? 1;
    model = createSaehd(options, seed);
    trainer = createTrainer(model, options, { seed });
    lossHistory = [];
    extra = {};
    err(`new model ${file}`);
  }
  extra = { ...extra, seed };
  err(`${options.archi.toUpperCase()} ${options.resolution}-${options.ae_dims}-${options.e_dims}-${options.d_dims}-${options.d_mask_dims}` +
    `${options.channels === 1 ? ' BW' : ''}, face ${options.face_type}, batch ${options.batch_size}, ${model.paramCount()} parameters, ${engine}`);

  const gens = {
    src: new SampleGenerator(generatorOptions(options, 'src', srcFaces, seed, trainer.iter, dstFaces)),
    dst: new SampleGenerator(generatorOptions(options, 'dst', dstFaces, seed, trainer.iter)),
  };

  // 5. Saving.
  let saveFailed = false;
  const save = async (): Promise<boolean> => {
    try {
      const c = await captureState(model, trainer, options, lossHistory, extra);
      // Attachments the terminal does not use itself (the studio's preview faces, an imported DFL model's data.dat)
      // travel on unchanged, so a model that visits the terminal loses nothing.
      if (attachments?.size) c.attachments = attachments;
      writeAtomically(file, encodeCheckpoint(c));
      saveFailed = false;
      return true;
    } catch (e) {
      saveFailed = true;
      err(`could not save ${file} (${toUserMessage(e).replace(/^unexpected problem: /, '')}); the previous file is kept`);
      return false;
    }
  };

  // 6. Ctrl-C: finish the running iteration, save, exit 130; a second one exits at once.
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) {
      process.stderr.write('\nsaehdbw train: second Ctrl-C: exiting without saving\n');
      process.exit(130);
    }
    interrupted = true;
    process.stderr.write('\nsaehdbw train: Ctrl-C: finishing this iteration, then saving (Ctrl-C again to quit without saving)\n');
  };
  process.on('SIGINT', onSigint);

  const tty = process.stderr.isTTY === true;
  const startIter = trainer.iter;
  const targetIter = options.target_iter;
  const saveEveryMs = args.saveEveryMin * 60_000;
  const done = () =>
    (args.iters !== undefined && trainer.iter - startIter >= args.iters) || (targetIter > 0 && trainer.iter >= targetIter);
  if (args.iters === undefined && targetIter === 0) err('training until Ctrl-C (give --iters N or --target-iter N to stop on its own)');
  else if (targetIter > 0 && trainer.iter >= targetIter) err(`target iteration ${targetIter} already reached`);
  err('training… (Ctrl-C saves and stops)');

  let status = 0;
  let lastSave = performance.now();
  let acc = { n: 0, ms: 0, step: 0, samples: 0, src: 0, dst: 0, cpu: process.cpuUsage() };
  const report = () => {
    if (!acc.n) return;
    const ms = acc.ms / acc.n;
    const src = acc.src / acc.n;
    const dst = acc.dst / acc.n;
    if (tty) process.stderr.write('\r\x1b[K');
    process.stdout.write(
      (args.json
        ? JSON.stringify({
            iter: trainer.iter, ms_per_iter: Math.round(ms), ms_step: Math.round(acc.step / acc.n), ms_samples: Math.round(acc.samples / acc.n),
            // CPU time of this process per iteration: what the iteration costs without other load on the machine.
            cpu_ms_per_iter: Math.round(cpuMs(process.cpuUsage(acc.cpu)) / acc.n), src_loss: src, dst_loss: dst,
          })
        : dflLine(trainer.iter, ms, src, dst)) + '\n',
    );
    acc = { n: 0, ms: 0, step: 0, samples: 0, src: 0, dst: 0, cpu: process.cpuUsage() };
  };
  try {
    while (!interrupted && !done()) {
      const t0 = performance.now();
      const [src, dst] = await Promise.all([gens.src.nextBatch(), gens.dst.nextBatch()]);
      const t1 = performance.now();
      const r = await trainer.step({ src, dst });
      const t2 = performance.now();
      lossHistory.push([r.srcLoss, r.dstLoss]);
      acc.n++;
      acc.ms += t2 - t0;
      acc.step += t2 - t1;
      acc.samples += t1 - t0;
      acc.src += r.srcLoss;
      acc.dst += r.dstLoss;
      if (tty) {
        let bar = '';
        if (args.iters) {
          const f = (trainer.iter - startIter) / args.iters;
          bar = ` [${'='.repeat(Math.round(f * 20)).padEnd(20)}] ${trainer.iter - startIter}/${args.iters}`;
        }
        process.stderr.write(`\r\x1b[K${dflLine(r.iter, t2 - t0, r.srcLoss, r.dstLoss)}${bar}`);
      }
      if (performance.now() - lastSave >= saveEveryMs) {
        report();
        await save();
        acc.cpu = process.cpuUsage(); // the save is not an iteration's cost
        lastSave = performance.now();
      }
      // Let signal handlers run: the step and the generators resolve through microtasks only.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    if (tty) process.stderr.write('\n');
    if (e instanceof NonFiniteLossError) {
      err(`${e.message}`);
      status = 1;
    } else {
      report();
      err(`training stopped: ${toUserMessage(e)}; saving what was trained`);
      status = 1;
    }
  }
  report();
  const saved = await save();
  if (saved) err(`saved ${file} at iteration ${trainer.iter}`);
  process.off('SIGINT', onSigint);
  trainer.dispose();
  model.dispose();
  if (!saved || saveFailed) return 1;
  if (interrupted) return 130;
  return status;
}

/**
 * A live model + trainer ⇄ the checkpoint file's content (checkpointFile.ts): what the studio downloads and uploads
 * and what `saehdbw train` keeps on disk (issue 10), so a model moves between the page and the terminal and resumes
 * bit for bit. DOM-free and Node-free: the page's trainer worker and the command line call exactly these.
 *
 * What is stored (keys as DFL's files key them, §C.11):
 *  - weights: every network variable as `<module>/<key>` (model.allVariables()), plus the discriminators when the
 *    trainer has them: `code_discriminator/<key>` (true face, §C.6) and `GAN/<key>` (§C.7);
 *  - optimizer: the slots of the generator optimizer (`ms_encoder/…`, `vs_…` or `acc_…`, §C.8) and of the
 *    discriminator optimizers (`ms_dis/…`, `ms_D_src/…`);
 *  - iter, loss history, the training options in effect, and in `extra.trainState` the optimizers' update counters
 *    (DFL's `iters:0`, which drive lr_cos, §C.8). Everything else in `extra` is the caller's and passes through.
 *
 * Restoring builds the network from the stored options (with the caller's overrides of the options that may change
 * on resume, §C.1) and refuses, listing every problem, when a network weight or generator-optimizer slot is missing,
 * unexpected or mis-shaped. Discriminators follow DFL (as loadDfl.ts does): one that does not fit starts fresh.
 * Not stored: the LR-dropout mask stream's position and the sample generators' positions; a restored trainer draws
 * them from its seed again (identical results only when LR dropout is off and the caller feeds the same batches).
 */
import * as tf from '@tensorflow/tfjs';
import { OptionError, SaehdError } from '../errors.ts';
import {
  OPTIONS_SCHEMA_VERSION, OPTION_SCHEMA, normalizeOptions, validateOptions, type ModelOptions, type OptionsInput,
} from '../model/options.ts';
import { createSaehd, type BuildOptions, type SaehdModel } from '../model/saehd.ts';
import { setupBackend, type BackendChoice, type BackendPref } from '../train/backend.ts';
import type { DflOptimizer } from '../train/optimizers.ts';
import { createTrainer, type Trainer } from '../train/trainStep.ts';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointContent, type TensorData } from './checkpointFile.ts';

/** Weight-name prefixes of the discriminators in `weights`, and their variable prefixes in optimizer slot keys. */
const CODE_D = { weights: 'code_discriminator/', slots: 'dis/', opt: 'D_code_opt' } as const;
const GAN_D = { weights: 'GAN/', slots: 'D_src/', opt: 'GAN_opt' } as const;

/** `extra.trainState`: what captureState adds and restoreState reads. */
export interface TrainStateExtra {
  version: 1;
  /** Update counters of the optimizers (DFL's `iters:0` of each `…_opt.npy`). */
  optimizerIters: { src_dst_opt: number; D_code_opt?: number; GAN_opt?: number };
}

/** The checkpoint does not fit the network its options describe (or is from a newer option schema). */
export class CheckpointMismatchError extends SaehdError {
  constructor(readonly problems: string[], what = 'the checkpoint does not fit the network its options describe') {
    const shown = problems.slice(0, 20).map((p) => `\n  - ${p}`).join('');
    const more = problems.length > 20 ? `\n  … and ${problems.length - 20} more` : '';
    super('checkpoint-mismatch', `${what}:${shown}${more}`);
  }
}

// ---- capture ---------------------------------------------------------------------------------------------------------

async function readVars(vars: Iterable<[string, tf.Variable]>, prefix: string, out: Map<string, TensorData>): Promise<void> {
  for (const [k, v] of vars) {
    // A copy: the cpu backend hands out its live buffer.
    const data = ((await v.data()) as Float32Array).slice();
    out.set(prefix + k, { shape: v.shape.slice(), data });
  }
}

async function readSlots(opt: DflOptimizer | null, out: Map<string, TensorData>): Promise<void> {
  // readState works wherever the state lives (models_opt_on_gpu) and returns copies.
  if (opt) for (const [k, v] of (await opt.readState()).slots) out.set(k, v);
}

/**
 * Read everything needed to resume into a CheckpointContent (ready for encodeCheckpoint). `options` are the training
 * options in effect (they may differ from `model.options` in the options that can change on resume); `extra` is
 * stored as given, plus `trainState`. Reads tensors with `await data()` only; creates no tensors.
 */
export async function captureState(
  model: SaehdModel,
  trainer: Trainer,
  options: ModelOptions,
  lossHistory: ReadonlyArray<readonly [number, number]>,
  extra: Record<string, unknown> = {},
): Promise<CheckpointContent> {
  const weights = new Map<string, TensorData>();
  const optimizer = new Map<string, TensorData>();
  await readVars(model.allVariables(), '', weights);
  if (trainer.codeDiscriminator) await readVars(trainer.codeDiscriminator.variables(), CODE_D.weights, weights);
  if (trainer.gan) await readVars(trainer.gan.variables(), GAN_D.weights, weights);
  await readSlots(trainer.srcDstOpt, optimizer);
  await readSlots(trainer.codeOpt, optimizer);
  await readSlots(trainer.ganOpt, optimizer);
  const trainState: TrainStateExtra = {
    version: 1,
    optimizerIters: {
      src_dst_opt: trainer.srcDstOpt.iterations,
      ...(trainer.codeOpt ? { D_code_opt: trainer.codeOpt.iterations } : {}),
      ...(trainer.ganOpt ? { GAN_opt: trainer.ganOpt.iterations } : {}),
    },
  };
  return {
    options: { ...options },
    optionsSchemaVersion: OPTIONS_SCHEMA_VERSION,
    iter: trainer.iter,
    lossHistory: lossHistory.map(([s, d]) => [s, d] as [number, number]),
    weights,
    optimizer,
    extra: { ...extra, trainState },
  };
}

// ---- options on resume -------------------------------------------------------------------------------------------------

export interface ResumedOptions {
  options: ModelOptions;
  /** Options whose value differs from the stored one, e.g. 'batch_size 4 → 8'. */
  changed: string[];
  /** Fixed-at-creation options that were asked for with another value and kept, e.g. 'resolution: kept 64 …'. */
  kept: string[];
  /** Notes from DFL's rules (clamping, forced values). */
  notes: string[];
}

const SPEC = new Map(OPTION_SCHEMA.map((s) => [s.key as string, s]));

/**
 * The options of a resumed model (§C.1): the stored ones, with `overrides` applied to the options that may change on
 * resume. An override of an option fixed at creation (resolution, archi, dims, face type, channels) is not applied
 * (DFL does not even ask for them on resume) and is listed in `kept`. Unknown options and bad values throw OptionError.
 */
export function resumeOptions(stored: ModelOptions, overrides: OptionsInput = {}): ResumedOptions {
  const kept: string[] = [];
  const apply: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined || v === null) continue;
    const spec = SPEC.get(k);
    if (spec?.fixedAtCreation) {
      try {
        normalizeOptions({ [k]: v }, { base: stored });
      } catch (e) {
        if (!(e instanceof OptionError)) throw e;
        kept.push(`${k}: kept ${String(stored[k as keyof ModelOptions])} (fixed when the model was created; asked for ${String(v)})`);
      }
      continue;
    }
    apply[k] = v;
  }
  const { options, changes } = normalizeOptions(apply, { base: stored });
  const changed: string[] = [];
  for (const spec of OPTION_SCHEMA) {
    const a = stored[spec.key];
    const b = options[spec.key];
    if (a !== b) changed.push(`${spec.key} ${String(a)} → ${String(b)}`);
  }
  return { options, changed, kept, notes: changes };
}

// ---- restore ---------------------------------------------------------------------------------------------------------

export interface RestoreSettings {
  /** Seed of the trainer's random streams (LR-dropout masks, fresh discriminators); default `extra.seed`, else 1. */
  seed?: number;
  /**
   * The tfjs backend the tensors should live on. When given and not already active it is activated with
   * `setupBackend` (which may fall back; `RestoredState.backend` says what happened). Omit to use the active one.
   */
  backend?: BackendPref;
  /** Options to change on resume (strings are fine, as from a form or the command line). */
  overrides?: OptionsInput;
  /** Build the trainer and load the optimizer state (default true); false for evaluation or prediction only. */
  trainer?: boolean;
  build?: BuildOptions;
}

export interface RestoredState {
  model: SaehdModel;
  /** null with `trainer: false`. */
  trainer: Trainer | null;
  /** The options in effect (stored + overrides). */
  options: ModelOptions;
  /** The options as stored in the checkpoint. */
  storedOptions: ModelOptions;
  iter: number;
  lossHistory: [number, number][];
  /** The checkpoint's `extra` without `trainState` (pass it back to captureState to keep it). */
  extra: Record<string, unknown>;
  seed: number;
  changed: string[];
  kept: string[];
  /** What restoring decided: fresh optimizer or discriminators, dropped parts, pretrain switched off, clamped values. */
  notes: string[];
  /** Set when `settings.backend` caused a backend switch. */
  backend: BackendChoice | null;
}

const dims = (s: readonly number[]) => (s.length ? s.join('×') : 'scalar');
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Missing, mis-shaped and unexpected entries of `stored` against live variables; each a line for a person. */
function compare(live: ReadonlyMap<string, { shape: number[]; size: number }>, stored: ReadonlyMap<string, TensorData>, what: string): string[] {
  const problems: string[] = [];
  for (const [k, v] of live) {
    const t = stored.get(k);
    if (!t) problems.push(`${what}: missing ${k} (${dims(v.shape)})`);
    else if (t.data.length !== v.size || !sameShape(t.shape, v.shape))
      problems.push(`${what}: ${k} is ${dims(t.shape)}, the network needs ${dims(v.shape)}`);
  }
  for (const k of stored.keys()) if (!live.has(k)) problems.push(`${what}: unexpected ${k} (${dims(stored.get(k)!.shape)})`);
  return problems;
}

function assignAll(live: ReadonlyMap<string, tf.Variable>, stored: ReadonlyMap<string, TensorData>): void {
  for (const [k, v] of live) {
    const t = stored.get(k)!;
    tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, 'float32')));
  }
}

/** The variable name inside an optimizer slot key (`ms_encoder/…_0:0` → `encoder/…_0:0`). */
const slotVariable = (key: string) => key.replace(/^(ms|vs|acc)_/, '');

function pick<V>(m: ReadonlyMap<string, V>, test: (k: string) => boolean, strip = ''): Map<string, V> {
  const out = new Map<string, V>();
  for (const [k, v] of m) if (test(k)) out.set(k.slice(strip.length), v);
  return out;
}

function readTrainState(extra: Record<string, unknown>): TrainStateExtra | null {
  const t = extra.trainState as Partial<TrainStateExtra> | undefined;
  if (!t || typeof t !== 'object' || !t.optimizerIters || typeof t.optimizerIters.src_dst_opt !== 'number') return null;
  return t as TrainStateExtra;
}

/**
 * The options a checkpoint was saved with. Options fixed at creation are taken as stored (not re-clamped: a test
 * model below DFL's minimum sizes, §C.1, must still fit its own weights), after a type check; the others go through
 * DFL's rules (normalizeOptions), with defaults for keys an older file lacks.
 */
export function storedOptionsOf(raw: Record<string, unknown> | undefined): ModelOptions {
  if (!raw || typeof raw !== 'object') throw new CheckpointMismatchError(['it has no model options'], 'the checkpoint is incomplete');
  const defaults = validateOptions({});
  const problems: string[] = [];
  const base: Record<string, unknown> = { ...defaults };
  for (const spec of OPTION_SCHEMA) {
    const v = raw[spec.key];
    if (v === undefined || v === null) {
      if (spec.fixedAtCreation) problems.push(`option ${spec.key} is missing`);
      continue;
    }
    if (spec.fixedAtCreation) {
      const ok =
        spec.key === 'channels' ? v === 1 || v === 3
        : spec.type === 'int' ? Number.isInteger(v) && (v as number) > 0
        : typeof v === 'string' && (spec.values ? spec.values.includes(v) : v.length > 0);
      if (!ok) problems.push(`option ${spec.key} has an unusable value ${JSON.stringify(v)}`);
    }
    base[spec.key] = v;
  }
  if (problems.length) throw new CheckpointMismatchError(problems, 'the checkpoint\'s model options are unusable');
  return normalizeOptions({}, { base: base as unknown as ModelOptions }).options;
}

/**
 * Build the network and trainer for a checkpoint and load its weights, optimizer state, iteration and loss history.
 * Throws CheckpointMismatchError listing every missing, unexpected or mis-shaped weight or generator slot (nothing is
 * kept then), and OptionError for bad overrides.
 */
export async function restoreState(content: CheckpointContent, settings: RestoreSettings = {}): Promise<RestoredState> {
  let backend: BackendChoice | null = null;
  if (settings.backend && settings.backend !== 'auto' && tf.getBackend() !== settings.backend) backend = await setupBackend(settings.backend);
  else if (settings.backend === 'auto') backend = await setupBackend('auto');

  if (!(content.optionsSchemaVersion <= OPTIONS_SCHEMA_VERSION))
    throw new CheckpointMismatchError(
      [`its options use schema version ${content.optionsSchemaVersion}; this version knows up to ${OPTIONS_SCHEMA_VERSION}`],
      'the checkpoint comes from a newer version',
    );
  const storedOptions = storedOptionsOf(content.options);
  const { options, changed, kept, notes } = resumeOptions(storedOptions, settings.overrides ?? {});
  const { trainState: _drop, ...extra } = content.extra ?? {};
  const trainState = readTrainState(content.extra ?? {});
  const seed = settings.seed ?? (typeof extra.seed === 'number' ? extra.seed : 1);
  let iter = content.iter;
  const lossHistory = (content.lossHistory ?? []).map(([s, d]) => [s, d] as [number, number]);

  const model = createSaehd(options, seed, settings.build);
  let trainer: Trainer | null = null;
  try {
    if (settings.trainer !== false) trainer = createTrainer(model, options, { seed, iter });

    // Partition the stored tensors: network / code discriminator / GAN, generator slots / discriminator slots.
    const isAuxW = (k: string) => k.startsWith(CODE_D.weights) || k.startsWith(GAN_D.weights);
    const isAuxS = (k: string) => slotVariable(k).startsWith(CODE_D.slots) || slotVariable(k).startsWith(GAN_D.slots);
    const netWeights = pick(content.weights, (k) => !isAuxW(k));
    const genSlots = pick(content.optimizer, (k) => !isAuxS(k));

    const problems = compare(model.allVariables(), netWeights, 'weights');
    let loadGenSlots = false;
    if (trainer) {
      if (genSlots.size === 0) notes.push('the checkpoint has no optimizer state: the optimizer starts fresh');
      else if (storedOptions.adabelief !== options.adabelief)
        notes.push(`optimizer switched to ${options.adabelief ? 'AdaBelief' : 'RMSprop'}: its state starts fresh`);
      else {
        problems.push(...compare(trainer.srcDstOpt.slotInfo(), genSlots, 'optimizer'));
        loadGenSlots = true;
      }
    }
    if (problems.length) throw new CheckpointMismatchError(problems);

    assignAll(model.allVariables(), netWeights);
    if (trainer && loadGenSlots) {
      trainer.srcDstOpt.loadState({ iters: trainState?.optimizerIters.src_dst_opt ?? content.iter, slots: genSlots });
    }

    // Discriminators (§C.6, §C.7): load when they fit, else fresh, as DFL does.
    const aux = (
      net: { variables(): Map<string, tf.Variable> } | null,
      opt: DflOptimizer | null,
      d: typeof CODE_D | typeof GAN_D,
      what: string,
    ) => {
      const w = pick(content.weights, (k) => k.startsWith(d.weights), d.weights);
      const s = pick(content.optimizer, (k) => slotVariable(k).startsWith(d.slots));
      if (!net || !opt) {
        if (w.size && trainer) notes.push(`the ${what} is not used with these options: it is not kept`);
        return;
      }
      if (!w.size) {
        notes.push(`the checkpoint has no ${what}: it starts fresh`);
        return;
      }
      const p = compare(net.variables(), w, what);
      const sameKind = storedOptions.adabelief === options.adabelief;
      if (sameKind) p.push(...compare(opt.slotInfo(), s, `${what} optimizer`));
      if (p.length) {
        notes.push(`the ${what} does not fit (${p.slice(0, 2).join('; ')}${p.length > 2 ? '; …' : ''}): it starts fresh`);
        return;
      }
      assignAll(net.variables(), w);
      const iters = trainState?.optimizerIters[d.opt];
      if (sameKind) opt.loadState({ iters: iters ?? content.iter, slots: s });
    };
    if (trainer) {
      aux(trainer.codeDiscriminator, trainer.codeOpt, CODE_D, 'true-face code discriminator');
      aux(trainer.gan, trainer.ganOpt, GAN_D, 'GAN discriminator');
    }

    // §C.9: switching pretrain off re-initialises the Inter block(s) and restarts the iteration count.
    if (storedOptions.pretrain && !options.pretrain) {
      model.reinitializeInters(`${seed}/pretrain-off/${iter}`);
      iter = 0;
      if (trainer) trainer.iter = 0;
      notes.push('pretrain switched off: the Inter block(s) are re-initialised and the iteration count restarts at 0 (§C.9)');
    }
    return { model, trainer, options, storedOptions, iter, lossHistory, extra, seed, changed, kept, notes, backend };
  } catch (e) {
    trainer?.dispose();
    model.dispose();
    throw e;
  }
}

// ---- the file, in one call each (the studio's download / upload) ------------------------------------------------------

/** `encodeCheckpoint(await captureState(...))`: the bytes of the checkpoint file (the studio's download). */
export async function checkpointBytes(
  model: SaehdModel,
  trainer: Trainer,
  options: ModelOptions,
  lossHistory: ReadonlyArray<readonly [number, number]>,
  extra: Record<string, unknown> = {},
): Promise<Uint8Array> {
  return encodeCheckpoint(await captureState(model, trainer, options, lossHistory, extra));
}

/**
 * `restoreState(decodeCheckpoint(bytes), settings)`: a checkpoint file (an upload, or `saehdbw train`'s FILE) to a
 * model and trainer ready to continue. Throws CheckpointFormatError for a damaged file, CheckpointMismatchError for
 * weights that do not fit.
 */
export async function restoreCheckpoint(bytes: Uint8Array, settings: RestoreSettings = {}): Promise<RestoredState> {
  return restoreState(decodeCheckpoint(bytes), settings);
}

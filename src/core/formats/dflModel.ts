/**
 * DeepFaceLab SAEHD / SAEHDBW model folders (spec §C.10, §C.11, §J.2, pickle rules §G.3), read and written as a list
 * of `{ name, bytes }` files so the page can pass a dropped folder or a zip's entries and the command line a directory.
 *
 * Layout (§C.11): every file is `<name>_<Class>_<part>` with Class SAEHD (3 channels) or SAEHDBW (1 channel):
 * - `…_data.dat`: a pickle (protocol 3 under DFL's bundled Python 3.6) of a dict with `iter`, `options` (§C.1),
 *   `loss_history` ([src, dst] per iteration), `sample_for_preview`, `choosed_gpu_indexes`;
 * - `…_encoder.npy`, `…_inter.npy` | `…_inter_AB.npy` + `…_inter_B.npy`, `…_decoder_src.npy` + `…_decoder_dst.npy` |
 *   `…_decoder.npy`: pickle protocol 4 of a dict DFL variable name (without the module scope) → float32 ndarray;
 * - `…_src_dst_opt.npy`: the same format with `iters:0` and the optimizer slots `ms_…`/`vs_…` (AdaBelief) or `acc_…`
 *   (RMSprop) (§C.8);
 * - `…_code_discriminator.npy` + `…_D_code_opt.npy` (true face, §C.6) and `…_GAN.npy` + `…_GAN_opt.npy` (GAN, §C.7).
 *
 * Reading checks the files themselves (present, parseable, float arrays) and the options; whether the arrays fit the
 * network is checked where the network is built (src/core/model/loadDfl.ts). Every problem is collected, and a folder
 * with any problem is refused as a whole with the full list (DflModelError). This module does not load tfjs.
 */
import { zipSync } from 'fflate';
import { OptionError, SaehdError } from '../errors.ts';
import { moduleNames, saehdGeometry, type ModuleName } from '../model/geometry.ts';
import { CT_MODES_ONE_CHANNEL, OPTION_SCHEMA, normalizeOptions, type ModelOptions } from '../model/options.ts';
import type { SaehdModel } from '../model/saehd.ts';
import { parsePickle, type PickleLimits } from './pickle.ts';
import { safeUnzip } from './safeUnzip.ts';
import { writePickle } from './pickleWriter.ts';
import {
  PyFloat, PyTuple, cOrderData, isNdArray, ndarray, pyNumber, type NdArray, type PyDict, type PyValue,
} from './pyValue.ts';

// ---- types --------------------------------------------------------------------------------------------------------

export interface DflFile {
  /** File name, possibly with folders ('model/new_SAEHD_data.dat'); only the last part is matched. */
  name: string;
  bytes: Uint8Array;
}

/** One array of a weight file, C order. */
export interface DflArray {
  shape: number[];
  data: Float32Array;
}

/** DFL key (e.g. `down1/downs_0/conv1/weight:0`) → array. */
export type DflWeights = Map<string, DflArray>;

/** An `…_opt.npy` file: the update counter `iters:0` and the slots under DFL's keys (§C.8, §C.11). */
export interface DflOptimizerState {
  iters: number;
  slots: Map<string, DflArray>;
}

/** A discriminator's files: its weights and its optimizer, each null when the folder lacks that file. */
export interface DflAuxState {
  weights: DflWeights | null;
  optimizer: DflOptimizerState | null;
}

export type DflModelClass = 'SAEHD' | 'SAEHDBW';

export interface DflModel {
  /** The user's model name (the `<name>` of `<name>_<Class>_…`). */
  modelName: string;
  modelClass: DflModelClass;
  /** Validated options (§C.1) with `channels` from the class and the weights. */
  options: ModelOptions;
  /** What the page changed or ignores, one sentence each (options it cannot honour, defaults filled in, …). */
  notes: string[];
  /** Model iteration (data.dat `iter`). */
  iter: number;
  /** [src, dst] loss per iteration (data.dat `loss_history`). */
  lossHistory: Array<[number, number]>;
  /** Module file name → arrays, in DFL's model_filename_list order (§C.11). */
  weights: Map<ModuleName, DflWeights>;
  /** `src_dst_opt.npy`, null when the folder has none (DFL then starts the optimizer from zeros). */
  optimizer: DflOptimizerState | null;
  /** `code_discriminator.npy` / `D_code_opt.npy`, null when neither file is there. */
  codeDiscriminator: DflAuxState | null;
  /** `GAN.npy` / `GAN_opt.npy`, null when neither file is there. */
  gan: DflAuxState | null;
  /** data.dat as read; its other keys (sample_for_preview, choosed_gpu_indexes, …) are written back on export. */
  data: PyDict;
  /** Pickle protocol of data.dat (kept on export). */
  dataProtocol: 3 | 4;
}

/** A model folder (or one model of it) the page refuses; `problems` lists everything that is wrong. */
export class DflModelError extends SaehdError {
  constructor(
    code: 'dfl-not-found' | 'dfl-unsupported' | 'dfl-damaged' | 'dfl-weights',
    readonly problems: string[],
    summary: string,
  ) {
    const shown = problems.slice(0, 12).map((p) => `\n  - ${p}`).join('');
    const more = problems.length > 12 ? `\n  … and ${problems.length - 12} more` : '';
    super(code, `${summary}${shown}${more}`);
  }
}

// ---- names --------------------------------------------------------------------------------------------------------

/** The model classes the page implements (§0.1: SAEHDBW is SAEHD with 1-channel input and image heads). */
export const SUPPORTED_CLASSES: readonly DflModelClass[] = ['SAEHD', 'SAEHDBW'];

/** Weight-file parts of the network modules (§C.11, DFL's model_filename_list). */
const MODULE_PARTS: readonly ModuleName[] = ['encoder', 'inter', 'inter_AB', 'inter_B', 'decoder_src', 'decoder_dst', 'decoder'];

export type DflPart = ModuleName | 'src_dst_opt' | 'code_discriminator' | 'D_code_opt' | 'GAN' | 'GAN_opt' | 'data' | 'summary';

/** `<name>_<Class>_<part>.<npy|dat|txt>` (§C.11). */
export function dflFileName(modelName: string, modelClass: string, part: DflPart): string {
  const ext = part === 'data' ? 'dat' : part === 'summary' ? 'txt' : 'npy';
  return `${modelName}_${modelClass}_${part}.${ext}`;
}

/** Class name for a model with `channels` channels: SAEHDBW for 1 (§A.9), SAEHD for 3. */
export function dflClassFor(channels: number): DflModelClass {
  return channels === 1 ? 'SAEHDBW' : 'SAEHD';
}

const baseName = (n: string) => n.split(/[\\/]/).pop() ?? n;
const depthOf = (n: string) => n.split(/[\\/]/).filter(Boolean).length;
/** Backups and preview history repeat the model's files (§C.10); they are never what the user means to import. */
const inBackupOrHistory = (n: string) => n.split(/[\\/]/).slice(0, -1).some((d) => /_(autobackups|history)$/.test(d));

export interface DflModelEntry {
  modelName: string;
  modelClass: string;
  /** Whether the page implements this class. */
  supported: boolean;
  /** Base name → full name (as given) of this model's files (the shallowest copy when a name repeats). */
  files: Map<string, string>;
}

/**
 * The models in a folder listing, found by their `<name>_<Class>_data.dat` (DFL's own way, `ModelBase.__init__`).
 * Works on names only, so a caller can read just the files of the model it picks.
 */
export function findDflModels(names: readonly string[]): DflModelEntry[] {
  const usable = names.filter((n) => !inBackupOrHistory(n));
  const models: DflModelEntry[] = [];
  for (const n of usable) {
    const m = /^(.+)_([^_]+)_data\.dat$/.exec(baseName(n));
    if (!m) continue;
    const [, modelName, modelClass] = m;
    if (models.some((x) => x.modelName === modelName && x.modelClass === modelClass)) continue;
    const prefix = `${modelName}_${modelClass}_`;
    const files = new Map<string, string>();
    for (const f of usable) {
      const b = baseName(f);
      if (!b.startsWith(prefix)) continue;
      const prev = files.get(b);
      if (prev === undefined || depthOf(f) < depthOf(prev)) files.set(b, f);
    }
    models.push({ modelName, modelClass, supported: (SUPPORTED_CLASSES as readonly string[]).includes(modelClass), files });
  }
  return models.sort((a, b) => (a.modelName + a.modelClass).localeCompare(b.modelName + b.modelClass));
}

/**
 * The one model to import: the supported model named `modelName` (a name, or `<name>_<Class>`), or the only supported
 * model in the listing. Throws DflModelError naming what was found otherwise.
 */
export function pickDflModel(names: readonly string[], modelName?: string): DflModelEntry {
  const all = findDflModels(names);
  const label = (m: DflModelEntry) => `${m.modelName} (${m.modelClass})`;
  const matches = modelName === undefined ? all : all.filter((m) => m.modelName === modelName || `${m.modelName}_${m.modelClass}` === modelName);
  const ok = matches.filter((m) => m.supported);
  if (ok.length === 1) return ok[0];
  if (ok.length > 1)
    throw new DflModelError('dfl-not-found', ok.map(label), 'the folder holds several SAEHD/SAEHDBW models; choose one by name:');
  const unsupported = matches.filter((m) => !m.supported);
  if (unsupported.length)
    throw new DflModelError(
      'dfl-unsupported',
      unsupported.map((m) => `${label(m)}: model class ${m.modelClass} is not implemented (the page trains SAEHD and SAEHDBW models)`),
      'this model cannot be imported:',
    );
  if (modelName !== undefined && all.length)
    throw new DflModelError('dfl-not-found', all.map(label), `no model named "${modelName}"; the folder holds:`);
  const weightFiles = names.filter((n) => /_(SAEHD|SAEHDBW)_(encoder|inter|inter_AB|inter_B|decoder|decoder_src|decoder_dst)\.npy$/.test(baseName(n)));
  throw new DflModelError(
    'dfl-not-found',
    weightFiles.length ? ['weight files without their <name>_<Class>_data.dat (options and iteration)'] : ['no <name>_SAEHD_data.dat or <name>_SAEHDBW_data.dat file'],
    'no DeepFaceLab SAEHD/SAEHDBW model found:',
  );
}

// ---- pickle limits --------------------------------------------------------------------------------------------------

/**
 * Limits for model files: DFL's weight files hold one module each; the largest realistic one (LIAE 256, ae 512 without
 * `d`: inter_AB ≈ 540 MB) stays under 1 GiB, which is also about what a browser tab can hold twice. data.dat holds
 * one list per iteration (a million iterations ≈ 4 million pickle values).
 */
export const DFL_MODEL_PICKLE_LIMITS: Readonly<Required<PickleLimits>> = {
  maxBytes: 1024 ** 3,
  maxArrayBytes: 1024 ** 3,
  maxDepth: 32,
  maxItems: 50_000_000,
};

// ---- weight files (§C.11) -------------------------------------------------------------------------------------------

/** A pickle error as a model-file problem (PickleError's wording speaks of face metadata). */
function pickleProblem(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return `unreadable pickle: ${m.replace(/^unreadable DeepFaceLab metadata \(pickle\): /, '')}`;
}

function floatArray(a: NdArray): Float32Array | null {
  if (a.dtype !== 'f4' && a.dtype !== 'f8' && a.dtype !== 'f2') return null;
  const d = cOrderData(a);
  return d instanceof Float32Array ? d : Float32Array.from(d as Float64Array);
}

/**
 * A weight or optimizer file: pickle dict of name → float ndarray (§C.11, §G.3). Problems are pushed onto `problems`
 * (prefixed with `file`); the arrays that could be read are returned. `iters:0` (an int64 numpy scalar or array) is
 * returned separately.
 */
export function parseWeightsFile(bytes: Uint8Array, file: string, problems: string[]): { arrays: DflWeights; iters: number | null } {
  const arrays: DflWeights = new Map();
  let iters: number | null = null;
  let dict: PyValue;
  try {
    dict = parsePickle(bytes, DFL_MODEL_PICKLE_LIMITS);
  } catch (e) {
    problems.push(`${file}: ${pickleProblem(e)}`);
    return { arrays, iters };
  }
  if (!(dict instanceof Map)) {
    problems.push(`${file}: not a dict of arrays`);
    return { arrays, iters };
  }
  for (const [k, v] of dict) {
    const key = String(k);
    if (key === 'iters:0') {
      const n = isNdArray(v) ? (v.data.length === 1 ? Number(v.data[0]) : NaN) : typeof v === 'boolean' ? NaN : pyNumber(v);
      if (n === null || !Number.isSafeInteger(n) || n < 0) problems.push(`${file}: iters:0 is not an iteration count`);
      else iters = n;
      continue;
    }
    if (!isNdArray(v)) {
      problems.push(`${file}: ${key} is not an array`);
      continue;
    }
    const data = floatArray(v);
    if (!data) {
      problems.push(`${file}: ${key} has dtype ${v.dtype}, expected float32`);
      continue;
    }
    arrays.set(key, { shape: v.shape.slice(), data });
  }
  return { arrays, iters };
}

/** Pickle a weight dict as DFL's `Saveable.save_weights` does: `pickle.dumps(dict of float32 arrays, 4)` (§C.11). */
export function encodeWeightsFile(arrays: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): Uint8Array {
  const d: PyDict = new Map();
  for (const [k, a] of arrays) d.set(k, ndarray('f4', a.shape.slice(), a.data));
  return writePickle(d, 4);
}

/** DFL orders an optimizer's weights `[iters] + ms… + vs…` (or `+ acc…`): `OptimizerBase.get_weights`. */
function slotGroup(key: string): number {
  return key.startsWith('ms_') ? 0 : key.startsWith('vs_') ? 1 : key.startsWith('acc_') ? 2 : 3;
}

/**
 * An optimizer file (§C.8, §C.11): `iters:0` first, then the slots grouped as DFL lists them. The counter is written
 * as a 0-d int64 array; DFL writes a NumPy int64 scalar, and its loader reshapes either to the variable's shape.
 */
export function encodeOptimizerFile(state: { iters: number; slots: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }> }): Uint8Array {
  const d: PyDict = new Map();
  d.set('iters:0', ndarray('i8', [], BigInt64Array.of(BigInt(state.iters))));
  const keys = [...state.slots.keys()];
  keys.sort((a, b) => slotGroup(a) - slotGroup(b)); // stable: keeps the variable order inside a group
  for (const k of keys) {
    const a = state.slots.get(k)!;
    d.set(k, ndarray('f4', a.shape.slice(), a.data));
  }
  return writePickle(d, 4);
}

// ---- data.dat (§C.10, §C.11) -----------------------------------------------------------------------------------------

/**
 * DFL's options in the order `Model_SAEHD.on_initialize_options` / `ModelBase` first set them (used for new files;
 * an imported file keeps its own order). `channels` is not a DFL option: the class name carries it (§A.9).
 */
const DFL_OPTION_ORDER: readonly string[] = [
  'resolution', 'face_type', 'models_opt_on_gpu', 'archi', 'ae_dims', 'e_dims', 'd_dims', 'd_mask_dims',
  'masked_training', 'eyes_mouth_prio', 'uniform_yaw', 'blur_out_mask', 'adabelief', 'lr_dropout', 'random_warp',
  'random_hsv_power', 'true_face_power', 'face_style_power', 'bg_style_power', 'ct_mode', 'clipgrad', 'pretrain',
  'autobackup_hour', 'write_preview_history', 'target_iter', 'random_src_flip', 'random_dst_flip', 'batch_size',
  'gan_power', 'gan_patch_size', 'gan_dims',
];
const SCHEMA_KEYS = OPTION_SCHEMA.map((s) => s.key as string);
const DFL_OPTION_KEYS: readonly string[] = [
  ...DFL_OPTION_ORDER.filter((k) => SCHEMA_KEYS.includes(k)),
  ...SCHEMA_KEYS.filter((k) => k !== 'channels' && !DFL_OPTION_ORDER.includes(k)),
];
const FLOAT_OPTIONS = new Set(OPTION_SCHEMA.filter((s) => s.type === 'float').map((s) => s.key as string));

/** An option value as the Python type DFL stores: float options as float (1.0 stays a float), others as they are. */
function pyOption(key: string, v: unknown): PyValue {
  if (typeof v === 'number') return FLOAT_OPTIONS.has(key) && Number.isInteger(v) ? new PyFloat(v) : v;
  return v as PyValue;
}

/** The options dict of data.dat: the base dict's keys and order kept (unknown keys too), page values written over. */
export function optionsToPy(options: ModelOptions, base?: PyDict): PyDict {
  const out: PyDict = new Map(base ?? []);
  for (const k of DFL_OPTION_KEYS) out.set(k, pyOption(k, options[k as keyof ModelOptions]));
  return out;
}

/**
 * data.dat as `ModelBase.save` writes it: {iter, options, loss_history, sample_for_preview, choosed_gpu_indexes}.
 * With `base` (an imported data.dat) every other key is kept as read; a new file gets None for the preview samples
 * (DFL then draws new ones) and for the GPU choice. Protocol 3 by default, as DFL's bundled Python 3.6 writes.
 */
export function encodeDataDat(args: {
  iter: number;
  options: ModelOptions;
  lossHistory: ReadonlyArray<ReadonlyArray<number>>;
  base?: PyDict;
  protocol?: 3 | 4;
}): Uint8Array {
  const base = args.base;
  const d: PyDict = new Map(base ?? []);
  d.set('iter', args.iter);
  const baseOptions = base?.get('options');
  d.set('options', optionsToPy(args.options, baseOptions instanceof Map ? baseOptions : undefined));
  d.set('loss_history', args.lossHistory.map((row) => row.map((x) => (Number.isInteger(x) ? new PyFloat(x) : x))));
  if (!d.has('sample_for_preview')) d.set('sample_for_preview', null);
  if (!d.has('choosed_gpu_indexes')) d.set('choosed_gpu_indexes', null);
  return writePickle(d, args.protocol ?? 3);
}

/** A Python option value as a plain JS value for normalizeOptions (numbers, bools, strings; others unchanged). */
function jsOption(v: PyValue | undefined): unknown {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** The fixed-at-creation sizes DFL uses as stored (it clamps them only when it asks, on the first run, §C.1). */
const STORED_SIZES = ['resolution', 'ae_dims', 'e_dims', 'd_dims', 'd_mask_dims'] as const;

/**
 * data.dat's options → validated ModelOptions. Sizes are taken as stored (as DFL does); for a 1-channel model the two
 * colour-only options are reset with a note (§I.2, §E.9); anything else the page cannot honour is a problem.
 */
function readOptions(raw: PyDict, channels: 1 | 3, notes: string[], problems: string[]): ModelOptions | null {
  const input: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of raw) {
    const key = String(k);
    if (SCHEMA_KEYS.includes(key) && key !== 'channels') input[key] = jsOption(v);
    else unknown.push(key);
  }
  if (unknown.length) notes.push(`options not used by the page (kept for export): ${unknown.join(', ')}`);
  const missing = DFL_OPTION_KEYS.filter((k) => !(k in input));
  if (missing.length) notes.push(`options missing from data.dat, defaults used: ${missing.join(', ')}`);
  input.channels = channels;
  if (channels === 1) {
    const hsv = input.random_hsv_power;
    if (hsv !== undefined && hsv !== 0 && hsv !== '0') {
      notes.push(`random_hsv_power ${String(hsv)} cannot be honoured by a 1-channel model (needs colour): set to 0`);
      input.random_hsv_power = 0;
    }
    const ct = typeof input.ct_mode === 'string' ? input.ct_mode.trim().toLowerCase() : input.ct_mode;
    if (ct !== undefined && !(CT_MODES_ONE_CHANNEL as readonly unknown[]).includes(ct)) {
      notes.push(`ct_mode "${String(input.ct_mode)}" cannot be honoured by a 1-channel model (only ${CT_MODES_ONE_CHANNEL.join(', ')}): set to none`);
      input.ct_mode = 'none';
    }
  }
  let options: ModelOptions;
  let changes: string[];
  try {
    ({ options, changes } = normalizeOptions(input, { ignoreUnknown: true }));
  } catch (e) {
    problems.push(e instanceof OptionError ? `${e.message} (the page cannot honour it)` : String(e));
    return null;
  }
  const kept = new Set<string>();
  for (const k of STORED_SIZES) {
    const stored = input[k];
    if (typeof stored === 'number' && Number.isSafeInteger(stored) && stored > 0 && stored !== options[k]) {
      options[k] = stored;
      kept.add(k);
      notes.push(`${k} ${stored} is outside DFL's prompt range; kept as stored, as DFL does`);
    }
  }
  for (const c of changes) if (![...kept].some((k) => c.startsWith(`${k} `))) notes.push(`option changed by DFL's rules: ${c}`);
  try {
    saehdGeometry(options);
  } catch (e) {
    problems.push(`${e instanceof Error ? e.message : String(e)} (the page cannot build this network)`);
    return null;
  }
  return options;
}

function readLossHistory(v: PyValue | undefined, problems: string[]): Array<[number, number]> {
  if (v === undefined || v === null) return [];
  const rows = Array.isArray(v) ? v : v instanceof PyTuple ? v.items : null;
  if (!rows) {
    problems.push('data.dat: loss_history is not a list');
    return [];
  }
  const out: Array<[number, number]> = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const items = Array.isArray(r) ? r : r instanceof PyTuple ? r.items : null;
    const a = items && items.length === 2 ? pyNumber(items[0]) : null;
    const b = items && items.length === 2 ? pyNumber(items[1]) : null;
    if (a === null || b === null) {
      problems.push(`data.dat: loss_history entry ${i} is not a [src, dst] pair of numbers`);
      return out;
    }
    out.push([a, b]);
  }
  return out;
}

// ---- reading a folder ---------------------------------------------------------------------------------------------------

/** Input channels of the first encoder conv and output channels of the image head, when those arrays are there. */
function channelsFromWeights(weights: Map<ModuleName, DflWeights>): { input: number | null; output: number | null } {
  const enc = weights.get('encoder');
  const first = enc?.get('down1/downs_0/conv1/weight:0') ?? enc?.get('down1/conv1/weight:0');
  const dec = weights.get('decoder') ?? weights.get('decoder_src') ?? weights.get('decoder_dst');
  const head = dec?.get('out_conv/weight:0');
  return {
    input: first && first.shape.length === 4 ? first.shape[2] : null,
    output: head && head.shape.length === 4 ? head.shape[3] : null,
  };
}

export interface ReadDflOptions {
  /** Which model to read when the files hold several (a name or `<name>_<Class>`). */
  modelName?: string;
  /** Read only data.dat and the network modules (for predicting: no optimizer or discriminator files needed). */
  weightsOnly?: boolean;
}

/** Files `readDflModel(…, { weightsOnly: true })` does not need (optimizers and discriminators, §C.11). */
export function isTrainingStateFile(name: string): boolean {
  return /_(src_dst_opt|code_discriminator|D_code_opt|GAN|GAN_opt)\.npy$/.test(baseName(name));
}

/**
 * Read one DFL model from its files. Throws DflModelError with every problem found: no (or an unsupported) model,
 * missing or unreadable files, options the page cannot honour. Whether the arrays fit the network is checked by
 * `loadDflModel` (src/core/model/loadDfl.ts).
 */
export function readDflModel(files: readonly DflFile[], settings: ReadDflOptions = {}): DflModel {
  const entry = pickDflModel(files.map((f) => f.name), settings.modelName);
  const byName = new Map(files.map((f) => [f.name, f.bytes]));
  const { modelName, modelClass } = entry;
  const cls = modelClass as DflModelClass;
  const fileOf = (part: DflPart): { name: string; bytes: Uint8Array } | null => {
    const name = dflFileName(modelName, cls, part);
    const full = entry.files.get(name);
    const bytes = full === undefined ? undefined : byName.get(full);
    return bytes ? { name, bytes } : null;
  };
  const problems: string[] = [];
  const notes: string[] = [];

  // data.dat
  const dataFile = fileOf('data')!;
  let data: PyDict = new Map();
  let dataProtocol: 3 | 4 = 3;
  try {
    const v = parsePickle(dataFile.bytes, DFL_MODEL_PICKLE_LIMITS);
    if (v instanceof Map) data = v;
    else problems.push(`${dataFile.name}: not a dict`);
    if (dataFile.bytes[0] === 0x80 && dataFile.bytes[1] >= 4) dataProtocol = 4;
  } catch (e) {
    problems.push(`${dataFile.name}: ${pickleProblem(e)}`);
  }
  const iterV = data.get('iter');
  let iter = 0;
  if (iterV !== undefined) {
    const n = typeof iterV === 'boolean' ? null : pyNumber(iterV);
    if (n === null || !Number.isSafeInteger(n) || n < 0) problems.push(`${dataFile.name}: iter is not an iteration count`);
    else iter = n;
  }
  const lossHistory = readLossHistory(data.get('loss_history'), problems);
  const rawOptions = data.get('options');

  // Network modules (all that are there; which ones are needed depends on the archi).
  const weights = new Map<ModuleName, DflWeights>();
  for (const part of MODULE_PARTS) {
    const f = fileOf(part);
    if (f) weights.set(part, parseWeightsFile(f.bytes, f.name, problems).arrays);
  }
  const readOpt = (part: DflPart): DflOptimizerState | null => {
    const f = fileOf(part);
    if (!f) return null;
    const { arrays, iters } = parseWeightsFile(f.bytes, f.name, problems);
    if (iters === null && !problems.some((p) => p.startsWith(`${f.name}:`))) problems.push(`${f.name}: no iters:0 counter`);
    return { iters: iters ?? 0, slots: arrays };
  };
  const readAux = (w: DflPart, o: DflPart): DflAuxState | null => {
    const wf = fileOf(w);
    const weightsAux = wf ? parseWeightsFile(wf.bytes, wf.name, problems).arrays : null;
    const opt = readOpt(o);
    return weightsAux || opt ? { weights: weightsAux, optimizer: opt } : null;
  };
  const full = !settings.weightsOnly;
  const optimizer = full ? readOpt('src_dst_opt') : null;
  const codeDiscriminator = full ? readAux('code_discriminator', 'D_code_opt') : null;
  const gan = full ? readAux('GAN', 'GAN_opt') : null;

  // Channels: SAEHDBW has 1-channel image heads (§A.9) and, with use_bw_input / color_input_and_grayscale_model,
  // a 1-channel input; SAEHD is 3 (BGR) throughout.
  const ch = channelsFromWeights(weights);
  let channels: 1 | 3 = cls === 'SAEHDBW' ? 1 : 3;
  if (ch.input !== null && ch.output !== null && ch.input !== ch.output)
    problems.push(
      `the encoder takes ${ch.input} channel(s) but the decoder outputs ${ch.output}: ` +
        (cls === 'SAEHDBW' ? 'a SAEHDBW model trained without use_bw_input / color_input_and_grayscale_model ' : 'a mixed-channel model ') +
        'cannot be honoured (the page builds 1-channel or 3-channel models)',
    );
  else {
    const seen = ch.input ?? ch.output;
    if (seen !== null && seen !== 1 && seen !== 3) problems.push(`the network has ${seen} image channels; the page builds 1 or 3`);
    else if (seen !== null && seen !== channels) {
      notes.push(`class ${cls} but ${seen}-channel weights: treated as a ${seen}-channel model`);
      channels = seen as 1 | 3;
    }
  }

  let options: ModelOptions | null = null;
  if (rawOptions instanceof Map) options = readOptions(rawOptions, channels, notes, problems);
  else problems.push(`${dataFile.name}: no options dict`);
  if (iter === 0) notes.push('iter is 0: DFL ignores the stored options of a model at iteration 0 and asks for them again');

  if (options) {
    let archiModules: ModuleName[] = [];
    try {
      archiModules = moduleNames(options.archi);
    } catch {
      // already reported by readOptions
    }
    for (const m of archiModules) if (!weights.has(m)) problems.push(`missing file ${dflFileName(modelName, cls, m)}`);
    for (const m of weights.keys())
      if (!archiModules.includes(m)) {
        notes.push(`${dflFileName(modelName, cls, m)} does not belong to archi ${options.archi}: ignored`);
        weights.delete(m);
      }
    // Re-order to DFL's model_filename_list order.
    const ordered = new Map<ModuleName, DflWeights>();
    for (const m of archiModules) if (weights.has(m)) ordered.set(m, weights.get(m)!);
    weights.clear();
    for (const [k, v] of ordered) weights.set(k, v);
  }
  if (full && !optimizer) notes.push(`no ${dflFileName(modelName, cls, 'src_dst_opt')}: the optimizer starts from zeros, as DFL does`);

  if (problems.length || !options) {
    const unsupported = problems.some((p) => /cannot honour|cannot be honoured|cannot build/.test(p));
    throw new DflModelError(
      unsupported ? 'dfl-unsupported' : 'dfl-damaged',
      problems,
      `cannot import DeepFaceLab model ${modelName} (${cls}):`,
    );
  }
  return { modelName, modelClass: cls, options, notes, iter, lossHistory, weights, optimizer, codeDiscriminator, gan, data, dataProtocol };
}

// ---- writing ---------------------------------------------------------------------------------------------------------

/** What a tf.Variable offers for export (kept structural so this module does not import tfjs). */
interface ReadableVariable {
  readonly shape: number[];
  data(): Promise<ArrayLike<number>>;
}

interface VariableHolder {
  variables(): Map<string, ReadableVariable>;
}

/** A live DflOptimizer, or state already read back (DflOptimizer.readState, or an imported DflOptimizerState). */
export type OptimizerSource =
  | { readState(): Promise<{ iters: number; slots: Map<string, { shape: number[]; data: Float32Array }> }> }
  | { iters: number; slots: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }> };

/**
 * Training state to export next to the weights; a Trainer (src/core/train/trainStep.ts) fits as it is. Missing or null
 * members are not written (DFL starts such parts fresh), except that discriminator files of `source` pass through.
 */
export interface ExportTrainingState {
  srcDstOpt?: OptimizerSource | null;
  codeDiscriminator?: VariableHolder | null;
  codeOpt?: OptimizerSource | null;
  gan?: VariableHolder | null;
  ganOpt?: OptimizerSource | null;
}

export interface ExportExtras {
  /** The imported model this one came from: its data.dat keys and unused discriminator files are kept. */
  source?: Pick<DflModel, 'data' | 'dataProtocol' | 'codeDiscriminator' | 'gan'>;
  /** Also write `…_summary.txt` (default true). */
  summary?: boolean;
}

async function readVariables(vars: Map<string, ReadableVariable>): Promise<Map<string, DflArray>> {
  const out = new Map<string, DflArray>();
  for (const [k, v] of vars) {
    const d = await v.data();
    out.set(k, { shape: v.shape.slice(), data: d instanceof Float32Array ? d : Float32Array.from(d) });
  }
  return out;
}

async function readOptimizer(src: OptimizerSource): Promise<DflOptimizerState> {
  if ('readState' in src) {
    const s = await src.readState();
    return { iters: s.iters, slots: new Map([...s.slots].map(([k, v]) => [k, { shape: v.shape.slice(), data: v.data }])) };
  }
  return { iters: src.iters, slots: new Map([...src.slots].map(([k, v]) => [k, { shape: v.shape.slice(), data: v.data }])) };
}

/**
 * DFL model names cannot hold '_' (DFL splits file names at the first one and replaces it by a space in new names,
 * §C.11) nor path separators.
 */
export function dflModelNameFor(name: string): string {
  const s = name.replace(/[\\/:*?"<>|\u0000-\u001f]/g, ' ').replace(/_/g, ' ').trim();
  return s || 'new';
}

/** The human-readable summary DFL writes next to the model (`ModelBase.get_summary_text`), options only. */
export function summaryText(modelName: string, iter: number, options: ModelOptions): string {
  const keys = DFL_OPTION_KEYS;
  const w = Math.max(...keys.map((k) => k.length), 'Current iteration'.length) + 1;
  const line = (k: string, v: string) => `==${k.padStart(w)}: ${v}`;
  const rows = [
    '==------------------ Model Summary ------------------==',
    line('Model name', modelName),
    line('Current iteration', String(iter)),
    '==------------------ Model Options ------------------==',
    ...keys.map((k) => line(k, String(options[k as keyof ModelOptions]))),
    '==----------------- Written by the page ---------------==',
    line('channels', String(options.channels)),
  ];
  return rows.join('\n') + '\n';
}

/**
 * Write a model in DFL's layout (§C.11): data.dat, one weight file per module, the optimizer and the discriminators
 * when present, and a summary. `modelName` is made DFL-safe (see dflModelNameFor); the class is SAEHDBW for 1-channel
 * models and SAEHD otherwise. Export → import → export gives the same bytes.
 */
export async function exportDflModel(
  model: Pick<SaehdModel, 'weights'>,
  state: ExportTrainingState | null,
  options: ModelOptions,
  iter: number,
  lossHistory: ReadonlyArray<ReadonlyArray<number>>,
  modelName: string,
  extras: ExportExtras = {},
): Promise<DflFile[]> {
  const name = dflModelNameFor(modelName);
  const cls = dflClassFor(options.channels);
  const out: DflFile[] = [];
  const put = (part: DflPart, bytes: Uint8Array) => out.push({ name: dflFileName(name, cls, part), bytes });

  // DFL saves the summary, the modules, the optimizer(s), then data.dat (§C.10); the list follows that order.
  if (extras.summary !== false) put('summary', new TextEncoder().encode(summaryText(name, iter, options)));
  for (const [module, vars] of model.weights()) put(module, encodeWeightsFile(await readVariables(vars as unknown as Map<string, ReadableVariable>)));
  if (state?.srcDstOpt) put('src_dst_opt', encodeOptimizerFile(await readOptimizer(state.srcDstOpt)));

  const src = extras.source;
  const aux = async (net: VariableHolder | null | undefined, opt: OptimizerSource | null | undefined, imported: DflAuxState | null | undefined, w: DflPart, o: DflPart) => {
    if (net) {
      put(w, encodeWeightsFile(await readVariables(net.variables())));
      if (opt) put(o, encodeOptimizerFile(await readOptimizer(opt)));
      return;
    }
    // Not used by this run (e.g. GAN switched off): DFL leaves such files in the folder, so they pass through.
    if (imported?.weights) put(w, encodeWeightsFile(imported.weights));
    if (imported?.optimizer) put(o, encodeOptimizerFile(imported.optimizer));
  };
  await aux(state?.codeDiscriminator, state?.codeOpt, src?.codeDiscriminator, 'code_discriminator', 'D_code_opt');
  await aux(state?.gan, state?.ganOpt, src?.gan, 'GAN', 'GAN_opt');

  put('data', encodeDataDat({ iter, options, lossHistory, base: src?.data, protocol: src?.dataProtocol }));
  return out;
}

// ---- zips ----------------------------------------------------------------------------------------------------------------

/** A zip may not expand to more than this (zip-bomb guard); a big SAEHD model with optimizer state is a few GB at most. */
export const MAX_MODEL_ZIP_EXPANDED_BYTES = 4 * 1024 ** 3;

/**
 * The model files of a zip: only the entries of the model to import are expanded (`modelName` as in pickDflModel),
 * and of those only the ones `keep` accepts (all by default). Entries are named as in the zip.
 */
export function unzipDflModel(zip: Uint8Array, modelName?: string, keep: (name: string) => boolean = () => true): DflFile[] {
  // safeUnzip: a damaged or lying zip (entry count, declared sizes) ends in a ZipError before anything is allocated.
  const names: string[] = [];
  safeUnzip(zip, (f) => {
    if (!f.name.endsWith('/')) names.push(f.name);
    return false;
  });
  const entry = pickDflModel(names, modelName);
  const wanted = new Set([...entry.files.values()].filter(keep));
  let total = 0;
  const files = safeUnzip(zip, (f) => {
    if (!wanted.has(f.name)) return false;
    total += f.originalSize;
    if (total > MAX_MODEL_ZIP_EXPANDED_BYTES)
      throw new DflModelError('dfl-damaged', [`the model's files expand to more than ${MAX_MODEL_ZIP_EXPANDED_BYTES} bytes`], 'zip refused:');
    return true;
  });
  return Object.entries(files).map(([name, bytes]) => ({ name, bytes }));
}

/** A zip of model files (stored, not deflated: float weights hardly compress), inside `folder` when given. */
export function zipDflModel(files: readonly DflFile[], folder?: string): Uint8Array {
  const tree: Record<string, [Uint8Array, { level: 0 }]> = {};
  for (const f of files) tree[(folder ? `${folder}/` : '') + baseName(f.name)] = [f.bytes, { level: 0 }];
  return zipSync(tree);
}

/**
 * SAEHD / SAEHDBW model options: one versioned schema (spec §C.1, §A.1, §A.5, §I.2) that drives the option form and
 * validation. Keys are DeepFaceLab's own option names so that a model's `options` dict (data.dat, §C.11) maps 1:1.
 *
 * Rules reproduced from `models/Model_SAEHD/Model.py: on_initialize_options` and `models/ModelBase.py`:
 * numbers outside their range are clamped silently (DFL uses np.clip / max), the resolution is rounded *down* to a
 * multiple of 16 (32 with the `d` flag) and the dims are made even by adding 1 — exactly as DFL does. Values that DFL's
 * prompts would refuse (unknown archi, unknown face type, a non-number) raise an OptionError with an actionable message.
 */
import { OptionError } from '../errors.ts';

/** Bump when an option is added/removed or a rule changes, so stored option dicts can be migrated. */
export const OPTIONS_SCHEMA_VERSION = 1;

export type FaceType = 'h' | 'mf' | 'f' | 'wf' | 'head';
export type ArchiType = 'df' | 'liae';
export type LrDropout = 'n' | 'y' | 'cpu';
export type CtMode = 'none' | 'rct' | 'lct' | 'mkl' | 'idt' | 'sot';
export type Channels = 1 | 3;

export const FACE_TYPES: readonly FaceType[] = ['h', 'mf', 'f', 'wf', 'head'];
export const LR_DROPOUT_VALUES: readonly LrDropout[] = ['n', 'y', 'cpu'];
export const CT_MODES: readonly CtMode[] = ['none', 'rct', 'lct', 'mkl', 'idt', 'sot'];
/** §E.9: with one channel only these colour transfers are defined (RCT needs Lab, MKL a C×C covariance, IDT rotations). */
export const CT_MODES_ONE_CHANNEL: readonly CtMode[] = ['none', 'lct', 'sot'];

/** The complete, validated option set of one model. */
export interface ModelOptions {
  resolution: number;
  face_type: FaceType;
  archi: string;
  ae_dims: number;
  e_dims: number;
  d_dims: number;
  d_mask_dims: number;
  /** SAEHDBW: 1 = gray input and 1-channel image heads (§A.9); 3 = stock SAEHD colour (BGR) model. */
  channels: Channels;
  masked_training: boolean;
  eyes_mouth_prio: boolean;
  uniform_yaw: boolean;
  blur_out_mask: boolean;
  models_opt_on_gpu: boolean;
  adabelief: boolean;
  lr_dropout: LrDropout;
  random_warp: boolean;
  random_hsv_power: number;
  gan_power: number;
  gan_patch_size: number;
  gan_dims: number;
  true_face_power: number;
  face_style_power: number;
  bg_style_power: number;
  ct_mode: CtMode;
  clipgrad: boolean;
  pretrain: boolean;
  autobackup_hour: number;
  write_preview_history: boolean;
  target_iter: number;
  random_src_flip: boolean;
  random_dst_flip: boolean;
  batch_size: number;
}

export type OptionKey = keyof ModelOptions;
export type OptionType = 'int' | 'float' | 'bool' | 'enum' | 'string';

export interface OptionSpec {
  key: OptionKey;
  type: OptionType;
  /** Short label for a form. */
  label: string;
  help: string;
  /** DFL's default for a new model; a function when it depends on options resolved earlier (schema order). */
  default: number | boolean | string | ((o: Partial<ModelOptions>) => number | boolean | string);
  min?: number;
  max?: number;
  values?: readonly string[];
  /** True when DFL asks only when the model is created (§C.1 "first run"); such options cannot change on resume. */
  fixedAtCreation: boolean;
  /** When the option is relevant at all (the form can hide it otherwise); undefined = always. */
  relevantWhen?: (o: Partial<ModelOptions>) => boolean;
}

/**
 * The schema, in DFL's prompt order (later defaults/rules may depend on earlier values).
 * `batch_size` default: DFL uses 8 when the weakest GPU has ≥ 4 GB and 4 otherwise; a browser cannot know the GPU's
 * memory, so the smaller value is used.
 */
export const OPTION_SCHEMA: readonly OptionSpec[] = [
  { key: 'resolution', type: 'int', label: 'Resolution', default: 128, min: 64, max: 640, fixedAtCreation: true,
    help: 'Face crop size in pixels (64–640). Rounded down to a multiple of 16, or of 32 with the -d or -t flag. Higher is sharper but slower.' },
  { key: 'face_type', type: 'enum', label: 'Face type', default: 'f', values: FACE_TYPES, fixedAtCreation: true,
    help: 'Crop area: h = half face, mf = mid-half, f = full face, wf = whole face (with forehead), head (needs XSeg masks).' },
  { key: 'archi', type: 'string', label: 'AE architecture', default: 'liae-ud', fixedAtCreation: true,
    help: "'df' (one decoder per identity, better likeness) or 'liae' (shared decoder, better lighting transfer), optionally with flags after a dash: u = pixel-normalised code, d = double resolution at the same cost, t = deeper encoder/decoder, c = x·cos(x) activations. Example: df-udt." },
  { key: 'ae_dims', type: 'int', label: 'AutoEncoder dimensions', default: 256, min: 32, max: 1024, fixedAtCreation: true,
    help: 'Size of the bottleneck code (32–1024). More dims keep more facial detail but need more memory.' },
  { key: 'e_dims', type: 'int', label: 'Encoder dimensions', default: 64, min: 16, max: 256, fixedAtCreation: true,
    help: 'Encoder width (16–256, made even). More dims recognise more facial features.' },
  { key: 'd_dims', type: 'int', label: 'Decoder dimensions', default: 64, min: 16, max: 256, fixedAtCreation: true,
    help: 'Decoder width (16–256, made even). More dims reproduce more detail.' },
  // DFL's default is computed from the *default* d_dims (64 // 3 = 21, made even → 22), not from the value just typed.
  { key: 'd_mask_dims', type: 'int', label: 'Decoder mask dimensions', default: 22, min: 16, max: 256, fixedAtCreation: true,
    help: 'Mask decoder width (16–256, made even). DFL suggests about d_dims / 3.' },
  { key: 'channels', type: 'enum', label: 'Channels', default: 1, values: ['1', '3'], fixedAtCreation: true,
    help: 'SAEHDBW: 1 = grayscale model (gray input, 1-channel output); 3 = ordinary colour SAEHD model (BGR).' },
  { key: 'masked_training', type: 'bool', label: 'Masked training', default: true, fixedAtCreation: false,
    relevantWhen: (o) => o.face_type === 'wf' || o.face_type === 'head',
    help: 'Learn only the area inside the face mask. DFL asks only for wf/head faces; for the other face types it is always on.' },
  { key: 'eyes_mouth_prio', type: 'bool', label: 'Eyes and mouth priority', default: false, fixedAtCreation: false,
    help: 'Extra loss weight on eyes and mouth (helps eye direction and teeth).' },
  { key: 'uniform_yaw', type: 'bool', label: 'Uniform yaw distribution', default: false, fixedAtCreation: false,
    help: 'Sample faces evenly over head yaw, so profile faces are not neglected.' },
  { key: 'blur_out_mask', type: 'bool', label: 'Blur out mask', default: false, fixedAtCreation: false,
    help: 'Replace the background of training targets with a blur of the background only, so face edges do not bleed.' },
  { key: 'models_opt_on_gpu', type: 'bool', label: 'Models and optimizer on GPU', default: true, fixedAtCreation: false,
    help: 'Keep the optimizer state on the GPU (faster). Off keeps it in the training worker\'s memory: saves two copies of the weights on the GPU with AdaBelief (227 MiB for the 2 GB seed model, which then peaks at about 1.18 GiB) at the cost of reading every gradient back each step.' },
  { key: 'adabelief', type: 'bool', label: 'Use AdaBelief optimizer', default: true, fixedAtCreation: false,
    help: 'AdaBelief (two state tensors per weight) instead of RMSprop (one).' },
  { key: 'lr_dropout', type: 'enum', label: 'Learning-rate dropout', default: 'n', values: LR_DROPOUT_VALUES, fixedAtCreation: false,
    help: 'n = off, y = on, cpu = on with the random masks made on the CPU. Use near the end of training for sharper results.' },
  { key: 'random_warp', type: 'bool', label: 'Random warp', default: true, fixedAtCreation: false,
    help: 'Warp the input faces randomly so the model generalises. Turn off only near the end of training.' },
  { key: 'random_hsv_power', type: 'float', label: 'Random hue/saturation/light', default: 0, min: 0, max: 0.3, fixedAtCreation: false,
    help: 'Random HSV jitter of the src input (0–0.3). Needs 3 channels: must stay 0 for a grayscale model.' },
  { key: 'gan_power', type: 'float', label: 'GAN power', default: 0, min: 0, max: 5, fixedAtCreation: false,
    help: 'Adversarial loss weight (0–5; 0 = off). Use only on a well-trained model; 0.1 is a common value.' },
  { key: 'gan_patch_size', type: 'int', label: 'GAN patch size', default: (o) => Math.floor((o.resolution ?? 128) / 8), min: 3, max: 640,
    fixedAtCreation: false, relevantWhen: (o) => (o.gan_power ?? 0) !== 0,
    help: 'Patch size of the GAN discriminator (3–640; default resolution / 8).' },
  { key: 'gan_dims', type: 'int', label: 'GAN dimensions', default: 16, min: 4, max: 512, fixedAtCreation: false,
    relevantWhen: (o) => (o.gan_power ?? 0) !== 0,
    help: 'Width of the GAN discriminator (4–512).' },
  { key: 'true_face_power', type: 'float', label: "'True face' power", default: 0, min: 0, max: 1, fixedAtCreation: false,
    relevantWhen: (o) => typeof o.archi === 'string' && o.archi.startsWith('df'),
    help: 'DF only (forced 0 for LIAE): code discriminator weight (0–1) that pulls the result towards src. 0.01 is typical.' },
  { key: 'face_style_power', type: 'float', label: 'Face style power', default: 0, min: 0, max: 100, fixedAtCreation: false,
    help: 'Moves the colour statistics of the swapped face towards dst (0–100). Can cause artefacts; start with 0.001.' },
  { key: 'bg_style_power', type: 'float', label: 'Background style power', default: 0, min: 0, max: 100, fixedAtCreation: false,
    help: 'Moves the background of the swap towards dst (0–100).' },
  { key: 'ct_mode', type: 'enum', label: 'Colour transfer for src', default: 'none', values: CT_MODES, fixedAtCreation: false,
    help: 'Re-colour src samples towards dst: none, rct, lct, mkl, idt, sot. A grayscale model supports only none, lct, sot.' },
  { key: 'clipgrad', type: 'bool', label: 'Gradient clipping', default: false, fixedAtCreation: false,
    help: 'Clip the global gradient norm at 1 to reduce the chance of a model collapse.' },
  { key: 'pretrain', type: 'bool', label: 'Pretrain mode', default: false, fixedAtCreation: false,
    help: 'Train on a generic face set for both sides. Switching it off resets the iteration counter and the Inter block(s).' },
  { key: 'autobackup_hour', type: 'int', label: 'Autobackup every N hours', default: 0, min: 0, max: 24, fixedAtCreation: false,
    help: 'Keep a rotating backup every N hours of training (0–24; 0 = off).' },
  { key: 'write_preview_history', type: 'bool', label: 'Write preview history', default: false, fixedAtCreation: false,
    help: 'Save a preview image every few hundred iterations.' },
  { key: 'target_iter', type: 'int', label: 'Target iteration', default: 0, min: 0, fixedAtCreation: false,
    help: 'Stop (and save) when this iteration is reached (0 = never).' },
  { key: 'random_src_flip', type: 'bool', label: 'Flip src faces randomly', default: false, fixedAtCreation: false,
    help: 'Mirror src samples at random (more angles, but faces are not symmetric).' },
  { key: 'random_dst_flip', type: 'bool', label: 'Flip dst faces randomly', default: true, fixedAtCreation: false,
    help: 'Mirror dst samples at random.' },
  { key: 'batch_size', type: 'int', label: 'Batch size', default: 4, min: 1, fixedAtCreation: false,
    help: 'Number of src and of dst faces per iteration. Larger is better for generalisation but needs more memory.' },
];

const SPEC_BY_KEY: ReadonlyMap<string, OptionSpec> = new Map(OPTION_SCHEMA.map((s) => [s.key, s]));

// ---- archi string (§A.1) --------------------------------------------------------------------------------------------

export interface ArchiFlags {
  type: ArchiType;
  /** pixel-normalised code. */
  u: boolean;
  /** double resolution (half-res bottleneck, depth-to-space heads). */
  d: boolean;
  /** deeper ("tall") encoder/decoder. */
  t: boolean;
  /** x·cos(x) activations. */
  c: boolean;
}

/**
 * `<type>` or `<type>-<flags>` with type df|liae and flags a non-empty string of u, d, t, c (§A.1). Like DFL, repeated
 * letters are accepted (they mean the same as one). Case-insensitive (DFL lower-cases the answer).
 */
export function parseArchi(archi: string): ArchiFlags {
  if (typeof archi !== 'string') throw new OptionError('archi', `expected a string such as "df-udt", got ${describe(archi)}`);
  const s = archi.trim().toLowerCase();
  const parts = s.split('-');
  if (parts.length > 2)
    throw new OptionError('archi', `"${archi}" has more than one dash; use <type>-<flags>, e.g. "df-udt" or "liae-ud"`);
  const [type, flags] = parts as [string, string | undefined];
  if (type !== 'df' && type !== 'liae')
    throw new OptionError('archi', `unknown type "${type}" in "${archi}": expected df or liae (e.g. "df-udt", "liae-ud")`);
  if (flags !== undefined) {
    if (flags.length === 0) throw new OptionError('archi', `"${archi}" has a dash but no flags; drop the dash or add flags from u, d, t, c`);
    const bad = [...flags].filter((ch) => !'udtc'.includes(ch));
    if (bad.length > 0)
      throw new OptionError('archi', `unknown flag${bad.length > 1 ? 's' : ''} "${bad.join('')}" in "${archi}": allowed flags are u, d, t, c`);
  }
  const f = flags ?? '';
  return { type, u: f.includes('u'), d: f.includes('d'), t: f.includes('t'), c: f.includes('c') };
}

/** e.g. 'DF-UDT 192-128-48-32-16 BW' (BW when the model has one channel). */
export function archiString(o: Pick<ModelOptions, 'archi' | 'resolution' | 'ae_dims' | 'e_dims' | 'd_dims' | 'd_mask_dims' | 'channels'>): string {
  return `${o.archi.toUpperCase()} ${o.resolution}-${o.ae_dims}-${o.e_dims}-${o.d_dims}-${o.d_mask_dims}${o.channels === 1 ? ' BW' : ''}`;
}

// ---- value parsing ----------------------------------------------------------------------------------------------------

const TRUE_WORDS = new Set(['1', 'y', 'yes', 'true', 'on']);
const FALSE_WORDS = new Set(['0', 'n', 'no', 'false', 'off']);

/** Booleans as DFL/SAEHDBW prompts accept them (y/n, and 1/0 in SAEHDBW, §I.4), plus true/false. */
export function parseBool(v: unknown, option = 'value'): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE_WORDS.has(s)) return true;
    if (FALSE_WORDS.has(s)) return false;
  }
  throw new OptionError(option, `expected yes/no (y/n, 1/0, true/false), got ${describe(v)}`);
}

function parseNumber(v: unknown, option: string, integer: boolean): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && v.trim() !== '' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v.trim())) n = Number(v.trim());
  else throw new OptionError(option, `expected ${integer ? 'an integer' : 'a number'}, got ${describe(v)}`);
  if (!Number.isFinite(n)) throw new OptionError(option, `expected a finite number, got ${describe(v)}`);
  if (integer && !Number.isInteger(n)) throw new OptionError(option, `expected an integer, got ${describe(v)}`);
  return n;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `"${v}"`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return Array.isArray(v) ? 'a list' : 'an object';
  return String(v);
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
/** DFL: `x + x % 2` after clipping (odd → next even). */
const makeEven = (x: number) => x + (x % 2);

// ---- validation ---------------------------------------------------------------------------------------------------

/** Typed partial options, or loose values (strings from a form or the command line, a DFL options dict). */
export type OptionsInput = Partial<ModelOptions> | Readonly<Record<string, unknown>>;

export interface NormalizeResult {
  options: ModelOptions;
  /** Human-readable notes of every value DFL's rules changed, e.g. 'resolution 200 → 192 (multiple of 16)'. */
  changes: string[];
}

export interface NormalizeSettings {
  /** Options of an existing model: fixed-at-creation options are taken from it; a different value is an error. */
  base?: ModelOptions;
  /** Ignore keys that are not in the schema (e.g. extra keys in an imported DFL data.dat) instead of rejecting them. */
  ignoreUnknown?: boolean;
}

/**
 * Fill defaults and apply DFL's rules. Accepts strings for every value (forms, command line). Throws OptionError
 * for unknown keys, non-numbers, unknown enum values, a bad archi string, or combinations a 1-channel model cannot do.
 */
export function normalizeOptions(input: OptionsInput, settings: NormalizeSettings = {}): NormalizeResult {
  if (input === null || typeof input !== 'object') throw new OptionError('options', 'expected an object of option values');
  const partial = input as Readonly<Record<string, unknown>>;
  const { base, ignoreUnknown = false } = settings;
  if (!ignoreUnknown) {
    for (const k of Object.keys(partial)) {
      if (!SPEC_BY_KEY.has(k) && k !== 'schemaVersion')
        throw new OptionError(k, `unknown option (known: ${OPTION_SCHEMA.map((s) => s.key).join(', ')})`);
    }
  }
  const changes: string[] = [];
  const out: Partial<ModelOptions> = {};
  const raw = (k: OptionKey): unknown => partial[k];

  for (const spec of OPTION_SCHEMA) {
    const k = spec.key;
    let given = raw(k);
    if (base && spec.fixedAtCreation) {
      const fixed = base[k];
      if (given !== undefined && given !== null && !sameValue(spec, given, fixed))
        throw new OptionError(k, `is fixed when the model is created (this model has ${String(fixed)}; asked for ${describe(given)}); create a new model to change it`);
      (out as Record<string, unknown>)[k] = fixed;
      continue;
    }
    if (given === undefined || given === null) {
      given = base ? base[k] : typeof spec.default === 'function' ? spec.default(out) : spec.default;
    }
    (out as Record<string, unknown>)[k] = coerce(spec, given, changes);
  }
  const o = out as ModelOptions;

  // §A.1/§A.5: the archi string is validated, and 'd' (and, deliberately, 't' — see below) force a multiple of 32.
  const flags = parseArchi(o.archi);
  o.archi = o.archi.trim().toLowerCase();
  if (!base && (flags.d || flags.t)) {
    // DFL forces ×32 only for 'd'. With 't' alone the encoder's 5 stride-2 convs need res/32 to be an integer too
    // (otherwise DFL builds a dense layer of the wrong size and crashes, §A.5), so we round for 't' as well.
    const r = clamp(Math.floor(o.resolution / 32) * 32, 64, 640);
    if (r !== o.resolution) changes.push(`resolution ${o.resolution} → ${r} (multiple of 32 with the ${flags.d ? 'd' : 't'} flag)`);
    o.resolution = r;
  }
  // Default gan_patch_size depends on the final resolution; recompute when it was not given.
  if ((raw('gan_patch_size') === undefined || raw('gan_patch_size') === null) && !base)
    o.gan_patch_size = clamp(Math.floor(o.resolution / 8), 3, 640);

  // DFL asks masked_training only for wf/head; for other face types it can never be switched off (§C.1, J.4 #2).
  if (o.face_type !== 'wf' && o.face_type !== 'head' && !o.masked_training) {
    changes.push(`masked_training forced on (it can be switched off only for face types wf and head)`);
    o.masked_training = true;
  }
  // §C.1: true face is DF only.
  if (flags.type !== 'df' && o.true_face_power !== 0) {
    changes.push(`true_face_power ${o.true_face_power} → 0 (only DF architectures have it)`);
    o.true_face_power = 0;
  }
  // §I.2 / §E.9: a 1-channel model cannot do HSV jitter or the 3-channel colour transfers.
  if (o.channels === 1) {
    if (o.random_hsv_power !== 0)
      throw new OptionError('random_hsv_power', 'must be 0 for a grayscale (1-channel) model: hue/saturation jitter needs 3 channels');
    if (!CT_MODES_ONE_CHANNEL.includes(o.ct_mode))
      throw new OptionError('ct_mode', `"${o.ct_mode}" needs 3 channels; a grayscale model supports ${CT_MODES_ONE_CHANNEL.join(', ')}`);
  }
  return { options: o, changes };
}

/** `normalizeOptions(partial).options`. */
export function validateOptions(input: OptionsInput, settings: NormalizeSettings = {}): ModelOptions {
  return normalizeOptions(input, settings).options;
}

/** Every option at DFL's default (a new SAEHDBW model: LIAE-UD 128, 1 channel). */
export function defaultOptions(): ModelOptions {
  return validateOptions({});
}

function sameValue(spec: OptionSpec, given: unknown, fixed: unknown): boolean {
  try {
    const scratch: string[] = [];
    return coerce(spec, given, scratch) === fixed || (spec.key === 'archi' && String(given).trim().toLowerCase() === fixed);
  } catch {
    return false;
  }
}

function coerce(spec: OptionSpec, v: unknown, changes: string[]): number | boolean | string {
  const k = spec.key;
  switch (spec.type) {
    case 'bool':
      return parseBool(v, k);
    case 'string': {
      if (typeof v !== 'string') throw new OptionError(k, `expected text, got ${describe(v)}`);
      if (k === 'archi') parseArchi(v);
      return v;
    }
    case 'enum': {
      if (k === 'channels') {
        const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
        if (n !== 1 && n !== 3) throw new OptionError(k, `must be 1 (grayscale SAEHDBW) or 3 (colour), got ${describe(v)}`);
        return n;
      }
      let s = typeof v === 'string' ? v.trim().toLowerCase() : v;
      // Older DFL models stored lr_dropout as a bool; DFL maps True → 'y', False → 'n' when loading.
      if (k === 'lr_dropout' && typeof s === 'boolean') s = s ? 'y' : 'n';
      if (typeof s !== 'string' || !spec.values!.includes(s))
        throw new OptionError(k, `expected one of ${spec.values!.join(', ')}, got ${describe(v)}`);
      return s;
    }
    case 'int':
    case 'float': {
      const n = parseNumber(v, k, spec.type === 'int');
      let r = clamp(n, spec.min ?? -Infinity, spec.max ?? Infinity);
      if (k === 'resolution') r = clamp(Math.floor(n / 16) * 16, spec.min!, spec.max!);
      if (k === 'e_dims' || k === 'd_dims' || k === 'd_mask_dims') r = makeEven(r);
      if (r !== n) changes.push(`${k} ${n} → ${r}${ruleNote(k, spec)}`);
      return r;
    }
  }
}

function ruleNote(k: OptionKey, spec: OptionSpec): string {
  if (k === 'resolution') return ' (multiple of 16 within 64–640)';
  if (k === 'e_dims' || k === 'd_dims' || k === 'd_mask_dims') return ` (even, within ${spec.min}–${spec.max})`;
  if (spec.max !== undefined) return ` (range ${spec.min}–${spec.max})`;
  return ` (minimum ${spec.min})`;
}

// ---- presets ------------------------------------------------------------------------------------------------------

/**
 * The fork author's model (§B.1 first row, §I.6 "Training recipe"): DF-UDT 192-128-48-32-16, one channel, face type mf,
 * batch 6 on a 2 GB-class card (GTX 750 Ti, 1.45 GB usable). Other options at DFL's defaults.
 */
export const seed2GB: ModelOptions = validateOptions({
  archi: 'df-udt', resolution: 192, ae_dims: 128, e_dims: 48, d_dims: 32, d_mask_dims: 16, channels: 1,
  face_type: 'mf', batch_size: 6,
});

/** A tiny model for smoke tests and demos: DF-UD 64-32-16-16-16, one channel, batch 2 (dims at DFL's minimums). */
export const quickTest: ModelOptions = validateOptions({
  archi: 'df-ud', resolution: 64, ae_dims: 32, e_dims: 16, d_dims: 16, d_mask_dims: 16, channels: 1,
  face_type: 'f', batch_size: 2,
});

export const PRESETS: Readonly<Record<'seed2GB' | 'quickTest', ModelOptions>> = { seed2GB, quickTest };

/** The schema with its version, as one object (for a UI form generator or for storing next to a model's options). */
export const optionSchema = { schemaVersion: OPTIONS_SCHEMA_VERSION, options: OPTION_SCHEMA } as const;

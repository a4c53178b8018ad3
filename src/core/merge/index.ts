/**
 * Merger settings (DFL's `MergerConfigMasked`, spec §F.3, §F.4) as one serialisable, versioned schema that drives the
 * merge form and is saved with the model, plus the merge pipeline's public API (re-exported from mergeFace.ts).
 *
 * Keys are DFL's own attribute names. Numbers are integers clamped to DFL's ranges (its interactive keys clip with
 * np.clip); unknown enum values and colour transfers a model cannot use raise an OptionError.
 * Not included (see the module notes): XSeg mask modes (need the XSeg network), super-resolution (FaceEnhancer),
 * motion blur, blur/sharpen, denoise, bicubic and colour degrade.
 */
import { COLOR_TRANSFER_MODES, type ColorTransferName, getColorTransfer, isColorTransferName } from '../color/index.ts';
import { OptionError } from '../errors.ts';
import { MASK_MODE_CODES, type MaskMode } from './masks.ts';

export type { MaskMode } from './masks.ts';

/** Bump when a setting is added or a rule changes (stored settings are migrated by `normalizeMergeSettings`). */
export const MERGE_SETTINGS_VERSION = 1;

/** DFL's merge modes with their numbers (spec §F.3 step 9). */
export type MergeMode = 'original' | 'overlay' | 'hist-match' | 'seamless' | 'seamless-hist-match' | 'raw-rgb' | 'raw-predict';
export const MERGE_MODE_CODES: Record<MergeMode, number> = {
  original: 0,
  overlay: 1,
  'hist-match': 2,
  seamless: 3,
  'seamless-hist-match': 4,
  'raw-rgb': 5,
  'raw-predict': 6,
};
export const MERGE_MODES = Object.keys(MERGE_MODE_CODES) as MergeMode[];
export const MASK_MODES = Object.keys(MASK_MODE_CODES) as MaskMode[];

/** How a one-channel model handles colour frames (spec §F.4 and this port's luma-only overlay). */
export type BwColourFrames = 'gray' | 'luma';

export interface MergeSettings {
  version: number;
  /** Default 'overlay'. */
  mode: MergeMode;
  mask_mode: MaskMode;
  /** −400…400, U-space pixels (4× model resolution); > 0 erodes, < 0 dilates (spec §F.3 step 7). */
  erode_mask_modifier: number;
  /** 0…400, U-space pixels (spec §F.3 step 7). */
  blur_mask_modifier: number;
  /** −50…50; the face is pasted with scale 1 + 0.01·value, so positive values paste a smaller face (§F.3 step 2). */
  output_face_scale: number;
  /** A merge mode of the colour-transfer registry (spec §E.1). */
  color_transfer_mode: ColorTransferName;
  /** hist-match: mask both faces first (default true, §E.8). */
  masked_hist_match: boolean;
  /** hist-match threshold 0…255 (default 238, §E.8). */
  hist_match_threshold: number;
  /** One-channel model on colour frames: 'gray' (SAEHDBW: the output is gray) or 'luma' (replace luminance only). */
  bw_colour_frames: BwColourFrames;
}

interface FieldBase {
  key: keyof MergeSettings;
  label: string;
  help: string;
}
export type MergeSettingField =
  | (FieldBase & { type: 'enum'; values: readonly string[] })
  | (FieldBase & { type: 'int'; min: number; max: number; step: number })
  | (FieldBase & { type: 'bool' });

/** The form description, in DFL's prompt order. Defaults come from `defaultMergeSettings`. */
export const MERGE_SETTING_FIELDS: readonly MergeSettingField[] = [
  {
    key: 'mode', type: 'enum', values: MERGE_MODES, label: 'Mode',
    help: 'overlay: blend the face with the mask (default). hist-match: histogram-match the face to the frame first. seamless: Poisson blending (OpenCV seamlessClone). raw-rgb: paste the whole predicted square. raw-predict: output the predicted face only. original: the frame unchanged.',
  },
  {
    key: 'mask_mode', type: 'enum', values: MASK_MODES, label: 'Mask mode',
    help: 'dst: landmark hull of the frame face. learned-prd / learned-dst: the masks the model predicts; their product (DFL\'s interactive default) or sum. full: the whole square.',
  },
  {
    key: 'erode_mask_modifier', type: 'int', min: -400, max: 400, step: 1, label: 'Erode mask',
    help: 'Shrinks (> 0) or grows (< 0) the mask, in pixels of the 4×-resolution mask (spec §F.3 step 7).',
  },
  {
    key: 'blur_mask_modifier', type: 'int', min: 0, max: 400, step: 1, label: 'Blur mask',
    help: 'Feathers the mask edge (Gaussian kernel size in pixels of the 4×-resolution mask); the blur fades to zero inside the face square.',
  },
  {
    key: 'output_face_scale', type: 'int', min: -50, max: 50, step: 1, label: 'Face scale',
    help: 'Pastes a smaller (> 0) or larger (< 0) face: the crop is scaled by 1 + value/100.',
  },
  {
    key: 'color_transfer_mode', type: 'enum', values: COLOR_TRANSFER_MODES.filter((m) => m.merge).map((m) => m.name), label: 'Colour transfer',
    help: 'Re-colours the predicted face toward the frame\'s face (spec §E). Grayscale models: none, lct, sot-m.',
  },
  { key: 'masked_hist_match', type: 'bool', label: 'Masked hist-match', help: 'hist-match only: match inside the mask (outside counts as white).' },
  {
    key: 'hist_match_threshold', type: 'int', min: 0, max: 255, step: 1, label: 'Hist-match threshold',
    help: 'hist-match only: the source quantiles are scaled to this value (255 = plain histogram matching).',
  },
  {
    key: 'bw_colour_frames', type: 'enum', values: ['gray', 'luma'], label: 'Grayscale model on colour frames',
    help: 'gray: the output frames are gray (SAEHDBW). luma: only the luminance inside the mask is replaced, the frame keeps its colours.',
  },
];

/**
 * Defaults: DFL's interactive merger (overlay, learned-prd*learned-dst, rct, hist-match threshold 238) for colour
 * models; for one-channel models SAEHDBW's automatic merger (overlay, mask `dst`, no colour transfer — the author
 * recommends `dst` with `sot-m` or `lct`, §F.4) with gray output.
 */
export function defaultMergeSettings(channels: 1 | 3 = 3): MergeSettings {
  return {
    version: MERGE_SETTINGS_VERSION,
    mode: 'overlay',
    mask_mode: channels === 3 ? 'learned-prd*learned-dst' : 'dst',
    erode_mask_modifier: 0,
    blur_mask_modifier: 0,
    output_face_scale: 0,
    color_transfer_mode: channels === 3 ? 'rct' : 'none',
    masked_hist_match: true,
    hist_match_threshold: 238,
    bw_colour_frames: 'gray',
  };
}

function clampInt(key: string, v: unknown, min: number, max: number, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new OptionError(key, `"${String(v)}" is not a number`);
  return Math.min(max, Math.max(min, Math.trunc(n)));
}

/**
 * Complete and validate (possibly stored, possibly partial) settings for a model with `channels` channels: missing
 * keys take the defaults, numbers are truncated to integers and clamped, unknown modes and colour transfers the model
 * cannot use (spec §E.9) throw an OptionError naming the setting. The result is a fresh plain object (JSON-safe).
 */
export function normalizeMergeSettings(raw: unknown, channels: 1 | 3 = 3): MergeSettings {
  const d = defaultMergeSettings(channels);
  if (raw === undefined || raw === null) return d;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new OptionError('merge settings', 'expected an object');
  const r = raw as Record<string, unknown>;
  const pick = <T extends string>(key: keyof MergeSettings, values: readonly T[], dflt: T): T => {
    const v = r[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string' || !values.includes(v as T)) throw new OptionError(key, `"${String(v)}" is not one of ${values.join(', ')}`);
    return v as T;
  };
  const bool = (key: keyof MergeSettings, dflt: boolean): boolean => {
    const v = r[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') throw new OptionError(key, `"${String(v)}" is not true/false`);
    return v;
  };
  const ct = r.color_transfer_mode ?? d.color_transfer_mode;
  if (!isColorTransferName(ct) || !getColorTransfer(ct).merge)
    throw new OptionError('color_transfer_mode', `"${String(ct)}" is not a merge colour transfer (${COLOR_TRANSFER_MODES.filter((m) => m.merge).map((m) => m.name).join(', ')})`);
  if (!getColorTransfer(ct).channels.includes(channels))
    throw new OptionError(
      'color_transfer_mode',
      `"${ct}" needs 3 channels; a grayscale model supports ${COLOR_TRANSFER_MODES.filter((m) => m.merge && m.channels.includes(1)).map((m) => m.name).join(', ')}`,
    );
  return {
    version: MERGE_SETTINGS_VERSION,
    mode: pick('mode', MERGE_MODES, d.mode),
    mask_mode: pick('mask_mode', MASK_MODES, d.mask_mode),
    erode_mask_modifier: clampInt('erode_mask_modifier', r.erode_mask_modifier, -400, 400, d.erode_mask_modifier),
    blur_mask_modifier: clampInt('blur_mask_modifier', r.blur_mask_modifier, 0, 400, d.blur_mask_modifier),
    output_face_scale: clampInt('output_face_scale', r.output_face_scale, -50, 50, d.output_face_scale),
    color_transfer_mode: ct,
    masked_hist_match: bool('masked_hist_match', d.masked_hist_match),
    hist_match_threshold: clampInt('hist_match_threshold', r.hist_match_threshold, 0, 255, d.hist_match_threshold),
    bw_colour_frames: pick('bw_colour_frames', ['gray', 'luma'] as const, d.bw_colour_frames),
  };
}

export {
  mergeFace,
  mergeFaceDetailed,
  mergeFrame,
  mergeGeometry,
  prepareMergeFace,
  type MergeFaceMeta,
  type MergeFaceOptions,
  type MergeFaceResult,
  type MergeGeometry,
  type MergeModelInfo,
  type MergePrediction,
} from './mergeFace.ts';
export { MASK_MODE_CODES, type MaskWindow, type Rect, erodeBlurMask, morphEllipse, workingMask, dstHullMask } from './masks.ts';
export { LUMA_B, LUMA_G, LUMA_R, grayTo3, seamlessClone, toGray } from './blend.ts';

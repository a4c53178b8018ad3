/**
 * Colour-transfer registry (spec §E): every mode DeepFaceLab offers for training (`ct_mode`, §E.1) and merging
 * (`color_transfer_mode`, §E.1), under DFL's own names, with its metadata and one pure function.
 *
 * Every function has the signature of the sample generator's `ColorTransferHook.transfer` — (target, reference, rng)
 * — plus an optional options object: it returns a new image (inputs are never modified) in [0,1] that is `target`
 * re-coloured toward `reference`. Images are FloatImage H×W×C in [0,1]; the channel order only matters for the Lab
 * modes (RCT, mix-m) and is DFL's BGR unless `order: 'rgb'` is given. Randomised modes (SOT, IDT, mix-m) draw from the
 * given Rng, so a fixed seed gives identical results; without one they use a fixed default seed.
 *
 * "-m" means masked (§E.2): the target and the reference are multiplied by the binarised mask before the transfer.
 */
import type { FloatImage } from '../image/rawImage.ts';
import type { ColorTransferHook, FaceSource } from '../samples/generator.ts';
import { Rng } from '../samples/random.ts';
import { colorHistMatch, channelHistMatch } from './histMatch.ts';
import { colorTransferIdt, type IdtOptions } from './idt.ts';
import { linearColorTransfer, type LctOptions, channelStats } from './lct.ts';
import { colorTransferMkl } from './mkl.ts';
import { type ChannelOrder, fromLab, reinhardColorTransfer, toLab } from './rct.ts';
import { colorTransferMix, colorTransferSot, type SotOptions } from './sot.ts';

export { colorHistMatch, channelHistMatch, colorTransferIdt, linearColorTransfer, channelStats, colorTransferMkl };
export { reinhardColorTransfer, toLab, fromLab, colorTransferSot, colorTransferMix };
export type { ChannelOrder, IdtOptions, LctOptions, SotOptions };

/** DFL's names: training `ct_mode` values and merger `color_transfer_mode` names (spec §E.1). */
export type ColorTransferName = 'none' | 'rct' | 'lct' | 'mkl' | 'mkl-m' | 'idt' | 'idt-m' | 'sot' | 'sot-m' | 'mix-m';

export interface ColorTransferOptions {
  /** Channel order of 3-channel images; default 'bgr' (DFL's, spec §E). Matters for RCT and mix-m only. */
  order?: ChannelOrder;
  /**
   * Mask of the target (H×W×1). Masked ("-m") modes multiply the target by its binarisation (every value > 0 → 1,
   * as the merger's `wrk_face_mask_area_a`, §E.1); RCT and LCT use it for the statistics (RCT: DFL's rule, pixels
   * < 0.5 count as zeros, §E.4; LCT: an extension, statistics over pixels ≥ 0.5).
   */
  targetMask?: FloatImage | null;
  /** Mask of the reference; defaults to `targetMask` when the sizes agree. */
  referenceMask?: FloatImage | null;
  /** SOT parameters (defaults: training 10 steps × 5 directions, merge `sot-m` 10 × 30, §E.2). */
  sot?: SotOptions;
  idt?: IdtOptions;
  /** LCT variant and eps (default 'pca', 1e-5, §E.3). */
  lct?: Pick<LctOptions, 'mode' | 'eps'>;
}

export type ColorTransferFn = (target: FloatImage, reference: FloatImage, rng?: Rng, opts?: ColorTransferOptions) => FloatImage;

export interface ColorTransferMode {
  /** DFL's name (what `ct_mode` / the merger's colour-transfer option stores). */
  name: ColorTransferName;
  /** Short human label. */
  label: string;
  /** Channel counts the mode is defined for (spec §E.9: one channel only LCT and SOT). */
  channels: readonly (1 | 3)[];
  /** Offered as training `ct_mode`. */
  training: boolean;
  /** Offered at merge time, and its number in DFL's merger (`color_transfer_mode`, §E.1), or null. */
  merge: boolean;
  mergeCode: number | null;
  /** "-m": both images multiplied by the binary mask first. */
  masked: boolean;
  help: string;
  transfer: ColorTransferFn;
}

/** Default seed for randomised modes when no Rng is given (keeps results reproducible). */
export const DEFAULT_COLOR_TRANSFER_SEED = 0x5eed;

function checkPair(name: string, t: FloatImage, r: FloatImage, channels: readonly number[]): void {
  if (t.channels !== r.channels) throw new RangeError(`colour transfer ${name}: target has ${t.channels} channels, reference ${r.channels}`);
  if (!channels.includes(t.channels))
    throw new RangeError(`colour transfer ${name} is defined for ${channels.join(' or ')}-channel images, not ${t.channels} (spec §E.9)`);
}

function clip01InPlace(img: FloatImage): FloatImage {
  const d = img.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    d[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return img;
}

function refMask(t: FloatImage, r: FloatImage, opts?: ColorTransferOptions): FloatImage | null {
  if (opts?.referenceMask) return opts.referenceMask;
  const m = opts?.targetMask;
  return m && m.width === r.width && m.height === r.height ? m : null;
}

/** img·binarise(mask) (every mask value > 0 counts as 1; spec §E.1), as a new image. */
export function multiplyByBinaryMask(img: FloatImage, mask: FloatImage | null | undefined): FloatImage {
  const out = img.data.slice();
  if (!mask) return { ...img, data: out };
  if (mask.width !== img.width || mask.height !== img.height) throw new RangeError('mask size differs from the image');
  const C = img.channels, mC = mask.channels, md = mask.data;
  const P = img.width * img.height;
  for (let i = 0; i < P; i++) if (!(md[i * mC] > 0)) for (let c = 0; c < C; c++) out[i * C + c] = 0;
  return { ...img, data: out };
}

const rngOr = (rng?: Rng) => rng ?? new Rng(DEFAULT_COLOR_TRANSFER_SEED);

const none: ColorTransferFn = (t) => ({ ...t, data: t.data.slice() });

const rct: ColorTransferFn = (t, r, _rng, o) => {
  checkPair('rct', t, r, [3]);
  return clip01InPlace(
    reinhardColorTransfer(t, r, { order: o?.order, targetMask: o?.targetMask, referenceMask: refMask(t, r, o) }),
  );
};

const lct: ColorTransferFn = (t, r, _rng, o) => {
  checkPair('lct', t, r, [1, 3]);
  return linearColorTransfer(t, r, { ...o?.lct, targetMask: o?.targetMask, referenceMask: refMask(t, r, o) });
};

const mkl: ColorTransferFn = (t, r) => {
  checkPair('mkl', t, r, [3]);
  return colorTransferMkl(t, r);
};

const idt: ColorTransferFn = (t, r, rng, o) => {
  checkPair('idt', t, r, [3]);
  return colorTransferIdt(t, r, rngOr(rng), o?.idt);
};

/** Training SOT: DFL's defaults (10 steps, batch 5), clipped as the sample processor does (§E.2 step 3). */
const sot: ColorTransferFn = (t, r, rng, o) => {
  checkPair('sot', t, r, [1, 3]);
  return clip01InPlace(colorTransferSot(t, r, rngOr(rng), { batchSize: 5, ...o?.sot }));
};

function masked(name: string, channels: readonly number[], base: (t: FloatImage, r: FloatImage, rng: Rng, o?: ColorTransferOptions) => FloatImage): ColorTransferFn {
  return (t, r, rng, o) => {
    checkPair(name, t, r, channels);
    const tm = multiplyByBinaryMask(t, o?.targetMask);
    const rm = multiplyByBinaryMask(r, refMask(t, r, o));
    return clip01InPlace(base(tm, rm, rngOr(rng), o));
  };
}

const mklM = masked('mkl-m', [3], (t, r) => colorTransferMkl(t, r));
const idtM = masked('idt-m', [3], (t, r, rng, o) => colorTransferIdt(t, r, rng, o?.idt));
/** Merge SOT: 10 steps × 30 directions (the merger's call, §E.2), clipped after (§E.2 step 3). */
const sotM = masked('sot-m', [1, 3], (t, r, rng, o) => colorTransferSot(t, r, rng, { batchSize: 30, ...o?.sot }));
const mixM = masked('mix-m', [3], (t, r, rng, o) => colorTransferMix(t, r, rng, o?.order ?? 'bgr'));

/** The registry, in DFL's merger order (§E.1). */
export const COLOR_TRANSFER_MODES: readonly ColorTransferMode[] = [
  {
    name: 'none', label: 'None', channels: [1, 3], training: true, merge: true, mergeCode: 0, masked: false,
    help: 'No colour transfer.', transfer: none,
  },
  {
    name: 'rct', label: 'Reinhard (Lab mean/std)', channels: [3], training: true, merge: true, mergeCode: 1, masked: false,
    help: 'Matches the mean and standard deviation of each Lab channel (spec §E.4). Colour only. At merge time the statistics use the face mask (outside pixels count as black, as in DFL).',
    transfer: rct,
  },
  {
    name: 'lct', label: 'Linear (mean/covariance)', channels: [1, 3], training: true, merge: true, mergeCode: 2, masked: false,
    help: 'Linear transform that matches the mean and covariance of the channels (spec §E.3). With one channel: a brightness/contrast match (§E.9). Whole crops, not masked.',
    transfer: lct,
  },
  {
    name: 'mkl', label: 'Monge–Kantorovich linear', channels: [3], training: true, merge: true, mergeCode: 3, masked: false,
    help: 'Least-displacement linear map between the two colour distributions (spec §E.5). Colour only.',
    transfer: mkl,
  },
  {
    name: 'mkl-m', label: 'Monge–Kantorovich linear, masked', channels: [3], training: false, merge: true, mergeCode: 4, masked: true,
    help: 'MKL on both faces multiplied by the binary face mask (spec §E.1). Colour only.',
    transfer: mklM,
  },
  {
    name: 'idt', label: 'Iterative distribution transfer', channels: [3], training: true, merge: true, mergeCode: 5, masked: false,
    help: '20 random rotations, each matching 1-D histograms along the rotated axes (spec §E.6). Colour only.',
    transfer: idt,
  },
  {
    name: 'idt-m', label: 'Iterative distribution transfer, masked', channels: [3], training: false, merge: true, mergeCode: 6, masked: true,
    help: 'IDT on both faces multiplied by the binary face mask (spec §E.1). Colour only.',
    transfer: idtM,
  },
  {
    name: 'sot', label: 'Sliced optimal transport', channels: [1, 3], training: true, merge: false, mergeCode: null, masked: false,
    help: 'Sliced optimal transport, 10 steps × 5 random directions, correction smoothed (spec §E.2). With one channel: a histogram match (§E.9). Slow; the SAEHDBW author turns it on for the last 10–20 k iterations.',
    transfer: sot,
  },
  {
    name: 'sot-m', label: 'Sliced optimal transport, masked', channels: [1, 3], training: false, merge: true, mergeCode: 7, masked: true,
    help: 'SOT (10 steps × 30 directions) on both faces multiplied by the binary face mask (spec §E.2). With one channel: a histogram match of the face region (§E.9). Recommended for grayscale models.',
    transfer: sotM,
  },
  {
    name: 'mix-m', label: 'Mix (LCT lightness + SOT chroma), masked', channels: [3], training: false, merge: true, mergeCode: 8, masked: true,
    help: 'Lightness by LCT, chroma by SOT in Lab, on masked faces (spec §E.7). Colour only.',
    transfer: mixM,
  },
];

const BY_NAME = new Map(COLOR_TRANSFER_MODES.map((m) => [m.name, m]));

export function isColorTransferName(v: unknown): v is ColorTransferName {
  return typeof v === 'string' && BY_NAME.has(v as ColorTransferName);
}

/** The registry entry of a mode; unknown names throw a RangeError listing the known ones. */
export function getColorTransfer(name: string): ColorTransferMode {
  const m = BY_NAME.get(name as ColorTransferName);
  if (!m) throw new RangeError(`unknown colour transfer "${name}" (known: ${[...BY_NAME.keys()].join(', ')})`);
  return m;
}

/** Modes usable for a model with `channels` channels, for training (`ct_mode`) or merging. */
export function colorTransferModesFor(channels: 1 | 3, use: 'training' | 'merge'): ColorTransferMode[] {
  return COLOR_TRANSFER_MODES.filter((m) => m.channels.includes(channels) && (use === 'training' ? m.training : m.merge));
}

/** Apply a mode by name (convenience around the registry). */
export function colorTransfer(name: ColorTransferName, target: FloatImage, reference: FloatImage, rng?: Rng, opts?: ColorTransferOptions): FloatImage {
  return getColorTransfer(name).transfer(target, reference, rng, opts);
}

/**
 * The sample generator's `ct_mode` hook (spec §D.2, §E.1) for a training mode: `faces` are the dst faces to draw
 * references from; the generator passes images in its channel order (`order`, default 'bgr' like the generator).
 * Returns null for 'none'.
 */
export function colorTransferHook(name: ColorTransferName, faces: FaceSource[], order: ChannelOrder = 'bgr'): ColorTransferHook | null {
  const m = getColorTransfer(name);
  if (!m.training) throw new RangeError(`colour transfer "${name}" is a merge-only mode; training uses ${COLOR_TRANSFER_MODES.filter((x) => x.training).map((x) => x.name).join(', ')}`);
  if (name === 'none') return null;
  return { faces, transfer: (image, reference, rng) => m.transfer(image, reference, rng, { order }) };
}

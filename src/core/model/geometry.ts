/**
 * Shapes that every SAEHD module derives from the options (spec §A.3–§A.5) and DFL's module list (§C.11).
 * Kept free of tfjs so counting and option tools load without it.
 */
import { OptionError } from '../errors.ts';
import { parseArchi, type ArchiFlags, type ModelOptions } from './options.ts';

export type ModuleName = 'encoder' | 'inter' | 'inter_AB' | 'inter_B' | 'decoder_src' | 'decoder_dst' | 'decoder';

/** Geometry that every module derives from the options (§A.3–§A.5). */
export interface SaehdGeometry {
  flags: ArchiFlags;
  resolution: number;
  channels: number;
  /** Encoder output side: res/16, or res/32 with `t`. */
  encRes: number;
  encCh: number;
  /** Flattened encoder output length E. */
  encLen: number;
  /** lowest_dense_res L = res//32 with `d`, else res//16. */
  lowestDenseRes: number;
  /** ae_out: ae (DF) or 2·ae (LIAE). */
  interOutCh: number;
  /** Inter output side: 2L, or L with `t`. */
  interOutRes: number;
  /** Decoder input channels I: ae (DF) or 4·ae (LIAE). */
  decoderInCh: number;
}

export function saehdGeometry(o: ModelOptions): SaehdGeometry {
  const flags = parseArchi(o.archi);
  const res = o.resolution;
  const need = flags.d || flags.t ? 32 : 16;
  if (!Number.isInteger(res) || res % need !== 0 || res < 32)
    throw new OptionError('resolution', `${res} must be a multiple of ${need} for archi ${o.archi}`);
  if (o.channels !== 1 && o.channels !== 3) throw new OptionError('channels', `must be 1 or 3, got ${String(o.channels)}`);
  for (const k of ['ae_dims', 'e_dims', 'd_dims', 'd_mask_dims'] as const)
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new OptionError(k, `must be a positive integer, got ${String(o[k])}`);
  const encRes = res / (flags.t ? 32 : 16);
  const encCh = o.e_dims * 8;
  const L = Math.floor(res / (flags.d ? 32 : 16));
  const interOutCh = flags.type === 'df' ? o.ae_dims : 2 * o.ae_dims;
  return {
    flags, resolution: res, channels: o.channels, encRes, encCh, encLen: encCh * encRes * encRes,
    lowestDenseRes: L, interOutCh, interOutRes: flags.t ? L : 2 * L,
    decoderInCh: flags.type === 'df' ? o.ae_dims : 4 * o.ae_dims,
  };
}

/** DFL's model_filename_list order. */
export function moduleNames(archi: string): ModuleName[] {
  return parseArchi(archi).type === 'df' ? ['encoder', 'inter', 'decoder_src', 'decoder_dst'] : ['encoder', 'inter_AB', 'inter_B', 'decoder'];
}


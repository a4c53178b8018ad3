/**
 * Parameter counts, FLOPs and memory estimates of SAEHD / SAEHDBW (spec §A.10, §B.1–§B.3).
 *
 * Three independent derivations are offered so tests can cross-check them: the closed forms of §A.10
 * (`closedFormCounts`), a per-layer plan written from the tables of §A.3–§A.5 (`layerPlan`, also the source of the FLOP
 * and activation figures), and the variables of a built model (`countBuilt`).
 *
 * FLOP convention (§B.3): only the multiply-adds of convolutions and dense layers are counted, 1 MAC = 2 FLOP; biases,
 * activations, depth-to-space, pixel-norm, sigmoid and the loss side (DSSIM, blurs) are left out. Backward ≈ 2 × forward
 * (input gradient + weight gradient), so a training step ≈ 3 × its forward pass.
 */
import type { ModelOptions } from './options.ts';
import { moduleNames, saehdGeometry, type ModuleName, type SaehdGeometry } from './geometry.ts';
import type { SaehdModel } from './saehd.ts';

export type ModuleCounts = Partial<Record<ModuleName, number>> & { total: number };

/** §A.10 closed forms. */
export function closedFormCounts(o: ModelOptions): ModuleCounts {
  const g = saehdGeometry(o);
  const { t, d: dflag, type } = g.flags;
  const C = g.channels;
  const e = o.e_dims, ae = o.ae_dims, d = o.d_dims, m = o.d_mask_dims;
  const E = g.encLen, L = g.lowestDenseRes, I = g.decoderInCh;
  const encoder = 25 * C * e + (t ? 3820 * e * e + 41 * e : 1050 * e * e + 15 * e);
  const inter =
    type === 'df'
      ? ae * (E + 1) + ae * L * L * (ae + 1) + (t ? 0 : 36 * ae * ae + 4 * ae)
      : ae * (E + 1) + 2 * ae * L * L * (ae + 1) + (t ? 0 : 144 * ae * ae + 8 * ae);
  const image = 288 * I * d + (t ? 6408 * d * d + 132 * d : 2952 * d * d + 84 * d);
  const mask = 288 * I * m + (t ? 3744 * m * m + 88 * m : 1440 * m * m + 56 * m);
  const heads = dflag ? 56 * d * C + 4 * C + 72 * m * m + 5 * m + 1 : 2 * d * C + C + (2 * m + 1);
  const decoder = image + mask + heads;
  if (type === 'df')
    return { encoder, inter, decoder_src: decoder, decoder_dst: decoder, total: encoder + inter + 2 * decoder };
  return { encoder, inter_AB: inter, inter_B: inter, decoder, total: encoder + 2 * inter + decoder };
}

// ---- layer plan ---------------------------------------------------------------------------------------------------------

export type Branch = 'encoder' | 'inter' | 'image' | 'mask';

export interface LayerInfo {
  /** Which module type the layer belongs to (decoders share one plan). */
  part: 'encoder' | 'inter' | 'decoder';
  branch: Branch;
  /** DFL scope inside the module, e.g. `down1/downs_0/conv1`, `dense1`, `upscalem4/conv1`, `out_conv2`. */
  name: string;
  kind: 'conv' | 'dense';
  k: number;
  stride: number;
  inCh: number;
  outCh: number;
  /** Conv input side (0 for dense). */
  inRes: number;
  /** Conv output side before any depth-to-space (0 for dense). */
  outRes: number;
  params: number;
  /** Multiply-accumulates per image. */
  macs: number;
}

function conv(part: LayerInfo['part'], branch: Branch, name: string, k: number, stride: number, inCh: number, outCh: number, inRes: number): LayerInfo {
  const outRes = Math.ceil(inRes / stride);
  return { part, branch, name, kind: 'conv', k, stride, inCh, outCh, inRes, outRes, params: k * k * inCh * outCh + outCh, macs: outRes * outRes * k * k * inCh * outCh };
}
function dense(name: string, inCh: number, outCh: number): LayerInfo {
  return { part: 'inter', branch: 'inter', name, kind: 'dense', k: 0, stride: 1, inCh, outCh, inRes: 0, outRes: 0, params: inCh * outCh + outCh, macs: inCh * outCh };
}

export interface LayerPlan {
  geometry: SaehdGeometry;
  encoder: LayerInfo[];
  /** One Inter block (DF: inter; LIAE: each of inter_AB / inter_B). */
  inter: LayerInfo[];
  /** One decoder (DF: each of decoder_src / decoder_dst). */
  decoder: LayerInfo[];
}

/** Every conv / dense layer with its shapes, parameters and MACs, from the tables of §A.3–§A.5 (cf. §B.2). */
export function layerPlan(o: ModelOptions): LayerPlan {
  const g = saehdGeometry(o);
  const { t, d: dflag } = g.flags;
  const res = o.resolution, C = g.channels, e = o.e_dims, d = o.d_dims, m = o.d_mask_dims;
  const encoder: LayerInfo[] = [];
  let r = res;
  const down = (name: string, i: number, out: number) => {
    encoder.push(conv('encoder', 'encoder', `${name}/conv1`, 5, 2, i, out, r));
    r = Math.ceil(r / 2);
  };
  const resBlock = (list: LayerInfo[], part: LayerInfo['part'], branch: Branch, name: string, ch: number, side: number) => {
    list.push(conv(part, branch, `${name}/conv1`, 3, 1, ch, ch, side), conv(part, branch, `${name}/conv2`, 3, 1, ch, ch, side));
  };
  if (t) {
    down('down1', C, e);
    resBlock(encoder, 'encoder', 'encoder', 'res1', e, r);
    down('down2', e, 2 * e);
    down('down3', 2 * e, 4 * e);
    down('down4', 4 * e, 8 * e);
    down('down5', 8 * e, 8 * e);
    resBlock(encoder, 'encoder', 'encoder', 'res5', 8 * e, r);
  } else {
    let last = C;
    for (let i = 0; i < 4; i++) {
      const cur = e * Math.min(2 ** i, 8);
      down(`down1/downs_${i}`, last, cur);
      last = cur;
    }
  }

  const L = g.lowestDenseRes, out = g.interOutCh;
  const inter: LayerInfo[] = [dense('dense1', g.encLen, o.ae_dims), dense('dense2', o.ae_dims, L * L * out)];
  if (!t) inter.push(conv('inter', 'inter', 'upscale1/conv1', 3, 1, out, 4 * out, L));

  const decoder: LayerInfo[] = [];
  const imgCh = t ? [8 * d, 8 * d, 4 * d, 2 * d] : [8 * d, 4 * d, 2 * d];
  const mskCh = t ? [8 * m, 8 * m, 4 * m, 2 * m] : [8 * m, 4 * m, 2 * m];
  if (dflag) mskCh.push(m);
  let side = g.interOutRes, last = g.decoderInCh;
  imgCh.forEach((ch, i) => {
    decoder.push(conv('decoder', 'image', `upscale${i}/conv1`, 3, 1, last, 4 * ch, side));
    side *= 2;
    resBlock(decoder, 'decoder', 'image', `res${i}`, ch, side);
    last = ch;
  });
  decoder.push(conv('decoder', 'image', 'out_conv', 1, 1, 2 * d, C, side));
  if (dflag) for (const n of ['out_conv1', 'out_conv2', 'out_conv3']) decoder.push(conv('decoder', 'image', n, 3, 1, 2 * d, C, side));
  side = g.interOutRes;
  last = g.decoderInCh;
  mskCh.forEach((ch, i) => {
    decoder.push(conv('decoder', 'mask', `upscalem${i}/conv1`, 3, 1, last, 4 * ch, side));
    side *= 2;
    last = ch;
  });
  decoder.push(conv('decoder', 'mask', 'out_convm', 1, 1, last, 1, side));
  return { geometry: g, encoder, inter, decoder };
}

const sum = (ls: LayerInfo[], f: (l: LayerInfo) => number) => ls.reduce((a, l) => a + f(l), 0);

/** Per-module parameters from the layer plan (must equal `closedFormCounts`). */
export function planCounts(o: ModelOptions): ModuleCounts {
  const p = layerPlan(o);
  const enc = sum(p.encoder, (l) => l.params), inter = sum(p.inter, (l) => l.params), dec = sum(p.decoder, (l) => l.params);
  if (p.geometry.flags.type === 'df') return { encoder: enc, inter, decoder_src: dec, decoder_dst: dec, total: enc + inter + 2 * dec };
  return { encoder: enc, inter_AB: inter, inter_B: inter, decoder: dec, total: enc + 2 * inter + dec };
}

/** Per-module parameters of a built model (sum of variable sizes). */
export function countBuilt(model: SaehdModel): ModuleCounts {
  const out: ModuleCounts = { total: 0 };
  for (const [name, mod] of model.modules()) {
    const n = mod.paramCount();
    out[name] = n;
    out.total += n;
  }
  return out;
}

/** Module names in DFL order with their counts (for printing). */
export function orderedModules(o: ModelOptions, counts: ModuleCounts): Array<[ModuleName, number]> {
  return moduleNames(o.archi).map((n) => [n, counts[n] ?? 0]);
}

// ---- FLOPs (§B.3) -----------------------------------------------------------------------------------------------------

export interface FlopReport {
  /** Forward FLOP per image of each part. */
  encoderFwd: number;
  /** One Inter block. */
  interFwd: number;
  /** Decoder image branch incl. image heads. */
  decoderImageFwd: number;
  /** Decoder mask branch incl. the extra `d` upscale and the mask head. */
  decoderMaskFwd: number;
  /** Forward FLOP of one training pair (one src + one dst sample). */
  trainFwdPerPair: number;
  /** Forward + backward ≈ 3 × forward. */
  trainPerPair: number;
  /** Merger forward per face (§B.3 "merge fwd": full decoder_src + only the mask branch for the dst mask). */
  mergeFwdPerFace: number;
}

/**
 * §B.3. Per pair: encoder ×2, Inter ×2 (LIAE: inter_AB ×2 + inter_B ×1), full decoder ×2. With `includeStyle` and a style
 * power > 0 (not in pretrain), the swap decoder pass is added (+1 full decoder), and face style adds the stopped-code
 * image pass (+1 image branch) — DFL evaluates these only then. GAN and true-face discriminators are not counted.
 */
export function flopReport(o: ModelOptions, includeStyle = true): FlopReport {
  const p = layerPlan(o);
  const F = (ls: LayerInfo[]) => 2 * sum(ls, (l) => l.macs);
  const encoderFwd = F(p.encoder);
  const interFwd = F(p.inter);
  const decoderImageFwd = F(p.decoder.filter((l) => l.branch === 'image'));
  const decoderMaskFwd = F(p.decoder.filter((l) => l.branch === 'mask'));
  const dec = decoderImageFwd + decoderMaskFwd;
  const liae = p.geometry.flags.type === 'liae';
  let trainFwdPerPair = 2 * encoderFwd + (liae ? 3 : 2) * interFwd + 2 * dec;
  if (includeStyle && !o.pretrain) {
    if (o.face_style_power > 0 || o.bg_style_power > 0) trainFwdPerPair += dec;
    if (o.face_style_power > 0) trainFwdPerPair += decoderImageFwd;
  }
  const mergeFwdPerFace = encoderFwd + (liae ? 2 : 1) * interFwd + dec + decoderMaskFwd;
  return { encoderFwd, interFwd, decoderImageFwd, decoderMaskFwd, trainFwdPerPair, trainPerPair: 3 * trainFwdPerPair, mergeFwdPerFace };
}

/** GFLOP of one training iteration (forward + backward of `batch` pairs), §B.3: seed model at batch 6 ≈ 432. */
export function gflopPerIter(o: ModelOptions, batch: number = o.batch_size): number {
  return (flopReport(o).trainPerPair * batch) / 1e9;
}

// ---- memory (§B.3) ------------------------------------------------------------------------------------------------

export interface MemoryEstimate {
  params: number;
  weightsMiB: number;
  gradsMiB: number;
  /** AdaBelief: 2 state tensors per weight; RMSprop: 1. 0 when models_opt_on_gpu is off (state on the CPU). */
  optimizerMiB: number;
  /** Stored activations of one pair: every evaluated conv keeps its padded input and pre-activation output, dense layers input and output. */
  activationsPerPairMiB: number;
  /** One copy of each layer output per pair (strict lower bound). */
  activationsLowerBoundPerPairMiB: number;
  activationsMiB: number;
  /** weights + grads + optimizer + activations × batch (fp32; no workspace/fragmentation allowance). */
  totalMiB: number;
}

const MIB = 1024 * 1024;

export function memoryEstimate(o: ModelOptions, batch: number = o.batch_size): MemoryEstimate {
  const p = layerPlan(o);
  const params = closedFormCounts(o).total;
  const stored = (l: LayerInfo) => {
    if (l.kind === 'dense') return l.inCh + l.outCh;
    const pad = Math.floor(l.k / 2);
    return (l.inRes + 2 * pad) ** 2 * l.inCh + l.outRes ** 2 * l.outCh;
  };
  const output = (l: LayerInfo) => (l.kind === 'dense' ? l.outCh : l.outRes ** 2 * l.outCh);
  const perPair = (f: (l: LayerInfo) => number) => {
    const liae = p.geometry.flags.type === 'liae';
    return 2 * sum(p.encoder, f) + (liae ? 3 : 2) * sum(p.inter, f) + 2 * sum(p.decoder, f);
  };
  const actPair = (perPair(stored) * 4) / MIB;
  const lowPair = (perPair(output) * 4) / MIB;
  const weightsMiB = (params * 4) / MIB;
  const optimizerMiB = o.models_opt_on_gpu ? weightsMiB * (o.adabelief ? 2 : 1) : 0;
  const activationsMiB = actPair * batch;
  return {
    params, weightsMiB, gradsMiB: weightsMiB, optimizerMiB,
    activationsPerPairMiB: actPair, activationsLowerBoundPerPairMiB: lowPair, activationsMiB,
    totalMiB: 2 * weightsMiB + optimizerMiB + activationsMiB,
  };
}

// ---- shapes ------------------------------------------------------------------------------------------------------

export interface OutputShapes {
  /** Flattened encoder output per sample: [E]. */
  encoder: number[];
  /** Inter output per sample [H,W,ae_out] (LIAE: each Inter block). */
  inter: number[];
  /** Decoder input per sample (LIAE: the concatenated code). */
  decoder_input: number[];
  image: number[];
  mask: number[];
}

/** Per-sample shapes (no batch axis) from the geometry (§B.2). */
export function outputShapes(o: ModelOptions): OutputShapes {
  const g = saehdGeometry(o);
  return {
    encoder: [g.encLen],
    inter: [g.interOutRes, g.interOutRes, g.interOutCh],
    decoder_input: [g.interOutRes, g.interOutRes, g.decoderInCh],
    image: [o.resolution, o.resolution, g.channels],
    mask: [o.resolution, o.resolution, 1],
  };
}

/**
 * The SAEHD / SAEHDBW network (spec §A.3–§A.6, §A.9, §C.4, §F.2) built from the leras blocks in layers.ts.
 *
 * Modules are DFL's: encoder, inter (DF) or inter_AB + inter_B (LIAE), decoder_src + decoder_dst (DF) or decoder (LIAE).
 * Each keeps its variables under the keys DFL writes into `<name>_<Class>_<module>.npy` (§C.11), so weights can be
 * exchanged with DeepFaceLab. SAEHDBW (channels = 1) differs only in the first encoder conv and the image heads (§A.9).
 */
import * as tf from '@tensorflow/tfjs';
import { WeightsMismatchError } from '../errors.ts';
import {
  Conv2D, Dense, Downscale, DownscaleBlock, ParamStore, ResidualBlock, Upscale,
  depthToSpace2, flattenCHW, pixelNorm, reshapeCHW, stopGradient, tidyAll,
  type ConvGradMode, type InitMode, type LayerContext, type Trace,
} from './layers.ts';
import { saehdGeometry, type ModuleName, type SaehdGeometry } from './geometry.ts';
import type { ModelOptions } from './options.ts';

export { moduleNames, saehdGeometry, type ModuleName, type SaehdGeometry } from './geometry.ts';

export interface SaehdModule {
  /** DFL module / weight-file name (§C.11). */
  readonly name: ModuleName;
  /** Variables keyed by DFL's in-file names, e.g. `down1/downs_0/conv1/weight:0`. */
  variables(): Map<string, tf.Variable>;
  paramCount(): number;
  /** Re-draw this module's weights (Glorot-uniform kernels, zero biases). */
  reinitialize(seed?: number | string): void;
}

export interface DecoderOutput {
  /** [N,res,res,C] in [0,1] (sigmoid). */
  image: tf.Tensor4D;
  /** [N,res,res,1] in [0,1] (sigmoid). */
  mask: tf.Tensor4D;
}

abstract class ModuleBase implements SaehdModule {
  protected readonly ctx: LayerContext;
  constructor(readonly name: ModuleName, store: ParamStore, cosAct: boolean, convGrad: ConvGradMode | undefined) {
    this.ctx = { store, cosAct, convGrad };
  }
  variables(): Map<string, tf.Variable> {
    return new Map(this.ctx.store.vars);
  }
  paramCount(): number {
    return this.ctx.store.paramCount();
  }
  reinitialize(seed?: number | string): void {
    this.ctx.store.reinitialize(seed);
  }
  dispose(): void {
    this.ctx.store.dispose();
  }
}

/** §A.3: DownscaleBlock(C, e, 4, k5) — or, with `t`, down1,res1,down2..down5,res5 — then flatten (C,H,W), optional pixel-norm. */
export class Encoder extends ModuleBase {
  private readonly block?: DownscaleBlock;
  private readonly tall?: { down1: Downscale; res1: ResidualBlock; down2: Downscale; down3: Downscale; down4: Downscale; down5: Downscale; res5: ResidualBlock };
  constructor(store: ParamStore, private readonly geo: SaehdGeometry, eDims: number, convGrad?: ConvGradMode) {
    super('encoder', store, geo.flags.c, convGrad);
    const c = geo.channels;
    const e = eDims;
    if (geo.flags.t) {
      this.tall = {
        down1: new Downscale(this.ctx, 'down1', c, e, 5),
        res1: new ResidualBlock(this.ctx, 'res1', e),
        down2: new Downscale(this.ctx, 'down2', e, e * 2, 5),
        down3: new Downscale(this.ctx, 'down3', e * 2, e * 4, 5),
        down4: new Downscale(this.ctx, 'down4', e * 4, e * 8, 5),
        down5: new Downscale(this.ctx, 'down5', e * 8, e * 8, 5),
        res5: new ResidualBlock(this.ctx, 'res5', e * 8),
      };
    } else {
      this.block = new DownscaleBlock(this.ctx, 'down1', c, e, 4, 5);
    }
  }
  /** [N,res,res,C] → [N,E]. */
  apply(x: tf.Tensor4D, trace?: Trace): tf.Tensor2D {
    return tf.tidy(() => {
      let y: tf.Tensor4D;
      if (this.tall) {
        y = x;
        for (const [name, layer] of Object.entries(this.tall)) {
          y = layer.apply(y);
          trace?.(name, y);
        }
      } else {
        y = this.block!.apply(x, trace);
      }
      let v = flattenCHW(y);
      if (this.geo.flags.u) v = pixelNorm(v);
      trace?.('flatten', v);
      return v;
    });
  }
}

/** §A.4: dense1 E→ae, dense2 ae→L·L·ae_out (both linear), reshape (C,H,W), Upscale unless `t`. */
export class Inter extends ModuleBase {
  readonly dense1: Dense;
  readonly dense2: Dense;
  readonly upscale1?: Upscale;
  constructor(name: 'inter' | 'inter_AB' | 'inter_B', store: ParamStore, private readonly geo: SaehdGeometry, aeDims: number, convGrad?: ConvGradMode) {
    super(name, store, geo.flags.c, convGrad);
    const L = geo.lowestDenseRes;
    const out = geo.interOutCh;
    this.dense1 = new Dense(this.ctx, 'dense1', geo.encLen, aeDims);
    this.dense2 = new Dense(this.ctx, 'dense2', aeDims, L * L * out);
    if (!geo.flags.t) this.upscale1 = new Upscale(this.ctx, 'upscale1', out, out);
  }
  /** [N,E] → [N, 2L (L with t), same, ae_out]. */
  apply(code: tf.Tensor2D, trace?: Trace): tf.Tensor4D {
    return tf.tidy(() => {
      const L = this.geo.lowestDenseRes;
      const a = this.dense1.apply(code);
      trace?.('dense1', a);
      const b = this.dense2.apply(a);
      trace?.('dense2', b);
      let y = reshapeCHW(b, L, L, this.geo.interOutCh);
      trace?.('reshape', y);
      if (this.upscale1) {
        y = this.upscale1.apply(y);
        trace?.('upscale1', y);
      }
      return y;
    });
  }
}

/** §A.5 decoder: image branch (Upscale + ResidualBlock stages, heads) and mask branch (Upscales, 1×1 head). */
export class Decoder extends ModuleBase {
  private readonly img: Array<[Upscale, ResidualBlock]> = [];
  private readonly msk: Upscale[] = [];
  readonly outConv: Conv2D;
  readonly outConvD?: [Conv2D, Conv2D, Conv2D];
  readonly outConvM: Conv2D;
  constructor(name: 'decoder_src' | 'decoder_dst' | 'decoder', store: ParamStore, private readonly geo: SaehdGeometry, dDims: number, mDims: number, convGrad?: ConvGradMode) {
    super(name, store, geo.flags.c, convGrad);
    const { t, d: dflag } = geo.flags;
    const I = geo.decoderInCh;
    const d = dDims;
    const m = mDims;
    // §A.5 tables: channel plan of the image stages and of the mask upscales.
    const imgCh = t ? [8 * d, 8 * d, 4 * d, 2 * d] : [8 * d, 4 * d, 2 * d];
    const mskCh = t ? [8 * m, 8 * m, 4 * m, 2 * m] : [8 * m, 4 * m, 2 * m];
    if (dflag) mskCh.push(m);
    let last = I;
    imgCh.forEach((ch, i) => {
      // DFL creates upscale0..n then res0..n; names matter, creation order does not (per-key seeds).
      this.img.push([new Upscale(this.ctx, `upscale${i}`, last, ch), new ResidualBlock(this.ctx, `res${i}`, ch)]);
      last = ch;
    });
    last = I;
    mskCh.forEach((ch, i) => {
      this.msk.push(new Upscale(this.ctx, `upscalem${i}`, last, ch));
      last = ch;
    });
    const C = geo.channels; // SAEHDBW: 1-channel image heads (§A.9)
    this.outConv = new Conv2D(this.ctx, 'out_conv', 2 * d, C, 1);
    if (dflag) {
      this.outConvD = [
        new Conv2D(this.ctx, 'out_conv1', 2 * d, C, 3),
        new Conv2D(this.ctx, 'out_conv2', 2 * d, C, 3),
        new Conv2D(this.ctx, 'out_conv3', 2 * d, C, 3),
      ];
    }
    this.outConvM = new Conv2D(this.ctx, 'out_convm', last, 1, 1);
  }

  apply(z: tf.Tensor4D, trace?: Trace): DecoderOutput {
    return tidyAll(() => ({ image: this.applyImage(z, trace), mask: this.applyMask(z, trace) }));
  }

  /** Image branch only. With `d`: concat [1×1, 3×3 #1, #2, #3] heads → depth-to-space ×2 → sigmoid (§A.5, §J.1 #4). */
  applyImage(z: tf.Tensor4D, trace?: Trace): tf.Tensor4D {
    return tf.tidy(() => {
      let x = z;
      for (const [up, res] of this.img) {
        x = up.apply(x);
        trace?.(up.name, x);
        x = res.apply(x);
        trace?.(res.name, x);
      }
      let y: tf.Tensor4D;
      if (this.outConvD) {
        const heads = tf.concat([this.outConv.apply(x), ...this.outConvD.map((c) => c.apply(x))], 3);
        trace?.('out_convs', heads);
        y = depthToSpace2(heads);
      } else {
        y = this.outConv.apply(x);
      }
      y = tf.sigmoid(y);
      trace?.('image', y);
      return y;
    });
  }

  /** Mask branch only (what the merger needs from decoder_dst, §B.3 "merge fwd"). */
  applyMask(z: tf.Tensor4D, trace?: Trace): tf.Tensor4D {
    return tf.tidy(() => {
      let m = z;
      for (const up of this.msk) {
        m = up.apply(m);
        trace?.(up.name, m);
      }
      const y = tf.sigmoid(this.outConvM.apply(m));
      trace?.('mask', y);
      return y;
    });
  }
}

export interface SrcDstOutputs {
  pred_src_src: tf.Tensor4D;
  pred_src_srcm: tf.Tensor4D;
  pred_dst_dst: tf.Tensor4D;
  pred_dst_dstm: tf.Tensor4D;
  /** The swap (src face on dst); null when called with `swap: false`. */
  pred_src_dst: tf.Tensor4D | null;
  pred_src_dstm: tf.Tensor4D | null;
  /** Swap recomputed with the code's gradient stopped (face-style loss, §C.4/§C.5); only with `swapNoCodeGrad: true`. */
  pred_src_dst_no_code_grad: tf.Tensor4D | null;
  /** Codes fed to the decoder(s): DF inter outputs; LIAE concat[AB,AB] (src) and concat[B,AB] (dst). True face uses DF's. */
  code_src: tf.Tensor4D;
  code_dst: tf.Tensor4D;
}

export interface ForwardOptions {
  /** Evaluate the swap (DFL evaluates it only when a style loss needs it, §B.3). Default true. */
  swap?: boolean;
  /** Also evaluate the swap with a stopped code gradient (face_style_power > 0). Default false. */
  swapNoCodeGrad?: boolean;
}

export type PredictWhich = 'src_src' | 'dst_dst' | 'src_dst';

export interface MergeOutputs {
  /** Swapped face [N,res,res,C]. */
  face: tf.Tensor4D;
  /** Mask predicted with the swap ("learned-prd"). */
  faceMask: tf.Tensor4D;
  /** dst mask ("learned-dst"). */
  dstMask: tf.Tensor4D;
}

export interface BuildOptions {
  /** Filter-gradient implementation of every conv; default: the global `setConvGradMode` value at call time. */
  convGrad?: ConvGradMode;
  /** 'zeros' skips random initialisation (only for counting / shape checks). Default 'glorot'. */
  init?: InitMode;
}

export interface SaehdModel {
  readonly options: ModelOptions;
  readonly geometry: SaehdGeometry;
  readonly type: 'df' | 'liae';
  readonly encoder: Encoder;
  /** DF only. */
  readonly inter?: Inter;
  /** LIAE only. */
  readonly inter_AB?: Inter;
  readonly inter_B?: Inter;
  /** DF only. */
  readonly decoder_src?: Decoder;
  readonly decoder_dst?: Decoder;
  /** LIAE only. */
  readonly decoder?: Decoder;
  /** The modules in DFL's model_filename_list order. */
  modules(): Map<ModuleName, SaehdModule>;
  /** module file name → (DFL key → variable) (§C.11). */
  weights(): Map<ModuleName, Map<string, tf.Variable>>;
  /** All variables, full DFL names (`encoder/down1/downs_0/conv1/weight:0`). */
  allVariables(): Map<string, tf.Variable>;
  /**
   * Variables the generator optimizer updates (§C.8): everything, except that LIAE freezes inter_AB when random warp
   * is off. `randomWarp` defaults to the effective setting (random_warp && !pretrain, pretrain forces it off, §C.9).
   */
  trainableVariables(randomWarp?: boolean): tf.Variable[];
  paramCount(): number;
  /** Training forward pass of §C.4 (src and dst batches of equal or different size). */
  forwardSrcDst(src: tf.Tensor4D, dst: tf.Tensor4D, opts?: ForwardOptions): SrcDstOutputs;
  /** One reconstruction for previews: src→src, dst→dst or the swap src→dst. */
  predict(x: tf.Tensor4D, which: PredictWhich, trace?: Trace): DecoderOutput;
  /** Merger predictor (§F.2): swapped face + its mask, and the dst mask (dst image branch not evaluated). */
  merge(dstFace: tf.Tensor4D): MergeOutputs;
  /** §C.9: re-initialise the Inter block(s) when pretraining is switched off. */
  reinitializeInters(seed?: number | string): void;
  dispose(): void;
}

/**
 * Build a model. `seed` makes initialisation deterministic (each variable gets the stream `${seed}/${module}/${key}`).
 * Options should come from `validateOptions`; only structural consistency is re-checked here.
 */
export function createSaehd(opts: ModelOptions, seed?: number | string, build: BuildOptions = {}): SaehdModel {
  const geo = saehdGeometry(opts);
  const init = build.init ?? 'glorot';
  const s = seed === undefined ? undefined : String(seed);
  const store = (m: ModuleName) => new ParamStore(m, s, init);
  const cg = build.convGrad;
  const built: ModuleBase[] = [];
  const track = <T extends ModuleBase>(m: T): T => {
    built.push(m);
    return m;
  };
  try {
    const encoder = track(new Encoder(store('encoder'), geo, opts.e_dims, cg));
    if (geo.flags.type === 'df') {
      const inter = track(new Inter('inter', store('inter'), geo, opts.ae_dims, cg));
      const decoder_src = track(new Decoder('decoder_src', store('decoder_src'), geo, opts.d_dims, opts.d_mask_dims, cg));
      const decoder_dst = track(new Decoder('decoder_dst', store('decoder_dst'), geo, opts.d_dims, opts.d_mask_dims, cg));
      return new DfModel(opts, geo, encoder, inter, decoder_src, decoder_dst);
    }
    const inter_AB = track(new Inter('inter_AB', store('inter_AB'), geo, opts.ae_dims, cg));
    const inter_B = track(new Inter('inter_B', store('inter_B'), geo, opts.ae_dims, cg));
    const decoder = track(new Decoder('decoder', store('decoder'), geo, opts.d_dims, opts.d_mask_dims, cg));
    return new LiaeModel(opts, geo, encoder, inter_AB, inter_B, decoder);
  } catch (e) {
    for (const m of built) m.dispose();
    throw e;
  }
}

abstract class ModelBase {
  abstract readonly type: 'df' | 'liae';
  constructor(readonly options: ModelOptions, readonly geometry: SaehdGeometry, readonly encoder: Encoder) {}
  protected abstract moduleList(): Array<Encoder | Inter | Decoder>;
  protected abstract interModules(): Inter[];
  modules(): Map<ModuleName, SaehdModule> {
    return new Map(this.moduleList().map((m) => [m.name, m]));
  }
  weights(): Map<ModuleName, Map<string, tf.Variable>> {
    return new Map(this.moduleList().map((m) => [m.name, m.variables()]));
  }
  allVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const m of this.moduleList()) for (const [k, v] of m.variables()) out.set(dflVariableName(m.name, k), v);
    return out;
  }
  trainableVariables(randomWarp = this.options.random_warp && !this.options.pretrain): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const m of this.moduleList()) {
      if (this.type === 'liae' && m.name === 'inter_AB' && !randomWarp) continue; // §C.8, §J.4 #4
      out.push(...m.variables().values());
    }
    return out;
  }
  paramCount(): number {
    return this.moduleList().reduce((a, m) => a + m.paramCount(), 0);
  }
  reinitializeInters(seed?: number | string): void {
    for (const m of this.interModules()) m.reinitialize(seed);
  }
  dispose(): void {
    for (const m of this.moduleList()) m.dispose();
  }
}

/** Split [a; b] along the batch axis. */
function splitBatch<T extends tf.Tensor>(x: T, n: number): [T, T] {
  const [a, b] = tf.split(x, [n, x.shape[0] - n], 0);
  return [a as T, b as T];
}

/**
 * DF (§A.6): src→src = decoder_src(inter(enc(src))), dst→dst = decoder_dst(inter(enc(dst))), swap = decoder_src(inter(enc(dst))).
 * src and dst go through the shared encoder/inter as one batch (per-sample ops, identical results, fewer dispatches).
 */
class DfModel extends ModelBase implements SaehdModel {
  readonly type = 'df' as const;
  constructor(options: ModelOptions, geometry: SaehdGeometry, encoder: Encoder, readonly inter: Inter, readonly decoder_src: Decoder, readonly decoder_dst: Decoder) {
    super(options, geometry, encoder);
  }
  protected moduleList() {
    return [this.encoder, this.inter, this.decoder_src, this.decoder_dst];
  }
  protected interModules() {
    return [this.inter];
  }
  forwardSrcDst(src: tf.Tensor4D, dst: tf.Tensor4D, opts: ForwardOptions = {}): SrcDstOutputs {
    const { swap = true, swapNoCodeGrad = false } = opts;
    return tidyAll(() => {
      const ns = src.shape[0];
      const codes = this.inter.apply(this.encoder.apply(tf.concat([src, dst], 0)));
      const [code_src, code_dst] = splitBatch(codes, ns);
      // decoder_src sees the src code and (for the swap) the dst code in one batch.
      const srcIn = swap ? codes : code_src;
      const ds = this.decoder_src.apply(srcIn);
      const dd = this.decoder_dst.apply(code_dst);
      let pss = ds.image, pssm = ds.mask;
      let psd: tf.Tensor4D | null = null, psdm: tf.Tensor4D | null = null;
      if (swap) {
        [pss, psd] = splitBatch(ds.image, ns);
        [pssm, psdm] = splitBatch(ds.mask, ns);
      }
      const ng = swapNoCodeGrad ? this.decoder_src.applyImage(stopGradient(code_dst)) : null;
      return {
        pred_src_src: pss, pred_src_srcm: pssm, pred_dst_dst: dd.image, pred_dst_dstm: dd.mask,
        pred_src_dst: psd, pred_src_dstm: psdm, pred_src_dst_no_code_grad: ng, code_src, code_dst,
      };
    });
  }
  predict(x: tf.Tensor4D, which: PredictWhich, trace?: Trace): DecoderOutput {
    return tidyAll(() => {
      const e = this.encoder.apply(x, prefixed(trace, 'encoder'));
      const code = this.inter.apply(e, prefixed(trace, 'inter'));
      const dec = which === 'dst_dst' ? this.decoder_dst : this.decoder_src;
      return dec.apply(code, prefixed(trace, dec.name));
    });
  }
  merge(dstFace: tf.Tensor4D): MergeOutputs {
    return tidyAll(() => {
      const code = this.inter.apply(this.encoder.apply(dstFace));
      const out = this.decoder_src.apply(code);
      return { face: out.image, faceMask: out.mask, dstMask: this.decoder_dst.applyMask(code) };
    });
  }
}

/**
 * LIAE (§A.6): src code = concat[AB(e_s), AB(e_s)], dst code = concat[B(e_d), AB(e_d)], swap code = concat[AB(e_d), AB(e_d)],
 * all decoded by the one decoder (in one batch here).
 */
class LiaeModel extends ModelBase implements SaehdModel {
  readonly type = 'liae' as const;
  constructor(options: ModelOptions, geometry: SaehdGeometry, encoder: Encoder, readonly inter_AB: Inter, readonly inter_B: Inter, readonly decoder: Decoder) {
    super(options, geometry, encoder);
  }
  protected moduleList() {
    return [this.encoder, this.inter_AB, this.inter_B, this.decoder];
  }
  protected interModules() {
    return [this.inter_AB, this.inter_B];
  }
  forwardSrcDst(src: tf.Tensor4D, dst: tf.Tensor4D, opts: ForwardOptions = {}): SrcDstOutputs {
    const { swap = true, swapNoCodeGrad = false } = opts;
    return tidyAll(() => {
      const ns = src.shape[0];
      const nd = dst.shape[0];
      const enc = this.encoder.apply(tf.concat([src, dst], 0));
      const [, encDst] = splitBatch(enc, ns);
      const [abSrc, abDst] = splitBatch(this.inter_AB.apply(enc), ns);
      const bDst = this.inter_B.apply(encDst);
      const code_src = tf.concat([abSrc, abSrc], 3);
      const code_dst = tf.concat([bDst, abDst], 3);
      const codeSwap = swap || swapNoCodeGrad ? tf.concat([abDst, abDst], 3) : null;
      const out = this.decoder.apply(tf.concat(swap ? [code_src, code_dst, codeSwap!] : [code_src, code_dst], 0));
      const sizes = swap ? [ns, nd, nd] : [ns, nd];
      const imgs = tf.split(out.image, sizes, 0) as tf.Tensor4D[];
      const msks = tf.split(out.mask, sizes, 0) as tf.Tensor4D[];
      const ng = swapNoCodeGrad ? this.decoder.applyImage(stopGradient(codeSwap!)) : null;
      return {
        pred_src_src: imgs[0], pred_src_srcm: msks[0], pred_dst_dst: imgs[1], pred_dst_dstm: msks[1],
        pred_src_dst: swap ? imgs[2] : null, pred_src_dstm: swap ? msks[2] : null,
        pred_src_dst_no_code_grad: ng, code_src, code_dst,
      };
    });
  }
  predict(x: tf.Tensor4D, which: PredictWhich, trace?: Trace): DecoderOutput {
    return tidyAll(() => {
      const e = this.encoder.apply(x, prefixed(trace, 'encoder'));
      const ab = this.inter_AB.apply(e, prefixed(trace, 'inter_AB'));
      // LIAE: src→src and the swap use the same code [AB, AB] for a given input; dst→dst uses [B, AB].
      const code = which === 'dst_dst' ? tf.concat([this.inter_B.apply(e, prefixed(trace, 'inter_B')), ab], 3) : tf.concat([ab, ab], 3);
      trace?.('code', code);
      return this.decoder.apply(code, prefixed(trace, 'decoder'));
    });
  }
  merge(dstFace: tf.Tensor4D): MergeOutputs {
    return tidyAll(() => {
      const e = this.encoder.apply(dstFace);
      const ab = this.inter_AB.apply(e);
      const out = this.decoder.apply(tf.concat([ab, ab], 3));
      const dstMask = this.decoder.applyMask(tf.concat([this.inter_B.apply(e), ab], 3));
      return { face: out.image, faceMask: out.mask, dstMask };
    });
  }
}

function prefixed(trace: Trace | undefined, prefix: string): Trace | undefined {
  return trace ? (name, t) => trace(`${prefix}/${name}`, t) : undefined;
}

// ---- weight file layout (§C.11) ------------------------------------------------------------------------------------------

/** Full TF variable name: `<module>/<key>`, e.g. `encoder/down1/downs_0/conv1/weight:0`. */
export function dflVariableName(module: ModuleName, key: string): string {
  return `${module}/${key}`;
}

/** Optimizer state key in `…_src_dst_opt.npy`: `ms_encoder/down1/downs_0/conv1/weight_0:0` (':' → '_', then ':0'). */
export function optimizerStateKey(slot: 'ms' | 'vs' | 'acc', module: ModuleName, key: string): string {
  return `${slot}_${dflVariableName(module, key).replace(/:/g, '_')}:0`;
}

/** `<name>_<Class>_<part>` with Class SAEHD (3 channels) or SAEHDBW (1 channel); weight parts end in .npy, data in .dat. */
export function modelFileName(modelName: string, channels: 1 | 3, part: ModuleName | 'src_dst_opt' | 'data' | 'summary'): string {
  const cls = channels === 1 ? 'SAEHDBW' : 'SAEHD';
  const ext = part === 'data' ? 'dat' : part === 'summary' ? 'txt' : 'npy';
  return `${modelName}_${cls}_${part}.${ext}`;
}

export interface WeightArray {
  shape: readonly number[];
  data: Float32Array;
}

export interface LoadReport {
  loaded: string[];
  /** Keys the module has but the file lacks; DFL keeps their fresh initialisation (§C.11). */
  missing: string[];
  /** Keys in the file that the module does not have (ignored). */
  unexpected: string[];
}

/** Assign a module's weights from DFL key → array (arrays are reshaped to the variable shape, as DFL does). */
export function loadModuleWeights(module: SaehdModule, arrays: ReadonlyMap<string, WeightArray>): LoadReport {
  const vars = module.variables();
  const report: LoadReport = { loaded: [], missing: [], unexpected: [] };
  for (const [key, v] of vars) {
    const a = arrays.get(key);
    if (!a) {
      report.missing.push(key);
      continue;
    }
    if (a.data.length !== v.size)
      throw new WeightsMismatchError(`${module.name}/${key} has ${a.data.length} values, the model expects ${v.size} (shape ${v.shape.join('×')}): the file belongs to a model with other options`);
    tf.tidy(() => v.assign(tf.tensor(a.data, v.shape, 'float32')));
    report.loaded.push(key);
  }
  for (const key of arrays.keys()) if (!vars.has(key)) report.unexpected.push(key);
  return report;
}

/** Read a module's weights (for saving in DFL's layout). */
export async function readModuleWeights(module: SaehdModule): Promise<Map<string, WeightArray>> {
  const out = new Map<string, WeightArray>();
  for (const [key, v] of module.variables()) out.set(key, { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
  return out;
}

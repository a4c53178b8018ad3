/**
 * The two optional SAEHD discriminators (spec §C.6, §C.7), built from the model's DFL layers (src/core/model/layers.ts:
 * symmetric padding, Glorot init, im2col filter gradient so they train on wasm too).
 *
 * - CodeDiscriminator (`true_face_power`, DF only; module `dis`, file `code_discriminator.npy`): n = 1 + code_res // 8
 *   stride-2 convs (`convs_i`, kernel 4 then 3, 256·min(2^i, 8) channels, leaky 0.1) and a 1×1 `out_conv` to one logit
 *   map (`core/leras/models/CodeDiscriminator.py`).
 * - UNetPatchDiscriminator (`gan_power`; module `D_src`, file `GAN.npy`): see `findPatchArchi` and `forward` below
 *   (`core/leras/models/PatchDiscriminator.py`, current DFL: no residual blocks, leaky 0.2, base = gan_dims).
 *
 * Choices where DFL is not reproduced exactly (documented, deliberate):
 * - Conv2DTranspose kernels are Glorot-uniform; DFL's Conv2DTranspose defaults to its convolution-aware (CA)
 *   initialiser. Only the starting point of the GAN discriminator differs; saved DFL weights load unchanged.
 * - A transposed conv is computed as zero-insertion + an ordinary conv with the flipped kernel (exactly TF's SAME
 *   conv2d_transpose), so its filter gradient also goes through the im2col path.
 * - When a skip connection is smaller than 2× the deeper map (odd sizes, possible only with more stride-2 layers than
 *   the resolution allows), DFL's graph fails to build; we crop the upsampled map to the skip's size instead.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2D, ParamStore, conv2dSym, type LayerContext } from '../model/layers.ts';

function newContext(module: string, seed: string | undefined): LayerContext {
  return { store: new ParamStore(module, seed, 'glorot'), cosAct: false };
}

/** Common surface of the trainer's auxiliary networks (mirrors the model modules: variables keyed by DFL names). */
export interface AuxNet {
  /** DFL module name, e.g. `dis` or `D_src`. */
  readonly name: string;
  variables(): Map<string, tf.Variable>;
  dispose(): void;
}

// ---- CodeDiscriminator (§C.6) -----------------------------------------------------------------------------------

export class CodeDiscriminator implements AuxNet {
  readonly name = 'dis';
  private readonly ctx: LayerContext;
  private readonly convs: Conv2D[] = [];
  private readonly outConv: Conv2D;

  /**
   * @param inCh code channels (ae_dims for DF)
   * @param codeRes spatial size of the Inter output: 2·L without the `t` flag, L with it (§C.6, DFL `inter.get_out_res()`)
   */
  constructor(inCh: number, codeRes: number, seed?: string, ch = 256) {
    this.ctx = newContext(this.name, seed);
    const n = 1 + Math.floor(codeRes / 8);
    let prev = inCh;
    for (let i = 0; i < n; i++) {
      const cur = ch * Math.min(2 ** i, 8);
      this.convs.push(new Conv2D(this.ctx, `convs_${i}`, prev, cur, i === 0 ? 4 : 3, 2));
      prev = cur;
    }
    this.outConv = new Conv2D(this.ctx, 'out_conv', prev, 1, 1);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let y = x;
      for (const c of this.convs) y = tf.leakyRelu(c.apply(y), 0.1);
      return this.outConv.apply(y);
    });
  }

  variables(): Map<string, tf.Variable> {
    return this.ctx.store.vars;
  }

  dispose(): void {
    this.ctx.store.dispose();
  }
}

// ---- UNet patch discriminator (§C.7) ------------------------------------------------------------------------------

export type PatchLayer = [kernel: number, stride: number];

/** Receptive field of a conv stack: k0 + Σ (k_i − 1)·Π(previous strides). */
export function receptiveField(layers: PatchLayer[]): number {
  let rf = 0;
  let ts = 1;
  layers.forEach(([k, s], i) => {
    rf = i === 0 ? k : rf + (k - 1) * ts;
    ts *= s;
  });
  return rf;
}

/**
 * DFL `UNetPatchDiscriminator.find_archi(target, max_layers = 9)`: all plans of 1…9 3×3 layers, the first with stride 2
 * and the others 1 or 2 (enumerated by a bit mask counting down, as DFL does); per receptive field keep the plan with
 * the fewest layers, then the larger total stride; return the plan whose receptive field is closest to the target
 * (the smaller one on a tie, like numpy's argmin over sorted keys).
 */
export function findPatchArchi(targetPatchSize: number, maxLayers = 9): PatchLayer[] {
  const best = new Map<number, { count: number; sumSt: number; layers: PatchLayer[] }>();
  for (let count = 1; count <= maxLayers; count++) {
    let val = 1 << (count - 1);
    for (;;) {
      val -= 1;
      const layers: PatchLayer[] = [[3, 2]];
      let sumSt = 2;
      for (let i = 0; i < count - 1; i++) {
        const st = 1 + ((val & (1 << i)) !== 0 ? 1 : 0);
        layers.push([3, st]);
        sumSt += st;
      }
      const rf = receptiveField(layers);
      const cur = best.get(rf);
      if (!cur || count < cur.count || (count === cur.count && sumSt > cur.sumSt)) best.set(rf, { count, sumSt, layers });
      if (val === 0) break;
    }
  }
  const keys = [...best.keys()].sort((a, b) => a - b);
  let q = keys[0];
  for (const k of keys) if (Math.abs(k - targetPatchSize) < Math.abs(q - targetPatchSize)) q = k;
  return best.get(q)!.layers;
}

/**
 * TF `conv2d_transpose(x, W[k,k,out,in], strides, 'SAME')` + bias, for k = 3 and stride 1 or 2.
 * TF's SAME for the matching forward conv (2H → H, k 3, stride 2) pads 0 before / 1 after, so
 * y[j] = Σ_{2i+k=j} x[i]·W[k]. Putting x at the odd positions of a zero-filled 2H grid turns that into an ordinary
 * stride-1 correlation with the spatially flipped kernel and symmetric padding 1, which conv2dSym provides.
 */
export class Conv2DTranspose {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(
    ctx: LayerContext,
    readonly name: string,
    readonly inCh: number,
    readonly outCh: number,
    readonly k: number,
    readonly stride: number,
  ) {
    if (k !== 3 || (stride !== 1 && stride !== 2)) throw new Error(`Conv2DTranspose: only k 3, stride 1|2 (got ${k}, ${stride})`);
    // DFL layout [k, k, out, in] (TF conv2d_transpose filter); Glorot fans as TF computes them for that shape.
    this.weight = ctx.store.weight(`${name}/weight:0`, [k, k, outCh, inCh], k * k * outCh, k * k * inCh);
    this.bias = ctx.store.bias(`${name}/bias:0`, outCh);
  }

  apply(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
    return tf.tidy(() => {
      // [k,k,out,in] → flipped HWIO [k,k,in,out]
      const w = tf.transpose(tf.reverse(this.weight, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      let z = x;
      if (this.stride === 2) {
        const [n, h, wd, c] = x.shape;
        const x6 = tf.reshape(x, [n, h, 1, wd, 1, c]);
        const a = tf.concat([tf.zerosLike(x6), x6], 4); // [n,h,1,w,2,c]: value at odd columns
        const b = tf.concat([tf.zerosLike(a), a], 2); // [n,h,2,w,2,c]: and odd rows
        z = tf.reshape(b, [n, 2 * h, 2 * wd, c]);
      }
      let y = tf.add(conv2dSym(z, w, 1), this.bias) as tf.Tensor4D;
      if (y.shape[1] !== outH || y.shape[2] !== outW) y = tf.slice(y, [0, 0, 0, 0], [y.shape[0], outH, outW, this.outCh]);
      return y;
    });
  }
}

export class UNetPatchDiscriminator implements AuxNet {
  readonly name = 'D_src';
  readonly layers: PatchLayer[];
  private readonly ctx: LayerContext;
  private readonly inConv: Conv2D;
  private readonly convs: Conv2D[] = [];
  /** Deepest first (DFL inserts at the front, so `upconvs_0` belongs to the deepest level). */
  private readonly upconvs: Conv2DTranspose[] = [];
  private readonly centerOut: Conv2D;
  private readonly centerConv: Conv2D;
  private readonly outConv: Conv2D;

  /** @param baseCh `gan_dims` (level −1 channels); level i has min(base·2^(i+1), 512). */
  constructor(patchSize: number, inCh: number, baseCh = 16, seed?: string) {
    this.ctx = newContext(this.name, seed);
    this.layers = findPatchArchi(patchSize);
    const L = this.layers.length;
    const level = (i: number) => Math.min(baseCh * 2 ** (i + 1), 512);
    this.inConv = new Conv2D(this.ctx, 'in_conv', inCh, level(-1), 1);
    const ups: Array<[number, number, number]> = [];
    this.layers.forEach(([k, s], i) => {
      this.convs.push(new Conv2D(this.ctx, `convs_${i}`, level(i - 1), level(i), k, s));
      ups.unshift([level(i) * (i !== L - 1 ? 2 : 1), level(i - 1), s]);
    });
    ups.forEach(([cin, cout, s], j) => this.upconvs.push(new Conv2DTranspose(this.ctx, `upconvs_${j}`, cin, cout, 3, s)));
    this.outConv = new Conv2D(this.ctx, 'out_conv', level(-1) * 2, 1, 1);
    this.centerOut = new Conv2D(this.ctx, 'center_out', level(L - 1), 1, 1);
    this.centerConv = new Conv2D(this.ctx, 'center_conv', level(L - 1), level(L - 1), 1);
  }

  /** Returns [centre logits, full-resolution logits] (DFL's (center_out, out_conv(x))). */
  apply(x: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    return tf.tidy(() => {
      let y = tf.leakyRelu(this.inConv.apply(x), 0.2);
      const encs: tf.Tensor4D[] = [];
      for (const c of this.convs) {
        encs.unshift(y);
        y = tf.leakyRelu(c.apply(y), 0.2);
      }
      const center = this.centerOut.apply(y);
      y = tf.leakyRelu(this.centerConv.apply(y), 0.2);
      this.upconvs.forEach((up, i) => {
        const enc = encs[i];
        y = tf.leakyRelu(up.apply(y, enc.shape[1], enc.shape[2]), 0.2);
        y = tf.concat([enc, y], 3);
      });
      return [center, this.outConv.apply(y)];
    });
  }

  variables(): Map<string, tf.Variable> {
    return this.ctx.store.vars;
  }

  dispose(): void {
    this.ctx.store.dispose();
  }
}

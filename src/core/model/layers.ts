/**
 * DeepFaceLab's `leras` building blocks in TF.js, NHWC (spec §A.2, §A.7, §A.8, §J.1).
 *
 * Why the custom pieces:
 *  - Convolutions pad ⌊k/2⌋ on all four sides and then run VALID (§A.2) — TF.js 'same' pads stride-2 convs
 *    asymmetrically (1 top, 2 bottom for k=5), which would shift every feature map and break weight compatibility.
 *  - `tf.depthToSpace` has no gradient in tfjs 4.22 (notes/webgpu-on-this-machine.md), so the pixel shuffle is a
 *    reshape/transpose in TensorFlow's DCR order (§A.8).
 *  - The conv filter gradient is computed as im2col + matMul inside a `tf.customGrad` (wasm has no
 *    Conv2DBackpropFilter kernel; WebGPU's is a slow naive shader). `setConvGradMode('stock')` switches back to the
 *    stock tf.conv2d gradient for comparisons and benchmarks.
 *  - There is no public `tf.stopGradient`; `stopGradient` below is an identity with a zero gradient.
 *
 * The union package is imported on purpose: it registers every op's gradient and the chained ops (tfjs-core alone
 * registers none, notes/webgpu-on-this-machine.md).
 */
import * as tf from '@tensorflow/tfjs';
import { webgpuFilterGrad, webgpuKernelsUsable, webgpuLeakyReluGrad, webgpuRotateKernel } from '../webgpu/webgpuKernels.ts';

export type ConvGradMode = 'im2col' | 'stock';
export type InitMode = 'glorot' | 'zeros';
/** Called with each block's output; used by tests and the CLI to check the layer table (§B.2). Must not keep the tensor. */
export type Trace = (name: string, t: tf.Tensor) => void;

let defaultConvGrad: ConvGradMode = 'im2col';
/** Global default for convolutions whose model was built without an explicit mode. */
export function setConvGradMode(mode: ConvGradMode): void {
  defaultConvGrad = mode;
}
export function getConvGradMode(): ConvGradMode {
  return defaultConvGrad;
}

// ---- ops --------------------------------------------------------------------------------------------------------------

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];
const symPad = (p: number): Pad4 => [[0, 0], [p, p], [p, p], [0, 0]];

/**
 * Largest im2col patch matrix (elements) built in one piece; larger ones are built per kernel row or per tap, so the
 * filter gradient of a 96²×64 conv at batch 6 does not need a 128 MB temporary.
 */
const IM2COL_MAX_ELEMENTS = 1 << 24;

/**
 * Split-K for the filter-gradient matmul (issue 8). patches^T · dy has a huge inner dimension (rows = N·Ho·Wo) and a
 * tiny output (k·k·Cin × Cout), so one matmul gives a GPU few output tiles to work on. Splitting the rows into S chunks
 * and running one batched matmul [S, K, Cout] followed by a sum over S gives S× more parallel work for the same FLOPs.
 * A number forces S (1 = unsplit); 'auto' picks S per backend from rows (see autoFilterGradSplit).
 * Default 1: on SwiftShader a split of 2 roughly halved the filter-gradient kernels of the tiny model but only matched
 * the stock kernel, and larger models were not measured; 'auto' is opt-in until a GPU run shows it pays.
 */
export type FilterGradSplit = number | 'auto';
let filterGradSplit: FilterGradSplit = 1;
export function setFilterGradSplit(split: FilterGradSplit): void {
  if (split !== 'auto' && !(Number.isInteger(split) && split >= 1)) throw new Error(`filter-gradient split must be a positive integer or 'auto', not ${split}`);
  filterGradSplit = split;
}
export function getFilterGradSplit(): FilterGradSplit {
  return filterGradSplit;
}

/** Rows per chunk that 'auto' aims for on WebGPU. */
const SPLIT_TARGET_ROWS = 4096;
/** Upper bound for 'auto': the [S, K, Cout] partial sums stay small next to the patches. */
const SPLIT_MAX = 64;

/**
 * S for 'auto': 1 off WebGPU (wasm and cpu run the matmul on the CPU, where a batched matmul only adds the partial-sum
 * pass); on WebGPU the power of two at or below rows / SPLIT_TARGET_ROWS (model rows N·H·W are multiples of it, so
 * no zero padding).
 */
export function autoFilterGradSplit(rows: number, backend: string = tf.getBackend()): number {
  if (backend !== 'webgpu') return 1;
  const want = Math.min(SPLIT_MAX, Math.floor(rows / SPLIT_TARGET_ROWS));
  return want < 2 ? 1 : 2 ** Math.floor(Math.log2(want));
}

/** The S actually used: a power of two (the partial sums are halved pairwise), at most rows. */
function resolveSplit(split: FilterGradSplit, rows: number): number {
  const want = Math.max(1, Math.min(split === 'auto' ? autoFilterGradSplit(rows) : split, rows));
  return 2 ** Math.floor(Math.log2(want));
}

/** a^T · b for a [rows, K], b [rows, Cout] as S (a power of two) row chunks, zero rows appended when S does not divide rows. */
function matMulTA(a: tf.Tensor2D, b: tf.Tensor2D, s: number): tf.Tensor2D {
  if (s <= 1) return tf.matMul(a, b, true, false);
  const [rows, ka] = a.shape;
  const co = b.shape[1];
  const chunk = Math.ceil(rows / s);
  const extra = s * chunk - rows;
  const ap = extra > 0 ? tf.pad(a, [[0, extra], [0, 0]]) : a;
  const bp = extra > 0 ? tf.pad(b, [[0, extra], [0, 0]]) : b;
  const partial = tf.matMul(tf.reshape(ap, [s, chunk, ka]), tf.reshape(bp, [s, chunk, co]), true, false);
  // The partial sums are added pairwise (halving S with slice + add), not by tf.sum(partial, 0) or a [1, S]·[S, K·Cout]
  // matmul: on WebGPU a reduction over the leading axis runs a transpose plus one workgroup per output, and a matmul
  // with one output row wastes 31 of 32 tile rows; both measured slower than the whole split matmul on SwiftShader.
  const m = ka * co;
  let p = tf.reshape(partial, [s, m]) as tf.Tensor2D;
  while (p.shape[0] > 1) {
    const h = p.shape[0] / 2; // S is a power of two (resolveSplit)
    p = tf.add(tf.slice(p, [0, 0], [h, m]), tf.slice(p, [h, 0], [h, m]));
  }
  return tf.reshape(p, [ka, co]);
}

/** dW[kh,kw,ci,co] = Σ_{n,y,x} xpad[n, y·s+kh, x·s+kw, ci] · dy[n,y,x,co], as patches^T · dy. */
export function im2colFilterGrad(
  x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number, pad: number, maxElements = IM2COL_MAX_ELEMENTS,
  split: FilterGradSplit = filterGradSplit,
): tf.Tensor4D {
  // On WebGPU one tiled kernel reads the patches straight from x (src/core/webgpu/webgpuKernels.ts, issue 8).
  if (webgpuKernelsUsable()) return webgpuFilterGrad(x, dy, k, stride, pad);
  return tf.tidy(() => {
    const [n, , , c] = x.shape;
    const [, ho, wo, co] = dy.shape;
    const rows = n * ho * wo;
    const s = resolveSplit(split, rows);
    const dy2 = tf.reshape(dy, [rows, co]) as tf.Tensor2D;
    if (k === 1 && stride === 1 && pad === 0) {
      return tf.reshape(matMulTA(tf.reshape(x, [rows, c]) as tf.Tensor2D, dy2, s), [1, 1, c, co]);
    }
    const xp = pad > 0 ? tf.pad(x, symPad(pad)) : x;
    const tap = (i: number, j: number): tf.Tensor4D =>
      stride === 1
        ? tf.slice(xp, [0, i, j, 0], [n, ho, wo, c])
        : tf.stridedSlice(xp, [0, i, j, 0], [n, i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1, c], [1, stride, stride, 1]) as tf.Tensor4D;
    // Column order (kh, kw, ci) matches the HWIO kernel flattened row-major.
    const grad = (taps: Array<[number, number]>): tf.Tensor2D => {
      const parts = taps.map(([i, j]) => tap(i, j));
      const cols = parts.length === 1 ? parts[0] : tf.concat(parts, 3);
      return matMulTA(tf.reshape(cols, [rows, taps.length * c]) as tf.Tensor2D, dy2, s);
    };
    const all: Array<[number, number]> = [];
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) all.push([i, j]);
    let dw: tf.Tensor2D;
    if (rows * k * k * c <= maxElements) dw = grad(all);
    else if (rows * k * c <= maxElements) {
      const perRow: tf.Tensor2D[] = [];
      for (let i = 0; i < k; i++) perRow.push(tf.tidy(() => grad(all.slice(i * k, (i + 1) * k))));
      dw = tf.concat(perRow, 0);
    } else {
      const perTap = all.map((t) => tf.tidy(() => grad([t])));
      dw = tf.concat(perTap, 0);
    }
    return tf.reshape(dw, [k, k, c, co]);
  });
}

let dxViaConv = true;
/**
 * Issue 8: the input gradient of a stride-1 'same' conv as a forward conv of dy with the kernel rotated 180° and its
 * channels swapped (one rotation dispatch), which runs on tfjs' matmul-based Conv2D instead of Conv2DBackpropInput.
 * Only where the custom WebGPU kernels run. On an H200 it cut the seed step's kernel time from 77.9 to 66.4 ms and the
 * step from 86.7 to 71.9 ms (bench/gpuNode.ts run 6); `false` keeps conv2dTranspose (variant `dx-stock`).
 */
export function setDxViaConv(on: boolean): void {
  dxViaConv = on;
}

/** dx of the DFL symmetric-pad conv (pad p each side): conv2dTranspose, or the rotated-kernel conv (setDxViaConv). */
function convInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: [number, number, number, number], stride: number, pad: number): tf.Tensor4D {
  const k = w.shape[0];
  if (dxViaConv && stride === 1 && k === 2 * pad + 1 && webgpuKernelsUsable()) {
    return tf.conv2d(dy, webgpuRotateKernel(w), 1, pad === 0 ? 'valid' : symPad(pad));
  }
  return tf.conv2dTranspose(dy, w, xShape, stride, pad === 0 ? 'valid' : symPad(pad));
}

const im2colConvCache = new Map<string, (x: tf.Tensor, w: tf.Tensor) => tf.Tensor4D>();

function im2colConv(stride: number, pad: number): (x: tf.Tensor, w: tf.Tensor) => tf.Tensor4D {
  const cacheKey = `${stride}/${pad}`;
  let f = im2colConvCache.get(cacheKey);
  if (!f) {
    const padArg = pad === 0 ? 'valid' : symPad(pad);
    f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, w, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
      save([x, w]);
      const value = tf.conv2d(x, w, stride, padArg);
      return {
        value,
        // tidy: customGrad calls this eagerly, outside the tape's per-node tidy, so free the patches right away.
        gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
            const dx = convInputGrad(dy, sw, sx.shape, stride, pad);
            const dw = im2colFilterGrad(sx, dy, sw.shape[0], stride, pad);
            return [dx, dw];
          }),
      };
    }) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor4D;
    im2colConvCache.set(cacheKey, f);
  }
  return f;
}

let fused = true;
/**
 * Issue 8 (memory): with `true` (default) and the im2col filter gradient, Conv2D's bias add and a following leaky ReLU
 * run inside the conv's customGrad, which keeps only the conv input, the kernel and the activated output for the
 * backward pass. The stock graph also keeps the pre-bias conv output (tfjs' Add saves both inputs, only for their
 * shapes) and the pre-activation sum (LeakyRelu saves its input); and the pixel shuffle's Reshape keeps its input only
 * for its shape. Same ops in the same order, so the numbers are identical; `false` restores the unfused graph for
 * before/after measurements (bench/memory.ts) and tests.
 */
export function setFusedLayers(on: boolean): void {
  fused = on;
}
export function getFusedLayers(): boolean {
  return fused;
}

/**
 * dy·(y > 0 ? 1 : slope) from the activated output y: tfjs' LeakyRelu gradient (where(x > 0, dy, dy·slope); with slope
 * > 0 the output has the sign of the input). One WebGPU dispatch instead of three where the custom kernels run.
 */
function leakyReluGrad(dy: tf.Tensor, y: tf.Tensor, slope: number): tf.Tensor {
  if (webgpuKernelsUsable()) return webgpuLeakyReluGrad(dy, y, slope);
  return tf.where(tf.greater(y, 0), dy, tf.mul(dy, slope));
}

const fusedConvCache = new Map<string, (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor4D>();

/** conv (im2col filter gradient) + bias, then leaky ReLU with `slope` unless it is null; one tape node. */
function fusedConv(stride: number, pad: number, slope: number | null): (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor4D {
  const cacheKey = `${stride}/${pad}/${slope}`;
  let f = fusedConvCache.get(cacheKey);
  if (!f) {
    const padArg = pad === 0 ? 'valid' : symPad(pad);
    f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, w, b, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
      const z = tf.add(tf.conv2d(x, w, stride, padArg), b) as tf.Tensor4D;
      const value = slope === null ? z : tf.leakyRelu(z, slope);
      save([x, w, value]);
      return {
        value,
        gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const [sx, sw, sy] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
            // tfjs' LeakyRelu gradient selects on x > 0; with slope > 0 the output has the sign of the input.
            const dz = slope === null ? dy : (leakyReluGrad(dy, sy, slope) as tf.Tensor4D);
            const db = tf.reshape(tf.sum(dz, [0, 1, 2]), [sw.shape[3]]);
            const dx = convInputGrad(dz, sw, sx.shape, stride, pad);
            const dw = im2colFilterGrad(sx, dz, sw.shape[0], stride, pad);
            return [dx, dw, db];
          }),
      };
    }) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor4D;
    fusedConvCache.set(cacheKey, f);
  }
  return f;
}

const addLeakyCache = new Map<number, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor4D>();
/**
 * leakyRelu(a + b, slope) for same-shape a, b as one tape node that keeps only its output (the stock pair keeps a, b
 * and the sum; see setFusedLayers). Gradient: dy where the output is > 0, dy·slope elsewhere, for both inputs.
 */
function addLeakyRelu(a: tf.Tensor4D, b: tf.Tensor4D, slope: number): tf.Tensor4D {
  let f = addLeakyCache.get(slope);
  if (!f) {
    f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, y, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const value = tf.leakyRelu(tf.add(x, y), slope);
      save([value]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const dz = tf.tidy(() => leakyReluGrad(dy, saved[0], slope));
          return [dz, tf.clone(dz)];
        },
      };
    }) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor4D;
    addLeakyCache.set(slope, f);
  }
  return f(a, b);
}

/**
 * DFL convolution without bias: symmetric zero padding ⌊k/2⌋ (= ((k−1)·dilation+1)//2 for dilation 1) then VALID
 * (§A.2, §A.8). `mode` picks the filter-gradient implementation; the forward result is the same.
 */
export function conv2dSym(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, mode: ConvGradMode = defaultConvGrad): tf.Tensor4D {
  const pad = Math.floor(w.shape[0] / 2);
  if (mode === 'stock') return tf.conv2d(x, w, stride, pad === 0 ? 'valid' : symPad(pad));
  return im2colConv(stride, pad)(x, w);
}

/**
 * Depth-to-space ×2 in TensorFlow's DCR order (§A.8): out[y·2+dy, x·2+dx, k] = in[y, x, (dy·2+dx)·C + k].
 * Built from reshape/transpose because tf.depthToSpace has no gradient in tfjs.
 */
export function depthToSpace2(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (c % 4 !== 0) throw new Error(`depthToSpace2: channels ${c} not divisible by 4`);
  const shuffle = (t: tf.Tensor) =>
    tf.reshape(tf.transpose(tf.reshape(t, [b, h, w, 2, 2, c / 4]), [0, 1, 3, 2, 4, 5]), [b, 2 * h, 2 * w, c / 4]) as tf.Tensor4D;
  if (!fused) return tf.tidy(() => shuffle(x));
  // A permutation: its gradient is the inverse permutation of dy, so nothing is saved (the stock Reshape gradient
  // keeps its input alive only for the shape, see setFusedLayers). The transpose is its own inverse.
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: shuffle(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) =>
      tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(dy, [b, h, 2, w, 2, c / 4]), [0, 1, 3, 2, 4, 5]), [b, h, w, c])),
  }));
  return op(x) as tf.Tensor4D;
}

/** DFL `nn.flatten` in NHWC: transpose to NCHW first, so the vector is ordered (channel, row, column) (§A.8). */
export function flattenCHW(x: tf.Tensor4D): tf.Tensor2D {
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [b, c * h * w]));
}

/** DFL `nn.reshape_4D` in NHWC: read the vector as (channel, row, column), then transpose to NHWC (§A.8). */
export function reshapeCHW(x: tf.Tensor2D, h: number, w: number, c: number): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.reshape(x, [x.shape[0], c, h, w]), [0, 2, 3, 1]));
}

/** `u` flag: x / sqrt(mean(x²) + 1e-6) over the flattened code of each sample (§A.3, §J.1 #3). */
export function pixelNorm(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-6))));
}

/** Leaky ReLU with DFL's slope, or x·cos(x) with the `c` flag (§A.1). */
export function activate<T extends tf.Tensor>(x: T, slope: number, cosAct: boolean): T {
  return cosAct ? tf.tidy(() => tf.mul(x, tf.cos(x))) : tf.leakyRelu(x, slope);
}

const stopGradientOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)],
}));
/** Identity whose gradient is zero (TF's tf.stop_gradient; DFL uses it for the style-loss swap, §C.4). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}

/** tf.tidy for functions returning an object/array of tensors (may contain nulls), keeping the static type. */
export function tidyAll<T>(fn: () => T): T {
  return tf.tidy(fn as () => tf.TensorContainer) as T;
}

// ---- parameters -------------------------------------------------------------------------------------------------------

interface InitRecord {
  shape: number[];
  /** Glorot-uniform limit; 0 = zeros (biases). */
  limit: number;
}

let storeCounter = 0;

/**
 * The variables of one DFL module ("encoder", "inter", "decoder_src", …), keyed by the names DFL writes into the
 * module's weight file (§C.11), e.g. `down1/downs_0/conv1/weight:0`.
 *
 * Initialisation (§A.7): kernels Glorot-uniform with limit sqrt(6/(fan_in+fan_out)), fan = k·k·in / k·k·out for convs
 * and in / out for dense; biases zero. With a seed every variable draws from its own stream
 * `${seed}/${module}/${key}`, so the values do not depend on creation order and two models with the same seed and
 * options are identical.
 */
export class ParamStore {
  readonly vars = new Map<string, tf.Variable>();
  private readonly inits = new Map<string, InitRecord>();
  private readonly tfPrefix: string;

  constructor(
    readonly module: string,
    private seed: string | undefined,
    private readonly init: InitMode,
  ) {
    // tfjs keeps one global registry of variable names; make ours unique per store.
    const registered = tf.engine().registeredVariables;
    do this.tfPrefix = `saehd${++storeCounter}/${module}`;
    while (Object.keys(registered).some((n) => n.startsWith(this.tfPrefix + '/')));
  }

  weight(key: string, shape: number[], fanIn: number, fanOut: number): tf.Variable {
    return this.add(key, { shape, limit: Math.sqrt(6 / (fanIn + fanOut)) });
  }

  bias(key: string, n: number): tf.Variable {
    return this.add(key, { shape: [n], limit: 0 });
  }

  private add(key: string, rec: InitRecord): tf.Variable {
    if (this.vars.has(key)) throw new Error(`duplicate variable ${this.module}/${key}`);
    const v = tf.tidy(() => tf.variable(this.initialValue(key, rec), true, `${this.tfPrefix}/${key.replace(/:\d+$/, '')}`));
    this.vars.set(key, v);
    this.inits.set(key, rec);
    return v;
  }

  private initialValue(key: string, rec: InitRecord): tf.Tensor {
    if (rec.limit === 0 || this.init === 'zeros') return tf.zeros(rec.shape);
    const s = this.seed === undefined ? undefined : `${this.seed}/${this.module}/${key}`;
    return tf.randomUniform(rec.shape, -rec.limit, rec.limit, 'float32', s);
  }

  /** Re-draw every variable (e.g. the Inter blocks when pretraining is switched off, §A.7/§C.9). */
  reinitialize(seed?: number | string): void {
    this.seed = seed === undefined ? undefined : String(seed);
    for (const [key, v] of this.vars) {
      const rec = this.inits.get(key)!;
      tf.tidy(() => v.assign(this.initialValue(key, rec)));
    }
  }

  paramCount(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** Options shared by every layer of one model. */
export interface LayerContext {
  store: ParamStore;
  /** `c` flag: x·cos(x) instead of leaky ReLU. */
  cosAct: boolean;
  /** Filter-gradient implementation; undefined = the global default at call time. */
  convGrad?: ConvGradMode;
}

// ---- layers -------------------------------------------------------------------------------------------------------

/** DFL Conv2D: kernel [k,k,in,out] (HWIO), bias [out], symmetric padding (§A.2, §A.8). Variables `<name>/weight:0`, `<name>/bias:0`. */
export class Conv2D {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(
    private readonly ctx: LayerContext,
    readonly name: string,
    readonly inCh: number,
    readonly outCh: number,
    readonly k: number,
    readonly stride = 1,
  ) {
    this.weight = ctx.store.weight(`${name}/weight:0`, [k, k, inCh, outCh], k * k * inCh, k * k * outCh);
    this.bias = ctx.store.bias(`${name}/bias:0`, outCh);
  }
  apply(x: tf.Tensor4D): tf.Tensor4D {
    const mode = this.ctx.convGrad ?? defaultConvGrad;
    if (fused && mode === 'im2col') return fusedConv(this.stride, Math.floor(this.k / 2), null)(x, this.weight, this.bias);
    return tf.tidy(() => tf.add(conv2dSym(x, this.weight as tf.Tensor4D, this.stride, mode), this.bias));
  }
  /** activate(apply(x), slope, cosAct), with bias and leaky ReLU fused into the conv's gradient node when possible. */
  applyAct(x: tf.Tensor4D, slope: number, cosAct: boolean): tf.Tensor4D {
    const mode = this.ctx.convGrad ?? defaultConvGrad;
    if (fused && mode === 'im2col' && !cosAct && slope > 0)
      return fusedConv(this.stride, Math.floor(this.k / 2), slope)(x, this.weight, this.bias);
    return tf.tidy(() => activate(this.apply(x), slope, cosAct));
  }
}

/** DFL Dense: weight [in,out], bias [out]; Glorot-uniform (§A.7). No activation (Inter's dense layers are linear, §A.2). */
export class Dense {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(ctx: LayerContext, readonly name: string, readonly inCh: number, readonly outCh: number) {
    this.weight = ctx.store.weight(`${name}/weight:0`, [inCh, outCh], inCh, outCh);
    this.bias = ctx.store.bias(`${name}/bias:0`, outCh);
  }
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(x, this.weight as tf.Tensor2D), this.bias));
  }
}

/** Downscale(in, out, k=5): conv k×k stride 2, leaky ReLU 0.1 (§A.2). Conv at `<name>/conv1`. */
export class Downscale {
  readonly conv1: Conv2D;
  constructor(private readonly ctx: LayerContext, readonly name: string, inCh: number, readonly outCh: number, k = 5) {
    this.conv1 = new Conv2D(ctx, `${name}/conv1`, inCh, outCh, k, 2);
  }
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return this.conv1.applyAct(x, 0.1, this.ctx.cosAct);
  }
}

/** DownscaleBlock(in, ch, n, k): n Downscales `<name>/downs_i`, stage i with ch·min(2^i, 8) channels (§A.2). */
export class DownscaleBlock {
  readonly downs: Downscale[] = [];
  readonly outCh: number;
  constructor(ctx: LayerContext, readonly name: string, inCh: number, ch: number, n: number, k: number) {
    let last = inCh;
    for (let i = 0; i < n; i++) {
      const cur = ch * Math.min(2 ** i, 8);
      this.downs.push(new Downscale(ctx, `${name}/downs_${i}`, last, cur, k));
      last = cur;
    }
    this.outCh = last;
  }
  apply(x: tf.Tensor4D, trace?: Trace): tf.Tensor4D {
    return tf.tidy(() => {
      let y = x;
      for (const d of this.downs) {
        y = d.apply(y);
        trace?.(d.name, y);
      }
      return y;
    });
  }
}

/** Upscale(in, out, k=3): conv in→4·out, leaky ReLU 0.1, depth-to-space ×2 (§A.2). Conv at `<name>/conv1`. */
export class Upscale {
  readonly conv1: Conv2D;
  constructor(private readonly ctx: LayerContext, readonly name: string, inCh: number, readonly outCh: number, k = 3) {
    this.conv1 = new Conv2D(ctx, `${name}/conv1`, inCh, outCh * 4, k);
  }
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => depthToSpace2(this.conv1.applyAct(x, 0.1, this.ctx.cosAct)));
  }
}

/** ResidualBlock(ch, k=3): y = act(conv1 x, 0.2); y = conv2 y; out = act(x + y, 0.2) (§A.2). */
export class ResidualBlock {
  readonly conv1: Conv2D;
  readonly conv2: Conv2D;
  constructor(private readonly ctx: LayerContext, readonly name: string, ch: number, k = 3) {
    this.conv1 = new Conv2D(ctx, `${name}/conv1`, ch, ch, k);
    this.conv2 = new Conv2D(ctx, `${name}/conv2`, ch, ch, k);
  }
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = this.conv2.apply(this.conv1.applyAct(x, 0.2, this.ctx.cosAct));
      if (fused && !this.ctx.cosAct) return addLeakyRelu(x, y, 0.2);
      return activate(tf.add(x, y), 0.2, this.ctx.cosAct);
    });
  }
}

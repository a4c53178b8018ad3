/**
 * Faster wasm kernels for the two backward-pass hot spots of SAEHD training, installed over tfjs-backend-wasm 4.22's
 * own (kernel registry wrappers; the maths is unchanged):
 *
 *  - BatchMatMul with transposeA / transposeB: the wasm kernel is 4–10× slower with a transposed operand than on
 *    plain operands (measured here: [4096×288]ᵀ·[4096×128] 207 ms vs 28 ms for an explicit Transpose + MatMul). The
 *    im2col filter gradient (patchesᵀ·dy, model/layers.ts) and every dense layer's gradients use transposed operands.
 *  - Conv2DBackpropInput (dx of a conv, also `conv2dTranspose`): about 10× slower than the XNNPACK forward conv
 *    (194 ms vs 20 ms for a 3×3 32→128 conv at 32², batch 4). For the convs the model uses (odd k×k, symmetric padding
 *    ⌊k/2⌋, §A.2) dx is a forward conv of dy with the kernel rotated by 180° and its in/out channels swapped; with
 *    stride 2 (the encoder's Downscale, even input size) dy is first spread onto the input grid with zeros between.
 *    Any other configuration (the loss blurs' k×1 kernels, the GAN's 4×4 transposed convs) uses the stock kernel.
 *
 * dx comes out bit-identical to the stock kernel in the cases checked (tests/unit/cliTrain.test.ts); the matmul
 * differs by float rounding (about 1e-7 relative). On this 2-core box one Quick-test step went from about 2.5 s to
 * 1.4 s and one DF-UD 128-128-64-64-22 batch-4 step from about 240 s to 37 s.
 * Candidate for src/core/train/backend.ts so the page's wasm fallback gets it too (the owner of that file decides).
 */
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
/** The subset of the wasm backend a kernel wrapper touches. */
interface WasmBackendLike {
  disposeData(dataId: object): void;
}
interface KernelArgs {
  inputs: Record<string, Info>;
  backend: WasmBackendLike;
  attrs: Record<string, unknown>;
}
type Kernel = (args: KernelArgs) => Info;

let installed = false;

/** True when the wrappers are in place. */
export function fastWasmKernelsInstalled(): boolean {
  return installed;
}

/** Install the wrappers (idempotent). Call after importing '@tensorflow/tfjs-backend-wasm', before or after setBackend. */
export function installFastWasmKernels(): void {
  if (installed) return;
  const kernel = (name: string): { fn: Kernel; config: tf.KernelConfig } => {
    const config = tf.getKernel(name, 'wasm');
    if (!config) throw new Error(`wasm kernel ${name} is not registered (import @tensorflow/tfjs-backend-wasm first)`);
    return { fn: config.kernelFunc as unknown as Kernel, config };
  };
  const matMul = kernel('BatchMatMul');
  const transpose = kernel('Transpose').fn;
  const conv2d = kernel('Conv2D').fn;
  const reverse = kernel('Reverse').fn;
  const reshape = kernel('Reshape').fn;
  const pad = kernel('PadV2').fn;
  const backpropInput = kernel('Conv2DBackpropInput');

  const replace = (old: { config: tf.KernelConfig }, kernelFunc: Kernel) => {
    tf.unregisterKernel(old.config.kernelName, 'wasm');
    tf.registerKernel({ ...old.config, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  };

  replace(matMul, (args) => {
    const { a, b } = args.inputs;
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return matMul.fn(args);
    const temps: Info[] = [];
    const swapLast = (x: Info) => {
      const r = x.shape.length;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      const t = transpose({ inputs: { x }, backend: args.backend, attrs: { perm } });
      temps.push(t);
      return t;
    };
    try {
      return matMul.fn({
        inputs: { a: transposeA ? swapLast(a) : a, b: transposeB ? swapLast(b) : b },
        backend: args.backend,
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of temps) args.backend.disposeData(t.dataId);
    }
  });

  replace(backpropInput, (args) => {
    const { dy, filter } = args.inputs;
    const { strides, pad: padding, dataFormat, dimRoundingMode, inputShape } = args.attrs as {
      strides: number | [number, number];
      pad: 'valid' | 'same' | number | number[][];
      dataFormat?: string;
      dimRoundingMode?: string;
      inputShape: number[];
    };
    const [sh, sw] = Array.isArray(strides) ? strides : [strides, strides];
    const [kh, kw] = filter.shape;
    const p = (kh - 1) / 2;
    const symmetric =
      Array.isArray(padding) && padding[1][0] === p && padding[1][1] === p && padding[2][0] === p && padding[2][1] === p;
    const squareOdd = kh === kw && kh % 2 === 1 && (dataFormat ?? 'NHWC') === 'NHWC' && dy.shape.length === 4;
    const stride1 = sh === 1 && sw === 1 && (symmetric || padding === 'same' || (padding === 'valid' && kh === 1));
    const stride2 = sh === 2 && sw === 2 && symmetric && inputShape[1] === 2 * dy.shape[1] && inputShape[2] === 2 * dy.shape[2];
    if (!squareOdd || !(stride1 || stride2)) return backpropInput.fn(args);
    const backend = args.backend;
    const temps: Info[] = [];
    const keep = (t: Info) => (temps.push(t), t);
    try {
      // W'[i, j, co, ci] = W[k−1−i, k−1−j, ci, co].
      const flipped = keep(transpose({ inputs: { x: keep(reverse({ inputs: { x: filter }, backend, attrs: { dims: [0, 1] } })) }, backend, attrs: { perm: [0, 1, 3, 2] } }));
      let x = dy;
      if (stride2) {
        // dy[n, y, x, c] → z[n, 2y, 2x, c], zeros elsewhere; with pad ⌊k/2⌋ both sides the conv lands on the input grid.
        const [n, ho, wo, co] = dy.shape;
        const d6 = keep(reshape({ inputs: { x: dy }, backend, attrs: { shape: [n, ho, 1, wo, 1, co] } }));
        const padded = keep(pad({ inputs: { x: d6 }, backend, attrs: { paddings: [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]], constantValue: 0 } }));
        x = keep(reshape({ inputs: { x: padded }, backend, attrs: { shape: [n, 2 * ho, 2 * wo, co] } }));
      }
      const out = conv2d({ inputs: { x, filter: flipped }, backend, attrs: { strides: 1, pad: padding, dataFormat: 'NHWC', dilations: 1, dimRoundingMode } });
      if (out.shape.some((d, i) => d !== inputShape[i])) {
        backend.disposeData(out.dataId);
        return backpropInput.fn(args);
      }
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  });
  installed = true;
}

/**
 * Custom WebGPU kernels for the training step (issue 8, "Speed"), used only on tfjs' webgpu backend; every other
 * backend keeps the plain tfjs ops they replace, and so does webgpu with `setWebgpuKernels('off')` or on a software
 * adapter (see the mode below).
 *
 * 1. `SaehdConv2DFilterGrad`: the convolution weight gradient dW[kh,kw,ci,co] = Σ_{n,y,x} x[n, y·s+kh−p, x·s+kw−p, ci] ·
 *    dy[n,y,x,co] as one tiled matrix product (patches^T · dy) that reads the patches straight from x (implicit im2col,
 *    zero padding by bounds checks) instead of materialising them with k² slices + concat + pad. The row dimension
 *    (N·Ho·Wo, up to 55,296 for the seed model) is split across workgroups (split-K) so that a small output (k²·Cin ×
 *    Cout) still fills the GPU; a second kernel adds the S partial products. On an H200 the im2col version spent 99.5 ms
 *    of 173 ms kernel time per seed step in these ops, over ~600 dispatches (bench/gpuNode.ts, run 1).
 * 2. Uploads (`installFastUploads`): tfjs writes every CPU tensor (batch, constants, scalars) through a staging
 *    buffer it creates mapped, copies from and destroys each time; on an H200 those creations alone took ~33 ms of the
 *    main thread per seed step (CPU profile, bench/gpuNode.ts --cpu-profile). queue.writeBuffer into a pooled buffer
 *    does the same job with no new buffer and without breaking the compute pass.
 * 3. The optimizer update (§C.8 AdaBelief / RMSprop, see optimizers.ts for the formulas) as one in-place dispatch per
 *    weight: w, m, v (or acc) are read and written in their own buffers, instead of ~13 elementwise ops per weight that
 *    each allocate a full-size temporary. The op path is ~1,700 of the seed step's ~3,900 dispatches.
 * 4. Sum / Mean gradients that broadcast dy instead of uploading a `ones` array (registerLeanReductionGrads), the
 *    leaky-ReLU backward in one dispatch, and the kernel rotation that lets layers.ts compute stride-1 input gradients
 *    with tfjs' forward Conv2D.
 *
 * Each follows the plain ops' float32 arithmetic operation by operation (same constants, same order), so results match
 * them within float32 rounding (a GPU compiler may contract a·b+c into one fused multiply-add); the tests compare
 * them on random inputs (tests/e2e/webgpuKernels.spec.ts in the browser, bench/gpuNode.ts `checks` on a real GPU).
 * Seed step on an H200 (bench/gpuNode.ts): 431 ms with the ops, 79–83 ms with all of the above, 1,224 ms stock tfjs.
 *
 * They use tfjs-backend-webgpu 4.22 internals (the backend's device, tensorMap, command encoder and runWebGPUProgram);
 * `webgpuKernelsUsable` checks for them, and without them the ops path runs.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * 'auto' (default): on hardware adapters only. On a software adapter (SwiftShader, lavapipe) every lane of the tiled
 * filter-gradient kernel costs CPU time, and its 64×64 tiles waste most lanes on the small layers (measured 1.3 s
 * against 0.24 s for tfjs' own kernel on the tiny model); the app trains on wasm there anyway (backend.ts).
 * 'on' forces the kernels (the browser test runs them on SwiftShader), 'off' keeps the tfjs ops.
 */
export type WebgpuKernelMode = 'auto' | 'on' | 'off';
let mode: WebgpuKernelMode = 'auto';
/** true = 'on', false = 'off', or a mode. */
export function setWebgpuKernels(m: WebgpuKernelMode | boolean): void {
  mode = m === true ? 'on' : m === false ? 'off' : m;
}
export function getWebgpuKernels(): WebgpuKernelMode {
  return mode;
}

// ---- tfjs-backend-webgpu internals, as far as this module relies on them -------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any */
type GpuAny = any;

interface TensorDataLike {
  values: unknown;
  resource?: GpuAny;
  dtype: string;
  shape: number[];
}

interface WebgpuBackendLike {
  device: GpuAny;
  queue: GpuAny;
  bufferManager: { acquireBuffer(size: number, usage: number): GpuAny };
  tensorMap: { get(id: unknown): TensorDataLike };
  uploadToGPU(id: unknown): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: GpuAny;
  commandQueueOwnedIds: { add(id: unknown): void };
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: string, uniforms?: Array<{ type: string; data: number[] }>): tf.TensorInfo;
  disposeData(id: unknown, force?: boolean): boolean;
}

function webgpuBackend(): WebgpuBackendLike | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const b = tf.backend() as unknown as Partial<WebgpuBackendLike>;
  const ok = b.device && b.tensorMap && typeof b.uploadToGPU === 'function' && typeof b.runWebGPUProgram === 'function' &&
    typeof b.ensureCommandEncoderReady === 'function' && typeof b.submitQueue === 'function' && typeof b.endComputePassEncoder === 'function';
  return ok ? (b as WebgpuBackendLike) : null;
}

/** A software WebGPU adapter (adapter info as tfjs keeps it). */
function softwareAdapter(b: unknown): boolean {
  const info = (b as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  const text = `${info?.vendor ?? ''} ${info?.architecture ?? ''}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe/.test(text);
}

/** Whether the custom kernels run now: the mode allows them, on the webgpu backend, with the internals they need. */
export function webgpuKernelsUsable(): boolean {
  if (mode === 'off') return false;
  const b = webgpuBackend();
  return b !== null && (mode === 'on' || !softwareAdapter(b));
}

/** Run one of this module's kernels through the engine (so tf.profile and tensor tracking see it), registering it on first use. */
const registeredKernels = new Set<string>();
function runCustomKernel(name: string, kernelFunc: tf.KernelFunc, inputs: Record<string, tf.Tensor>, attrs: Record<string, number>): tf.Tensor | tf.Tensor[] {
  if (!registeredKernels.has(name)) {
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc });
    registeredKernels.add(name);
  }
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}

// ---- 1. conv filter gradient -------------------------------------------------------------------------------------

const FG_KERNEL = 'SaehdConv2DFilterGrad';
/** Output tile (k²·Cin × Cout) per workgroup, threads per workgroup (16×16, 4×4 outputs each), rows per step. */
const TILE = 64;
const TILE_ROWS = 16;
/** Split-K aims for at least this many workgroups, with at least MIN_ROWS_PER_SPLIT rows each. */
const TARGET_WORKGROUPS = 1024;
const MIN_ROWS_PER_SPLIT = 256;

/** S for a filter gradient: enough row chunks to reach TARGET_WORKGROUPS, each at least MIN_ROWS_PER_SPLIT rows. */
export function filterGradSplits(rows: number, kRows: number, cout: number): number {
  const tiles = Math.ceil(kRows / TILE) * Math.ceil(cout / TILE);
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(rows / MIN_ROWS_PER_SPLIT), 256));
}

function filterGradProgram(outShape: [number, number, number]) {
  return {
    variableNames: ['x', 'dy'],
    uniforms: 'k : i32, stride : i32, pad : i32, rowsPerSplit : i32, steps : i32,',
    outputShape: outShape,
    // The dispatch is set by hand; the layout only satisfies the program interface (no output-coordinate helpers used).
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [Math.ceil(outShape[2] / TILE), Math.ceil(outShape[1] / TILE), outShape[0]] as [number, number, number],
    workgroupSize: [16, 16, 1] as [number, number, number],
    shaderKey: 'saehdFilterGrad',
    getUserCode: () => `
      var<workgroup> tileA : array<array<f32, ${TILE}>, ${TILE_ROWS}>;
      var<workgroup> tileB : array<array<f32, ${TILE}>, ${TILE_ROWS}>;
      fn main() {
        let H = uniforms.xShape[1];
        let W = uniforms.xShape[2];
        let C = uniforms.xShape[3];
        let Ho = uniforms.dyShape[1];
        let Wo = uniforms.dyShape[2];
        let Co = uniforms.dyShape[3];
        let K = uniforms.outShape[1];
        let rows = uniforms.dyShape[0] * Ho * Wo;
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let lid = ty * 16 + tx;
        let k0 = i32(workgroupId.y) * ${TILE};
        let c0 = i32(workgroupId.x) * ${TILE};
        let split = i32(workgroupId.z);
        let rBegin = split * uniforms.rowsPerSplit;
        let rEnd = min(rows, rBegin + uniforms.rowsPerSplit);
        var acc : array<array<f32, 4>, 4>;
        for (var i = 0; i < 4; i++) { for (var j = 0; j < 4; j++) { acc[i][j] = 0.0; } }
        // The step count is a uniform, so the barriers stay in uniform control flow.
        for (var step = 0; step < uniforms.steps; step++) {
          let rb = rBegin + step * ${TILE_ROWS};
          for (var e = 0; e < ${(TILE * TILE_ROWS) / 256}; e++) {
            let idx = lid + e * 256;
            let rr = idx / ${TILE};
            let col = idx % ${TILE};
            let r = rb + rr;
            let kk = k0 + col;
            var a = 0.0;
            if (r < rEnd && kk < K) {
              let ci = kk % C;
              let t = kk / C;
              let kw = t % uniforms.k;
              let kh = t / uniforms.k;
              let ox = r % Wo;
              let t2 = r / Wo;
              let oy = t2 % Ho;
              let n = t2 / Ho;
              let iy = oy * uniforms.stride + kh - uniforms.pad;
              let ix = ox * uniforms.stride + kw - uniforms.pad;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) { a = x[((n * H + iy) * W + ix) * C + ci]; }
            }
            tileA[rr][col] = a;
            let co = c0 + col;
            var b = 0.0;
            if (r < rEnd && co < Co) { b = dy[r * Co + co]; }
            tileB[rr][col] = b;
          }
          workgroupBarrier();
          for (var rr = 0; rr < ${TILE_ROWS}; rr++) {
            var av : array<f32, 4>;
            var bv : array<f32, 4>;
            for (var i = 0; i < 4; i++) { av[i] = tileA[rr][ty + 16 * i]; bv[i] = tileB[rr][tx + 16 * i]; }
            for (var i = 0; i < 4; i++) { for (var j = 0; j < 4; j++) { acc[i][j] = acc[i][j] + av[i] * bv[j]; } }
          }
          workgroupBarrier();
        }
        for (var i = 0; i < 4; i++) {
          let kk = k0 + ty + 16 * i;
          for (var j = 0; j < 4; j++) {
            let co = c0 + tx + 16 * j;
            if (kk < K && co < Co) { result[(split * K + kk) * Co + co] = acc[i][j]; }
          }
        }
      }`,
  };
}

/** out[i] = Σ_s partial[s, i] over the S row chunks, in chunk order. */
function splitSumProgram(size: number, splits: number) {
  return {
    variableNames: ['partial'],
    uniforms: 'splits : i32,',
    outputShape: [size],
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(size / 256), 1, 1] as [number, number, number],
    workgroupSize: [256, 1, 1] as [number, number, number],
    size: true,
    shaderKey: `saehdSplitSum`,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var s = partial[index];
          for (var j = 1; j < uniforms.splits; j++) { s = s + partial[j * uniforms.size + index]; }
          result[index] = s;
        }
      }`,
    splits,
  };
}

interface FilterGradAttrs {
  k: number;
  stride: number;
  pad: number;
  [key: string]: number;
}

const filterGradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WebgpuBackendLike;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { k, stride, pad } = attrs as unknown as FilterGradAttrs;
  const [n, , , c] = x.shape;
  const [, ho, wo, co] = dy.shape;
  const rows = n * ho * wo;
  const kRows = k * k * c;
  const s = filterGradSplits(rows, kRows, co);
  const rowsPerSplit = Math.ceil(rows / s / TILE_ROWS) * TILE_ROWS;
  const splits = Math.ceil(rows / rowsPerSplit);
  const uniforms = [
    { type: 'int32', data: [k] },
    { type: 'int32', data: [stride] },
    { type: 'int32', data: [pad] },
    { type: 'int32', data: [rowsPerSplit] },
    { type: 'int32', data: [rowsPerSplit / TILE_ROWS] },
  ];
  const partial = b.runWebGPUProgram(filterGradProgram([splits, kRows, co]), [x, dy], 'float32', uniforms);
  if (splits === 1) return { dataId: partial.dataId, shape: [k, k, c, co], dtype: 'float32' };
  const flat = { dataId: partial.dataId, shape: [splits * kRows * co], dtype: 'float32' as const };
  const out = b.runWebGPUProgram(splitSumProgram(kRows * co, splits), [flat], 'float32', [{ type: 'int32', data: [splits] }]);
  b.disposeData(partial.dataId);
  return { dataId: out.dataId, shape: [k, k, c, co], dtype: 'float32' };
};

/**
 * dW of a stride-`stride` conv with `pad` zeros on each side (layers.ts symPad), on the webgpu backend; callers check
 * `webgpuKernelsUsable()` first. x [N, H, W, Cin], dy [N, Ho, Wo, Cout] → [k, k, Cin, Cout].
 */
export function webgpuFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number, pad: number): tf.Tensor4D {
  const attrs: FilterGradAttrs = { k, stride, pad };
  return runCustomKernel(FG_KERNEL, filterGradKernel, { x, dy }, attrs) as tf.Tensor4D;
}

// ---- elementwise helpers: leaky-ReLU backward, kernel rotation ---------------------------------------------------

/** A flat elementwise program over `shape` (one thread per output element). */
function flatProgram(name: string, variableNames: string[], shape: number[], uniforms: string, body: string) {
  return {
    variableNames,
    uniforms,
    outputShape: shape,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(shape.reduce((a, b) => a * b, 1) / 128), 1, 1] as [number, number, number],
    workgroupSize: [128, 1, 1] as [number, number, number],
    size: true,
    shaderKey: name,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

const LEAKY_GRAD_KERNEL = 'SaehdLeakyReluGrad';
const ROTATE_KERNEL = 'SaehdRotateKernel';
const leakyGradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const slope = (attrs as unknown as { slope: number }).slope;
  // tfjs' where(y > 0, dy, dy·slope): the same float32 product, selected the same way (NaN > 0 is false).
  const program = flatProgram(LEAKY_GRAD_KERNEL, ['dy', 'y'], dy.shape, 'slope : f32,',
    'let g = dy[index]; result[index] = select(g * uniforms.slope, g, y[index] > 0.0);');
  return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(program, [dy, y], 'float32', [{ type: 'float32', data: [slope] }]);
};

const rotateKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { w } = inputs as { w: tf.TensorInfo };
  const [k, k2, ci, co] = w.shape;
  // out[kh, kw, o, i] = w[k−1−kh, k−1−kw, i, o]: the kernel of the transposed convolution as a forward one.
  const program = flatProgram(ROTATE_KERNEL, ['w'], [k, k2, co, ci], '',
    `let i = index % ${ci}; let t = index / ${ci}; let o = t % ${co}; let t2 = t / ${co}; let kw = t2 % ${k2}; let kh = t2 / ${k2};
      result[index] = w[((((${k} - 1 - kh) * ${k2}) + (${k2} - 1 - kw)) * ${ci} + i) * ${co} + o];`);
  program.shaderKey = `${ROTATE_KERNEL}_${k}_${k2}_${ci}_${co}`;
  return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(program, [w], 'float32');
};

/** dL/dz of z ↦ leakyReLU(z) from dy and the activated output y (same sign as z for slope > 0); webgpu only. */
export function webgpuLeakyReluGrad(dy: tf.Tensor, y: tf.Tensor, slope: number): tf.Tensor {
  return runCustomKernel(LEAKY_GRAD_KERNEL, leakyGradKernel, { dy, y }, { slope }) as tf.Tensor;
}

/** W [k, k, Cin, Cout] rotated 180° with its channels swapped → [k, k, Cout, Cin], in one dispatch; webgpu only. */
export function webgpuRotateKernel(w: tf.Tensor4D): tf.Tensor4D {
  return runCustomKernel(ROTATE_KERNEL, rotateKernel, { w }, {}) as tf.Tensor4D;
}

// ---- 2. uploads ---------------------------------------------------------------------------------------------------

const patchedBackends = new WeakSet<object>();
let fastUploads = 0;
/** Uploads that went through queue.writeBuffer so far (tests check the fast path really ran). */
export function fastUploadCount(): number {
  return fastUploads;
}

/**
 * Route the current webgpu backend's uploads through queue.writeBuffer (when the kernels are usable at the time of
 * the upload; otherwise tfjs' own path). writeBuffer copies the data at once and is ordered before every command
 * submitted after it, including tfjs' pending encoder that will read the buffer; a pooled buffer is only reused after
 * the commands that used it were submitted, and those run before the write. No-op off webgpu; safe to call often.
 */
export function installFastUploads(): void {
  const b = webgpuBackend();
  if (!b || patchedBackends.has(b)) return;
  patchedBackends.add(b);
  const original = b.uploadToGPU.bind(b);
  const usage = () => {
    const u = (globalThis as GpuAny).GPUBufferUsage;
    return u.STORAGE | u.COPY_SRC | u.COPY_DST;
  };
  b.uploadToGPU = (dataId: unknown) => {
    const td = b.tensorMap.get(dataId);
    if (td.resource != null) return;
    const values = td.values as ArrayLike<number> | null;
    const n = td.shape.reduce((a, d) => a * d, 1);
    if (!values || n === 0 || !webgpuKernelsUsable() || !['float32', 'int32', 'bool'].includes(td.dtype) || values.length !== n) {
      original(dataId);
      return;
    }
    // bool and int32 live on the GPU as i32 (tfjs' own layout).
    const data = td.dtype === 'float32' ? (values instanceof Float32Array ? values : Float32Array.from(values)) : values instanceof Int32Array ? values : Int32Array.from(values);
    const buffer = b.bufferManager.acquireBuffer(4 * n, usage());
    b.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, 4 * n);
    td.values = null;
    td.resource = buffer;
    fastUploads++;
  };
}

// ---- reduction gradients ---------------------------------------------------------------------------------------

let reductionGradsRegistered = false;

/**
 * tfjs' gradients of Sum and Mean multiply dy by `ones(x.shape)`, a typed array built on the CPU and uploaded every
 * backward pass (the loss means over whole images: 5.9 ms of main thread per seed step on the H200). On webgpu with
 * the kernels usable these gradients broadcast dy instead (dy·1 = dy exactly, so the numbers are the same); anywhere
 * else tfjs' own gradient runs. Registered once, before the first forward pass records its tape.
 */
export function registerLeanReductionGrads(): void {
  if (reductionGradsRegistered) return;
  reductionGradsRegistered = true;
  for (const name of ['Sum', 'Mean'] as const) {
    const stock = tf.getGradient(name);
    if (!stock) continue;
    tf.registerGradient({
      ...stock,
      gradFunc: (dy, saved, attrs) => {
        if (!webgpuKernelsUsable()) return stock.gradFunc(dy, saved, attrs);
        const x = saved[0];
        const rank = x.shape.length;
        const axis = (attrs as { axis?: number | number[] | null }).axis;
        const axes = (axis == null ? x.shape.map((_, i) => i) : Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a));
        const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const count = axes.reduce((n, a) => n * x.shape[a], 1);
        return {
          x: () => {
            const g = tf.reshape(Array.isArray(dy) ? dy[0] : dy, expanded);
            return tf.broadcastTo(name === 'Mean' ? tf.div(g, count) : g, x.shape);
          },
        };
      },
    });
  }
}

// ---- 3. in-place optimizer update --------------------------------------------------------------------------------

export interface FusedUpdateItem {
  w: tf.Variable;
  /** [m, v] (AdaBelief) or [acc] (RMSprop). */
  slots: tf.Variable[];
  g: tf.Tensor;
  /** LR-dropout keep mask (bool), or null. */
  mask: tf.Tensor | null;
}

export interface FusedUpdateConsts {
  kind: 'adabelief' | 'rmsprop';
  /** −lr_t, as the op path multiplies by it. */
  negLr: number;
  beta1: number;
  beta2: number;
  rho: number;
  eps: number;
}

const PARAMS_STRIDE = 256; // minUniformBufferOffsetAlignment
const UPDATE_WORKGROUP = 256;

function updateShader(kind: 'adabelief' | 'rmsprop'): string {
  // Constants arrive as float32 values of the same JS numbers the op path passes (β1, 1−β1, …), and each line rounds
  // as the matching tfjs op does: m = ms·β1 + g·(1−β1); v = vs·β2 + (g−m)²·(1−β2); diff = (m·(−lr)) / (√v + ε).
  const slots = kind === 'adabelief' ? 2 : 1;
  const body = kind === 'adabelief'
    ? `let m = s0[i] * p.c0 + g * p.c1;
       let d = g - m;
       let v = s1[i] * p.c2 + (d * d) * p.c3;
       var diff = (m * p.negLr) / (sqrt(v) + p.eps);
       s0[i] = m;
       s1[i] = v;`
    : `let a = s0[i] * p.c0 + (g * g) * p.c1;
       var diff = (g * p.negLr) / (sqrt(a) + p.eps);
       s0[i] = a;`;
  return `
    struct Params { n : u32, hasMask : u32, hasScale : u32, rowStride : u32, negLr : f32, eps : f32, c0 : f32, c1 : f32, c2 : f32, c3 : f32 };
    @group(0) @binding(0) var<storage, read_write> w : array<f32>;
    @group(0) @binding(1) var<storage, read_write> s0 : array<f32>;
    ${slots === 2 ? '@group(0) @binding(2) var<storage, read_write> s1 : array<f32>;' : ''}
    @group(0) @binding(3) var<storage, read> grad : array<f32>;
    @group(0) @binding(4) var<storage, read> scale : array<f32>;
    @group(0) @binding(5) var<storage, read> keep : array<i32>;
    @group(0) @binding(6) var<uniform> p : Params;
    @compute @workgroup_size(${UPDATE_WORKGROUP})
    fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
      let i = gid.x + gid.y * p.rowStride;
      if (i >= p.n) { return; }
      var g = grad[i];
      if (p.hasScale != 0u) { g = g * scale[0]; }
      ${body}
      if (p.hasMask != 0u) { diff = diff * f32(keep[i]); }
      w[i] = w[i] + diff;
    }`;
}

interface UpdateResources {
  pipelines: Map<string, GpuAny>;
  dummy: GpuAny;
  params: GpuAny | null;
  paramsCapacity: number;
}
const resources = new WeakMap<object, UpdateResources>();

function resourcesFor(device: GpuAny): UpdateResources {
  let r = resources.get(device);
  if (!r) {
    const usage = (globalThis as GpuAny).GPUBufferUsage;
    const dummy = device.createBuffer({ size: 16, usage: usage.STORAGE | usage.COPY_DST });
    r = { pipelines: new Map(), dummy, params: null, paramsCapacity: 0 };
    resources.set(device, r);
  }
  return r;
}

function pipelineFor(device: GpuAny, r: UpdateResources, kind: 'adabelief' | 'rmsprop'): GpuAny {
  let p = r.pipelines.get(kind);
  if (!p) {
    p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: updateShader(kind) }), entryPoint: 'main' } });
    r.pipelines.set(kind, p);
  }
  return p;
}

/**
 * Apply one optimizer update to every item in place on the GPU, in tfjs' command stream (after everything already
 * queued, before anything queued later). `scale` is the clip factor (a scalar tensor) or null. Callers check
 * `webgpuKernelsUsable()` first; the tensors must be float32 (mask bool) and of equal sizes per item.
 */
export function fusedOptimizerUpdate(items: FusedUpdateItem[], c: FusedUpdateConsts, scale: tf.Tensor | null): void {
  if (!items.length) return;
  const b = webgpuBackend();
  if (!b) throw new Error('fusedOptimizerUpdate needs the webgpu backend');
  const device = b.device;
  const r = resourcesFor(device);
  const pipeline = pipelineFor(device, r, c.kind);
  const usage = (globalThis as GpuAny).GPUBufferUsage;
  if (r.paramsCapacity < items.length) {
    r.params?.destroy();
    r.paramsCapacity = Math.max(items.length, 2 * r.paramsCapacity);
    r.params = device.createBuffer({ size: r.paramsCapacity * PARAMS_STRIDE, usage: usage.UNIFORM | usage.COPY_DST });
  }
  const maxX = device.limits?.maxComputeWorkgroupsPerDimension ?? 65535;
  const params = new ArrayBuffer(items.length * PARAMS_STRIDE);
  const owned: unknown[] = [];
  const bufferOf = (t: tf.Tensor) => {
    b.uploadToGPU(t.dataId);
    owned.push(t.dataId);
    return b.tensorMap.get(t.dataId).resource;
  };
  const scaleBuf = scale ? bufferOf(scale) : r.dummy;
  const groups: GpuAny[] = [];
  const dispatches: Array<[number, number]> = [];
  const f32 = (x: number) => Math.fround(x);
  const consts = c.kind === 'adabelief' ? [c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2] : [c.rho, 1 - c.rho, 0, 0];
  items.forEach((it, idx) => {
    const n = it.w.size;
    const wg = Math.ceil(n / UPDATE_WORKGROUP);
    const gx = Math.min(wg, maxX);
    const gy = Math.ceil(wg / gx);
    const u = new Uint32Array(params, idx * PARAMS_STRIDE, 4);
    u.set([n, it.mask ? 1 : 0, scale ? 1 : 0, gx * UPDATE_WORKGROUP]);
    new Float32Array(params, idx * PARAMS_STRIDE + 16, 6).set([c.negLr, c.eps, ...consts].map(f32));
    const entries = [
      { binding: 0, resource: { buffer: bufferOf(it.w) } },
      { binding: 1, resource: { buffer: bufferOf(it.slots[0]) } },
      ...(c.kind === 'adabelief' ? [{ binding: 2, resource: { buffer: bufferOf(it.slots[1]) } }] : []),
      { binding: 3, resource: { buffer: bufferOf(it.g) } },
      { binding: 4, resource: { buffer: scaleBuf } },
      { binding: 5, resource: { buffer: it.mask ? bufferOf(it.mask) : r.dummy } },
      { binding: 6, resource: { buffer: r.params, offset: idx * PARAMS_STRIDE, size: 48 } },
    ];
    groups.push(device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    dispatches.push([gx, gy]);
  });
  // The parameter write reaches the queue before the encoder below is submitted.
  device.queue.writeBuffer(r.params, 0, params);
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
  const pass = b.commandEncoder.beginComputePass();
  pass.setPipeline(pipeline);
  groups.forEach((g, i) => {
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(dispatches[i][0], dispatches[i][1]);
  });
  pass.end();
  // Tensors disposed before the submit wait for it (tfjs' own rule for buffers its queued commands use).
  for (const id of owned) b.commandQueueOwnedIds.add(id);
  b.submitQueue();
  // The values changed on the GPU: drop any copy tfjs cached on the CPU when they were last read.
  for (const it of items) for (const t of [it.w, ...it.slots]) b.tensorMap.get(t.dataId).values = null;
}

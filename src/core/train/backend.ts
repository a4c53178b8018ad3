/**
 * Which tfjs backend trains the model. The decision (`chooseBackend`) is a pure function of what the runtime offers, so
 * it is unit-tested in Node; `probeBackendEnv` gathers those facts in a page or worker, and `setupBackend` activates the
 * chosen backend (with fallbacks if initialisation fails).
 *
 * Rules for 'auto' (measured on the project's CPU-only box, shared/notes/webgpu-on-this-machine.md: a 64 px toy step
 * takes 2.1 s on wasm and 19 s on WebGPU-on-SwiftShader):
 * 1. WebGPU on a hardware adapter.
 * 2. WebGL on a hardware GPU (a browser without WebGPU, e.g. Firefox or older Safari, still has the GPU through WebGL).
 * 3. wasm (XNNPACK, SIMD): the fastest choice when the only GPU adapters are software ones (SwiftShader, llvmpipe).
 * 4. WebGL on a software renderer, then WebGPU on a software adapter, then cpu (plain JS; always there).
 * An explicit preference is honoured when that backend exists, even if slow (the reason says so); otherwise the auto
 * order is used and the reason explains the fallback.
 *
 * Browser-only calls are made through `globalThis` with minimal local types, so core still compiles with lib ES2023.
 */
import * as tf from '@tensorflow/tfjs';
import { adapterName, isSoftwareAdapter, type AdapterFacts } from '../env.ts';

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export type BackendPref = 'auto' | BackendName;

export interface BackendEnv {
  /** null = no WebGPU (no navigator.gpu, or requestAdapter gave nothing). */
  webgpu: AdapterFacts | null;
  /** null = no WebGL2 context; `software` from the unmasked renderer string (SwiftShader, llvmpipe, …). */
  webgl: { software: boolean; renderer: string } | null;
  /** WebAssembly is available (the wasm backend also needs its .wasm files served, see setupBackend). */
  wasm: boolean;
}

export interface BackendChoice {
  backend: BackendName;
  /** One line for the status bar. */
  reason: string;
  /** What to try next, in order, if initialising `backend` fails. */
  fallbacks: BackendName[];
}

function autoOrder(env: BackendEnv): Array<{ backend: BackendName; reason: string }> {
  const out: Array<{ backend: BackendName; reason: string }> = [];
  const gpu = env.webgpu;
  const gpuSoft = gpu !== null && isSoftwareAdapter(gpu);
  if (gpu && !gpuSoft) out.push({ backend: 'webgpu', reason: `WebGPU on ${adapterName(gpu)}` });
  if (env.webgl && !env.webgl.software) out.push({ backend: 'webgl', reason: `WebGL on ${env.webgl.renderer || 'the GPU'} (no hardware WebGPU adapter)` });
  if (env.wasm) {
    const why = gpu ? `the WebGPU adapter (${adapterName(gpu)}) is a software renderer` : 'no hardware GPU backend';
    out.push({ backend: 'wasm', reason: `WebAssembly on the CPU: ${why}, and wasm is faster there` });
  }
  if (env.webgl && env.webgl.software) out.push({ backend: 'webgl', reason: `WebGL on a software renderer (${env.webgl.renderer}): slow` });
  if (gpu && gpuSoft) out.push({ backend: 'webgpu', reason: `WebGPU on a software adapter (${adapterName(gpu)}): slow` });
  out.push({ backend: 'cpu', reason: 'plain JavaScript on the CPU: very slow (no WebGPU, WebGL or WebAssembly)' });
  return out;
}

function available(b: BackendName, env: BackendEnv): boolean {
  return b === 'cpu' || (b === 'webgpu' ? env.webgpu !== null : b === 'webgl' ? env.webgl !== null : env.wasm);
}

/** Pure decision: which backend to use for `pref` given the runtime facts. */
export function chooseBackend(pref: BackendPref, env: BackendEnv): BackendChoice {
  const order = autoOrder(env);
  const dedupe = (list: BackendName[]) => list.filter((b, i) => list.indexOf(b) === i);
  if (pref !== 'auto') {
    if (available(pref, env)) {
      const auto = order.find((o) => o.backend === pref);
      const slow =
        (pref === 'webgpu' && env.webgpu && isSoftwareAdapter(env.webgpu)) || (pref === 'webgl' && env.webgl?.software) || pref === 'cpu';
      const reason = `${auto?.reason ?? pref} (chosen in settings${slow ? '; a faster backend may exist' : ''})`;
      return { backend: pref, reason, fallbacks: dedupe(order.map((o) => o.backend)).filter((b) => b !== pref) };
    }
    const first = order[0];
    return {
      backend: first.backend,
      reason: `${pref} is not available here; using ${first.reason}`,
      fallbacks: dedupe(order.slice(1).map((o) => o.backend)).filter((b) => b !== first.backend),
    };
  }
  const [first, ...rest] = order;
  return { backend: first.backend, reason: first.reason, fallbacks: dedupe(rest.map((o) => o.backend)).filter((b) => b !== first.backend) };
}

// ---- runtime probe (browser page or worker; returns "nothing" in Node) --------------------------------------------

interface GpuAdapterLike {
  info?: Partial<AdapterFacts>;
  isFallbackAdapter?: boolean;
  limits?: Record<string, number>;
  requestAdapterInfo?: () => Promise<Partial<AdapterFacts>>;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}
interface GlLike {
  getExtension(name: string): unknown;
  getParameter(p: number): unknown;
}
interface CanvasLike {
  getContext(kind: string): GlLike | null;
}

/** Collect the facts `chooseBackend` needs. Never throws; anything that fails counts as "not available". */
export async function probeBackendEnv(): Promise<BackendEnv> {
  const g = globalThis as unknown as {
    navigator?: { gpu?: GpuLike };
    OffscreenCanvas?: new (w: number, h: number) => CanvasLike;
    WebAssembly?: unknown;
  };
  let webgpu: AdapterFacts | null = null;
  try {
    const adapter = await g.navigator?.gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) {
      const info: Partial<AdapterFacts> = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
      const lim = adapter.limits ?? {};
      webgpu = {
        vendor: info.vendor ?? '',
        architecture: info.architecture ?? '',
        device: info.device ?? '',
        description: info.description ?? '',
        isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
        maxBufferSize: lim.maxBufferSize ?? 0,
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize ?? 0,
        maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize ?? 0,
        maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup ?? 0,
      };
    }
  } catch {
    webgpu = null;
  }
  let webgl: BackendEnv['webgl'] = null;
  try {
    // OffscreenCanvas works in pages and workers alike (tfjs' WebGL backend uses it inside workers too).
    const ctx = g.OffscreenCanvas ? new g.OffscreenCanvas(1, 1).getContext('webgl2') : null;
    if (ctx) {
      const ext = ctx.getExtension('WEBGL_debug_renderer_info') as { UNMASKED_RENDERER_WEBGL: number } | null;
      const renderer = String(ctx.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : 0x1f01 /* RENDERER */) ?? '');
      webgl = { renderer, software: /swiftshader|llvmpipe|lavapipe|software|basic render/i.test(renderer) };
    }
  } catch {
    webgl = null;
  }
  return { webgpu, webgl, wasm: typeof g.WebAssembly === 'object' };
}

// ---- activation ------------------------------------------------------------------------------------------------

export interface SetupOptions {
  /**
   * Where the tfjs wasm binaries are served (a folder URL ending in '/'). Default: `<origin>/wasm/`, where the app
   * serves them (vite.config.ts); in Node the package finds its own files.
   */
  wasmPath?: string;
  /** Facts from an earlier probe; probed when omitted. */
  env?: BackendEnv;
}

async function activate(b: BackendName, wasmPath: string | undefined): Promise<boolean> {
  if (b === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  if (b === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (wasmPath) wasm.setWasmPaths(wasmPath);
  }
  return tf.setBackend(b);
}

/**
 * Choose and activate a backend; on an initialisation failure the next fallback is tried and the reason records it.
 * Resolves once `tf.ready()` has finished for the backend that is active.
 */
export async function setupBackend(pref: BackendPref, options: SetupOptions = {}): Promise<BackendChoice> {
  const env = options.env ?? (await probeBackendEnv());
  // Workers resolve a bare '/wasm/' against nothing useful, so default to an absolute URL on the page's origin.
  const origin = (globalThis as unknown as { location?: { origin?: string } }).location?.origin;
  const wasmPath = options.wasmPath ?? (origin && origin !== 'null' ? `${origin}/wasm/` : undefined);
  const choice = chooseBackend(pref, env);
  const failed: string[] = [];
  for (const b of [choice.backend, ...choice.fallbacks]) {
    let ok = false;
    try {
      ok = await activate(b, wasmPath);
      if (ok) await tf.ready();
    } catch (err) {
      failed.push(`${b}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      continue;
    }
    if (!ok) {
      failed.push(`${b}: failed to initialise`);
      continue;
    }
    if (b === choice.backend) return choice;
    const rest = choice.fallbacks.slice(choice.fallbacks.indexOf(b) + 1);
    const next = chooseBackend(b, env);
    return { backend: b, reason: `${next.reason.replace(/ \(chosen in settings.*\)$/, '')}; ${failed.join('; ')}`, fallbacks: rest };
  }
  throw new Error(`no tfjs backend could be initialised (${failed.join('; ')})`);
}

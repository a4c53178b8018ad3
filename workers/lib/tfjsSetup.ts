/**
 * Set-up shared by the workers that run tfjs (training, merge, extract): how the chosen backend is named in the status
 * bar, the sample workers' settings for one side, and the wasm thread check under the app's CSP.
 */
import * as tf from '@tensorflow/tfjs';
import { adapterName, isSoftwareAdapter } from '../../src/core/env.ts';
import type { BackendEnv, BackendName } from '../../src/core/train/backend.ts';

export async function describeAdapter(backend: BackendName, env: BackendEnv): Promise<{ adapter: string; software: boolean }> {
  if (backend === 'webgpu' && env.webgpu) {
    const soft = isSoftwareAdapter(env.webgpu);
    return { adapter: `webgpu: ${adapterName(env.webgpu)}${soft ? ' (software adapter)' : ''}`, software: soft };
  }
  if (backend === 'webgl' && env.webgl) return { adapter: `webgl: ${env.webgl.renderer}`, software: env.webgl.software };
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const n = wasm.getThreadsCount();
    return { adapter: `wasm: XNNPACK on the CPU, ${n} thread${n === 1 ? '' : 's'}`, software: false };
  }
  return { adapter: 'cpu: plain JavaScript', software: false };
}

/** Sample settings of one side: one function for the page and the command line (src/core/samples/sideOptions.ts). */
export { sideOptions, type Side } from '../../src/core/samples/sideOptions.ts';

/**
 * The threaded wasm binary starts its pthreads as blob: workers that `importScripts` a blob: copy of the module. A
 * Content-Security-Policy whose script-src has no `blob:` (the app's preview/production policy, vite.config.ts)
 * blocks that import, and the failure kills this worker. So probe the policy the same way (a blob: script) and fall
 * back to the single-threaded SIMD binary when it is refused (CSP Level 3 §6.1.1: script-src governs worker imports).
 */
export async function blobScriptsAllowed(): Promise<boolean> {
  const url = URL.createObjectURL(new Blob(['export default 1;'], { type: 'text/javascript' }));
  try {
    await import(/* @vite-ignore */ url);
    return true;
  } catch {
    return false;
  } finally {
    URL.revokeObjectURL(url);
  }
}

let wasmThreadsChecked = false;
export async function prepareWasm(): Promise<void> {
  if (wasmThreadsChecked) return;
  wasmThreadsChecked = true;
  // The flag exists once the wasm package is loaded, and is read when its backend initialises.
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await blobScriptsAllowed())) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
}

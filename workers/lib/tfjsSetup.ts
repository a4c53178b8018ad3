/**
 * Set-up shared by the workers that run tfjs (trainer, studio, extract): how the chosen backend is named in the status
 * bar, the sample workers' settings for one side, and the wasm thread check under the app's CSP.
 */
import * as tf from '@tensorflow/tfjs';
import { adapterName, isSoftwareAdapter } from '../../src/core/env.ts';
import type { ModelOptions } from '../../src/core/model/options.ts';
import type { BackendEnv, BackendName } from '../../src/core/train/backend.ts';
import { pretrainSampleOverrides } from '../../src/core/train/trainStep.ts';
import type { SampleSideOptions } from '../samples.protocol.ts';

export type Side = 'src' | 'dst';

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

/**
 * Sample settings of one side (spec §C.1: flips per side, HSV jitter and `ct_mode` on src only; §C.9 pretrain
 * overrides). `ctFacesetId`: the dst faceset the src side's colour-transfer references come from (§D.2 step 2).
 */
export function sideOptions(o: ModelOptions, side: Side, facesetId: string, seed: number, prefetch: number, ctFacesetId?: string): SampleSideOptions {
  const eff = { ...o, ...pretrainSampleOverrides(o) };
  return {
    facesetId,
    resolution: o.resolution,
    channels: o.channels,
    faceType: o.face_type,
    randomWarp: eff.random_warp,
    randomFlip: side === 'src' ? eff.random_src_flip : eff.random_dst_flip,
    uniformYaw: eff.uniform_yaw,
    eyesMouthMask: o.eyes_mouth_prio,
    randomHsvPower: side === 'src' ? eff.random_hsv_power : 0,
    ctMode: side === 'src' ? eff.ct_mode : 'none',
    ...(ctFacesetId ? { ctFacesetId } : {}),
    batchSize: o.batch_size,
    seed: (seed * 2 + (side === 'src' ? 0 : 1)) >>> 0,
    prefetch,
  };
}

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

import type { AdapterFacts, Capabilities } from '../../core/env.ts';

/** The one start-up probe: WebGPU adapter and limits, storage persistence and quota. */
export async function probeCapabilities(): Promise<Capabilities> {
  return {
    webgpu: await probeWebgpu(),
    storage: await probeStorage(),
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
}

async function probeWebgpu(): Promise<Capabilities['webgpu']> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { available: false, reason: 'this browser has no WebGPU (try a current Chrome or Edge)' };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { available: false, reason: `the adapter request failed (${e instanceof Error ? e.message : e})` };
  }
  if (!adapter) return { available: false, reason: 'no GPU adapter (disabled or blocklisted by the browser)' };
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const facts: AdapterFacts = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
      (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
  };
  return { available: true, adapter: facts };
}

export async function probeStorage(): Promise<Capabilities['storage']> {
  const s = navigator.storage;
  if (!s) return { persisted: null, usage: null, quota: null };
  const [persisted, est] = await Promise.all([
    s.persisted ? s.persisted().catch(() => null) : Promise.resolve(null),
    s.estimate ? s.estimate().catch(() => null) : Promise.resolve(null),
  ]);
  return { persisted, usage: est?.usage ?? null, quota: est?.quota ?? null };
}

/** Ask once (on the first import) for storage the browser will not evict. Returns whether it was granted. */
export async function requestPersistence(): Promise<boolean> {
  try {
    return (await navigator.storage?.persist?.()) ?? false;
  } catch {
    return false;
  }
}

/**
 * What the start-up probe found, and how the status bar words it. The probe itself needs `navigator` and lives in
 * src/ui/lib/capabilities.ts; this part is pure so it is unit-tested in Node.
 */
export interface AdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
}

export interface Capabilities {
  webgpu: { available: false; reason: string } | { available: true; adapter: AdapterFacts };
  storage: { persisted: boolean | null; usage: number | null; quota: number | null };
  crossOriginIsolated: boolean;
}

/** Software adapters (SwiftShader, lavapipe/llvmpipe, WARP) run on the CPU: training there is very slow. */
export function isSoftwareAdapter(a: AdapterFacts): boolean {
  if (a.isFallbackAdapter) return true;
  const text = `${a.vendor} ${a.architecture} ${a.device} ${a.description}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|software|microsoft basic render|warp/.test(text);
}

export function adapterName(a: AdapterFacts): string {
  const parts = [a.vendor, a.architecture, a.device || a.description].filter((p) => p && p.trim());
  return parts.length ? parts.join(' ') : 'unnamed adapter';
}

export function formatBytes(n: number | null): string {
  if (n == null || !Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

/** One line for the status bar about the GPU. */
export function describeWebgpu(c: Capabilities['webgpu']): string {
  if (!c.available) return `WebGPU unavailable: ${c.reason}`;
  const a = c.adapter;
  return `WebGPU: ${adapterName(a)}${isSoftwareAdapter(a) ? ' (software adapter: training will be slow)' : ''}`;
}

export function describeStorage(s: Capabilities['storage']): string {
  const used = `${formatBytes(s.usage)} of ${formatBytes(s.quota)} used`;
  const persisted = s.persisted === true ? 'persistent' : s.persisted === false ? 'not persistent (the browser may evict it)' : 'persistence unknown';
  return `Storage: ${used}, ${persisted}`;
}

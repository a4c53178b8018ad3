import { describe, expect, it } from 'vitest';
import { describeStorage, describeWebgpu, formatBytes, isSoftwareAdapter, type AdapterFacts } from '../../src/core/env.ts';

const base: AdapterFacts = {
  vendor: 'nvidia', architecture: 'maxwell', device: '', description: '', isFallbackAdapter: false,
  maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27, maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256,
};

describe('capability wording', () => {
  it('marks SwiftShader, llvmpipe and fallback adapters as software', () => {
    expect(isSoftwareAdapter(base)).toBe(false);
    expect(isSoftwareAdapter({ ...base, vendor: 'google', architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ ...base, description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter({ ...base, isFallbackAdapter: true })).toBe(true);
  });
  it('says why WebGPU is missing and names a present adapter', () => {
    expect(describeWebgpu({ available: false, reason: 'no adapter' })).toBe('WebGPU unavailable: no adapter');
    expect(describeWebgpu({ available: true, adapter: base })).toBe('WebGPU: nvidia maxwell');
    expect(describeWebgpu({ available: true, adapter: { ...base, vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true } })).toContain('software adapter');
  });
  it('formats storage figures', () => {
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(10.7 * 2 ** 30)).toBe('10.7 GB');
    expect(describeStorage({ persisted: false, usage: 0, quota: 2 ** 30 })).toBe('Storage: 0 B of 1.0 GB used, not persistent (the browser may evict it)');
  });
});

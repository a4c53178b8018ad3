/** Backend choice (src/core/train/backend.ts) as a pure function of the runtime facts. */
import { describe, expect, test } from 'vitest';
import { chooseBackend, probeBackendEnv, type BackendEnv } from '../../src/core/train/backend.ts';
import type { AdapterFacts } from '../../src/core/env.ts';

const adapter = (over: Partial<AdapterFacts>): AdapterFacts => ({
  vendor: 'nvidia',
  architecture: 'ampere',
  device: '',
  description: '',
  isFallbackAdapter: false,
  maxBufferSize: 1 << 30,
  maxStorageBufferBindingSize: 1 << 30,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 256,
  ...over,
});
const hardware = adapter({});
// What headless Chromium offers on the project's CPU-only box (shared/notes/webgpu-on-this-machine.md).
const swiftshader = adapter({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true });
const swiftshaderNoFlag = adapter({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: false });
const glHw = { software: false, renderer: 'ANGLE (NVIDIA GeForce RTX 3060)' };
const glSw = { software: true, renderer: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device))' };

const env = (webgpu: AdapterFacts | null, webgl: BackendEnv['webgl'], wasm = true): BackendEnv => ({ webgpu, webgl, wasm });

describe('chooseBackend', () => {
  test('auto: hardware WebGPU wins', () => {
    const c = chooseBackend('auto', env(hardware, glHw));
    expect(c.backend).toBe('webgpu');
    expect(c.reason).toMatch(/WebGPU on nvidia/);
    expect(c.fallbacks).toEqual(['webgl', 'wasm', 'cpu']);
  });

  test('auto: only a fallback/software adapter → wasm, then WebGL, then the software adapter, then cpu', () => {
    for (const a of [swiftshader, swiftshaderNoFlag]) {
      const c = chooseBackend('auto', env(a, glSw));
      expect(c.backend).toBe('wasm');
      expect(c.reason).toMatch(/software renderer/);
      expect(c.fallbacks).toEqual(['webgl', 'webgpu', 'cpu']);
    }
  });

  test('auto: no WebGPU but a hardware WebGL → webgl; nothing at all → cpu', () => {
    expect(chooseBackend('auto', env(null, glHw)).backend).toBe('webgl');
    expect(chooseBackend('auto', env(null, glSw)).backend).toBe('wasm');
    expect(chooseBackend('auto', env(null, glSw, false)).backend).toBe('webgl');
    const none = chooseBackend('auto', env(null, null, false));
    expect(none.backend).toBe('cpu');
    expect(none.fallbacks).toEqual([]);
  });

  test('explicit preferences are honoured when present, with a note when slow', () => {
    const c = chooseBackend('webgpu', env(swiftshader, glSw));
    expect(c.backend).toBe('webgpu');
    expect(c.reason).toMatch(/chosen in settings; a faster backend may exist/);
    expect(c.fallbacks[0]).toBe('wasm');
    expect(chooseBackend('cpu', env(hardware, glHw)).backend).toBe('cpu');
    expect(chooseBackend('wasm', env(hardware, glHw)).backend).toBe('wasm');
  });

  test('an unavailable preference falls back to the auto order and says why', () => {
    const c = chooseBackend('webgpu', env(null, null, true));
    expect(c.backend).toBe('wasm');
    expect(c.reason).toMatch(/^webgpu is not available here/);
    expect(c.fallbacks).toEqual(['cpu']);
  });

  test('the probe finds nothing GPU-like in Node and does not throw', async () => {
    const e = await probeBackendEnv();
    expect(e.webgpu).toBeNull();
    expect(e.webgl).toBeNull();
    expect(e.wasm).toBe(true);
  });
});

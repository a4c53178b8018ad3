/**
 * `saehdbw train` and `saehdbw eval` (issue 10) as a user runs them (a child process), on self-made DFL faces, plus
 * the metrics they report (src/core/eval/metrics.ts). The model is the Quick-test preset (DF-UD 64-32-16-16-16 BW, the
 * smallest the option rules allow) with batch 1, a couple of iterations per run, to keep the file fast.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../../src/core/checkpoint/checkpointFile.ts';
import { faceMetrics, meanMetrics, mse, psnr, ssim, type MetricImage } from '../../src/core/eval/metrics.ts';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { decodePngFirstChannel, isHeldOut, readDflFolder } from '../../cli/nodeFaces.ts';
import { encodePng } from '../../src/core/image/png.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installFastWasmKernels } from '../../cli/wasmKernels.ts';
import { conv2dSym } from '../../src/core/model/layers.ts';
import { hasSharedData, sharedDataDir } from './sharedData.ts';

/** Whether the optional dawn.node package is installed (npm i --no-save webgpu, for the gpu bench). */
function webgpuPackageInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('webgpu');
    return true;
  } catch {
    return false;
  }
}

const CLI = 'cli/saehdbw.mjs';
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const json = (s: string) => JSON.parse(s.trim().split('\n').pop()!);
const load = (file: string) => decodeCheckpoint(new Uint8Array(readFileSync(file)));

let dir: string;
let src: string;
let dst: string;
const QUICK = ['--preset', 'quickTest', '--batch-size', '1', '--seed', '5'];

beforeAll(async () => {
  await initNodeJpegCodec();
  dir = mkdtempSync(join(tmpdir(), 'saehdbw-train-'));
  src = join(dir, 'src');
  dst = join(dir, 'dst');
  mkdirSync(src);
  mkdirSync(dst);
  const faces = await makeDflFaces(6, { size: 128 });
  faces.slice(0, 3).forEach((f) => writeFileSync(join(src, f.name), f.bytes));
  faces.slice(3).forEach((f, i) => writeFileSync(join(dst, `0000${i + 1}_0.jpg`), f.bytes));
  writeFileSync(join(dst, 'notes.jpg'), 'not a face');
});

describe('saehdbw train', () => {
  it('creates FILE, resumes from its iteration with changed options, and keeps the old FILE when a save fails', () => {
    const file = join(dir, 'm.saehdbw');
    const a = run('train', '--src', src, '--dst', dst, '--model', file, ...QUICK, '--iters', '2', '--save-every', '0.00001', '--json');
    expect(a.stderr).toMatch(/new model/);
    expect(a.status).toBe(0);
    expect(a.stderr).toMatch(/dst: skipped .*notes\.jpg/);
    const lines = a.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.iter)).toEqual([1, 2]); // one line per (tiny) save interval
    for (const l of lines) {
      expect(l.ms_per_iter).toBeGreaterThan(0);
      expect(Number.isFinite(l.src_loss) && Number.isFinite(l.dst_loss)).toBe(true);
    }
    const c1 = load(file);
    expect(c1.iter).toBe(2);
    expect(c1.lossHistory).toEqual(lines.map((l) => [l.src_loss, l.dst_loss]));
    expect(c1.options).toMatchObject({ archi: 'df-ud', resolution: 64, ae_dims: 32, batch_size: 1, channels: 1 });
    expect(c1.extra.seed).toBe(5);

    // Resume: a fixed option is kept, a free one changes; DFL's line format without --json.
    const b = run('train', '--src', src, '--dst', dst, '--model', file, '--iters', '1', '--random-warp', 'n', '--resolution', '128');
    expect(b.status).toBe(0);
    expect(b.stderr).toMatch(/resuming .* at iteration 2/);
    expect(b.stderr).toMatch(/changed: random_warp true → false/);
    expect(b.stderr).toMatch(/kept: resolution: kept 64/);
    expect(b.stdout).toMatch(/^\[\d\d:\d\d:\d\d\]\[#000003\]\[\d{4}ms\]\[\d+\.\d{4}\]\[\d+\.\d{4}\]\n$/);
    const c2 = load(file);
    expect(c2.iter).toBe(3);
    expect(c2.lossHistory.slice(0, 2)).toEqual(c1.lossHistory);
    expect(c2.options.random_warp).toBe(false);

    // A save that cannot happen (FILE.tmp is a folder) leaves FILE as it was.
    const before = readFileSync(file);
    mkdirSync(`${file}.tmp`);
    const c = run('train', '--src', src, '--dst', dst, '--model', file, '--iters', '0');
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/could not save .*the previous file is kept/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('Ctrl-C finishes the running step, saves and exits 130', async () => {
    const file = join(dir, 'int.saehdbw');
    const child = spawn(process.execPath, [CLI, 'train', '--src', src, '--dst', dst, '--model', file, ...QUICK, '--save-every', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('training…')) resolve();
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, 1500)); // inside the first step
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/Ctrl-C: finishing this iteration/);
    const c = load(file);
    expect(c.iter).toBeGreaterThanOrEqual(1);
    expect(c.lossHistory).toHaveLength(c.iter);
  });

  it('refuses bad arguments and explains a missing WebGPU; the cpu backend works', () => {
    expect(run('train', '--src', src, '--dst', dst).status).toBe(2);
    const bad = run('train', '--src', src, '--dst', dst, '--model', join(dir, 'x'), '--frobnicate', '1');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown option --frobnicate/);
    const gpu = run('train', '--src', src, '--dst', dst, '--model', join(dir, 'gpu.saehdbw'), ...QUICK, '--backend', 'webgpu', '--iters', '0');
    if (!webgpuPackageInstalled()) {
      expect(gpu.status).toBe(2);
      expect(gpu.stderr).toMatch(/needs a WebGPU implementation for Node/);
    } else {
      // The optional `webgpu` package (bench/gpuNode.ts) is installed here: it runs, or says there is no adapter.
      expect(gpu.stderr).toMatch(gpu.status === 0 ? /webgpu: Node WebGPU adapter/ : /gives no WebGPU adapter/);
    }
    const cpu = run('train', '--src', src, '--dst', dst, '--model', join(dir, 'cpu.saehdbw'), ...QUICK, '--backend', 'cpu', '--iters', '0');
    expect(cpu.status).toBe(0);
    expect(cpu.stderr).toMatch(/cpu: plain JavaScript/);
    expect(load(join(dir, 'cpu.saehdbw')).iter).toBe(0);
  });
});

describe('saehdbw train samples', () => {
  it('ct_mode on the src side takes its colour references from the dst folder; dst and ct_mode none have no transfer', async () => {
    const { generatorOptions } = await import('../../cli/commands/train.ts');
    const { validateOptions } = await import('../../src/core/model/options.ts');
    const { SampleGenerator } = await import('../../src/core/samples/generator.ts');
    const srcFaces = readDflFolder(src, { channels: 1 }).faces;
    const dstFaces = readDflFolder(dst, { channels: 1 }).faces;
    const o = (ct: string) => validateOptions({ resolution: 32, ae_dims: 16, e_dims: 16, d_dims: 16, d_mask_dims: 16, channels: 1, batch_size: 2, ct_mode: ct, random_warp: false });
    const withCt = generatorOptions(o('lct'), 'src', srcFaces, 3, 0, dstFaces);
    expect(withCt.colorTransfer?.faces).toHaveLength(dstFaces.length);
    expect(generatorOptions(o('lct'), 'dst', dstFaces, 3, 0, dstFaces).colorTransfer).toBeUndefined();
    const plain = generatorOptions(o('none'), 'src', srcFaces, 3, 0, dstFaces);
    expect(plain.colorTransfer).toBeUndefined();
    // Same seed, same faces: only the transfer differs, and it changes the pixels.
    const a = await new SampleGenerator(withCt).nextBatch();
    const b = await new SampleGenerator(plain).nextBatch();
    let diff = 0;
    for (let i = 0; i < a.target.length; i++) diff = Math.max(diff, Math.abs(a.target[i] - b.target[i]));
    expect(diff).toBeGreaterThan(0.01);
  });
});

describe('saehdbw eval', () => {
  it('reports SSIM in (0, 1] and finite PSNR, masked and unmasked; --swap says it is not a reconstruction', () => {
    const file = join(dir, 'cpu.saehdbw'); // made by the test above (tests of a file run in order); else made now
    if (!existsSync(file))
      expect(run('train', '--src', src, '--dst', dst, '--model', file, ...QUICK, '--iters', '0').status).toBe(0);
    const r = run('eval', '--model', file, '--faces', dst, '--backend', 'cpu');
    expect(r.status).toBe(0);
    const j = json(r.stdout);
    expect(j).toMatchObject({ faces: 3, skipped: 1, reconstruction: true, which: 'dst_dst', resolution: 64, channels: 1 });
    for (const k of ['ssim', 'ssim_masked']) expect(j[k] > 0 && j[k] <= 1).toBe(true);
    for (const k of ['psnr', 'psnr_masked']) expect(Number.isFinite(j[k])).toBe(true);
    const s = json(run('eval', '--model', file, '--faces', dst, '--swap', '--holdout-every', '2').stdout);
    expect(s).toMatchObject({ faces: 1, reconstruction: false, which: 'src_dst', holdout_every: 2 });
    expect(s.note).toMatch(/not reconstruction quality/);
  });
});

describe('metrics', () => {
  const img = (w: number, h: number, c: number, f: (i: number) => number): MetricImage => ({
    width: w, height: h, channels: c, data: Float64Array.from({ length: w * h * c }, (_, i) => f(i)),
  });
  const texture = (i: number) => 0.5 + 0.4 * Math.sin(i * 0.37) * Math.cos(i * 0.011);

  it('SSIM(x, x) = 1 and PSNR(x, x) = ∞, masked or not', () => {
    const x = img(32, 24, 3, texture);
    const mask = Float64Array.from({ length: 32 * 24 }, (_, i) => (i % 32 > 10 ? 1 : 0));
    expect(ssim(x, x)).toBe(1);
    expect(ssim(x, x, { mask })).toBe(1);
    expect(psnr(x, x)).toBe(Infinity);
    expect(faceMetrics(x, x, mask)).toEqual({ ssim: 1, ssim_masked: 1, psnr: Infinity, psnr_masked: Infinity });
  });

  it('PSNR of a constant offset d is −20·log10(d); a mask weights the error', () => {
    const x = img(16, 16, 1, (i) => 0.25 + (i % 7) * 0.05);
    const d = 0.1;
    const y = img(16, 16, 1, (i) => x.data[i] + d);
    expect(psnr(x, y)).toBeCloseTo(-20 * Math.log10(d), 10);
    // Error only outside the mask: the masked PSNR sees none.
    const z = img(16, 16, 1, (i) => x.data[i] + (i < 128 ? 0.2 : 0));
    const mask = Float64Array.from({ length: 256 }, (_, i) => (i < 128 ? 0 : 1));
    expect(psnr(x, z, { mask })).toBe(Infinity);
    expect(mse(x, z)).toBeCloseTo(0.02, 12);
    expect(psnr(x, z, { range: 2 })).toBeCloseTo(10 * Math.log10(4 / 0.02), 10);
  });

  it('SSIM drops with noise, is symmetric, and an all-zero mask gives NaN (skipped by the mean)', () => {
    const x = img(24, 24, 1, texture);
    const y = img(24, 24, 1, (i) => texture(i) + ((i * 7919) % 13) / 60 - 0.1);
    const s = ssim(x, y);
    expect(s).toBeGreaterThan(0);
    expect(s).toBeLessThan(1);
    expect(ssim(y, x)).toBeCloseTo(s, 12);
    const zero = new Float64Array(24 * 24);
    expect(ssim(x, y, { mask: zero })).toBeNaN();
    const m = meanMetrics([faceMetrics(x, y, zero), faceMetrics(x, y, new Float64Array(576).fill(1))]);
    expect(m.ssim_masked).toBeCloseTo(s, 12);
    expect(m.counted).toEqual({ ssim: 2, ssim_masked: 1, psnr: 2, psnr_masked: 1 });
    expect(() => ssim(x, img(24, 23, 1, texture))).toThrow(/differ in size/);
  });

  it('reads XSeg mask PNGs (gray and RGBA, adaptive row filters) and applies the hold-out rule', () => {
    const data = Uint8Array.from({ length: 37 * 23 }, (_, i) => (i * 31) % 256);
    for (const level of [0, 6, 9] as const) {
      const out = decodePngFirstChannel(encodePng({ width: 37, height: 23, channels: 1, data }, level));
      expect(out).toMatchObject({ width: 37, height: 23, channels: 1 });
      expect(Buffer.from(out.data).equals(Buffer.from(data))).toBe(true);
    }
    const rgba = Uint8Array.from({ length: 5 * 4 * 4 }, (_, i) => (i % 4 === 0 ? i * 3 : 255 - i));
    const first = decodePngFirstChannel(encodePng({ width: 5, height: 4, channels: 4, data: rgba }));
    expect([...first.data]).toEqual([...rgba].filter((_, i) => i % 4 === 0));
    expect([...Array(10).keys()].filter((i) => isHeldOut(i, 5))).toEqual([4, 9]);
    const held = readDflFolder(dst, { channels: 1, holdoutEvery: 2, holdout: 'only' });
    const kept = readDflFolder(dst, { channels: 1, holdoutEvery: 2 });
    expect(held.faces.map((f) => f.id)).toEqual(['00002_0.jpg']);
    expect(kept.faces.map((f) => f.id)).toEqual(['00001_0.jpg', '00003_0.jpg']);
  });
});

describe('fast wasm kernels (cli/wasmKernels.ts)', () => {
  it('give the stock kernels\' conv gradients and transposed matmuls, and free their temporaries', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const gradients = async () => {
      const out: Float32Array[] = [];
      // Downscale 5×5/2, 3×3 and 1×1 convs (§A.2) through the model's im2col conv; a matmul with both transposes.
      for (const [xs, ws, stride] of [[[2, 16, 16, 3], [5, 5, 3, 8], 2], [[2, 8, 8, 4], [3, 3, 4, 6], 1], [[2, 8, 8, 4], [1, 1, 4, 6], 1]] as const) {
        const x = tf.randomUniform([...xs], -1, 1, 'float32', 1) as tf.Tensor4D;
        const w = tf.randomUniform([...ws], -1, 1, 'float32', 2) as tf.Tensor4D;
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(conv2dSym(a as tf.Tensor4D, b as tf.Tensor4D, stride))))([x, w]);
        out.push((await dx.data()) as Float32Array, (await dw.data()) as Float32Array);
        tf.dispose([x, w, dx, dw]);
      }
      const y = tf.tidy(() => tf.matMul(tf.randomUniform([3, 7, 5], -1, 1, 'float32', 3), tf.randomUniform([3, 9, 7], -1, 1, 'float32', 4), true, true));
      out.push((await y.data()) as Float32Array);
      y.dispose();
      return out;
    };
    const stock = await gradients();
    const n0 = tf.memory().numTensors;
    const b0 = tf.memory().numBytes;
    installFastWasmKernels();
    const fast = await gradients();
    expect(tf.memory().numTensors).toBe(n0);
    expect(tf.memory().numBytes).toBe(b0);
    stock.forEach((a, i) => {
      expect(fast[i].length).toBe(a.length);
      let worst = 0;
      for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - fast[i][j]) / (1 + Math.abs(a[j])));
      expect(worst, `output ${i}`).toBeLessThan(1e-5);
    });
    // dx (outputs 0, 2, 4) is the same computation reordered; it comes out bit-identical.
    for (const i of [0, 2, 4]) expect(Buffer.from(fast[i].buffer).equals(Buffer.from(stock[i].buffer))).toBe(true);
  });
});

describe.skipIf(!hasSharedData)(`real facesets${hasSharedData ? '' : ' (skipped: ../shared/data absent)'}`, () => {
  it('trains Quick-test on faceswap_clip → obama and scores held-out Obama faces', () => {
    const file = join(dir, 'real.saehdbw');
    const fs = join(sharedDataDir, 'facesets');
    const r = run('train', '--src', join(fs, 'faceswap_clip/aligned'), '--dst', join(fs, 'obama/aligned'), '--model', file,
      '--preset', 'quickTest', '--iters', '2', '--holdout-every', '10');
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/src: 82 faces .*\(9 held out\)/);
    expect(r.stderr).toMatch(/dst: 234 faces .*\(25 held out\)/);
    expect(load(file).iter).toBe(2);
    const e = json(run('eval', '--model', file, '--faces', join(fs, 'obama/aligned'), '--holdout-every', '10').stdout);
    expect(e.faces).toBe(25);
    expect(e.ssim > 0 && e.ssim <= 1 && e.ssim_masked > 0 && e.ssim_masked <= 1).toBe(true);
    expect(Number.isFinite(e.psnr) && Number.isFinite(e.psnr_masked)).toBe(true);
  });
});

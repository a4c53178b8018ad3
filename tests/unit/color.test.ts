import { describe, expect, it } from 'vitest';
import {
  COLOR_TRANSFER_MODES,
  colorHistMatch,
  colorTransfer,
  colorTransferHook,
  colorTransferModesFor,
  colorTransferSot,
  fromLab,
  getColorTransfer,
  linearColorTransfer,
  toLab,
} from '../../src/core/color/index.ts';
import type { FloatImage } from '../../src/core/image/rawImage.ts';
import type { ColorTransferHook } from '../../src/core/samples/generator.ts';
import { Rng } from '../../src/core/samples/random.ts';

// ---- fixtures and independent statistics ----------------------------------------------------------------------------

/** A smooth, textured image: per channel base + gradients + low-frequency sines + a little noise (seeded). */
function smoothImage(w: number, h: number, C: number, seed: number, base: number[], amp: number[]): FloatImage {
  const r = new Rng(seed);
  const fx = r.uniform(0.05, 0.15), fy = r.uniform(0.05, 0.15), ph = r.uniform(0, 6);
  const data = new Float32Array(w * h * C);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const s = Math.sin(x * fx + ph) * Math.cos(y * fy), g = x / w - 0.5, t = y / h - 0.5;
      for (let c = 0; c < C; c++) {
        const v = base[c] + amp[c] * (0.5 * s + 0.3 * (c % 2 ? g : t) + 0.2 * ((c + 1) % 2 ? g : -t)) + 0.01 * r.normal();
        data[(y * w + x) * C + c] = Math.min(1, Math.max(0, v));
      }
    }
  return { width: w, height: h, channels: C, data };
}

function discMask(w: number, h: number, cx: number, cy: number, r: number): FloatImage {
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = Math.hypot(x - cx, y - cy) <= r ? 1 : 0;
  return { width: w, height: h, channels: 1, data };
}

/** Mean and population covariance (float64), over mask ≥ 0.5 when given — written independently of the library. */
function stats(img: FloatImage, mask?: FloatImage, unbiased = false): { mean: number[]; cov: number[][] } {
  const C = img.channels, P = img.width * img.height;
  const mean = new Array(C).fill(0);
  let n = 0;
  for (let i = 0; i < P; i++) {
    if (mask && mask.data[i] < 0.5) continue;
    n++;
    for (let c = 0; c < C; c++) mean[c] += img.data[i * C + c];
  }
  for (let c = 0; c < C; c++) mean[c] /= n;
  const cov = Array.from({ length: C }, () => new Array(C).fill(0));
  for (let i = 0; i < P; i++) {
    if (mask && mask.data[i] < 0.5) continue;
    for (let a = 0; a < C; a++)
      for (let b = 0; b < C; b++) cov[a][b] += (img.data[i * C + a] - mean[a]) * (img.data[i * C + b] - mean[b]);
  }
  for (let a = 0; a < C; a++) for (let b = 0; b < C; b++) cov[a][b] /= unbiased ? n - 1 : n;
  return { mean, cov };
}

const frob = (a: number[][], b: number[][]) => Math.sqrt(a.flat().reduce((s, v, i) => s + (v - b.flat()[i]) ** 2, 0));
const dist = (a: number[], b: number[]) => Math.hypot(...a.map((v, i) => v - b[i]));

/** Sliced Wasserstein-2 distance estimate: 64 fixed directions, sorted projections, quantile resampling. */
function swd(a: FloatImage, b: FloatImage): number {
  const C = a.channels;
  const r = new Rng(987654);
  const Pa = a.width * a.height, Pb = b.width * b.height;
  const pa = new Float64Array(Pa), pb = new Float64Array(Pb);
  let total = 0;
  const dirs = 64;
  for (let k = 0; k < dirs; k++) {
    const d = Array.from({ length: C }, () => r.normal());
    const n = Math.hypot(...d);
    for (let i = 0; i < Pa; i++) pa[i] = d.reduce((s, v, c) => s + (v / n) * a.data[i * C + c], 0);
    for (let i = 0; i < Pb; i++) pb[i] = d.reduce((s, v, c) => s + (v / n) * b.data[i * C + c], 0);
    pa.sort();
    pb.sort();
    let s = 0;
    for (let i = 0; i < Pa; i++) s += (pa[i] - pb[Math.floor((i * Pb) / Pa)]) ** 2;
    total += s / Pa;
  }
  return Math.sqrt(total / dirs);
}

const W = 48, H = 40;

// ---- registry ---------------------------------------------------------------------------------------------------

describe('colour-transfer registry (spec §E.1, §E.9)', () => {
  it('lists DFL’s names with channel support and training/merge use', () => {
    expect(COLOR_TRANSFER_MODES.map((m) => m.name)).toEqual(['none', 'rct', 'lct', 'mkl', 'mkl-m', 'idt', 'idt-m', 'sot', 'sot-m', 'mix-m']);
    expect(colorTransferModesFor(1, 'training').map((m) => m.name)).toEqual(['none', 'lct', 'sot']);
    expect(colorTransferModesFor(1, 'merge').map((m) => m.name)).toEqual(['none', 'lct', 'sot-m']);
    expect(colorTransferModesFor(3, 'training').map((m) => m.name)).toEqual(['none', 'rct', 'lct', 'mkl', 'idt', 'sot']);
    expect(colorTransferModesFor(3, 'merge').map((m) => m.mergeCode)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    for (const m of COLOR_TRANSFER_MODES) expect(m.help.length).toBeGreaterThan(10);
    expect(() => getColorTransfer('foo')).toThrow(/unknown colour transfer/);
  });

  it('refuses 3-channel-only modes on gray images and never modifies its inputs', () => {
    const t = smoothImage(W, H, 1, 1, [0.5], [0.2]);
    const r = smoothImage(W, H, 1, 2, [0.4], [0.3]);
    for (const name of ['rct', 'mkl', 'idt', 'mix-m'] as const) expect(() => colorTransfer(name, t, r)).toThrow(/3-channel|3 -channel|defined for 3/);
    const tCopy = t.data.slice(), rCopy = r.data.slice();
    for (const name of ['none', 'lct', 'sot', 'sot-m'] as const) {
      const out = colorTransfer(name, t, r, new Rng(1));
      expect(out.data).not.toBe(t.data);
      expect(out.width).toBe(W);
    }
    expect(t.data).toEqual(tCopy);
    expect(r.data).toEqual(rCopy);
  });

  it('fits the sample generator’s ct_mode hook', async () => {
    const hook = colorTransferHook('lct', []) as ColorTransferHook;
    expect(hook.faces).toEqual([]);
    const t = smoothImage(W, H, 3, 3, [0.6, 0.5, 0.4], [0.2, 0.2, 0.2]);
    const r = smoothImage(W, H, 3, 4, [0.4, 0.5, 0.6], [0.1, 0.1, 0.1]);
    const out = hook.transfer({ ...t, data: t.data.slice() }, r, new Rng(5));
    expect(dist(stats(out).mean, stats(r).mean)).toBeLessThan(1e-4);
    expect(colorTransferHook('none', [])).toBeNull();
    expect(() => colorTransferHook('sot-m', [])).toThrow(/merge-only/);
  });
});

// ---- LCT -------------------------------------------------------------------------------------------------------

describe('LCT (spec §E.3, §E.9)', () => {
  it('one channel: the masked region’s mean and std become the reference’s (closed form with eps = 1e-5)', () => {
    const t = smoothImage(W, H, 1, 11, [0.5], [0.15]);
    const r = smoothImage(W, H, 1, 12, [0.4], [0.25]);
    const tm = discMask(W, H, 20, 20, 14), rm = discMask(W, H, 28, 18, 12);
    const out = linearColorTransfer(t, r, { targetMask: tm, referenceMask: rm });
    const st = stats(t, tm), sr = stats(r, rm), so = stats(out, tm);
    const eps = 1e-5;
    // no clipping happened in this setup
    expect(Math.min(...out.data)).toBeGreaterThan(0);
    expect(Math.max(...out.data)).toBeLessThan(1);
    expect(so.mean[0]).toBeCloseTo(sr.mean[0], 6);
    const expectedStd = Math.sqrt(st.cov[0][0]) * Math.sqrt((sr.cov[0][0] + eps) / (st.cov[0][0] + eps));
    expect(Math.sqrt(so.cov[0][0])).toBeCloseTo(expectedStd, 6);
    expect(Math.abs(Math.sqrt(so.cov[0][0]) - Math.sqrt(sr.cov[0][0]))).toBeLessThan(2e-4); // eps-level difference
  });

  it('one channel, whole images: equals the closed form pixel by pixel (J.5)', () => {
    const t = smoothImage(W, H, 1, 13, [0.55], [0.1]);
    const r = smoothImage(W, H, 1, 14, [0.35], [0.2]);
    const out = colorTransfer('lct', t, r);
    const st = stats(t), sr = stats(r);
    const k = Math.sqrt((sr.cov[0][0] + 1e-5) / (st.cov[0][0] + 1e-5));
    for (let i = 0; i < t.data.length; i += 7) {
      const e = Math.min(1, Math.max(0, (t.data[i] - st.mean[0]) * k + sr.mean[0]));
      expect(out.data[i]).toBeCloseTo(e, 5);
    }
  });

  it('three channels: mean and covariance become the reference’s (pca, chol and sym)', () => {
    const t = smoothImage(W, H, 3, 21, [0.6, 0.45, 0.4], [0.15, 0.12, 0.1]);
    const r = smoothImage(W, H, 3, 22, [0.45, 0.5, 0.55], [0.1, 0.16, 0.12]);
    const sr = stats(r);
    for (const mode of ['pca', 'chol', 'sym'] as const) {
      const out = linearColorTransfer(t, r, { mode, eps: 0 });
      expect(Math.min(...out.data)).toBeGreaterThan(0);
      expect(Math.max(...out.data)).toBeLessThan(1);
      const so = stats(out);
      expect(dist(so.mean, sr.mean)).toBeLessThan(1e-5);
      expect(frob(so.cov, sr.cov)).toBeLessThan(1e-6);
    }
    // with the default eps the covariance matches up to eps-sized terms
    const so = stats(colorTransfer('lct', t, r));
    expect(frob(so.cov, sr.cov)).toBeLessThan(3e-5);
  });
});

// ---- RCT -------------------------------------------------------------------------------------------------------

describe('RCT (spec §E.4)', () => {
  it('OpenCV float Lab: white, red, round trip', () => {
    const img: FloatImage = { width: 2, height: 1, channels: 3, data: Float32Array.of(1, 1, 1, 1, 0, 0) };
    const lab = toLab(img, 'rgb');
    expect(lab[0]).toBeCloseTo(100, 2);
    expect(Math.abs(lab[1])).toBeLessThan(0.01);
    expect(Math.abs(lab[2])).toBeLessThan(0.01);
    expect(lab[3]).toBeCloseTo(53.24, 1);
    expect(lab[4]).toBeCloseTo(80.09, 1);
    expect(lab[5]).toBeCloseTo(67.2, 1);
    // BGR order reads the same pixel reversed
    const bgr = toLab({ ...img, data: Float32Array.of(1, 1, 1, 0, 0, 1) }, 'bgr');
    expect(bgr[4]).toBeCloseTo(lab[4], 4);
    const t = smoothImage(W, H, 3, 31, [0.6, 0.45, 0.4], [0.2, 0.2, 0.2]);
    const back = fromLab(toLab(t, 'rgb'), W, H, 'rgb');
    for (let i = 0; i < t.data.length; i++) expect(Math.abs(back.data[i] - t.data[i])).toBeLessThan(1e-4);
  });

  it('matches the per-channel Lab mean and std of the reference', () => {
    const t = smoothImage(W, H, 3, 32, [0.62, 0.48, 0.42], [0.12, 0.1, 0.1]);
    const r = smoothImage(W, H, 3, 33, [0.5, 0.45, 0.5], [0.15, 0.12, 0.14]);
    const out = colorTransfer('rct', t, r, undefined, { order: 'rgb' });
    const labStats = (img: FloatImage) => {
      const lab = toLab(img, 'rgb');
      const P = img.width * img.height;
      return [0, 1, 2].map((c) => {
        let s = 0, q = 0;
        for (let i = 0; i < P; i++) {
          s += lab[3 * i + c];
          q += lab[3 * i + c] ** 2;
        }
        return [s / P, Math.sqrt(q / P - (s / P) ** 2)];
      });
    };
    const so = labStats(out), sr = labStats(r), st = labStats(t);
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(so[c][0] - sr[c][0])).toBeLessThan(0.02);
      expect(Math.abs(so[c][1] - sr[c][1]) / sr[c][1]).toBeLessThan(0.005);
      expect(Math.abs(st[c][0] - sr[c][0]) + Math.abs(st[c][1] - sr[c][1])).toBeGreaterThan(0.2); // it did move
    }
  });

  it('masked statistics count masked-out pixels as Lab zeros (DFL quirk, J.4 #10)', () => {
    const t = smoothImage(W, H, 3, 34, [0.6, 0.5, 0.4], [0.1, 0.1, 0.1]);
    const r = smoothImage(W, H, 3, 35, [0.5, 0.5, 0.5], [0.1, 0.1, 0.1]);
    const m = discMask(W, H, 24, 20, 15);
    const a = colorTransfer('rct', t, r, undefined, { order: 'rgb', targetMask: m });
    const b = colorTransfer('rct', t, r, undefined, { order: 'rgb' });
    expect(a.data).not.toEqual(b.data);
  });
});

// ---- SOT -------------------------------------------------------------------------------------------------------

describe('SOT (spec §E.2, §E.9)', () => {
  it('sot-m reduces the sliced Wasserstein distance; a fixed seed gives identical results', () => {
    const t = smoothImage(W, H, 3, 41, [0.65, 0.45, 0.35], [0.2, 0.15, 0.1]);
    const r = smoothImage(W, H, 3, 42, [0.4, 0.5, 0.6], [0.1, 0.2, 0.15]);
    const ones: FloatImage = { width: W, height: H, channels: 1, data: new Float32Array(W * H).fill(1) };
    const before = swd(t, r);
    const a = colorTransfer('sot-m', t, r, new Rng(42), { targetMask: ones });
    const b = colorTransfer('sot-m', t, r, new Rng(42), { targetMask: ones });
    const c = colorTransfer('sot-m', t, r, new Rng(43), { targetMask: ones });
    expect(swd(a, r)).toBeLessThan(0.5 * before);
    expect(a.data).toEqual(b.data);
    expect(a.data).not.toEqual(c.data);
    // without the smoothing of the correction the match is much closer still
    const raw = colorTransferSot(t, r, new Rng(42), { batchSize: 30, regSigmaXY: 0 });
    expect(swd(raw, r)).toBeLessThan(0.25 * before);
    // training 'sot' is clipped and also moves toward the reference
    const tr = colorTransfer('sot', t, r, new Rng(7));
    expect(Math.min(...tr.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...tr.data)).toBeLessThanOrEqual(1);
    expect(swd(tr, r)).toBeLessThan(before);
  });

  it('masked: outside the binary mask both images are zero, inside the region’s distribution moves', () => {
    // large enough that the σ = 16 smoothing of the correction does not wash it out across the mask edge
    const t = smoothImage(128, 112, 3, 43, [0.65, 0.45, 0.35], [0.2, 0.15, 0.1]);
    const r = smoothImage(128, 112, 3, 44, [0.4, 0.5, 0.6], [0.1, 0.2, 0.15]);
    const m = discMask(128, 112, 64, 56, 48);
    const out = colorTransfer('sot-m', t, r, new Rng(3), { targetMask: m });
    const mt = stats(t, m), mr = stats(r, m), mo = stats(out, m);
    expect(dist(mo.mean, mr.mean)).toBeLessThan(0.5 * dist(mt.mean, mr.mean));
  });

  it('one channel: one step without smoothing is an exact quantile match (§E.9)', () => {
    const t = smoothImage(W, H, 1, 51, [0.5], [0.3]);
    const r = smoothImage(W, H, 1, 52, [0.3], [0.2]);
    const out = colorTransferSot(t, r, new Rng(1), { steps: 1, batchSize: 1, regSigmaXY: 0 });
    const so = Float32Array.from(out.data).sort(), sr = Float32Array.from(r.data).sort();
    for (let i = 0; i < so.length; i++) expect(Math.abs(so[i] - sr[i])).toBeLessThan(1e-6);
    // the order of the pixels is kept (a monotone map)
    const idx = Array.from(t.data.keys()).sort((a, b) => t.data[a] - t.data[b]);
    for (let k = 1; k < idx.length; k++) expect(out.data[idx[k]]).toBeGreaterThanOrEqual(out.data[idx[k - 1]]);
    // sot-m on gray faces works and reduces the distance
    const m = colorTransfer('sot-m', t, r, new Rng(2));
    expect(swd(m, r)).toBeLessThan(0.5 * swd(t, r));
  });
});

// ---- MKL / IDT / mix / hist-match ----------------------------------------------------------------------------------

describe('MKL and IDT (spec §E.5, §E.6)', () => {
  const t = smoothImage(W, H, 3, 61, [0.62, 0.48, 0.4], [0.15, 0.12, 0.1]);
  const r = smoothImage(W, H, 3, 62, [0.45, 0.5, 0.55], [0.1, 0.15, 0.12]);
  const st = stats(t, undefined, true), sr = stats(r, undefined, true);

  it('MKL maps the mean and (unbiased) covariance onto the reference’s', () => {
    const out = colorTransfer('mkl', t, r);
    expect(Math.min(...out.data)).toBeGreaterThan(0);
    const so = stats(out, undefined, true);
    expect(dist(so.mean, sr.mean)).toBeLessThan(1e-5);
    expect(frob(so.cov, sr.cov)).toBeLessThan(1e-6);
    // and it is the least-displacement map: closer to the input than LCT's pca map
    const lct = colorTransfer('lct', t, r);
    const disp = (a: FloatImage) => a.data.reduce((s, v, i) => s + (v - t.data[i]) ** 2, 0);
    expect(disp(out)).toBeLessThanOrEqual(disp(lct) * 1.0001);
  });

  it('IDT moves mean and covariance toward the reference; fixed seed is stable', () => {
    const a = colorTransfer('idt', t, r, new Rng(9));
    const b = colorTransfer('idt', t, r, new Rng(9));
    expect(a.data).toEqual(b.data);
    const sa = stats(a, undefined, true);
    // 20 rotations with relaxation 1/20 close about 60 % of the gap on these (nearly degenerate) colour clouds;
    // numbers checked against DFL's NumPy code fed the same rotations (agreement to 3e-8 per step)
    expect(dist(sa.mean, sr.mean)).toBeLessThan(0.5 * dist(st.mean, sr.mean));
    expect(frob(sa.cov, sr.cov)).toBeLessThan(0.6 * frob(st.cov, sr.cov));
    expect(swd(a, r)).toBeLessThan(0.6 * swd(t, r));
  });

  it('masked variants and mix-m move the masked distribution', () => {
    const m = discMask(W, H, 24, 20, 15);
    const mt = stats(t, m), mr = stats(r, m);
    for (const name of ['mkl-m', 'idt-m', 'mix-m'] as const) {
      const out = colorTransfer(name, t, r, new Rng(4), { targetMask: m, order: 'rgb' });
      const mo = stats(out, m);
      // (mix-m's SOT part smooths its correction with σ = 16, which on a 48×40 image also spreads it over the
      // zero background, so it moves less here than on a face-sized crop)
      expect(dist(mo.mean, mr.mean), name).toBeLessThan((name === 'mix-m' ? 0.7 : 0.5) * dist(mt.mean, mr.mean));
    }
  });
});

describe('histogram match (spec §E.8)', () => {
  it('threshold 255 maps the source quantiles onto the template’s values', () => {
    const t = smoothImage(W, H, 1, 71, [0.5], [0.3]);
    const r = smoothImage(W, H, 1, 72, [0.3], [0.2]);
    const out = colorHistMatch(t, r, 255);
    const so = Float32Array.from(out.data).sort(), sr = Float32Array.from(r.data).sort();
    let maxErr = 0;
    for (let i = 0; i < so.length; i++) maxErr = Math.max(maxErr, Math.abs(so[i] - sr[i]));
    expect(maxErr).toBeLessThan(0.02);
    // a lower threshold maps to lower quantiles (a darker result)
    const dark = colorHistMatch(t, r, 200);
    expect(stats(dark).mean[0]).toBeLessThan(stats(out).mean[0]);
  });
});

/**
 * Merge throughput (issue 6 "Benchmark"): frames merged per second at 1280×720, one face per frame, default
 * one-channel settings (overlay, mask dst), for the tiny model and the seed configuration (DF-UDT 192-128-48-32-16 BW).
 *  - node: decode JPEG → predict (tfjs wasm) → render → encode PNG, the core pipeline without storage;
 *  - browser: the built app's merge panel and worker on the adapter at hand ('auto' backend): Merge all over the
 *    frames after one preview (which compiles the shaders), click → "Done", including decoding and storing.
 * The models are untrained (the cost of a merge does not depend on the weights). The seed model's predict is heavy on
 * a software adapter: it merges at most 2 frames and stops at a time budget (reporting what finished), so it never
 * fails on time. `--only merge-tiny` / `--only merge-seed` pick one configuration.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from '@playwright/test';
import { initNodeJpegCodec } from '../cli/nodeCodec.ts';
import { encodeCheckpoint } from '../src/core/checkpoint/checkpointFile.ts';
import { OPTIONS_SCHEMA_VERSION, seed2GB, type ModelOptions } from '../src/core/model/options.ts';
import { createSaehd } from '../src/core/model/saehd.ts';
import { renderFrame, type MergeDeps } from '../src/core/frames/mergeJob.ts';
import { mergeModelInfo, modelPredictor } from '../src/core/frames/modelPredictor.ts';
import { FrameStore } from '../src/core/frames/frameStore.ts';
import { writeDflJpg } from '../src/core/formats/dfljpg.ts';
import { ndarray } from '../src/core/formats/pyValue.ts';
import { decodeJpeg, encodeJpeg } from '../src/core/image/jpegCodec.ts';
import { encodePng } from '../src/core/image/png.ts';
import { defaultMergeSettings } from '../src/core/merge/index.ts';
import { tinyTest } from '../src/ui/lib/trainPresets.ts';
import { extractorDict, syntheticLandmarks, syntheticPixels } from '../tests/fixtures/makeFaces.ts';
import { dropFiles, openApp, panel } from '../tests/e2e/page.ts';
import { startApp } from './server.ts';

export const MERGE_BENCH_CONFIGS = ['merge-tiny', 'merge-seed'] as const;

export interface MergeBenchRow {
  name: string;
  where: 'node' | 'browser';
  backend: string;
  frames: number;
  frame_px: string;
  seconds: number | null;
  frames_per_s: number | null;
  ms_per_frame: number | null;
  note: string;
}

const W = 1280, H = 720, FACE = 256;
/** Where the self-made face sits in the frame: aligned × 1.5 + offset (a 384-px face in the middle). */
const OFF = [448, 120] as const;

const CONFIGS: Record<(typeof MERGE_BENCH_CONFIGS)[number], { label: string; options: ModelOptions; frames: number; budgetS: number }> = {
  'merge-tiny': { label: 'tiny (DF-UD 32, 1 ch)', options: tinyTest, frames: 8, budgetS: 300 },
  'merge-seed': { label: 'seed (DF-UDT 192-128-48-32-16 BW)', options: seed2GB, frames: 2, budgetS: 600 },
};

interface Material {
  frames: { name: string; bytes: Uint8Array }[];
  faces: { name: string; bytes: Uint8Array }[];
  landmarks: Float64Array[];
}

/** `n` 1280×720 JPEG frames with a textured background and one self-made DFL face each (its source_landmarks). */
async function material(n: number): Promise<Material> {
  const out: Material = { frames: [], faces: [], landmarks: [] };
  for (let i = 0; i < n; i++) {
    const stem = String(i + 1).padStart(5, '0');
    const frame = new Uint8Array(W * H * 3);
    for (let p = 0; p < W * H; p++) for (let c = 0; c < 3; c++) frame[3 * p + c] = ((p % W) + Math.floor(p / W) * 3 + c * 70 + i * 5) & 255;
    out.frames.push({ name: `${stem}.jpg`, bytes: await encodeJpeg({ width: W, height: H, channels: 3, data: frame }, 92) });
    const lm = syntheticLandmarks(FACE, i % 5);
    const src = lm.map(([x, y]) => [x * 1.5 + OFF[0], y * 1.5 + OFF[1]]);
    out.landmarks.push(Float64Array.from(src.flat()));
    const d = extractorDict(FACE, i);
    d.set('source_landmarks', src);
    d.set('source_rect', ndarray('i8', [4], new BigInt64Array([BigInt(OFF[0]), BigInt(OFF[1]), BigInt(OFF[0] + FACE * 1.5), BigInt(OFF[1] + FACE * 1.5)])));
    const jpeg = await encodeJpeg({ width: FACE, height: FACE, channels: 3, data: syntheticPixels(FACE, 3, i) }, 90);
    out.faces.push({ name: `${stem}_0.jpg`, bytes: writeDflJpg(jpeg, d) });
  }
  return out;
}

/** A weights-only checkpoint (no optimizer state: merging does not need it, and the seed file stays ~120 MB). */
function weightsOnlyCheckpoint(options: ModelOptions): Uint8Array {
  const model = createSaehd(options, 1);
  try {
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, v] of model.allVariables()) weights.set(k, { shape: v.shape.slice(), data: v.dataSync() as Float32Array });
    return encodeCheckpoint({ options: { ...options }, optionsSchemaVersion: OPTIONS_SCHEMA_VERSION, iter: 0, lossHistory: [], weights, optimizer: new Map(), extra: {} });
  } finally {
    model.dispose();
  }
}

async function benchNode(cfg: (typeof CONFIGS)[keyof typeof CONFIGS], m: Material): Promise<MergeBenchRow> {
  await tf.setBackend('wasm');
  const model = createSaehd(cfg.options, 1);
  const settings = defaultMergeSettings(1);
  const deps: MergeDeps = {
    frames: null as unknown as FrameStore, // renderFrame does not touch storage
    model: mergeModelInfo(model),
    predict: modelPredictor(model),
    faceMeta: async (name) => ({ source_landmarks: m.landmarks[Number(name.slice(0, 5)) - 1] }),
    decode: (f) => decodeJpeg(f.bytes),
    encode: async (img) => encodePng(img, 1),
  };
  const one = async (i: number) => {
    const f = m.frames[i];
    const r = await renderFrame(deps, { name: f.name, bytes: f.bytes, width: W, height: H, type: 'image/jpeg' }, [m.faces[i].name], settings);
    encodePng(r.image, 1);
  };
  try {
    await one(0); // warm-up: wasm kernels, first allocations
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < cfg.frames; i++) {
      if (n > 0 && performance.now() - t0 > cfg.budgetS * 1000) break;
      await one(i);
      n++;
    }
    const s = (performance.now() - t0) / 1000;
    return { name: cfg.label, where: 'node', backend: 'wasm', frames: n, frame_px: `${W}x${H}`, seconds: s, frames_per_s: n / s, ms_per_frame: (1000 * s) / n, note: 'decode + predict + render + PNG, no storage' };
  } finally {
    model.dispose();
  }
}

async function benchBrowser(name: string, cfg: (typeof CONFIGS)[keyof typeof CONFIGS], m: Material): Promise<MergeBenchRow> {
  const row: MergeBenchRow = { name: cfg.label, where: 'browser', backend: '', frames: 0, frame_px: `${W}x${H}`, seconds: null, frames_per_s: null, ms_per_frame: null, note: '' };
  const dir = mkdtempSync(join(tmpdir(), 'saehdbw-merge-bench-'));
  const ckpt = join(dir, `${name}.saehdbw`);
  writeFileSync(ckpt, weightsOnlyCheckpoint(cfg.options));
  const app = await startApp();
  try {
    const page = await (await app.browser.newContext({ baseURL: app.url })).newPage();
    await openApp(page);
    await dropFiles(page, 'dst', m.faces);
    await expect(panel(page, 'dst').getByTestId('face-count')).toHaveText(String(m.faces.length), { timeout: 120_000 });
    await page.getByLabel('Upload checkpoint').setInputFiles(ckpt);
    const s = page.getByRole('region', { name: 'Merge frames', exact: true });
    const pickModel = s.getByLabel('Merge model');
    await expect(pickModel.locator('option', { hasText: name })).toHaveCount(1, { timeout: 600_000 });
    await pickModel.selectOption({ index: 1 });
    await expect(s.getByTestId('merge-model')).toBeVisible({ timeout: 600_000 });
    row.backend = (await s.getByTestId('merge-model').textContent())?.split(' — ')[1]?.trim() ?? '';
    await s.getByLabel('Add frames', { exact: true }).setInputFiles(m.frames.map((f) => ({ name: f.name, mimeType: 'image/jpeg', buffer: Buffer.from(f.bytes) })));
    await expect(s.getByTestId('merge-plan')).toContainText(`${m.frames.length} frames: ${m.frames.length} with faces`, { timeout: 120_000 });
    // One preview first: it compiles the shaders, which the timed run should not include.
    const preview = s.getByRole('region', { name: 'Merge preview' });
    await expect(preview).toHaveAttribute('data-frame', '00001.jpg', { timeout: cfg.budgetS * 1000 });
    await s.getByRole('button', { name: 'Merge all' }).click();
    const t0 = performance.now();
    const progress = s.getByLabel('Merge progress');
    const message = s.getByTestId('merge-message');
    for (;;) {
      if (await message.isVisible()) break;
      if (performance.now() - t0 > cfg.budgetS * 1000) {
        await s.getByRole('button', { name: 'Cancel' }).click();
        await expect(message).toBeVisible({ timeout: cfg.budgetS * 1000 });
        row.note = `stopped at the ${cfg.budgetS} s budget; `;
        break;
      }
      await page.waitForTimeout(250);
    }
    const sec = (performance.now() - t0) / 1000;
    const text = (await message.textContent()) ?? '';
    const done = Number(/(\d+) merged/.exec(text)?.[1] ?? 0);
    void progress;
    row.frames = done;
    row.seconds = sec;
    row.frames_per_s = done ? done / sec : null;
    row.ms_per_frame = done ? (1000 * sec) / done : null;
    row.note += 'Merge all click → Done: decode + predict + render + PNG + IndexedDB';
  } finally {
    await app.stop();
  }
  return row;
}

export async function benchMerge(o: { only: string | null }): Promise<MergeBenchRow[]> {
  await initNodeJpegCodec();
  const picked = MERGE_BENCH_CONFIGS.filter((c) => !o.only || o.only === c);
  const rows: MergeBenchRow[] = [];
  for (const name of picked) {
    const cfg = CONFIGS[name];
    const m = await material(cfg.frames);
    rows.push(await benchNode(cfg, m));
    rows.push(await benchBrowser(name, cfg, m));
  }
  return rows;
}

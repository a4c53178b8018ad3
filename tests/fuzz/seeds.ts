/**
 * Seed files the fuzzers mutate: real DFL aligned faces from ../shared/data when present (else faces made here by the
 * project's own codec and DFLJPG writer), their APP15 pickles, a tiny DFL model folder, checkpoints, and zips.
 */
import { readFileSync } from 'node:fs';
import { zipSync, type Zippable } from 'fflate';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { encodeCheckpoint, type CheckpointContent } from '../../src/core/checkpoint/checkpointFile.ts';
import { readDflPayload } from '../../src/core/formats/dfljpg.ts';
import { type DflFile, encodeDataDat, encodeOptimizerFile, encodeWeightsFile } from '../../src/core/formats/dflModel.ts';
import { quickTest, type ModelOptions } from '../../src/core/model/options.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { hasSharedData, realAlignedFiles } from '../unit/sharedData.ts';

export interface Seeds {
  /** Where the face seeds came from, for the report. */
  faceSource: string;
  faces: Uint8Array[];
  /** The APP15 pickles of `faces`. */
  payloads: Uint8Array[];
  model: DflFile[];
  checkpoints: Uint8Array[];
  zips: Uint8Array[];
}

/** Up to `n` items spread evenly over `xs` (so every faceset is represented). */
function spread<T>(xs: readonly T[], n: number): T[] {
  if (xs.length <= n) return xs.slice();
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]);
}

/** Tiny options (below DFL's prompt ranges, which DFL accepts for stored options). */
export const TINY: ModelOptions = { ...quickTest, archi: 'df-ud', resolution: 32, ae_dims: 16, e_dims: 4, d_dims: 4, d_mask_dims: 4, channels: 1, batch_size: 2 };

function f32(n: number, k: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i + k) * 0.1);
}

/** A DFL model folder with the files readDflModel reads; arrays are small (their shapes are checked later, by loadDfl). */
export function tinyModelFolder(name = 'fz'): DflFile[] {
  const w = (k: number) =>
    new Map([
      ['down1/downs_0/conv1/weight:0', { shape: [5, 5, 1, 4], data: f32(100, k) }],
      ['down1/downs_0/conv1/bias:0', { shape: [4], data: f32(4, k) }],
    ]);
  const files: DflFile[] = [
    { name: `${name}_SAEHDBW_data.dat`, bytes: encodeDataDat({ iter: 3, options: TINY, lossHistory: [[1.5, 2.5], [1.25, 2.25], [1, 2]] }) },
  ];
  for (const part of ['encoder', 'inter', 'decoder_src', 'decoder_dst'] as const)
    files.push({ name: `${name}_SAEHDBW_${part}.npy`, bytes: encodeWeightsFile(w(part.length)) });
  files.push({ name: `${name}_SAEHDBW_src_dst_opt.npy`, bytes: encodeOptimizerFile({ iters: 3, slots: new Map([['ms_encoder/x:0', { shape: [2, 2], data: f32(4, 9) }]]) }) });
  files.push({ name: `${name}_SAEHDBW_GAN.npy`, bytes: encodeWeightsFile(w(7)) });
  return files;
}

function checkpointContent(k: number): CheckpointContent {
  return {
    options: { ...TINY },
    optionsSchemaVersion: 1,
    iter: 10 + k,
    lossHistory: [[1, 2], [0.5, 0.75]],
    weights: new Map([
      ['encoder/a:0', { shape: [2, 3], data: f32(6, k) }],
      ['encoder/b:0', { shape: [5], data: f32(5, k + 1) }],
      ['decoder/c:0', { shape: [1, 1, 2, 2], data: f32(4, k + 2) }],
    ]),
    optimizer: new Map(k % 2 ? [] : [['ms_encoder/a:0', { shape: [2, 3], data: f32(6, k + 3) }]]),
    extra: { previewIds: [1, 2, 3], note: 'fuzz' },
  };
}

let cached: Promise<Seeds> | null = null;

/** The seeds (built once per worker). Also initialises the Node JPEG codec, which prepareFace needs. */
export function loadSeeds(): Promise<Seeds> {
  cached ??= build();
  return cached;
}

async function build(): Promise<Seeds> {
  await initNodeJpegCodec();
  let faces: Uint8Array[];
  let faceSource: string;
  if (hasSharedData && realAlignedFiles().length) {
    const paths = spread(realAlignedFiles(), 16);
    faces = paths.map((p) => new Uint8Array(readFileSync(p)));
    faceSource = `${faces.length} real DFL aligned faces from ../shared/data`;
  } else {
    const made = [...(await makeDflFaces(3, { size: 64, channels: 3 })), ...(await makeDflFaces(2, { size: 48, channels: 1 }))];
    faces = made.map((f) => f.bytes);
    faceSource = `${faces.length} self-made faces (tests/fixtures/makeFaces.ts; ../shared/data absent)`;
  }
  console.log(`[fuzz] face seeds: ${faceSource}`);
  const payloads = faces.map((f) => readDflPayload(f)).filter((p): p is Uint8Array => p !== null).map((p) => p.slice());
  const model = tinyModelFolder();
  const checkpoints = [0, 1].map((k) => encodeCheckpoint(checkpointContent(k)));
  const zip = (entries: Zippable) => zipSync(entries);
  const zips = [
    zip(Object.fromEntries(faces.slice(0, 3).map((b, i) => [`aligned/${String(i).padStart(5, '0')}_0.jpg`, [b, { level: 6 }]]))),
    zip({ 'a.jpg': [faces[0], { level: 0 }], 'README.txt': [new TextEncoder().encode('hello'), { level: 0 }], 'dir/': new Uint8Array(0) }),
    zip({ '__MACOSX/._b.jpg': [faces[1 % faces.length], { level: 9 }], 'b.JPEG': [faces[1 % faces.length], { level: 1 }] }),
  ];
  return { faceSource, faces, payloads, model, checkpoints, zips };
}

/** A highly compressible entry: `mib` MiB of zeros deflated (about 1000:1), in a zip under a .jpg name. */
export function compressibleZip(mib: number): Uint8Array {
  return zipSync({ 'bomb.jpg': [new Uint8Array(mib * 1024 * 1024), { level: 9 }] });
}

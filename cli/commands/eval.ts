/**
 * `saehdbw eval --model FILE --faces DIR [--swap] [--side dst|src] [--holdout-every K] [--backend wasm|cpu] [--batch N]`
 *
 * Scores a model (the page's checkpoint file) on the DFL aligned faces in DIR and prints ONE JSON object:
 * mean SSIM and PSNR of the model's output against each face, unmasked and weighted by the face mask
 * (src/core/eval/metrics.ts). Each face is prepared as the sample generator prepares a training target (spec §D.2
 * step 1, §D.5, §D.8), without the random transform: the model's channels (gray with OpenCV's weights, §I.1), re-cropped
 * to the model's face type from the landmarks (bicubic image, bilinear mask) or resized to the model resolution; the
 * mask is the full-face mask of §D.5 (the landmark hull, or the file's XSeg mask when it has one).
 *
 * The faces' own decoder by default (--side dst: dst→dst, --side src: src→src), a reconstruction. --swap runs the src
 * decoder on the faces (the swap, §A.6): the same metrics are reported, but they measure how close the swap stays to
 * the face it replaces, not reconstruction quality (`reconstruction: false`). --holdout-every K scores only the faces
 * that `saehdbw train --holdout-every K` left out.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { decodeCheckpoint } from '../../src/core/checkpoint/checkpointFile.ts';
import { restoreState } from '../../src/core/checkpoint/modelState.ts';
import { toUserMessage } from '../../src/core/errors.ts';
import { faceMetrics, meanMetrics, type FaceMetrics } from '../../src/core/eval/metrics.ts';
import type { FloatImage } from '../../src/core/image/rawImage.ts';
import { resize } from '../../src/core/image/resize.ts';
import { warpAffine } from '../../src/core/image/warpAffine.ts';
import type { PredictWhich } from '../../src/core/model/saehd.ts';
import { getTransformMat, normalizeFaceType } from '../../src/core/samples/faceAlign.ts';
import { toModelChannels } from '../../src/core/samples/generator.ts';
import { fullFaceMask } from '../../src/core/samples/masks.ts';
import { UsageError } from '../args.ts';
import { readDflFolder, type NodeFace } from '../nodeFaces.ts';
import { initNodeJpegCodec } from '../nodeCodec.ts';
import { setupNodeBackendOrSay, type NodeBackend } from './train.ts';

const USAGE = `usage: saehdbw eval --model FILE --faces DIR [--swap] [--side dst|src] [--holdout-every K]
       [--backend wasm|cpu] [--batch N]
Prints one JSON object: mean SSIM and PSNR of the model's output against every DFL aligned face in DIR, over the
whole face image and weighted by the face mask. --side: which identity the faces are (default dst: dst→dst);
--swap: the src decoder on these faces (a swap, not a reconstruction; same metrics). --holdout-every K: score only
the faces \`saehdbw train --holdout-every K\` left out.
`;

interface EvalArgs {
  model: string;
  faces: string;
  swap: boolean;
  side: 'dst' | 'src';
  holdoutEvery?: number;
  backend: NodeBackend;
  batch: number;
}

function parseEvalArgs(argv: string[]): EvalArgs | 'help' {
  const v: Record<string, string> = {};
  let swap = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--swap') {
      swap = true;
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const key = (eq >= 0 ? a.slice(2, eq) : a.slice(2)).replace(/_/g, '-');
    if (!['model', 'faces', 'side', 'holdout-every', 'backend', 'batch'].includes(key)) throw new UsageError(`unknown option --${key}`);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${key} needs a value`);
    v[key] = value;
  }
  for (const k of ['model', 'faces']) if (!v[k]) throw new UsageError(`--${k} is required`);
  const side = (v.side ?? 'dst') as 'dst' | 'src';
  if (side !== 'dst' && side !== 'src') throw new UsageError('--side must be dst or src');
  if (swap && v.side === 'src') throw new UsageError('--swap runs the src decoder on dst faces; leave out --side src');
  const backend = (v.backend ?? 'wasm') as NodeBackend;
  if (!['wasm', 'cpu', 'webgpu'].includes(backend)) throw new UsageError('--backend must be wasm, cpu or webgpu');
  const int = (s: string | undefined, name: string, min: number, def: number | undefined) => {
    if (s === undefined) return def;
    if (!/^\d+$/.test(s) || Number(s) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
    return Number(s);
  };
  return {
    model: v.model,
    faces: v.faces,
    swap,
    side,
    holdoutEvery: int(v['holdout-every'], 'holdout-every', 2, undefined),
    backend,
    batch: int(v.batch, 'batch', 1, 8)!,
  };
}

/** A face as a training target without augmentation: the generator's `prepare` (§D.2 step 1, §D.5, §D.8). */
async function prepareTarget(face: NodeFace, res: number, channels: 1 | 3, modelFaceType: string): Promise<{ image: FloatImage; mask: FloatImage; xseg: boolean }> {
  const d = await face.load();
  const img = toModelChannels(d.image, channels);
  const { width: w, height: h } = img;
  let mask = fullFaceMask(w, h, d.landmarks, d.xsegMask ?? null, d.eyebrowsExpandMod ?? 1);
  let image: FloatImage = img;
  if (normalizeFaceType(d.faceType || 'full_face') !== normalizeFaceType(modelFaceType)) {
    const mat = getTransformMat(d.landmarks, res, modelFaceType);
    image = warpAffine(img, mat, res, res, { interpolation: 'cubic', border: 'replicate' });
    mask = warpAffine(mask, mat, res, res, { interpolation: 'linear', border: 'constant' });
  } else if (w !== res || h !== res) {
    image = resize(img, res, res, 'cubic');
    mask = resize(mask, res, res, 'linear');
  }
  // Bicubic overshoot: the generator clips targets to [0, 1] too.
  for (const a of [image.data, mask.data]) for (let i = 0; i < a.length; i++) a[i] = a[i] < 0 ? 0 : a[i] > 1 ? 1 : a[i];
  return { image, mask, xseg: !!d.xsegMask };
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);
const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

export async function evalCommand(argv: string[]): Promise<number> {
  const err = (t: string) => void process.stderr.write(`saehdbw eval: ${t}\n`);
  let args: EvalArgs;
  try {
    const p = parseEvalArgs(argv);
    if (p === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    args = p;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`saehdbw eval: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }

  let content;
  try {
    content = decodeCheckpoint(new Uint8Array(readFileSync(args.model)));
  } catch (e) {
    err(`${args.model}: ${toUserMessage(e).replace(/^unexpected problem: /, '')}`);
    return 1;
  }
  if ((await setupNodeBackendOrSay(args.backend, err)) === null) return 2;
  await initNodeJpegCodec();
  const restored = await restoreState(content, { trainer: false });
  const { model, options } = restored;
  const res = options.resolution;
  const ch = options.channels;
  const which: PredictWhich = args.swap ? 'src_dst' : args.side === 'src' ? 'src_src' : 'dst_dst';

  let folder;
  try {
    folder = readDflFolder(args.faces, { channels: ch, holdoutEvery: args.holdoutEvery, holdout: 'only' });
  } catch (e) {
    model.dispose();
    err(toUserMessage(e));
    return 2;
  }
  for (const s of folder.skipped) err(`skipped ${s.path}: ${s.reason}`);

  const per: FaceMetrics[] = [];
  let failed = 0;
  let xseg = 0;
  try {
    for (let i = 0; i < folder.faces.length; i += args.batch) {
      const group: { image: FloatImage; mask: FloatImage; xseg: boolean }[] = [];
      for (const f of folder.faces.slice(i, i + args.batch)) {
        try {
          const t = await prepareTarget(f, res, ch, options.face_type);
          if (t.xseg) xseg++;
          group.push(t);
        } catch (e) {
          failed++;
          err(`${f.path}: ${toUserMessage(e)}`);
        }
      }
      if (!group.length) continue;
      const n = res * res * ch;
      const input = new Float32Array(group.length * n);
      group.forEach((g, k) => input.set(g.image.data, k * n));
      const x = tf.tensor4d(input, [group.length, res, res, ch]);
      let out: { image: tf.Tensor4D; mask: tf.Tensor4D } | null = null;
      try {
        out = model.predict(x, which);
        const img = (await out.image.data()) as Float32Array;
        group.forEach((g, k) => {
          const o = { width: res, height: res, channels: ch, data: img.subarray(k * n, (k + 1) * n) };
          per.push(faceMetrics(o, g.image, g.mask.data));
        });
      } finally {
        x.dispose();
        if (out) tf.dispose([out.image, out.mask]);
      }
    }
  } finally {
    model.dispose();
  }
  const m = meanMetrics(per);
  const result = {
    model: args.model,
    iter: restored.iter,
    archi: options.archi,
    resolution: res,
    channels: ch,
    face_type: options.face_type,
    which,
    reconstruction: !args.swap,
    ...(args.swap
      ? { note: 'swap: the src decoder on these faces; the metrics measure closeness of the swap to the face it replaces, not reconstruction quality' }
      : {}),
    faces: per.length,
    failed,
    skipped: folder.skipped.length,
    holdout_every: args.holdoutEvery ?? null,
    ssim: finiteOrNull(round(m.ssim, 5)),
    ssim_masked: finiteOrNull(round(m.ssim_masked, 5)),
    psnr: finiteOrNull(round(m.psnr, 3)),
    psnr_masked: finiteOrNull(round(m.psnr_masked, 3)),
    mask: xseg ? `XSeg mask for ${xseg} face(s), landmark hull for the rest` : 'landmark hull (spec §D.5)',
    ssim_window: '11×11 Gaussian, σ 1.5, valid windows; masked = weighted by the mask at the window centre',
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  return failed || !per.length ? 1 : 0;
}

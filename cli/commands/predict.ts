/**
 * `saehdbw predict --model DIR_OR_ZIP --faces IN_DIR --out OUT_DIR [--swap] [--side dst|src] [--model-name NAME] [--batch N]`
 *
 * Runs a DeepFaceLab SAEHD / SAEHDBW model (a model folder or a zip of one, spec §C.11) on every aligned face (JPEG) in
 * IN_DIR and writes, per face, the predicted face and mask as 8-bit PNGs `NAME_face.png` and `NAME_mask.png` at the
 * model resolution. Inputs are prepared as the merger prepares them (§F.2, §F.3 step 4): decoded (gray for 1-channel
 * models, OpenCV's BGR→gray, §I.1), values in [0, 1], resized to the model resolution (cv2.resize's default bilinear),
 * BGR channel order for 3-channel models. Outputs are clipped to [0, 1] and truncated to 8 bits as DFL does.
 *
 * Decoder: the faces' own one by default (`--side dst`, the default: dst→dst; `--side src`: src→src); `--swap` runs the
 * src decoder on dst faces (the swap, §A.6, with its own predicted mask "learned-prd", §F.2).
 * Prints one JSON summary line; a face that cannot be read is reported on stderr and the exit status is 1 at the end.
 */
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { toUserMessage } from '../../src/core/errors.ts';
import { isTrainingStateFile, pickDflModel, readDflModel, unzipDflModel, type DflFile } from '../../src/core/formats/dflModel.ts';
import { decodeJpeg } from '../../src/core/image/jpegCodec.ts';
import { encodePng, floatToBytes } from '../../src/core/image/png.ts';
import { resize } from '../../src/core/image/resize.ts';
import { loadDflModel } from '../../src/core/model/loadDfl.ts';
import type { PredictWhich } from '../../src/core/model/saehd.ts';
import { UsageError, parseArgs } from '../args.ts';
import { listInputFiles } from '../files.ts';
import { initNodeJpegCodec } from '../nodeCodec.ts';

const USAGE = `usage: saehdbw predict --model DIR_OR_ZIP --faces IN_DIR --out OUT_DIR [--swap] [--side dst|src]
       [--model-name NAME] [--batch N]
Writes NAME_face.png and NAME_mask.png (model resolution, 8-bit) for every aligned face in IN_DIR:
the faces' own decoder by default (--side: which identity the faces are, default dst), the src decoder on
dst faces with --swap. --model-name picks one model when the folder holds several.
`;

/**
 * The chosen model's data.dat and module files from a model folder (not recursive: DFL keeps a model's files flat) or a
 * zip; optimizer and discriminator files are not read (predicting does not need them).
 */
function readModelFiles(path: string, modelName?: string): DflFile[] {
  const st = statSync(path);
  if (!st.isDirectory()) return unzipDflModel(new Uint8Array(readFileSync(path)), modelName, (n) => !isTrainingStateFile(n));
  const names = readdirSync(path).filter((n) => statSync(join(path, n)).isFile());
  const entry = pickDflModel(names, modelName);
  return [...entry.files.values()]
    .filter((n) => !isTrainingStateFile(n))
    .map((n) => ({ name: n, bytes: new Uint8Array(readFileSync(join(path, n))) }));
}

export async function predictCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, { flags: ['swap', 'help'], values: ['model', 'faces', 'out', 'side', 'model-name', 'batch'] });
    if (args.flags.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    for (const k of ['model', 'faces', 'out']) if (typeof args.flags[k] !== 'string') throw new UsageError(`--${k} is required`);
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const side = args.flags.side ?? 'dst';
    if (side !== 'dst' && side !== 'src') throw new UsageError('--side must be dst or src');
    if (args.flags.swap && side === 'src') throw new UsageError('--swap runs the src decoder on dst faces; leave out --side src');
    const b = args.flags.batch ?? '4';
    if (typeof b !== 'string' || !/^\d+$/.test(b) || Number(b) < 1 || Number(b) > 256) throw new UsageError('--batch must be 1…256');
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`saehdbw predict: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  const modelPath = args.flags.model as string;
  const facesDir = args.flags.faces as string;
  const outDir = args.flags.out as string;
  const side = (args.flags.side ?? 'dst') as 'dst' | 'src';
  const which: PredictWhich = args.flags.swap ? 'src_dst' : side === 'src' ? 'src_src' : 'dst_dst';
  const batch = Number(args.flags.batch ?? '4');

  let faces: string[];
  try {
    if (!statSync(facesDir).isDirectory()) throw new Error();
    faces = listInputFiles([facesDir]);
  } catch {
    process.stderr.write(`saehdbw predict: --faces ${facesDir} is not a folder\n`);
    return 2;
  }

  const dfl = readDflModel(readModelFiles(modelPath, args.flags['model-name'] as string | undefined), {
    modelName: args.flags['model-name'] as string | undefined,
    weightsOnly: true,
  });
  await tf.setBackend('cpu');
  await initNodeJpegCodec();
  const { model, notes } = loadDflModel(dfl, { trainer: false });
  for (const n of notes) process.stderr.write(`saehdbw predict: note: ${n}\n`);
  const res = model.geometry.resolution;
  const ch = model.geometry.channels as 1 | 3;
  mkdirSync(outDir, { recursive: true });

  let written = 0;
  let failed = 0;
  try {
    for (let i = 0; i < faces.length; i += batch) {
      const group: { name: string; pixels: Float32Array }[] = [];
      for (const path of faces.slice(i, i + batch)) {
        try {
          group.push({ name: basename(path, extname(path)), pixels: await prepareFace(readFileSync(path), res, ch) });
        } catch (e) {
          failed++;
          process.stderr.write(`saehdbw predict: ${path}: ${toUserMessage(e)}\n`);
        }
      }
      if (!group.length) continue;
      const per = res * res * ch;
      const input = new Float32Array(group.length * per);
      group.forEach((g, k) => input.set(g.pixels, k * per));
      const x = tf.tensor4d(input, [group.length, res, res, ch]);
      let out: { image: tf.Tensor4D; mask: tf.Tensor4D } | null = null;
      try {
        out = model.predict(x, which);
        const [img, msk] = await Promise.all([out.image.data(), out.mask.data()]);
        group.forEach((g, k) => {
          const face = floatToBytes(img.subarray(k * per, (k + 1) * per));
          if (ch === 3) bgrToRgbInPlace(face);
          writeFileSync(join(outDir, `${g.name}_face.png`), encodePng({ width: res, height: res, channels: ch, data: face }));
          const mask = floatToBytes(msk.subarray(k * res * res, (k + 1) * res * res));
          writeFileSync(join(outDir, `${g.name}_mask.png`), encodePng({ width: res, height: res, channels: 1, data: mask }));
          written++;
        });
      } finally {
        x.dispose();
        if (out) tf.dispose([out.image, out.mask]);
      }
    }
  } finally {
    model.dispose();
  }
  process.stdout.write(
    JSON.stringify({ model: dfl.modelName, class: dfl.modelClass, iter: dfl.iter, resolution: res, channels: ch, which, faces: written, failed, out: outDir }) + '\n',
  );
  return failed ? 1 : 0;
}

/** §F.2: decode (gray for 1 channel), [0, 1], resize to the model resolution (bilinear), BGR order for 3 channels. */
async function prepareFace(bytes: Uint8Array, res: number, ch: 1 | 3): Promise<Float32Array> {
  const img = await decodeJpeg(bytes, { channels: ch });
  const f = new Float32Array(img.data.length);
  for (let i = 0; i < f.length; i++) f[i] = img.data[i] / 255;
  const r = resize({ width: img.width, height: img.height, channels: img.channels, data: f }, res, res, 'linear');
  if (ch === 3) bgrToRgbInPlace(r.data);
  return r.data;
}

/** Swap the first and third channel of interleaved 3-channel pixels (RGB ↔ BGR). */
function bgrToRgbInPlace(d: { length: number; [i: number]: number }): void {
  for (let i = 0; i + 2 < d.length; i += 3) {
    const t = d[i];
    d[i] = d[i + 2];
    d[i + 2] = t;
  }
}

/**
 * A DeepFaceLab aligned folder (`data_src/aligned`, `data_dst/aligned`) as the sample generator's faces
 * (src/core/samples/generator.ts `FaceSource`), read from disk in Node — the command line's counterpart of the page's
 * workers/lib/facesetFaces.ts. The folder is scanned once for each file's DFL metadata (spec §G.2: face type,
 * landmarks, XSeg mask); `load()` reads and decodes the JPEG when the generator needs the face. Like DFL's loader,
 * files without DFL metadata or without 68 landmarks are skipped and reported.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { SampleError, toUserMessage } from '../src/core/errors.ts';
import { readDflJpg } from '../src/core/formats/dfljpg.ts';
import { decodeJpeg } from '../src/core/image/jpegCodec.ts';
import type { RawImage } from '../src/core/image/rawImage.ts';
import type { FaceData, FaceSource } from '../src/core/samples/generator.ts';

export interface NodeFace extends FaceSource {
  path: string;
  /** Position in the folder's sorted file list (the hold-out rule counts on it). */
  index: number;
  landmarks: Float64Array;
  size: number;
  faceType: string;
}

export interface DflFolder {
  faces: NodeFace[];
  /** Files that are not usable DFL aligned faces, with the reason. */
  skipped: { path: string; reason: string }[];
  /** Faces left out by the hold-out rule. */
  heldOut: number;
}

export interface ReadFolderOptions {
  /** Image channels `load()` decodes to: 1 (gray, SAEHDBW, OpenCV's weights §I.1) or 3. */
  channels: 1 | 3;
  /** Hold out every K-th face (the K-th, 2K-th, … of the sorted files; see `isHeldOut`). 0/undefined = none. */
  holdoutEvery?: number;
  /** 'exclude' (training: drop the held-out faces, default) or 'only' (evaluation: keep just those). */
  holdout?: 'exclude' | 'only';
}

/** The hold-out rule shared by `train` and `eval`: with K > 0, the file at sorted position i is held out when (i+1) % K == 0. */
export function isHeldOut(index: number, every: number | undefined): boolean {
  return !!every && every > 0 && (index + 1) % every === 0;
}

/** Scan a folder's .jpg/.jpeg files (not recursive, like DFL) into faces. Throws SampleError for a missing folder. */
export function readDflFolder(dir: string, opts: ReadFolderOptions): DflFolder {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error();
    names = readdirSync(dir).filter((n) => /\.jpe?g$/i.test(n)).sort();
  } catch {
    throw new SampleError(`${dir} is not a folder of aligned faces`);
  }
  const faces: NodeFace[] = [];
  const skipped: DflFolder['skipped'] = [];
  let heldOut = 0;
  const mode = opts.holdout ?? 'exclude';
  names.forEach((name, index) => {
    const path = join(dir, name);
    const held = isHeldOut(index, opts.holdoutEvery);
    if (held) heldOut++;
    if (opts.holdoutEvery && (mode === 'only') !== held) return;
    let meta;
    let width: number;
    try {
      const d = readDflJpg(new Uint8Array(readFileSync(path)));
      meta = d.meta;
      width = d.frame.width;
    } catch (e) {
      skipped.push({ path, reason: toUserMessage(e) });
      return;
    }
    const lm = meta.landmarks;
    if (!lm || lm.length !== 136) {
      skipped.push({ path, reason: 'no 68 landmarks in its DFL metadata' });
      return;
    }
    const xseg = meta.xseg_mask;
    const channels = opts.channels;
    faces.push({
      id: name,
      path,
      index,
      landmarks: lm,
      size: width,
      faceType: meta.face_type,
      async load(): Promise<FaceData> {
        const bytes = new Uint8Array(readFileSync(path));
        const image = await decodeJpeg(bytes, { channels });
        return {
          image,
          landmarks: lm,
          faceType: meta.face_type,
          xsegMask: xseg ? await decodeMaskImage(xseg) : null,
          eyebrowsExpandMod: meta.eyebrows_expand_mod ?? 1,
        };
      },
    });
  });
  return { faces, skipped, heldOut };
}

/** DFL stores `xseg_mask` as a gray PNG, or a JPEG when the PNG is too large (spec §G.2); the first channel is the mask. */
export async function decodeMaskImage(bytes: Uint8Array): Promise<RawImage> {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return decodeJpeg(bytes, { channels: 1 });
  return decodePngFirstChannel(bytes);
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * A minimal PNG reader (PNG spec, ISO/IEC 15948 §11–§12): 8-bit gray, gray+alpha, RGB or RGBA, not interlaced (what
 * OpenCV's imencode, our encoder and browsers write), all five filter types. Returns every channel (gray+alpha as 2).
 * `what` names the file's role in error messages.
 */
export function decodePng(bytes: Uint8Array, what = 'PNG'): { width: number; height: number; channels: number; data: Uint8Array } {
  const bad = (why: string) => new SampleError(`unreadable ${what}: ${why}`);
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) throw bad('not a PNG');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0, height = 0, depth = 0, colorType = -1, interlace = 0;
  const idat: Uint8Array[] = [];
  while (pos + 8 <= bytes.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    if (data.length !== len) throw bad('truncated');
    if (type === 'IHDR') {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      depth = data[8];
      colorType = data[9];
      interlace = data[12];
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const channelsByType: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };
  const C = channelsByType[colorType];
  if (!width || !height || depth !== 8 || !C || interlace !== 0)
    throw bad(`only 8-bit non-interlaced gray/RGB(A) is supported (depth ${depth}, colour type ${colorType}, interlace ${interlace})`);
  const all = new Uint8Array(idat.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const d of idat) {
    all.set(d, o);
    o += d.length;
  }
  const raw = new Uint8Array(inflateSync(all));
  const stride = width * C;
  if (raw.length < height * (stride + 1)) throw bad('image data too short');
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= C ? px[row + x - C] : 0;
      const b = y > 0 ? px[row - stride + x] : 0;
      const c = x >= C && y > 0 ? px[row - stride + x - C] : 0;
      let v = src[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (f !== 0) throw bad(`unknown filter ${f}`);
      px[row + x] = v & 0xff;
    }
  }
  return { width, height, channels: C, data: px };
}

/** The first channel of a PNG (XSeg masks are stored as gray or as RGB(A) with equal channels). */
export function decodePngFirstChannel(bytes: Uint8Array): RawImage {
  const png = decodePng(bytes, 'XSeg mask PNG');
  const C = png.channels;
  const out = new Uint8Array(png.width * png.height);
  for (let i = 0; i < out.length; i++) out[i] = png.data[i * C];
  return { width: png.width, height: png.height, channels: 1, data: out };
}

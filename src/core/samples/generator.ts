/**
 * The training sample generator (spec §D, SAEHD's four outputs of §C.2): for each batch element one face is drawn
 * (shuffled epochs, or uniform over yaw bins), adapted to the model's face type and resolution, and turned into
 * `warped` (random warp + affine + flip), `target` (affine + flip), `targetMask` (full-face mask, affine + flip) and
 * `targetEmMask` (eyes-and-mouth mask, affine + flip, renormalised to peak 1). All outputs of one sample share one
 * random transform (spec §D.2). Output buffers are flat NHWC Float32Arrays in [0, 1] so a worker can transfer them.
 *
 * Pure TypeScript: runs in a Web Worker and in Node. Deterministic for a fixed seed: the faces and per-sample seeds of
 * a batch are drawn synchronously when `nextBatch` is called, whatever the cache holds.
 */
import { SampleError } from '../errors.ts';
import { rgbToGray } from '../image/jpegCodec.ts';
import type { FloatImage, RawImage } from '../image/rawImage.ts';
import { resize } from '../image/resize.ts';
import { warpAffine } from '../image/warpAffine.ts';
import { type FaceTypeName, getTransformMat, normalizeFaceType } from './faceAlign.ts';
import { randomHsvShift } from './hsv.ts';
import { eyesMouthMask, fullFaceMask } from './masks.ts';
import { estimatePitchYawRoll, yawBin, YAW_BINS } from './pose.ts';
import { Rng, ShuffledIndexStream } from './random.ts';
import { genWarpParams, type ScaleFormula, SAEHD_WARP_RANGES, type GrayPlaneJob, warpAffineGrayPlanes, warpByParams, warpSampleGray } from './warp.ts';

/** What a face's `load()` returns: the decoded aligned image and its metadata. */
export interface FaceData {
  /** Decoded aligned face: RGB (3), RGBA (4, alpha ignored) or gray (1). */
  image: RawImage;
  /** 68 landmarks in aligned-image pixels, [x0, y0, x1, y1, …]. */
  landmarks: Float64Array;
  /** The file's face type (`whole_face`, … or the short codes). */
  faceType: string;
  /** The file's decoded XSeg mask (1 channel, 0–255), when it has one. */
  xsegMask?: RawImage | null;
  /** `eyebrows_expand_mod` (default 1). */
  eyebrowsExpandMod?: number;
}

export interface FaceSource {
  /** Stable key (used by the cache). */
  id: string;
  load(): Promise<FaceData>;
  /** Optional metadata known without decoding; lets uniform-yaw sampling start without decoding every face. */
  landmarks?: Float64Array;
  /** Aligned image width (pose estimation uses it as the focal length). */
  size?: number;
}

/**
 * Hook for `ct_mode` (spec §D.2 step 2, §E): src samples get their colours transferred from a random dst face. The
 * reference is the dst face's image in the model's channels, resized bilinearly to res×res (no re-alignment);
 * `transfer` returns the re-coloured image (values may leave [0,1]; the generator clips later).
 */
export interface ColorTransferHook {
  faces: FaceSource[];
  transfer(image: FloatImage, reference: FloatImage, rng: Rng): FloatImage;
}

export interface SampleGeneratorOptions {
  faces: FaceSource[];
  /** Model resolution. */
  resolution: number;
  /** Model image channels: 1 (SAEHDBW) or 3. */
  channels: 1 | 3;
  /** Model face type (`h`, `mf`, `f`, `wf`, `head` or a full name). */
  faceType: string;
  /** Random warp of the `warped` output (default true). */
  randomWarp?: boolean;
  /** Random horizontal flip with probability 0.4 (spec §D.3; SAEHD: src default off, dst default on). */
  randomFlip?: boolean;
  /** Sample uniformly over 128 yaw bins (spec §D.6). */
  uniformYaw?: boolean;
  /** Fill `targetMask` (default true; zeros otherwise). */
  masks?: boolean;
  /** Fill `targetEmMask` (default true; zeros otherwise). */
  eyesMouthMask?: boolean;
  batchSize: number;
  seed: number;
  /** Scale augmentation formula (default 'bw', spec §D.3). */
  scaleFormula?: ScaleFormula;
  rotationRange?: [number, number];
  scaleRange?: [number, number];
  txRange?: [number, number];
  tyRange?: [number, number];
  /** HSV jitter power for the warped output (3 channels only, spec §D.2 step 3). Default 0. */
  randomHsvPower?: number;
  /** Channel order of 3-channel outputs: DFL models use 'bgr' (default); inputs are RGB. */
  channelOrder?: 'bgr' | 'rgb';
  colorTransfer?: ColorTransferHook;
  /** Byte budget of the prepared-face cache (default 256 MiB). */
  cacheBytes?: number;
}

export interface SampleBatch {
  /** N·res·res·C, NHWC, [0,1]. */
  warped: Float32Array;
  /** N·res·res·C. */
  target: Float32Array;
  /** N·res·res·1. */
  targetMask: Float32Array;
  /** N·res·res·1, each sample's peak is 1 (or all zero). */
  targetEmMask: Float32Array;
  batchSize: number;
  resolution: number;
  channels: 1 | 3;
  /** The face id of each sample. */
  faceIds: string[];
}

/** A face adapted to the model: image and masks at res×res (before the random transform). */
interface PreparedFace {
  image: FloatImage;
  mask: FloatImage | null;
  em: FloatImage | null;
  bytes: number;
}

/** A small LRU keyed by string with a byte budget (Map iteration order = recency). */
class ByteLru<V extends { bytes: number }> {
  private map = new Map<string, V>();
  private used = 0;
  constructor(private readonly cap: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    const old = this.map.get(k);
    if (old) {
      this.used -= old.bytes;
      this.map.delete(k);
    }
    if (v.bytes > this.cap) return;
    this.map.set(k, v);
    this.used += v.bytes;
    for (const [key, val] of this.map) {
      if (this.used <= this.cap) break;
      this.map.delete(key);
      this.used -= val.bytes;
    }
  }
  clear(): void {
    this.map.clear();
    this.used = 0;
  }
  get bytes(): number {
    return this.used;
  }
  get size(): number {
    return this.map.size;
  }
}

/**
 * Convert a decoded 8-bit face to the model's channels as floats in [0,1]: colour → gray with OpenCV's fixed-point
 * BGR→GRAY at load time (SAEHDBW's `color_input_and_grayscale_model`, spec §I.1); gray passes through; for 3-channel
 * models RGB is reordered to BGR (DFL's order) unless `order` is 'rgb', and gray is replicated.
 */
export function toModelChannels(img: RawImage, channels: 1 | 3, order: 'bgr' | 'rgb' = 'bgr'): FloatImage {
  const n = img.width * img.height;
  const C = img.channels;
  const s = img.data;
  const out = new Float32Array(n * channels);
  const k = 1 / 255;
  if (channels === 1) {
    if (C === 1) for (let i = 0; i < n; i++) out[i] = s[i] * k;
    else for (let i = 0; i < n; i++) out[i] = rgbToGray(s[i * C], s[i * C + 1], s[i * C + 2]) * k;
  } else if (C === 1) {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = s[i] * k;
  } else {
    const r = order === 'bgr' ? 2 : 0, b = order === 'bgr' ? 0 : 2;
    for (let i = 0; i < n; i++) {
      out[3 * i + r] = s[i * C] * k;
      out[3 * i + 1] = s[i * C + 1] * k;
      out[3 * i + b] = s[i * C + 2] * k;
    }
  }
  return { width: img.width, height: img.height, channels, data: out };
}

function clip01(a: Float32Array, off: number, n: number): void {
  for (let i = off, e = off + n; i < e; i++) {
    const v = a[i];
    a[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

export class SampleGenerator {
  readonly resolution: number;
  readonly channels: 1 | 3;
  readonly batchSize: number;
  readonly faceType: FaceTypeName;
  private readonly opts: SampleGeneratorOptions;
  private readonly rng: Rng;
  private readonly cache: ByteLru<PreparedFace>;
  private readonly pending = new Map<string, Promise<PreparedFace>>();
  private order: ShuffledIndexStream | null = null;
  private yawBins: { bins: number[][]; binStream: ShuffledIndexStream; inBin: ShuffledIndexStream[] } | null = null;
  private initPromise: Promise<void> | null = null;
  private ctStream: ShuffledIndexStream | null = null;

  constructor(opts: SampleGeneratorOptions) {
    if (!opts.faces.length) throw new SampleError('the faceset is empty');
    if (!(opts.resolution >= 16)) throw new SampleError(`resolution ${opts.resolution} is too small`);
    if (opts.channels !== 1 && opts.channels !== 3) throw new SampleError(`channels must be 1 or 3, not ${opts.channels}`);
    if (!(opts.batchSize >= 1)) throw new SampleError(`batch size must be at least 1, not ${opts.batchSize}`);
    if ((opts.randomHsvPower ?? 0) > 0 && opts.channels !== 3) throw new SampleError('random HSV jitter needs 3 channels');
    this.opts = opts;
    this.resolution = opts.resolution;
    this.channels = opts.channels;
    this.batchSize = opts.batchSize;
    try {
      this.faceType = normalizeFaceType(opts.faceType);
    } catch {
      throw new SampleError(`unknown model face type "${opts.faceType}"`);
    }
    if (this.faceType === 'mark_only') throw new SampleError('a model cannot train on mark_only faces');
    this.rng = new Rng(opts.seed >>> 0, 0);
    this.cache = new ByteLru(opts.cacheBytes ?? 256 * 1024 * 1024);
    if (!opts.uniformYaw) this.order = new ShuffledIndexStream(opts.faces.length, this.rng);
    if (opts.colorTransfer) {
      if (!opts.colorTransfer.faces.length) throw new SampleError('colour transfer needs at least one reference face');
      this.ctStream = new ShuffledIndexStream(opts.colorTransfer.faces.length, new Rng(opts.seed >>> 0, 7));
    }
  }

  /** Bytes held by the prepared-face cache. */
  get cacheBytes(): number {
    return this.cache.bytes;
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** Uniform yaw needs every face's yaw first (spec §D.6); other modes need nothing. */
  private init(): Promise<void> {
    if (!this.opts.uniformYaw) return Promise.resolve();
    this.initPromise ??= this.buildYawBins();
    return this.initPromise;
  }

  private async buildYawBins(): Promise<void> {
    const faces = this.opts.faces;
    const yaws = new Float64Array(faces.length);
    for (let i = 0; i < faces.length; i++) {
      const f = faces[i];
      let lm = f.landmarks;
      let size = f.size;
      if (!lm || !size) {
        const d = await f.load();
        lm = d.landmarks;
        size = d.image.width;
        if (!this.cache.get(f.id)) this.cache.set(f.id, this.prepare(f, d));
      }
      if (lm.length !== 136) throw new SampleError(`face ${f.id} does not have 68 landmarks`);
      yaws[i] = estimatePitchYawRoll(lm, size).yaw;
    }
    const bins: number[][] = Array.from({ length: YAW_BINS }, () => []);
    for (let i = 0; i < faces.length; i++) bins[yawBin(yaws[i])].push(i);
    const nonEmpty = bins.filter((b) => b.length > 0);
    this.yawBins = {
      bins: nonEmpty,
      binStream: new ShuffledIndexStream(nonEmpty.length, this.rng),
      inBin: nonEmpty.map((b) => new ShuffledIndexStream(b.length, this.rng)),
    };
  }

  /** The yaw bin sizes (non-empty bins only), once uniform-yaw sampling has started. */
  get yawBinSizes(): number[] | null {
    return this.yawBins ? this.yawBins.bins.map((b) => b.length) : null;
  }

  private nextFaceIndex(): number {
    if (this.yawBins) {
      const b = this.yawBins.binStream.next();
      return this.yawBins.bins[b][this.yawBins.inBin[b].next()];
    }
    return this.order!.next();
  }

  /** Adapt a loaded face to the model (spec §D.2 step 1, §D.5, §D.8). */
  private prepare(src: FaceSource, d: FaceData): PreparedFace {
    const res = this.resolution;
    const lm = d.landmarks;
    if (!lm || lm.length !== 136) throw new SampleError(`face ${src.id} does not have 68 landmarks`);
    let fileType: FaceTypeName;
    try {
      fileType = normalizeFaceType(d.faceType || 'full_face');
    } catch {
      throw new SampleError(`face ${src.id} has an unknown face type "${d.faceType}"`);
    }
    if (fileType === 'mark_only') throw new SampleError(`face ${src.id} is mark_only (not aligned)`);
    const img = toModelChannels(d.image, this.channels, this.opts.channelOrder ?? 'bgr');
    const { width: w, height: h } = img;
    const wantMask = this.opts.masks ?? true;
    const wantEm = this.opts.eyesMouthMask ?? true;
    let mask: FloatImage | null = null;
    let em: FloatImage | null = null;
    if (wantMask || wantEm) {
      const full = fullFaceMask(w, h, lm, d.xsegMask ?? null, d.eyebrowsExpandMod ?? 1);
      if (wantEm) em = eyesMouthMask(w, h, lm, full);
      if (wantMask) mask = full;
    }
    let image: FloatImage;
    if (fileType !== this.faceType) {
      // re-crop to the model's face type from the aligned landmarks: images bicubic/replicate, masks bilinear/0
      const mat = getTransformMat(lm, res, this.faceType);
      if (img.channels === 1) {
        // one coordinate pass for the image and its masks (warp.ts); identical to the three warpAffine calls below
        const plane = (src: FloatImage, interpolation: 'cubic' | 'linear'): [FloatImage, GrayPlaneJob] => {
          const data = new Float32Array(res * res);
          return [
            { width: res, height: res, channels: 1, data },
            { src: src.data, sw: w, sh: h, interpolation, replicate: interpolation === 'cubic', dst: data, off: 0, clip: false },
          ];
        };
        const [im, ji] = plane(img, 'cubic');
        const jobs = [ji];
        image = im;
        if (mask) {
          const [m, j] = plane(mask, 'linear');
          mask = m;
          jobs.push(j);
        }
        if (em) {
          const [m, j] = plane(em, 'linear');
          em = m;
          jobs.push(j);
        }
        warpAffineGrayPlanes(mat, res, res, jobs, false);
        const bytes = image.data.byteLength + (mask?.data.byteLength ?? 0) + (em?.data.byteLength ?? 0) + 256;
        return { image, mask, em, bytes };
      }
      image = warpAffine(img, mat, res, res, { interpolation: 'cubic', border: 'replicate' });
      if (mask) mask = warpAffine(mask, mat, res, res, { interpolation: 'linear', border: 'constant' });
      if (em) em = warpAffine(em, mat, res, res, { interpolation: 'linear', border: 'constant' });
    } else if (w !== res || h !== res) {
      image = resize(img, res, res, 'cubic');
      if (mask) mask = resize(mask, res, res, 'linear');
      if (em) em = resize(em, res, res, 'linear');
    } else image = img;
    const bytes = image.data.byteLength + (mask?.data.byteLength ?? 0) + (em?.data.byteLength ?? 0) + 256;
    return { image, mask, em, bytes };
  }

  private getPrepared(i: number): Promise<PreparedFace> {
    const src = this.opts.faces[i];
    const hit = this.cache.get(src.id);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(src.id);
    if (!p) {
      p = src
        .load()
        .then((d) => {
          const prep = this.prepare(src, d);
          this.cache.set(src.id, prep);
          return prep;
        })
        .finally(() => this.pending.delete(src.id));
      this.pending.set(src.id, p);
    }
    return p;
  }

  private ctReferenceCache = new ByteLru<{ img: FloatImage; bytes: number }>(64 * 1024 * 1024);

  private async ctReference(i: number): Promise<FloatImage> {
    const ct = this.opts.colorTransfer!;
    const src = ct.faces[i];
    const hit = this.ctReferenceCache.get(src.id);
    if (hit) return hit.img;
    const d = await src.load();
    let img = toModelChannels(d.image, this.channels, this.opts.channelOrder ?? 'bgr');
    if (img.width !== this.resolution || img.height !== this.resolution) img = resize(img, this.resolution, this.resolution, 'linear');
    this.ctReferenceCache.set(src.id, { img, bytes: img.data.byteLength });
    return img;
  }

  /** Draw and build the next batch. */
  async nextBatch(): Promise<SampleBatch> {
    await this.init();
    const N = this.batchSize;
    // all random choices of this batch, drawn synchronously (determinism)
    const idx: number[] = [];
    const seeds: number[] = [];
    const ctIdx: number[] = [];
    for (let b = 0; b < N; b++) {
      idx.push(this.nextFaceIndex());
      seeds.push(this.rng.nextU32());
      if (this.ctStream) ctIdx.push(this.ctStream.next());
    }
    const prepared = await Promise.all(idx.map((i) => this.getPrepared(i)));
    const refs = this.ctStream ? await Promise.all(ctIdx.map((i) => this.ctReference(i))) : null;

    const res = this.resolution, C = this.channels;
    const imgLen = res * res * C, mLen = res * res;
    const batch: SampleBatch = {
      warped: new Float32Array(N * imgLen),
      target: new Float32Array(N * imgLen),
      targetMask: new Float32Array(N * mLen),
      targetEmMask: new Float32Array(N * mLen),
      batchSize: N,
      resolution: res,
      channels: C,
      faceIds: idx.map((i) => this.opts.faces[i].id),
    };
    for (let b = 0; b < N; b++) this.buildSample(prepared[b], seeds[b], refs ? refs[b] : null, batch, b);
    return batch;
  }

  /** One sample's four outputs with one shared transform (spec §D.2). */
  private buildSample(p: PreparedFace, seed: number, ref: FloatImage | null, out: SampleBatch, b: number): void {
    const o = this.opts;
    const res = this.resolution, C = this.channels;
    const rng = new Rng(seed, 0);
    const warpRng = new Rng(seed, 1);
    const params = genWarpParams(
      res,
      rng,
      o.randomFlip ?? false,
      o.rotationRange ?? SAEHD_WARP_RANGES.rotationRange,
      o.scaleRange ?? SAEHD_WARP_RANGES.scaleRange,
      o.txRange ?? SAEHD_WARP_RANGES.txRange,
      o.tyRange ?? SAEHD_WARP_RANGES.tyRange,
      warpRng,
      o.scaleFormula ?? 'bw',
    );
    let img = p.image;
    if (ref && o.colorTransfer) img = o.colorTransfer.transfer({ ...img, data: img.data.slice() }, ref, rng);
    let warpSrc = img;
    if ((o.randomHsvPower ?? 0) > 0) warpSrc = randomHsvShift(img, o.randomHsvPower!, rng, (o.channelOrder ?? 'bgr') === 'bgr');

    const imgLen = res * res * C, mLen = res * res;
    if (C === 1 && params.rw === null) {
      // the fused 1-channel path (warp.ts warpSampleGray): same outputs as below, bit for bit, in one pass per plane
      warpSampleGray(params, warpSrc, img, p.mask, p.em, o.randomWarp ?? true, {
        warped: out.warped,
        target: out.target,
        mask: p.mask ? out.targetMask : null,
        em: p.em ? out.targetEmMask : null,
        off: b * mLen,
      });
      return;
    }
    const warped = warpByParams(params, warpSrc, o.randomWarp ?? true, true, true, true, 'cubic');
    out.warped.set(warped.data, b * imgLen);
    clip01(out.warped, b * imgLen, imgLen);
    const target = warpByParams(params, img, false, true, true, true, 'cubic');
    out.target.set(target.data, b * imgLen);
    clip01(out.target, b * imgLen, imgLen);
    if (p.mask) {
      const m = warpByParams(params, p.mask, false, true, true, false, 'linear');
      out.targetMask.set(m.data, b * mLen);
      clip01(out.targetMask, b * mLen, mLen);
    }
    if (p.em) {
      const m = warpByParams(params, p.em, false, true, true, false, 'linear');
      const d = m.data;
      let max = 0;
      for (let i = 0; i < d.length; i++) if (d[i] > max) max = d[i];
      const dst = out.targetEmMask;
      const off = b * mLen;
      if (max > 0) for (let i = 0; i < mLen; i++) dst[off + i] = Math.min(1, Math.max(0, d[i] / max));
    }
  }
}

/**
 * Samples per second of `generator.nextBatch()` over `batches` batches, after `warmup` batches that are not timed
 * (the first batches fill the prepared-face cache; what is measured is the steady state once it holds the faceset).
 */
export async function measureSampleThroughput(generator: SampleGenerator, batches: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await generator.nextBatch();
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < batches; i++) n += (await generator.nextBatch()).batchSize;
  const s = (performance.now() - t0) / 1000;
  return s > 0 ? n / s : Infinity;
}

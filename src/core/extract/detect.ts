/**
 * Face detection and 68-point landmarks (spec §H.1: iBUG-68 order, pixels, x right / y down) with
 * @vladmandic/face-api: SSD-MobileNetV1 finds the faces, the 68-point landmark net places the points.
 *
 * Pure core: no DOM, no Node. The caller hands in
 * - the face-api module itself (the browser worker imports `face-api.esm-nobundle.js`, which takes tfjs from the
 *   importer, so the app keeps ONE tfjs instance; Node imports `face-api.node-wasm.js`, which `require`s the same
 *   `@tensorflow/tfjs` the rest of the code uses), typed here by the few members this file calls, and
 * - a loader for the model files, which ship inside the npm package (`model/`) and are served by the app itself
 *   (vite.config.ts, `faceApiModelFiles`), so no request leaves the page's origin.
 * Frames go in as tensors built from a RawImage, so face-api never needs a canvas.
 *
 * DFL's S3FD stage (`facelib/S3FDExtractor.py`, spec §G.2 `source_rect`) is reproduced on face-api's box: boxes whose
 * shorter side is under 40 px are dropped, the bottom is extended by 10 % of the height, the rect is truncated to
 * integers like Python's `int()`, and faces are ordered largest area first (so face index 0 is the largest).
 */
import * as tf from '@tensorflow/tfjs';
import type { RawImage } from '../image/rawImage.ts';

/** The two nets the extractor uses, as named in face-api's `model/` folder. */
export const FACE_API_MODELS = ['ssd_mobilenetv1_model', 'face_landmark_68_model'] as const;
export type FaceApiModelName = (typeof FACE_API_MODELS)[number];

/** The files to serve for them (manifest + one weight shard each, as shipped in @vladmandic/face-api 1.7). */
export const FACE_API_MODEL_FILES: readonly string[] = FACE_API_MODELS.flatMap((m) => [`${m}-weights_manifest.json`, `${m}.bin`]);

/** Where the app serves them, relative to its origin (vite.config.ts serves and emits this folder). */
export const FACE_API_MODEL_PATH = 'models/face-api/';

// ---- the parts of face-api this file calls (structural, so core needs none of face-api's DOM-flavoured types) -------

interface FaceApiNet {
  loadFromWeightMap(weightMap: tf.NamedTensorMap): void;
  readonly isLoaded: boolean;
  dispose(throwOnRedispose?: boolean): void;
}

interface FaceApiResult {
  detection: { score: number; box: { x: number; y: number; width: number; height: number } };
  landmarks: { positions: { x: number; y: number }[] };
}

/** What detect.ts needs from `import * as faceapi from '@vladmandic/face-api/…'`. */
export interface FaceApiModule {
  nets: { ssdMobilenetv1: FaceApiNet; faceLandmark68Net: FaceApiNet };
  SsdMobilenetv1Options: new (o: { minConfidence?: number; maxResults?: number }) => object;
  detectAllFaces(input: tf.Tensor3D, options: object): { withFaceLandmarks(): PromiseLike<FaceApiResult[]> };
  /** face-api's environment (Canvas/Image/Video classes it tests inputs against). */
  env?: { getEnv(): unknown; setEnv(env: object): void };
}

/**
 * face-api sets up its environment only in a page (DOM) or Node; in a worker it has none and throws as soon as it
 * asks whether an input is an image element, even for a tensor. Give it one whose media classes nothing is an
 * instance of: tensors are the only input this file passes, so no canvas is ever needed.
 */
function ensureFaceApiEnv(api: FaceApiModule): void {
  if (!api.env) return;
  try {
    api.env.getEnv();
    return;
  } catch {
    // no environment: a worker
  }
  class NoMedia {}
  const noCanvas = () => {
    throw new Error('face-api needs no canvas here: frames are passed as tensors');
  };
  const g = globalThis as { fetch?: unknown; ImageData?: unknown };
  api.env.setEnv({
    Canvas: NoMedia,
    CanvasRenderingContext2D: NoMedia,
    Image: NoMedia,
    ImageData: g.ImageData ?? NoMedia,
    Video: NoMedia,
    createCanvasElement: noCanvas,
    createImageElement: noCanvas,
    createVideoElement: noCanvas,
    fetch: g.fetch,
    readFile: () => Promise.reject(new Error('no file system here')),
  });
}

/** Reads one model file (by its name in FACE_API_MODEL_FILES): `fetch` from the app's origin, or `fs` in Node. */
export type ModelFileLoader = (fileName: string) => Promise<Uint8Array>;

export interface DetectedFace {
  /** Detector confidence in (0, 1]. */
  score: number;
  /** face-api's box in frame pixels (floats). */
  box: { x: number; y: number; width: number; height: number };
  /** DFL's `source_rect`: [l, t, r, b], bottom extended by 10 % of the height, truncated to integers (§G.2). */
  rect: [number, number, number, number];
  /** 68 points in frame pixels, [x0, y0, x1, y1, …] (iBUG-68 order, §H.1). */
  landmarks: Float64Array;
}

export interface DetectOptions {
  /** SSD-MobileNetV1 score threshold; 0.5 is face-api's default and what the shared facesets used. */
  minConfidence?: number;
  /** DFL's S3FD drops faces whose box is smaller than this on its shorter side (40 px). */
  minFaceSize?: number;
  /** Keep only the largest face (DFL's `max_faces_from_image` = 1). */
  largestOnly?: boolean;
}

/** Decode a tfjs weights manifest and its shards into named tensors (the caller owns and disposes them). */
export function decodeWeightMap(manifestJson: string | Uint8Array, shards: (fileName: string) => Uint8Array): tf.NamedTensorMap {
  const text = typeof manifestJson === 'string' ? manifestJson : new TextDecoder().decode(manifestJson);
  const groups = JSON.parse(text) as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  const out: tf.NamedTensorMap = {};
  for (const g of groups) {
    const parts = g.paths.map((p) => shards(p.split('/').pop() ?? p));
    const total = parts.reduce((n, p) => n + p.length, 0);
    const buf = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      buf.set(p, o);
      o += p.length;
    }
    Object.assign(out, tf.io.decodeWeights(buf.buffer, g.weights));
  }
  return out;
}

/** An RGB int32 tensor [h, w, 3] of an 8-bit image of 1, 3 or 4 channels (alpha dropped, gray repeated). */
export function imageTensor(img: RawImage): tf.Tensor3D {
  const n = img.width * img.height;
  const c = img.channels;
  const data = new Int32Array(n * 3);
  if (c === 3) for (let i = 0; i < n * 3; i++) data[i] = img.data[i];
  else
    for (let i = 0; i < n; i++) {
      const s = i * c;
      data[3 * i] = img.data[s];
      data[3 * i + 1] = img.data[c === 1 ? s : s + 1];
      data[3 * i + 2] = img.data[c === 1 ? s : s + 2];
    }
  return tf.tensor3d(data, [img.height, img.width, 3], 'int32');
}

/** DFL's `source_rect` from a detector box (S3FDExtractor: `b += (b - t) * 0.1`, then `int()` each side). */
export function dflSourceRect(box: { x: number; y: number; width: number; height: number }): [number, number, number, number] {
  const l = box.x, t = box.y, r = box.x + box.width;
  const b = box.y + box.height + box.height * 0.1;
  return [Math.trunc(l), Math.trunc(t), Math.trunc(r), Math.trunc(b)];
}

export class FaceDetector {
  private constructor(private readonly api: FaceApiModule) {}

  /** Load both nets' weights through `load` (4 files, about 6 MB). */
  static async create(api: FaceApiModule, load: ModelFileLoader): Promise<FaceDetector> {
    ensureFaceApiEnv(api);
    const nets: Record<FaceApiModelName, FaceApiNet> = {
      ssd_mobilenetv1_model: api.nets.ssdMobilenetv1,
      face_landmark_68_model: api.nets.faceLandmark68Net,
    };
    for (const name of FACE_API_MODELS) {
      if (nets[name].isLoaded) continue;
      const manifest = await load(`${name}-weights_manifest.json`);
      const shards = new Map<string, Uint8Array>();
      const groups = JSON.parse(new TextDecoder().decode(manifest)) as { paths: string[] }[];
      for (const p of groups.flatMap((g) => g.paths)) {
        const file = p.split('/').pop() ?? p;
        shards.set(file, await load(file));
      }
      nets[name].loadFromWeightMap(
        decodeWeightMap(manifest, (f) => {
          const s = shards.get(f);
          if (!s) throw new Error(`face-api model file ${f} was not loaded`);
          return s;
        }),
      );
    }
    return new FaceDetector(api);
  }

  /**
   * Faces in one frame, largest first, each with its 68 landmarks in frame pixels. The frame tensor is disposed
   * before returning; face-api disposes its own intermediates.
   */
  async detect(img: RawImage, opts: DetectOptions = {}): Promise<DetectedFace[]> {
    const minSize = opts.minFaceSize ?? 40;
    const input = imageTensor(img);
    let results: FaceApiResult[];
    try {
      const options = new this.api.SsdMobilenetv1Options({ minConfidence: opts.minConfidence ?? 0.5 });
      results = await this.api.detectAllFaces(input, options).withFaceLandmarks();
    } finally {
      input.dispose();
    }
    const faces: DetectedFace[] = [];
    for (const r of results) {
      const { x, y, width, height } = r.detection.box;
      if (Math.min(width, height) < minSize) continue;
      const pts = r.landmarks.positions;
      if (pts.length !== 68) continue;
      const landmarks = new Float64Array(136);
      pts.forEach((p, i) => {
        landmarks[2 * i] = p.x;
        landmarks[2 * i + 1] = p.y;
      });
      faces.push({ score: r.detection.score, box: { x, y, width, height }, rect: dflSourceRect(r.detection.box), landmarks });
    }
    // S3FDExtractor sorts by rect area, largest first; the face index in `<frame>_<i>.jpg` follows this order.
    const area = (f: DetectedFace) => (f.rect[2] - f.rect[0]) * (f.rect[3] - f.rect[1]);
    faces.sort((a, b) => area(b) - area(a));
    return opts.largestOnly ? faces.slice(0, 1) : faces;
  }

  /** Free the nets' weight tensors. */
  dispose(): void {
    this.api.nets.ssdMobilenetv1.dispose(false);
    this.api.nets.faceLandmark68Net.dispose(false);
  }
}

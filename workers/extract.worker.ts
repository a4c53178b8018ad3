/// <reference lib="webworker" />
/**
 * Extraction off the UI thread (issue 7, "Frames and faces in"): each frame is decoded, face-api finds the faces and
 * their 68 landmarks (src/core/extract/detect.ts), the faces are aligned and written as DFL JPGs (extract.ts, spec §H
 * and §G) and stored straight into the target faceset, one transaction per frame (store.ts), so a cancel keeps
 * every frame finished before it.
 *
 * face-api is the `esm-nobundle` build: it imports `@tensorflow/tfjs` from the app, so this worker has one tfjs.
 * Its weights come from the app's own origin (`/models/face-api/`, served and emitted by vite.config.ts).
 */
import * as tf from '@tensorflow/tfjs';
import * as faceapi from '@vladmandic/face-api/dist/face-api.esm-nobundle.js';
import { AbortError, NotAnImageError, QuotaError, throwIfAborted, toUserMessage } from '../src/core/errors.ts';
import { FACE_API_MODEL_PATH, FaceDetector, type DetectOptions, type FaceApiModule } from '../src/core/extract/detect.ts';
import { extractFrameFaces, extractedToNewFace } from '../src/core/extract/extract.ts';
import { blurScore, sortScores, yawScore, type FaceScore } from '../src/core/extract/sortFaces.ts';
import { FacesetStore } from '../src/core/faceset/store.ts';
import { FrameStore } from '../src/core/frames/frameStore.ts';
import { decodeJpeg } from '../src/core/image/jpegCodec.ts';
import type { RawImage } from '../src/core/image/rawImage.ts';
import { normalizeFaceType } from '../src/core/samples/faceAlign.ts';
import { setupBackend } from '../src/core/train/backend.ts';
import type { ExtractCalls, ExtractFaceReview, ExtractFrameReview } from './extract.protocol.ts';
import { serve } from './lib/serve.ts';
import { decodeImageFile } from './lib/decodeImage.ts';
import { blobScriptsAllowed } from './lib/tfjsSetup.ts';

const store = new FacesetStore();
const frameStore = new FrameStore();
let ready: Promise<{ detector: FaceDetector; backend: string }> | null = null;
/** The backend the detector runs on (with the reason when it had to fall back). */
let backendName = '';

async function loadModelFile(file: string): Promise<Uint8Array> {
  const url = new URL(`${import.meta.env.BASE_URL}${FACE_API_MODEL_PATH}${file}`, self.location.origin);
  const res = await fetch(url);
  if (!res.ok) throw new NotAnImageError(`face model file ${file} could not be loaded (${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}


/** Backend (WebGPU/WebGL on a real GPU, else wasm; core/train/backend.ts) and the two face-api nets, once. */
function detector(): Promise<{ detector: FaceDetector; backend: string }> {
  ready ??= (async () => {
    if (!(await blobScriptsAllowed())) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    const choice = await setupBackend('auto');
    backendName = choice.backend;
    const d = await FaceDetector.create(faceapi as unknown as FaceApiModule, loadModelFile);
    return { detector: d, backend: choice.backend };
  })();
  ready.catch(() => (ready = null));
  return ready;
}

/** JPEGs through the same MozJPEG decoder as Node (identical pixels); other formats through the browser. */
/**
 * face-api's graph is tested on wasm (Node and this worker on a GPU-less box); should a GPU backend fail on it, the
 * rest of the session runs on wasm instead of failing every frame.
 */
async function detectWithFallback(det: FaceDetector, img: RawImage, opts: DetectOptions) {
  try {
    return await det.detect(img, opts);
  } catch (e) {
    const was = tf.getBackend();
    if (was === 'wasm' || was === 'cpu') throw e;
    const choice = await setupBackend('wasm');
    backendName = `${choice.backend} (${was} failed: ${toUserMessage(e)})`;
    return det.detect(img, opts);
  }
}

serve<ExtractCalls>({
  async extract(req, ctx) {
    const faceType = normalizeFaceType(req.faceType);
    await store.get(req.targetFacesetId); // fails early with "faceset missing"
    const { detector: det } = await detector();
    // Frames from a stored frame set (a decoded video) are read one at a time, so a long video never sits in memory.
    const setNames = req.frameSetId ? await frameStore.frameNames(req.frameSetId) : null;
    const total = setNames ? setNames.length : req.frames.length;
    const failed: { name: string; reason: string }[] = [];
    let faces = 0, cancelled = false, stopped: string | null = null, detectMs = 0, writeMs = 0;
    for (let i = 0; i < total; i++) {
      try {
        throwIfAborted(ctx.signal);
      } catch (e) {
        if (e instanceof AbortError) {
          cancelled = true;
          break;
        }
        throw e;
      }
      const f = setNames ? null : req.frames[i];
      const name = setNames ? setNames[i] : (f!.name.split(/[\\/]/).pop() ?? f!.name);
      let review: ExtractFrameReview = { frame: name, width: 0, height: 0, faces: [], error: null };
      try {
        const bytes = !f
          ? (await frameStore.getFrame(req.frameSetId!, name)).bytes
          : f instanceof File
            ? new Uint8Array(await f.arrayBuffer())
            : new Uint8Array(f.bytes);
        const img = await decodeImageFile(name, bytes);
        review = { ...review, width: img.width, height: img.height };
        let t = performance.now();
        const found = await detectWithFallback(det, img, { minConfidence: req.minConfidence ?? 0.5, largestOnly: req.largestOnly });
        detectMs += performance.now() - t;
        t = performance.now();
        const { faces: out, dropped } = await extractFrameFaces(img, name, found, { faceType, size: req.size, gray: req.gray });
        const added = await store.addFaces(req.targetFacesetId, await Promise.all(out.map(extractedToNewFace)));
        writeMs += performance.now() - t;
        faces += added.length;
        review.faces = found.map(
          (d, k): ExtractFaceReview => ({
            name: added[out.findIndex((o) => o.detection === k)]?.name ?? null,
            score: d.score,
            box: [d.box.x, d.box.y, d.box.width, d.box.height],
            rect: d.rect,
            landmarks: Array.from(d.landmarks),
            dropped: dropped.find((x) => x.detection === k)?.reason ?? null,
          }),
        );
      } catch (e) {
        if (e instanceof QuotaError) {
          stopped = `Storage is full: stopped at frame ${name}; the faces stored before it are kept.`;
          review.error = e.message;
          ctx.progress({ done: i + 1, total, faces, frame: review, backend: backendName });
          break;
        }
        review.error = toUserMessage(e);
        failed.push({ name, reason: review.error });
      }
      ctx.progress({ done: i + 1, total, faces, frame: review, backend: backendName });
    }
    return { frames: total, faces, failed, cancelled, stopped, backend: backendName, detectSeconds: detectMs / 1000, writeSeconds: writeMs / 1000 };
  },

  async scores(req, ctx) {
    const info = await store.get(req.facesetId);
    const total = info.faces.length;
    const scores: FaceScore[] = [];
    const failed: { name: string; reason: string }[] = [];
    for (let i = 0; i < total; i += 16) {
      throwIfAborted(ctx.signal);
      const names = info.faces.slice(i, i + 16).map((f) => f.name);
      const recs = await store.faces(info.id, names);
      for (const r of recs) {
        try {
          const lm = r.meta.landmarks;
          if (!lm || lm.length !== 136) throw new NotAnImageError('the face has no 68 landmarks');
          if (req.key === 'yaw') scores.push({ name: r.name, value: yawScore(lm, r.width) });
          else {
            const img = await decodeJpeg(r.bytes, { channels: r.channels === 1 ? 1 : 3 });
            scores.push({ name: r.name, value: blurScore(img, lm, r.meta.eyebrows_expand_mod ?? 1) });
          }
        } catch (e) {
          failed.push({ name: r.name, reason: toUserMessage(e) });
        }
      }
      ctx.progress({ done: Math.min(total, i + 16), total });
    }
    return { key: req.key, ...sortScores(scores, req.key), failed };
  },
});

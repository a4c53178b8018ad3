/// <reference lib="webworker" />
/**
 * The merge worker (merge.protocol.ts; spec §F). The model is restored from its checkpoint without a trainer or
 * optimizer state (modelState.restoreCheckpoint, `trainer: false`). The preview keeps the last frames' decoded pixels
 * and predictions, so a settings change only re-renders (mask, blur, colour transfer, blend) — the model runs once per
 * frame. Preview and batch go through the same predictFrameFaces + renderMergedFrame.
 */
import * as tf from '@tensorflow/tfjs';
import { CheckpointStore } from '../src/core/checkpoint/checkpointStore.ts';
import { restoreCheckpoint } from '../src/core/checkpoint/modelState.ts';
import { SaehdError, throwIfAborted } from '../src/core/errors.ts';
import { FacesetStore } from '../src/core/faceset/store.ts';
import { FrameStore } from '../src/core/frames/frameStore.ts';
import { matchFacesToFrames, type FramePlan } from '../src/core/frames/matchFrames.ts';
import { facesDigest, mergeAllFrames, type MergeDeps, type MergeFormat } from '../src/core/frames/mergeJob.ts';
import { predictFrameFaces, rawToFloat, rawToRgba, renderMergedFrame, type PredictedFace } from '../src/core/frames/mergeFrames.ts';
import { mergeModelInfo, modelPredictor } from '../src/core/frames/modelPredictor.ts';
import { encodeJpeg } from '../src/core/image/jpegCodec.ts';
import { encodePng } from '../src/core/image/png.ts';
import type { FloatImage, RawImage } from '../src/core/image/rawImage.ts';
import type { MergeFaceMeta, MergeModelInfo } from '../src/core/merge/index.ts';
import type { SaehdModel } from '../src/core/model/saehd.ts';
import { probeBackendEnv, setupBackend, type BackendEnv } from '../src/core/train/backend.ts';
import { decodeImageFile } from './lib/decodeImage.ts';
import { serve } from './lib/serve.ts';
import { describeAdapter, prepareWasm } from './lib/tfjsSetup.ts';
import type { MergeCalls, MergeModelLoaded, MergeSource } from './merge.protocol.ts';

const frames = new FrameStore();
const facesets = new FacesetStore();
const checkpoints = new CheckpointStore();
let backendEnv: BackendEnv | null = null;

interface Loaded {
  model: SaehdModel;
  info: MergeModelInfo;
  loaded: MergeModelLoaded;
  /** Identifies the weights (model id and generation) in cache keys. */
  key: string;
}
let state: Loaded | null = null;
let batchRunning = false;

/** Decoded frames and their predictions, most recent last (a few frames: each 1280×720 frame is ~11 MB as floats). */
const previewCache = new Map<string, { frame: FloatImage; faces: PredictedFace[] }>();
const PREVIEW_CACHE = 3;
/** Face metadata per faceset (read once; the preview asks for the same faces again and again). */
const metaCache = new Map<string, MergeFaceMeta>();

class NoModelError extends SaehdError {
  constructor() {
    super('merge-no-model', 'no model is loaded for merging: pick a model first');
  }
}

function need(): Loaded {
  if (!state) throw new NoModelError();
  return state;
}

function unload(): void {
  previewCache.clear();
  state?.model.dispose();
  state = null;
}

async function faceMeta(facesetId: string, name: string): Promise<MergeFaceMeta> {
  const k = `${facesetId}/${name}`;
  let m = metaCache.get(k);
  if (!m) {
    const rec = await facesets.face(facesetId, name);
    m = { source_landmarks: rec.meta.source_landmarks };
    if (metaCache.size > 5000) metaCache.clear();
    metaCache.set(k, m);
  }
  return m;
}

/** The face list of a faceset as it was when its metadata was cached (facesDigest). */
const lastDigest = new Map<string, string>();

async function plan(src: MergeSource): Promise<FramePlan> {
  const info = await facesets.get(src.facesetId);
  const names = await frames.frameNames(src.frameSetId);
  // A new plan reads the faceset afresh: faces re-extracted under the same names must not keep old metadata.
  const digest = facesDigest(info.faces);
  if (digest !== lastDigest.get(src.facesetId)) {
    for (const k of [...metaCache.keys()]) if (k.startsWith(`${src.facesetId}/`)) metaCache.delete(k);
    previewCache.clear();
    lastDigest.set(src.facesetId, digest);
  }
  return matchFacesToFrames(
    info.faces.map((f) => ({ name: f.name, sourceFilename: f.sourceFilename })),
    names,
  );
}

async function encode(img: RawImage, format: MergeFormat, quality: number): Promise<Uint8Array> {
  // PNG level 1: OpenCV's default PNG compression, which DFL's merger writes with (fast; frames are large).
  return format === 'png' ? encodePng(img, 1) : encodeJpeg(img, quality);
}

function deps(s: Loaded, facesetId: string): MergeDeps {
  return {
    frames,
    model: s.info,
    predict: modelPredictor(s.model),
    faceMeta: (n) => faceMeta(facesetId, n),
    decode: (f) => decodeImageFile(f.name, f.bytes),
    encode,
  };
}

/**
 * Loads, previews, batch merges and disposal run one at a time: a load awaits between freeing the old model and
 * keeping the new one, so two overlapping loads (a quick model switch) could keep the wrong model or leak one, and a
 * preview or merge could see its model disposed under it. A preview asked for during Merge all waits for it.
 */
let lock: Promise<unknown> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = lock.then(fn, fn);
  lock = run.catch(() => undefined);
  return run;
}

serve<MergeCalls>({
  load: (req) => exclusive(async () => {
    if (batchRunning) throw new SaehdError('merge-busy', 'a merge is running: cancel it before changing the model');
    unload();
    backendEnv ??= await probeBackendEnv();
    if (req.backend === 'auto' || req.backend === 'wasm') await prepareWasm();
    const choice = await setupBackend(req.backend, { env: backendEnv });
    let bytes: Uint8Array;
    let generation = 0;
    const notes: string[] = [];
    if (req.checkpoint) bytes = req.checkpoint;
    else if (req.modelId) {
      const c = await checkpoints.load(req.modelId);
      bytes = c.bytes;
      generation = c.generation.generation;
      if (c.fellBack) notes.push(c.fellBack);
    } else throw new SaehdError('merge-no-model', 'no model given: pick a model first');
    // Prediction only: no trainer, no optimizer state, no discriminators (§F.2).
    const r = await restoreCheckpoint(bytes, { trainer: false });
    notes.push(...r.notes);
    const info = mergeModelInfo(r.model);
    const { adapter } = await describeAdapter(choice.backend, backendEnv);
    const loaded: MergeModelLoaded = {
      modelId: req.modelId ?? 'checkpoint',
      generation,
      iter: r.iter,
      resolution: info.resolution,
      faceType: info.faceType,
      channels: info.channels,
      backend: choice.backend,
      adapter,
      notes,
      numTensors: tf.memory().numTensors,
    };
    state = { model: r.model, info, loaded, key: `${loaded.modelId}@${generation}` };
    return loaded;
  }),

  plan,

  preview: (req, ctx) => exclusive(async () => {
    throwIfAborted(ctx.signal);
    const s = need();
    const t0 = performance.now();
    const p = await plan(req);
    const entry = p.frames.find((f) => f.name === req.frame);
    if (!entry) throw new SaehdError('frame-missing', `frame ${req.frame} is not in the frame set`);
    const key = `${s.key}|${req.facesetId}|${req.frameSetId}|${req.frame}|${entry.faces.join(',')}`;
    let hit = previewCache.get(key);
    if (hit) previewCache.delete(key);
    else {
      const stored = await frames.getFrame(req.frameSetId, req.frame);
      const frame = rawToFloat(await decodeImageFile(stored.name, stored.bytes));
      throwIfAborted(ctx.signal);
      const faces = await Promise.all(entry.faces.map(async (name) => ({ name, meta: await faceMeta(req.facesetId, name) })));
      hit = { frame, faces: await predictFrameFaces(frame, faces, s.info, modelPredictor(s.model)) };
    }
    previewCache.set(key, hit);
    while (previewCache.size > PREVIEW_CACHE) previewCache.delete(previewCache.keys().next().value!);
    throwIfAborted(ctx.signal);
    const main = renderMergedFrame(hit.frame, hit.faces, req.settings, s.info);
    let alternate = null;
    if (req.compare && s.info.channels === 1 && hit.frame.channels === 3 && hit.faces.length) {
      const other = req.settings.bw_colour_frames === 'gray' ? 'luma' : 'gray';
      const r = renderMergedFrame(hit.frame, hit.faces, { ...req.settings, bw_colour_frames: other }, s.info);
      alternate = { conversion: r.frameConversion, rgba: rawToRgba(r.image) };
    }
    const mainRgba = rawToRgba(main.image);
    ctx.transfer(mainRgba.buffer as ArrayBuffer, ...(alternate ? [alternate.rgba.buffer as ArrayBuffer] : []));
    return {
      frame: req.frame,
      width: main.image.width,
      height: main.image.height,
      faces: entry.faces,
      main: { conversion: main.frameConversion, rgba: mainRgba },
      alternate,
      maskRect: main.maskRect,
      ms: performance.now() - t0,
    };
  }),

  mergeAll: (req, ctx) => exclusive(async () => {
    const s = need();
    if (batchRunning) throw new SaehdError('merge-busy', 'a merge is already running');
    batchRunning = true;
    try {
      const p = await plan(req);
      // PNG has no quality: 0 keeps a JPEG-slider change from counting as new settings (which would redo a PNG run).
      const quality = req.format === 'png' ? 0 : Math.min(100, Math.max(1, Math.round(req.quality ?? 95)));
      return await mergeAllFrames(
        deps(s, req.facesetId),
        req.frameSetId,
        p,
        {
          modelId: s.loaded.modelId, generation: s.loaded.generation, facesetId: req.facesetId,
          faces: facesDigest((await facesets.get(req.facesetId)).faces), settings: req.settings, format: req.format, quality,
        },
        { label: req.label ?? s.loaded.modelId, signal: ctx.signal, onProgress: (pr) => ctx.progress(pr) },
      );
    } finally {
      batchRunning = false;
    }
  }),

  dispose: () => exclusive(async () => {
    if (batchRunning) throw new SaehdError('merge-busy', 'a merge is running: cancel it first');
    unload();
    return { numTensors: tf.memory().numTensors };
  }),
});

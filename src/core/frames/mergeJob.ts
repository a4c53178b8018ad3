/**
 * The batch merge (spec §F, issue 6 "Batch merge"): every frame of a frame set, in order, merged with the faces cut
 * from it and written at its original size into a 'merged' frame set as PNG or JPEG. Frames without a face are copied
 * unchanged (§F.1). Each frame is stored in its own transaction as soon as it is done, so a cancelled or interrupted
 * run resumes where it stopped: frames already in the output set are skipped — but only when the output set was made
 * with the same model generation, faces, settings and format (its job record says so); otherwise the old output of
 * this frame set is replaced, since a sequence merged with mixed settings is not what anyone wants.
 *
 * DOM-free and tfjs-free: the caller supplies the decoder, the encoder and the model's predictor (the merge worker in
 * the page, tests in Node).
 */
import { AbortError, SaehdError, toUserMessage } from '../errors.ts';
import type { RawImage } from '../image/rawImage.ts';
import type { MergeFaceMeta, MergeModelInfo, MergeSettings } from '../merge/index.ts';
import { type FrameSetInfo, type FrameStore, type StoredFrame } from './frameStore.ts';
import { type FramePlan, mergedFrameName, stemOf } from './matchFrames.ts';
import { type FacePredictor, grayConversionApplies, predictFrameFaces, rawToFloat, renderMergedFrame, type RenderedFrame } from './mergeFrames.ts';

export type MergeFormat = 'png' | 'jpeg';

export const MIME: Record<MergeFormat, string> = { png: 'image/png', jpeg: 'image/jpeg' };

/** What identifies a merge: resuming is allowed only into output made with the same of everything here. */
export interface MergeJobKey {
  modelId: string;
  /** The checkpoint generation the model was loaded from (a model trained further is a different model). */
  generation: number;
  facesetId: string;
  /** facesDigest of the faceset's faces: faces re-extracted under the same names are a different job. */
  faces?: string;
  settings: MergeSettings;
  format: MergeFormat;
  /** JPEG quality 1…100 (ignored for PNG). */
  quality: number;
}

/** A short digest of a faceset's face list (names, sizes in bytes, source frames): changes when faces are re-made. */
export function facesDigest(faces: ReadonlyArray<{ name: string; bytes: number; sourceFilename: string | null }>): string {
  let h = 0x811c9dc5;
  for (const f of [...faces].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const s = `${f.name}\u0000${f.bytes}\u0000${f.sourceFilename ?? ''}\u0001`;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  }
  return `${faces.length}:${h.toString(16)}`;
}

/** Side-data key of the job record in the output frame set. */
export const JOB_BLOB = 'merge-job';

export interface MergeDeps {
  frames: FrameStore;
  model: MergeModelInfo;
  predict: FacePredictor;
  /** The metadata of a dst face (source_landmarks). */
  faceMeta(name: string): Promise<MergeFaceMeta>;
  decode(frame: StoredFrame): Promise<RawImage>;
  encode(img: RawImage, format: MergeFormat, quality: number): Promise<Uint8Array>;
}

export interface MergeProgress {
  /** Frames finished in this run plus those skipped as already merged. */
  done: number;
  total: number;
  frame: string;
}

export interface MergeAllResult {
  outputSetId: string;
  total: number;
  /** Frames merged with at least one face in this run. */
  merged: number;
  /** Frames without a face, copied (or, for gray output, converted) in this run. */
  copied: number;
  /** Frames already in the output set from an earlier run (resume). */
  skipped: number;
  /** Frames that could not be merged (a damaged frame or face), with the reason; they are not written. */
  failed: { frame: string; reason: string }[];
  cancelled: boolean;
  /** 'gray' / 'luma' when a one-channel model met colour frames (§F.4). */
  frameConversion: 'gray' | 'luma' | null;
}

/** Output names for every frame: the stem with the format's extension, or the full name when two frames share a stem. */
export function outputNames(frameNames: readonly string[], format: MergeFormat): Map<string, string> {
  const stems = new Map<string, number>();
  for (const n of frameNames) stems.set(stemOf(n), (stems.get(stemOf(n)) ?? 0) + 1);
  return new Map(frameNames.map((n) => [n, stems.get(stemOf(n))! > 1 ? `${n}.${format === 'png' ? 'png' : 'jpg'}` : mergedFrameName(n, format)]));
}

/** Stable JSON (sorted keys) so two equal job keys compare equal as strings. */
function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The output set of `frameSetId` for `key`: the earlier one when its job record matches (resume), else a new one.
 * Earlier output of this frame set made differently (another model or other settings) is kept: a second Merge all
 * never throws away what the first one made; the user deletes a set in the frame-set list.
 */
export async function outputSetFor(frames: FrameStore, source: FrameSetInfo, key: MergeJobKey, label: string): Promise<{ set: FrameSetInfo; resumed: boolean }> {
  const want = stableJson(key);
  const earlier = (await frames.listSets()).filter((s) => s.kind === 'merged' && s.sourceSetId === source.id);
  let keep: FrameSetInfo | null = null;
  for (const s of earlier) {
    const rec = await frames.getBlob(s.id, JOB_BLOB);
    if (!keep && rec && decoder.decode(rec) === want) keep = s;
  }
  if (keep) return { set: keep, resumed: true };
  const n = earlier.filter((s) => s.name.startsWith(`${source.name} — merged with ${label}`)).length;
  const set = await frames.createSet({ name: `${source.name} — merged with ${label}${n ? ` (${n + 1})` : ''}`, kind: 'merged', width: source.width, height: source.height, ...(source.fps ? { fps: source.fps } : {}), sourceSetId: source.id });
  await frames.putBlob(set.id, JOB_BLOB, encoder.encode(want));
  return { set, resumed: false };
}

/**
 * Decode one frame, predict its faces and render it with `settings` (the preview's path and the batch's path).
 * `facesOf` are the names of the faces cut from it (from the FramePlan).
 */
export async function renderFrame(deps: MergeDeps, stored: StoredFrame, faceNames: readonly string[], settings: MergeSettings): Promise<RenderedFrame> {
  const frame = rawToFloat(await deps.decode(stored));
  const faces = await Promise.all(faceNames.map(async (name) => ({ name, meta: await deps.faceMeta(name) })));
  const predicted = await predictFrameFaces(frame, faces, deps.model, deps.predict);
  return renderMergedFrame(frame, predicted, settings, deps.model);
}

/**
 * Merge every frame of `plan` (in its order) from `frameSetId` into the output set for `key`, reporting progress after
 * each frame. Cancelling (`signal`) stops between frames and returns `cancelled: true`; what was written stays.
 */
export async function mergeAllFrames(
  deps: MergeDeps,
  frameSetId: string,
  plan: FramePlan,
  key: MergeJobKey,
  opts: { label?: string; signal?: AbortSignal; onProgress?: (p: MergeProgress) => void } = {},
): Promise<MergeAllResult> {
  const source = await deps.frames.getSet(frameSetId);
  const { set } = await outputSetFor(deps.frames, source, key, opts.label ?? key.modelId);
  const names = outputNames(plan.frames.map((f) => f.name), key.format);
  const already = new Set(await deps.frames.frameNames(set.id));
  const total = plan.frames.length;
  const res: MergeAllResult = { outputSetId: set.id, total, merged: 0, copied: 0, skipped: 0, failed: [], cancelled: false, frameConversion: null };
  const mime = MIME[key.format];
  const grayOut = grayConversionApplies(key.settings, deps.model);
  let done = 0;
  for (const entry of plan.frames) {
    if (opts.signal?.aborted) {
      res.cancelled = true;
      break;
    }
    const out = names.get(entry.name)!;
    if (already.has(out)) {
      res.skipped++;
    } else {
      try {
        const stored = await deps.frames.getFrame(frameSetId, entry.name);
        let frame: StoredFrame;
        if (entry.faces.length === 0 && !grayOut && stored.type === mime) {
          // No face and nothing to convert: the frame's own bytes (no re-encoding loss for JPEG).
          frame = { ...stored, name: out };
        } else {
          const r = await renderFrame(deps, stored, entry.faces, key.settings);
          if (r.frameConversion) res.frameConversion = r.frameConversion;
          frame = { name: out, bytes: await deps.encode(r.image, key.format, key.quality), width: r.image.width, height: r.image.height, type: mime };
        }
        await deps.frames.putFrames(set.id, [frame]);
        if (entry.faces.length) res.merged++;
        else res.copied++;
      } catch (e) {
        if (e instanceof AbortError) {
          res.cancelled = true;
          break;
        }
        // Storage full: stop (every later frame would fail the same way); anything else: report the frame, go on.
        if (e instanceof SaehdError && e.code === 'quota') throw e;
        res.failed.push({ frame: entry.name, reason: toUserMessage(e) });
      }
    }
    done++;
    opts.onProgress?.({ done, total, frame: entry.name });
  }
  return res;
}

/**
 * One frame through the merger (spec §F.3, §F.4), split where the interactive merger needs it: `predictFrameFaces`
 * runs the model on every face of the frame (this does not depend on any merge setting: the model input is the crop
 * for the model's face type at scale 1, §F.3 steps 2–4), and `renderMergedFrame` applies the settings (mask, erode,
 * blur, face scale, colour transfer, blend) to the frame and the cached predictions. The live preview and the batch
 * merge both call exactly these two, so for the same settings they give the same pixels.
 *
 * 8-bit conversion rounds (x·255 to the nearest integer) rather than truncating as DFL does: a frame byte b read as
 * b/255 in float32 and written back comes out as b again, so pixels the mask does not touch are unchanged.
 */
import type { FloatImage, RawImage } from '../image/rawImage.ts';
import {
  grayTo3, mergeFrame, prepareMergeFace, toGray, type MergeFaceMeta, type MergeModelInfo, type MergePrediction, type MergeSettings,
} from '../merge/index.ts';
import type { Rect } from '../merge/masks.ts';

/** Runs the model's merge outputs (§F.2) on one S×S input in the model's channels and channel order. */
export type FacePredictor = (input: FloatImage) => Promise<MergePrediction>;

export interface FrameFace {
  name: string;
  meta: MergeFaceMeta;
}

export interface PredictedFace extends FrameFace {
  prediction: MergePrediction;
}

export interface RenderedFrame {
  /** The merged frame, 8-bit, at the frame's size: 3 channels, or 1 for a gray frame and a one-channel model. */
  image: RawImage;
  /** 'gray' / 'luma' when a one-channel model met a colour frame (§F.4), else null. */
  frameConversion: 'gray' | 'luma' | null;
  /** Bounding box of the pixels the merge mask touches (mask > 0), or null when it touches none. */
  maskRect: Rect | null;
}

/** An 8-bit image as floats in [0,1]; an alpha channel is dropped (frames are opaque). */
export function rawToFloat(raw: RawImage): FloatImage {
  const n = raw.width * raw.height;
  const C = raw.channels === 4 ? 3 : raw.channels;
  const out = new Float32Array(n * C);
  const s = raw.data, sc = raw.channels;
  for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) out[i * C + c] = s[i * sc + c] / 255;
  return { width: raw.width, height: raw.height, channels: C, data: out };
}

/** Floats in [0,1] to 8 bits, rounded and clipped (NaN → 0). */
export function floatToRaw(img: FloatImage): RawImage {
  if (img.channels !== 1 && img.channels !== 3 && img.channels !== 4) throw new RangeError(`floatToRaw: ${img.channels} channels`);
  const d = img.data;
  const out = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i] * 255;
    out[i] = v >= 255 ? 255 : v > 0 ? Math.round(v) : 0;
  }
  return { width: img.width, height: img.height, channels: img.channels, data: out };
}

/** RGBA bytes for a canvas (gray replicated, alpha 255). */
export function rawToRgba(raw: RawImage): Uint8ClampedArray {
  const n = raw.width * raw.height;
  const out = new Uint8ClampedArray(n * 4);
  const s = raw.data, C = raw.channels;
  for (let i = 0; i < n; i++) {
    const r = s[i * C];
    out[4 * i] = r;
    out[4 * i + 1] = C >= 3 ? s[i * C + 1] : r;
    out[4 * i + 2] = C >= 3 ? s[i * C + 2] : r;
    out[4 * i + 3] = 255;
  }
  return out;
}

/** Run the model on every face of the frame (§F.3 steps 2–4), one at a time. */
export async function predictFrameFaces(frame: FloatImage, faces: readonly FrameFace[], model: MergeModelInfo, predict: FacePredictor): Promise<PredictedFace[]> {
  const out: PredictedFace[] = [];
  for (const f of faces) {
    const { input } = prepareMergeFace(frame, f.meta, model);
    out.push({ ...f, prediction: await predict(input) });
  }
  return out;
}

/** Would this frame be changed by the merge even without a face (a one-channel model writing gray frames, §F.4)? */
export function grayConversionApplies(settings: MergeSettings, model: MergeModelInfo): boolean {
  return model.channels === 1 && settings.bw_colour_frames === 'gray' && settings.mode !== 'original';
}

function maskBounds(mask: FloatImage): Rect | null {
  const { width: W, height: H, data } = mask;
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let x = 0; x < W; x++)
      if (data[row + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/**
 * The settings-dependent part (§F.3 steps 5–10): merge the predicted faces into the frame. A frame without faces is
 * returned unchanged (§F.1), except that a one-channel model in 'gray' mode writes every frame gray (SAEHDBW decodes
 * all frames as gray, §F.4), so the sequence does not flicker between colour and gray.
 */
export function renderMergedFrame(frame: FloatImage, faces: readonly PredictedFace[], settings: MergeSettings, model: MergeModelInfo): RenderedFrame {
  if (faces.length === 0) {
    const gray = frame.channels === 3 && grayConversionApplies(settings, model);
    return { image: floatToRaw(gray ? grayTo3(toGray(frame)) : frame), frameConversion: gray ? 'gray' : null, maskRect: null };
  }
  const r = mergeFrame(frame, faces, settings, model);
  return { image: floatToRaw(r.image), frameConversion: r.frameConversion, maskRect: maskBounds(r.mask) };
}

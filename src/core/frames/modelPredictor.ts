/**
 * The model side of the merger (spec §F.2) as a `FacePredictor`: one S×S face in, the swapped face, its learned mask
 * (learned-prd) and the dst mask (learned-dst) out, as FloatImages. Every tensor is disposed before it returns.
 */
import * as tf from '@tensorflow/tfjs';
import type { FloatImage } from '../image/rawImage.ts';
import type { MergeModelInfo } from '../merge/index.ts';
import type { SaehdModel } from '../model/saehd.ts';
import type { FacePredictor } from './mergeFrames.ts';

/** What the merger needs to know about a built model (its options fix resolution, face type and channels). */
export function mergeModelInfo(model: SaehdModel): MergeModelInfo {
  const o = model.options;
  return { resolution: o.resolution, faceType: o.face_type, channels: o.channels === 1 ? 1 : 3, channelOrder: 'bgr' };
}

export function modelPredictor(model: SaehdModel): FacePredictor {
  const { resolution: S, channels: C } = mergeModelInfo(model);
  return async (input: FloatImage) => {
    if (input.width !== S || input.height !== S || input.channels !== C)
      throw new RangeError(`model input must be ${S}×${S}×${C}, not ${input.width}×${input.height}×${input.channels}`);
    const x = tf.tensor4d(input.data, [1, S, S, C]);
    let out: ReturnType<SaehdModel['merge']> | null = null;
    try {
      out = model.merge(x);
      const [face, faceMask, dstMask] = await Promise.all([out.face.data(), out.faceMask.data(), out.dstMask.data()]);
      // copies: the cpu backend hands out its live buffers
      const img = (d: tf.TypedArray, c: number): FloatImage => ({ width: S, height: S, channels: c, data: Float32Array.from(d as Float32Array) });
      return { face: img(face, C), faceMask: img(faceMask, 1), dstMask: img(dstMask, 1) };
    } finally {
      x.dispose();
      if (out) tf.dispose([out.face, out.faceMask, out.dstMask]);
    }
  };
}

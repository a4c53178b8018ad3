/**
 * Synthetic faces for the sample-generator tests: 68 landmarks built around DFL's unit-square template (spec §H.2)
 * with an invented jaw and mouth, placed into an aligned crop of a given face type, and a simple face-like image.
 */
import type { RawImage } from '../../src/core/image/rawImage.ts';
import { transformPoints } from '../../src/core/image/warpAffine.ts';
import { getTransformMat, LANDMARKS_2D_NEW } from '../../src/core/samples/faceAlign.ts';
import { FACE_MODEL_3D, FACE_MODEL_INDICES, rodrigues } from '../../src/core/samples/pose.ts';
import type { FaceSource } from '../../src/core/samples/generator.ts';
import { Rng } from '../../src/core/samples/random.ts';

/** 68 landmarks in template (unit-square) space. */
export function templateLandmarks(): Float64Array {
  const lm = new Float64Array(136);
  for (let i = 17; i <= 48; i++) {
    lm[2 * i] = LANDMARKS_2D_NEW[2 * (i - 17)];
    lm[2 * i + 1] = LANDMARKS_2D_NEW[2 * (i - 17) + 1];
  }
  lm[108] = LANDMARKS_2D_NEW[64];
  lm[109] = LANDMARKS_2D_NEW[65];
  // jaw 0..16: a half ellipse from the temples down to the chin
  for (let i = 0; i <= 16; i++) {
    const t = Math.PI * (i / 16);
    lm[2 * i] = 0.49 - 0.52 * Math.cos(t);
    lm[2 * i + 1] = 0.22 + 0.85 * Math.sin(t);
  }
  // outer lip 48..59 (48 and 54 are template points), inner lip 60..67
  const cx = (lm[96] + lm[108]) / 2, cy = (lm[97] + lm[109]) / 2;
  const rx = (lm[108] - lm[96]) / 2;
  for (let k = 0; k < 12; k++) {
    if (k === 0 || k === 6) continue;
    const t = Math.PI * (k / 6);
    lm[2 * (48 + k)] = cx - rx * Math.cos(t);
    lm[2 * (48 + k) + 1] = cy - 0.07 * Math.sin(t);
  }
  for (let k = 0; k < 8; k++) {
    const t = Math.PI * (k / 4);
    lm[2 * (60 + k)] = cx - 0.7 * rx * Math.cos(t);
    lm[2 * (60 + k) + 1] = cy - 0.025 * Math.sin(t);
  }
  return lm;
}

/** Landmarks of an aligned crop of `size` px and face type `faceType`. */
export function alignedLandmarks(size: number, faceType: string): Float64Array {
  const t = templateLandmarks();
  return transformPoints(t, getTransformMat(t, size, faceType));
}

/** A smooth face-like RGB image with some texture (deterministic). */
export function syntheticFaceImage(size: number, lm: Float64Array, seed = 1, channels: 1 | 3 = 3): RawImage {
  const r = new Rng(seed);
  const data = new Uint8Array(size * size * channels);
  const cx = lm[60], cy = lm[61]; // nose tip (30)
  const fx = r.uniform(0.05, 0.2), fy = r.uniform(0.05, 0.2);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - cx, y - cy) / size;
      const base = 200 * Math.exp(-d * d * 8) + 30 * Math.sin(x * fx) * Math.cos(y * fy) + 25;
      for (let c = 0; c < channels; c++) {
        const v = base * (channels === 3 ? [1, 0.85, 0.7][c] : 1);
        data[(y * size + x) * channels + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  return { width: size, height: size, channels, data };
}

/** Landmarks whose PnP pose is known: the 3-D model rotated by (pitch, yaw, roll) and projected (spec §H.5). */
export function posedLandmarks(size: number, rx: number, ry: number, rz: number, dist = 450): Float64Array {
  const R = rodrigues(rx, ry, rz);
  const lm = new Float64Array(136);
  const f = size, c = size / 2;
  FACE_MODEL_INDICES.forEach((k, i) => {
    const X = FACE_MODEL_3D[3 * i], Y = FACE_MODEL_3D[3 * i + 1], Z = FACE_MODEL_3D[3 * i + 2];
    const xc = R[0] * X + R[1] * Y + R[2] * Z;
    const yc = R[3] * X + R[4] * Y + R[5] * Z;
    const zc = R[6] * X + R[7] * Y + R[8] * Z + dist;
    lm[2 * k] = (f * xc) / zc + c;
    lm[2 * k + 1] = (f * yc) / zc + c;
  });
  return lm;
}

/** In-memory face sources with load counters. */
export function syntheticFaces(
  n: number,
  opts: { size?: number; faceType?: string; channels?: 1 | 3 } = {},
): { faces: FaceSource[]; loads: number[] } {
  const size = opts.size ?? 128;
  const faceType = opts.faceType ?? 'whole_face';
  const lm = alignedLandmarks(size, faceType);
  const loads = new Array(n).fill(0);
  const faces: FaceSource[] = Array.from({ length: n }, (_, i) => ({
    id: `face${i}`,
    load: async () => {
      loads[i]++;
      const jitter = new Rng(1000 + i);
      const l = Float64Array.from(lm, (v) => v + jitter.uniform(-1.5, 1.5));
      return { image: syntheticFaceImage(size, l, i + 1, opts.channels ?? 3), landmarks: l, faceType };
    },
  }));
  return { faces, loads };
}

/**
 * How closely our extraction reproduces existing DFL aligned faces (issue 7, "Accuracy"). For one DFL file and our
 * detection of the same face in its source frame:
 * - landmark error in the aligned crop: our aligned landmarks (our `get_transform_mat`, spec §H.4, at DFL's face type
 *   and size) against the file's `landmarks`, point by point, as a percentage of the crop side; mean and max over
 *   the 68 points. This mixes landmark and alignment differences, which is what a user sees in the faces.
 * - landmark error in DFL's crop: our frame landmarks mapped with the file's own `image_to_face_mat` against its
 *   `landmarks` (landmark placement alone, normalised the same way).
 * - crop corners: the four corners of our crop and of DFL's crop mapped back into the frame (inverse matrices), mean
 *   distance in frame pixels and as a percentage of DFL's crop side in the frame.
 */
import type { DflMetadata } from '../formats/dfljpg.ts';
import { transformPoints } from '../image/warpAffine.ts';
import type { DetectedFace } from './detect.ts';
import { alignFace } from './extract.ts';

export interface FaceAccuracy {
  /** Mean / max over the 68 points of |ours − DFL| in the aligned crop, % of the crop side. */
  meanPct: number;
  maxPct: number;
  /** Same with our frame landmarks mapped by DFL's own matrix (landmark placement only). */
  meanPctInDflCrop: number;
  maxPctInDflCrop: number;
  /** Mean distance between corresponding crop corners in the frame, pixels and % of DFL's crop side there. */
  cornerPx: number;
  cornerPct: number;
  /** DFL's crop side in frame pixels. */
  dflCropSidePx: number;
}

function pointErrors(a: ArrayLike<number>, b: ArrayLike<number>): { mean: number; max: number } {
  const n = Math.min(a.length, b.length) >> 1;
  let sum = 0, max = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.hypot(a[2 * i] - b[2 * i], a[2 * i + 1] - b[2 * i + 1]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / n, max };
}

/** The crop's corners (0,0), (S,0), (S,S), (0,S) in frame pixels. */
export function cropCornersInFrame(mat: ArrayLike<number>, size: number): Float64Array {
  return transformPoints([0, 0, size, 0, size, size, 0, size], mat, true);
}

/**
 * Compare our frame landmarks for one face with a DFL aligned file's metadata. `size` is the DFL file's width
 * (landmarks and matrix refer to it).
 */
export function compareWithDfl(ourFrameLandmarks: ArrayLike<number>, dfl: DflMetadata, size: number): FaceAccuracy {
  if (!dfl.landmarks || !dfl.image_to_face_mat) throw new RangeError('the DFL face has no landmarks or no image_to_face_mat');
  const ours = alignFace({ landmarks: Float64Array.from(ourFrameLandmarks), rect: [0, 0, 1, 1] }, dfl.face_type, size);
  const aligned = pointErrors(ours.landmarks, dfl.landmarks);
  const inDfl = pointErrors(transformPoints(ourFrameLandmarks, dfl.image_to_face_mat), dfl.landmarks);
  const cOurs = cropCornersInFrame(ours.mat, size);
  const cDfl = cropCornersInFrame(dfl.image_to_face_mat, size);
  const corners = pointErrors(cOurs, cDfl);
  const side = Math.hypot(cDfl[2] - cDfl[0], cDfl[3] - cDfl[1]);
  return {
    meanPct: (100 * aligned.mean) / size,
    maxPct: (100 * aligned.max) / size,
    meanPctInDflCrop: (100 * inDfl.mean) / size,
    maxPctInDflCrop: (100 * inDfl.max) / size,
    cornerPx: corners.mean,
    cornerPct: (100 * corners.mean) / side,
    dflCropSidePx: side,
  };
}

/**
 * Which of our detections is the DFL file's face: the one whose landmarks lie closest (mean distance) to the file's
 * `source_landmarks`, or, when the file has none, whose box centre is nearest the `source_rect` centre. -1 if none.
 */
export function matchDetection(faces: readonly Pick<DetectedFace, 'landmarks' | 'rect'>[], dfl: DflMetadata): number {
  let best = -1, bestD = Infinity;
  faces.forEach((f, i) => {
    let d: number;
    if (dfl.source_landmarks) d = pointErrors(f.landmarks, dfl.source_landmarks).mean;
    else if (dfl.source_rect) {
      const [l, t, r, b] = dfl.source_rect;
      d = Math.hypot((f.rect[0] + f.rect[2] - l - r) / 2, (f.rect[1] + f.rect[3] - t - b) / 2);
    } else d = i;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

export interface AccuracySummary {
  faces: number;
  /** Mean over faces of the per-face mean, and the largest per-face max (aligned crop, % of side). */
  meanPct: number;
  maxPct: number;
  meanPctInDflCrop: number;
  maxPctInDflCrop: number;
  /** Mean over faces of the mean corner distance (frame px and % of DFL's crop side). */
  cornerPx: number;
  cornerPct: number;
}

export function summarizeAccuracy(rows: readonly FaceAccuracy[]): AccuracySummary {
  const n = rows.length;
  const mean = (f: (r: FaceAccuracy) => number) => (n ? rows.reduce((s, r) => s + f(r), 0) / n : NaN);
  const max = (f: (r: FaceAccuracy) => number) => (n ? Math.max(...rows.map(f)) : NaN);
  return {
    faces: n,
    meanPct: mean((r) => r.meanPct),
    maxPct: max((r) => r.maxPct),
    meanPctInDflCrop: mean((r) => r.meanPctInDflCrop),
    maxPctInDflCrop: max((r) => r.maxPctInDflCrop),
    cornerPx: mean((r) => r.cornerPx),
    cornerPct: mean((r) => r.cornerPct),
  };
}

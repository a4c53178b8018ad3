import type { FaceScore, SortKey } from '../src/core/extract/sortFaces.ts';

/** One detected face of a frame, for the review view (frame pixels). */
export interface ExtractFaceReview {
  /** The name it got in the faceset (null when it was not stored: dropped by the area filter, or storage failed). */
  name: string | null;
  score: number;
  /** face-api's box [x, y, w, h]. */
  box: [number, number, number, number];
  /** DFL's source_rect [l, t, r, b] (bottom extended by 10 %). */
  rect: [number, number, number, number];
  /** 68 × 2 numbers, frame pixels. */
  landmarks: number[];
  /** Why the face was not kept, if it was not. */
  dropped: string | null;
}

export interface ExtractFrameReview {
  frame: string;
  width: number;
  height: number;
  faces: ExtractFaceReview[];
  /** Set when the frame could not be read. */
  error: string | null;
}

export interface ExtractRequest {
  frames: (File | { name: string; bytes: ArrayBuffer })[];
  /** Read the frames from this FrameStore set (e.g. a decoded video) instead of `frames` (issue 7). */
  frameSetId?: string;
  /** A face type name or option code (h, mf, f, wf, head; spec §D.7). */
  faceType: string;
  size: number;
  gray: boolean;
  largestOnly: boolean;
  targetFacesetId: string;
  /** SSD-MobileNetV1 threshold, default 0.5. */
  minConfidence?: number;
}

/** The extraction worker: frames → face-api detection + 68 landmarks → DFL aligned faces in a faceset. */
export type ExtractCalls = {
  extract: {
    request: ExtractRequest;
    /** After each frame; `frame` is that frame's review entry. */
    progress: { done: number; total: number; faces: number; frame: ExtractFrameReview | null; backend: string | null };
    result: {
      frames: number;
      faces: number;
      failed: { name: string; reason: string }[];
      cancelled: boolean;
      /** Set when extraction had to stop early (storage full). */
      stopped: string | null;
      backend: string;
      /** Seconds spent in detection + landmarks, and in alignment + JPEG + metadata + storing. */
      detectSeconds: number;
      writeSeconds: number;
    };
  };
  /** DFL's sorter values for a faceset: blur (CPBD sharpness) or yaw, sorted as DFL sorts them. */
  scores: {
    request: { facesetId: string; key: SortKey };
    progress: { done: number; total: number };
    result: { key: SortKey; sorted: FaceScore[]; trash: FaceScore[]; failed: { name: string; reason: string }[] };
  };
};

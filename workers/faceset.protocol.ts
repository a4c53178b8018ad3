import type { ImportProgress, ImportReport } from '../src/core/faceset/importFaces.ts';
import type { FacesetInfo } from '../src/core/faceset/types.ts';

/** The faceset worker: import, grayscale/resize conversion and zip export, all off the UI thread. */
export type FacesetCalls = {
  import: {
    request: { facesetId: string; files: (File | { name: string; bytes: ArrayBuffer })[] };
    progress: ImportProgress;
    result: ImportReport;
  };
  convert: {
    request: { facesetId: string; size: number | null; gray: boolean };
    progress: { done: number; total: number };
    result: { faceset: FacesetInfo; failed: { name: string; reason: string }[]; cancelled: boolean };
  };
  export: {
    request: { facesetId: string };
    progress: { done: number; total: number };
    result: { fileName: string; zip: ArrayBuffer; count: number };
  };
};

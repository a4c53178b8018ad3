import type { DflMetadata } from '../formats/dfljpg.ts';

export type FacesetRole = 'src' | 'dst';

/** One face as the grid lists it (kept in the faceset's index record, so listing needs one read). */
export interface FaceSummary {
  /** File name inside the faceset, unique there (e.g. `00001_0.jpg`). */
  name: string;
  width: number;
  height: number;
  channels: number;
  faceType: string;
  sourceFilename: string | null;
  bytes: number;
}

/** The index record of a faceset: `faceset/<id>`. Faces appear here only once their records are stored. */
export interface FacesetInfo {
  id: string;
  name: string;
  role: FacesetRole;
  createdAt: number;
  /** The faceset this one was converted from, when it is a conversion. */
  derivedFrom: string | null;
  faces: FaceSummary[];
}

/** A stored face: `faceset/<id>/face/<name>`. Original bytes are kept untouched so export gives DFL its own file. */
export interface FaceRecord {
  name: string;
  bytes: Uint8Array;
  meta: DflMetadata;
  width: number;
  height: number;
  channels: number;
}

/** Summary numbers shown in a panel header. */
export function facesetStats(info: FacesetInfo): {
  count: number;
  faceTypes: string[];
  resolutions: string[];
  channels: number[];
  bytes: number;
} {
  const faceTypes = new Set<string>();
  const resolutions = new Set<string>();
  const channels = new Set<number>();
  let bytes = 0;
  for (const f of info.faces) {
    faceTypes.add(f.faceType);
    resolutions.add(f.width === f.height ? `${f.width}` : `${f.width}x${f.height}`);
    channels.add(f.channels);
    bytes += f.bytes;
  }
  return {
    count: info.faces.length,
    faceTypes: [...faceTypes].sort(),
    resolutions: [...resolutions].sort((a, b) => parseInt(a) - parseInt(b)),
    channels: [...channels].sort(),
    bytes,
  };
}

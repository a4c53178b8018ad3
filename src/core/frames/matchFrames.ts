/**
 * Which dst faces belong to which frame (spec §F.1): DFL's merger groups the aligned dst faces by the stem of their
 * `source_filename` and walks the frames in order; frames without a face are copied unchanged. Here the match is by
 * the frame's file name first and by its stem second, so frames re-encoded to another format (00001.jpg → 00001.png)
 * still find their faces. Faces whose frame is not among the frames are listed by name, so a person can see what is
 * missing instead of getting a silently shorter merge.
 */
import { naturalCompare } from './frameStore.ts';

/** What the matcher needs of a face (a faceset's `FaceSummary` fits after renaming `sourceFilename`). */
export interface FaceRef {
  name: string;
  sourceFilename: string | null;
}

export interface FramePlanEntry {
  /** Frame name as stored. */
  name: string;
  /** Names of the faces cut from this frame, in name order (DFL composites them in that order, §F.3 step 10). */
  faces: string[];
}

export interface FramePlan {
  /** Every frame, in natural name order, with its faces (possibly none). */
  frames: FramePlanEntry[];
  /** Faces whose `source_filename` names no frame we have. */
  missing: { face: string; sourceFilename: string }[];
  /** Faces without a `source_filename` (not cut from a frame by an extractor): they cannot be merged. */
  noSource: string[];
}

/** The last path component (DFL stores a bare file name, but Windows-made files may carry a path). */
export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i >= 0 ? path.slice(i + 1) : path;
}

/** The file name without its last extension (Python's `Path.stem`). */
export function stemOf(name: string): string {
  const b = baseName(name);
  const dot = b.lastIndexOf('.');
  return dot > 0 ? b.slice(0, dot) : b;
}

/** Match faces to frames: exact name, else the same stem, else the same stem ignoring case. */
export function matchFacesToFrames(faces: readonly FaceRef[], frameNames: readonly string[]): FramePlan {
  const names = [...frameNames].sort(naturalCompare);
  const byName = new Map<string, string>();
  const byStem = new Map<string, string>();
  const byStemLower = new Map<string, string>();
  for (const n of names) {
    byName.set(n, n);
    const s = stemOf(n);
    if (!byStem.has(s)) byStem.set(s, n);
    if (!byStemLower.has(s.toLowerCase())) byStemLower.set(s.toLowerCase(), n);
  }
  const facesOf = new Map<string, string[]>(names.map((n) => [n, []]));
  const missing: FramePlan['missing'] = [];
  const noSource: string[] = [];
  for (const f of faces) {
    const src = f.sourceFilename ? baseName(f.sourceFilename) : '';
    if (!src) {
      noSource.push(f.name);
      continue;
    }
    const stem = stemOf(src);
    const frame = byName.get(src) ?? byStem.get(stem) ?? byStemLower.get(stem.toLowerCase());
    if (frame === undefined) missing.push({ face: f.name, sourceFilename: src });
    else facesOf.get(frame)!.push(f.name);
  }
  return {
    frames: names.map((n) => ({ name: n, faces: facesOf.get(n)!.sort(naturalCompare) })),
    missing: missing.sort((a, b) => naturalCompare(a.face, b.face)),
    noSource: noSource.sort(naturalCompare),
  };
}

/**
 * The merged frame's file name: the input frame's stem with the output format's extension (DFL writes `<stem>.png`,
 * §F.3 step 10; SAEHDBW `.jpg`, §F.4), so the sequence sorts and re-assembles like the input.
 */
export function mergedFrameName(frameName: string, format: 'png' | 'jpeg'): string {
  return `${stemOf(frameName)}.${format === 'png' ? 'png' : 'jpg'}`;
}

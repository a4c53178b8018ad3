/**
 * Import of DeepFaceLab aligned faces: files and zips in, stored faces and a per-file report out.
 * Each file is checked on its own; a bad file is reported with its name and reason and never stops the others,
 * and faces are committed in batches together with the faceset index (see store.ts), so a cancel or a crash keeps
 * everything stored before it.
 */
import {
  AbortError,
  ImageTooLargeError,
  QuotaError,
  NotAnImageError,
  SaehdError,
  TruncatedJpegError,
  throwIfAborted,
  toUserMessage,
} from '../errors.ts';
import { readDflJpg } from '../formats/dfljpg.ts';
import { ZipError, safeUnzip } from '../formats/safeUnzip.ts';
import { decodeJpeg, encodeJpeg } from '../image/jpegCodec.ts';
import { downscaleArea } from '../image/thumbnail.ts';
import type { FacesetStore, NewFace } from './store.ts';

/** DFL faces are at most a few thousand pixels square (the resizer allows 2048); anything bigger is refused. */
export const MAX_FACE_SIDE = 4096;
/** A zip may not expand to more than this (zip-bomb guard). */
export const MAX_ZIP_EXPANDED_BYTES = 2 * 1024 ** 3;
export const THUMB_SIDE = 96;

export interface InputFile {
  name: string;
  bytes: Uint8Array;
}

export interface ImportIssue {
  name: string;
  reason: string;
}

export interface ImportReport {
  imported: number;
  failed: ImportIssue[];
  skipped: ImportIssue[];
  cancelled: boolean;
  /** Set when the import had to stop early (storage full); everything counted in `imported` is stored. */
  stopped: string | null;
}

const isJpegName = (n: string) => /\.jpe?g$/i.test(n);
const baseName = (n: string) => n.split(/[\\/]/).pop() ?? n;

/**
 * Expand zips into their JPEG entries; other files pass through. Entries that are not JPEGs (a README, a .DS_Store,
 * a folder) are listed as skipped, not failed. A damaged zip is a failure of that zip only.
 */
export function expandInputs(files: InputFile[]): { files: InputFile[]; failed: ImportIssue[]; skipped: ImportIssue[] } {
  const out: InputFile[] = [];
  const failed: ImportIssue[] = [];
  const skipped: ImportIssue[] = [];
  for (const f of files) {
    if (/\.zip$/i.test(f.name)) {
      let expanded = 0;
      try {
        // safeUnzip refuses lying directories (declared sizes, entry counts) before fflate allocates anything.
        const entries = safeUnzip(f.bytes, (e) => {
          if (e.name.endsWith('/')) return false;
          if (!isJpegName(e.name) || baseName(e.name).startsWith('._')) {
            skipped.push({ name: `${f.name}/${e.name}`, reason: 'not a .jpg face' });
            return false;
          }
          expanded += e.originalSize;
          if (expanded > MAX_ZIP_EXPANDED_BYTES) throw new SaehdError('zip-too-large', 'expands beyond 2 GiB');
          return true;
        });
        for (const [name, bytes] of Object.entries(entries)) out.push({ name: baseName(name), bytes });
      } catch (e) {
        failed.push({ name: f.name, reason: e instanceof ZipError ? e.message : `unreadable zip: ${toUserMessage(e)}` });
      }
    } else if (isJpegName(f.name)) {
      out.push({ name: baseName(f.name), bytes: f.bytes });
    } else if (/\.(png|webp|gif|bmp|mp4|webm|mov)$/i.test(f.name)) {
      failed.push({ name: f.name, reason: 'not a DeepFaceLab aligned face (DFL faces are .jpg files)' });
    } else {
      skipped.push({ name: f.name, reason: 'not a .jpg face' });
    }
  }
  return { files: out, failed, skipped };
}

/** The entropy-coded data of a complete JPEG ends with EOI (FF D9); decoders silently grey-fill a cut file. */
function assertComplete(bytes: Uint8Array): void {
  let end = bytes.length;
  while (end > 2 && bytes[end - 1] === 0) end--; // tolerate zero padding some tools append
  if (end < 4 || bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9)
    throw new TruncatedJpegError('the image data ends before the end-of-image marker');
}

/** Parse, validate and thumbnail one face; throws a SaehdError naming the problem. */
export async function prepareFace(file: InputFile): Promise<NewFace> {
  if (file.bytes.length < 4 || file.bytes[0] !== 0xff || file.bytes[1] !== 0xd8)
    throw new NotAnImageError('the file does not start like a JPEG');
  const dfl = readDflJpg(file.bytes);
  const { width, height, channels } = dfl.frame;
  if (width > MAX_FACE_SIDE || height > MAX_FACE_SIDE || width < 1 || height < 1)
    throw new ImageTooLargeError(width, height, MAX_FACE_SIDE);
  assertComplete(file.bytes);
  const img = await decodeJpeg(file.bytes, { channels: channels === 1 ? 1 : 3 });
  if (img.width !== width || img.height !== height)
    throw new NotAnImageError(`decoded ${img.width}x${img.height}, header says ${width}x${height}`);
  const thumb = await encodeJpeg(downscaleArea(img, THUMB_SIDE), 85);
  return {
    record: { name: file.name, bytes: file.bytes, meta: dfl.meta, width, height, channels },
    thumb,
    summary: {
      name: file.name,
      width,
      height,
      channels,
      faceType: dfl.meta.face_type,
      sourceFilename: dfl.meta.source_filename,
      bytes: file.bytes.length,
    },
  };
}

export interface ImportProgress {
  done: number;
  total: number;
  imported: number;
  failed: number;
}

/** Import into faceset `facesetId`; progress after each file; commits every `batchSize` faces. */
export async function importFaces(
  files: InputFile[],
  store: FacesetStore,
  facesetId: string,
  opts: { signal?: AbortSignal; onProgress?: (p: ImportProgress) => void; batchSize?: number } = {},
): Promise<ImportReport> {
  const batchSize = opts.batchSize ?? 16;
  const expanded = expandInputs(files);
  const report: ImportReport = { imported: 0, failed: [...expanded.failed], skipped: expanded.skipped, cancelled: false, stopped: null };
  let batch: NewFace[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const added = await store.addFaces(facesetId, batch);
    report.imported += added.length;
    batch = [];
  };
  const total = expanded.files.length;
  try {
    for (let i = 0; i < total; i++) {
      throwIfAborted(opts.signal);
      const f = expanded.files[i];
      try {
        batch.push(await prepareFace(f));
      } catch (e) {
        report.failed.push({ name: f.name, reason: toUserMessage(e) });
      }
      if (batch.length >= batchSize) await flush();
      opts.onProgress?.({ done: i + 1, total, imported: report.imported + batch.length, failed: report.failed.length });
    }
    await flush();
  } catch (e) {
    if (e instanceof AbortError) {
      report.cancelled = true;
      return report; // faces of the unfinished batch are dropped; committed ones stay.
    }
    if (e instanceof QuotaError) {
      report.stopped = e.message;
      return report;
    }
    throw e;
  }
  return report;
}

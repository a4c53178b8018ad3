/**
 * A JPEG marker-segment walker: enough of the container to find DFL's APP15 metadata, the frame size, and to
 * splice segments without touching the entropy-coded image data (spec G.1).
 *
 * Unlike DFL's own loader (which treats DRI as a length-less 2-byte body and finds the end of a scan by searching for
 * FF D9), this follows the JPEG standard: every marker except SOI, EOI, RSTn and TEM has a length, and a scan's
 * entropy-coded data ends at the first FF that is followed by neither 00 (a stuffed byte) nor an RSTn marker.
 * So progressive files (several scans) and files with restart intervals are walked correctly.
 */
import { NotAnImageError, TruncatedJpegError } from '../errors.ts';

export interface JpegSegment {
  /** The marker's second byte, e.g. 0xE0 for APP0, 0xEF for APP15, 0xDA for SOS. */
  marker: number;
  /** Offset of the marker's 0xFF byte. */
  start: number;
  /** Offset just past the segment; for SOS this includes the scan's entropy-coded data. */
  end: number;
  /** Offset of the payload (after the 2-byte length); equals `end` for markers without a length. */
  dataStart: number;
  /** Offset just past the payload; for SOS the entropy-coded data lies in [dataEnd, end). */
  dataEnd: number;
}

export interface JpegFrameInfo {
  width: number;
  height: number;
  /** Number of colour components in the frame header (1 gray, 3 YCbCr; DFL always reports 3, spec G.1). */
  channels: number;
  progressive: boolean;
}

export const MARKER_SOI = 0xd8;
export const MARKER_EOI = 0xd9;
export const MARKER_SOS = 0xda;
export const MARKER_APP0 = 0xe0;
export const MARKER_APP15 = 0xef;

/** Markers that stand alone (no length field): TEM, RST0–7, SOI, EOI. */
function isStandalone(m: number): boolean {
  return m === 0x01 || (m >= 0xd0 && m <= 0xd9);
}

/** Start-of-frame markers (SOF0–SOF15 except DHT C4, JPG C8 and DAC CC). */
export function isSofMarker(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

export function isAppMarker(m: number): boolean {
  return m >= 0xe0 && m <= 0xef;
}

function hex(m: number): string {
  return 'FF' + m.toString(16).toUpperCase().padStart(2, '0');
}

/**
 * Walk the segments from SOI to EOI. `visit` may return true to stop early (used to read the frame header without
 * scanning the image data). Bytes after EOI are not part of any segment.
 */
function walk(bytes: Uint8Array, visit?: (s: JpegSegment) => boolean): JpegSegment[] {
  const n = bytes.length;
  if (n < 2 || bytes[0] !== 0xff || bytes[1] !== MARKER_SOI)
    throw new NotAnImageError('it does not start with the JPEG start-of-image marker (FF D8)');
  const segs: JpegSegment[] = [];
  const push = (s: JpegSegment): boolean => {
    segs.push(s);
    return visit ? visit(s) : false;
  };
  if (push({ marker: MARKER_SOI, start: 0, end: 2, dataStart: 2, dataEnd: 2 })) return segs;
  let pos = 2;
  for (;;) {
    if (pos >= n) throw new TruncatedJpegError(`the file ends at byte ${n} before the end-of-image marker`);
    if (bytes[pos] !== 0xff)
      throw new TruncatedJpegError(`expected a marker at byte ${pos}, found 0x${bytes[pos].toString(16)}`);
    // Any number of 0xFF fill bytes may precede a marker (ITU T.81 B.1.1.2); they stay in the gap before `start`.
    let m = pos + 1;
    while (m < n && bytes[m] === 0xff) m++;
    if (m >= n) throw new TruncatedJpegError(`the file ends inside a marker at byte ${pos}`);
    const marker = bytes[m];
    const start = m - 1;
    if (marker === 0x00) throw new TruncatedJpegError(`stray 0xFF00 at byte ${start} outside image data`);
    if (isStandalone(marker)) {
      const end = m + 1;
      if (push({ marker, start, end, dataStart: end, dataEnd: end })) return segs;
      if (marker === MARKER_EOI) return segs;
      pos = end;
      continue;
    }
    if (m + 2 >= n) throw new TruncatedJpegError(`the file ends inside the length of segment ${hex(marker)} at byte ${start}`);
    const len = (bytes[m + 1] << 8) | bytes[m + 2];
    if (len < 2) throw new TruncatedJpegError(`segment ${hex(marker)} at byte ${start} has an invalid length ${len}`);
    const dataStart = m + 3;
    const dataEnd = m + 1 + len;
    if (dataEnd > n)
      throw new TruncatedJpegError(
        `segment ${hex(marker)} at byte ${start} declares ${len - 2} payload bytes but only ${n - dataStart} remain`,
      );
    let end = dataEnd;
    if (marker === MARKER_SOS) {
      // Entropy-coded data: skip stuffed FF00 and in-scan RSTn; stop at any other marker.
      let p = dataEnd;
      for (;;) {
        p = bytes.indexOf(0xff, p);
        if (p < 0 || p + 1 >= n) throw new TruncatedJpegError('the image data runs to the end of the file without an end-of-image marker');
        const next = bytes[p + 1];
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) p += 2;
        else if (next === 0xff) p += 1;
        else break;
      }
      end = p;
    }
    if (push({ marker, start, end, dataStart, dataEnd })) return segs;
    pos = end;
  }
}

/** All segments from SOI to EOI inclusive. Throws NotAnImageError (not a JPEG) or TruncatedJpegError. */
export function readJpegSegments(bytes: Uint8Array): JpegSegment[] {
  return walk(bytes);
}

/** Frame info from a SOF segment's payload (precision, height, width, components; ITU T.81 B.2.2). */
export function frameInfoFromSegment(bytes: Uint8Array, s: JpegSegment): JpegFrameInfo {
  if (s.dataEnd - s.dataStart < 6) throw new TruncatedJpegError(`frame header ${hex(s.marker)} is too short`);
  const p = s.dataStart;
  return {
    height: (bytes[p + 1] << 8) | bytes[p + 2],
    width: (bytes[p + 3] << 8) | bytes[p + 4],
    channels: bytes[p + 5],
    progressive: s.marker === 0xc2 || s.marker === 0xc6 || s.marker === 0xca || s.marker === 0xce,
  };
}

/** Width, height and component count from the first SOF segment; stops walking there. */
export function readJpegFrameInfo(bytes: Uint8Array): JpegFrameInfo {
  const found: { sof: JpegSegment | null } = { sof: null };
  walk(bytes, (s) => {
    if (isSofMarker(s.marker)) found.sof = s;
    return found.sof !== null || s.marker === MARKER_SOS;
  });
  if (!found.sof) throw new NotAnImageError('the JPEG has no frame header (SOF) before its image data');
  return frameInfoFromSegment(bytes, found.sof);
}

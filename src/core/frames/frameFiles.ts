/**
 * Frame files a person adds (the dst frames a faceset was cut from, spec §F.1): PNG or JPEG, read as they are. Only the
 * header is parsed here (size and type), so adding a folder of frames stores bytes without decoding every image; a
 * file that is neither, or whose header is damaged, is reported by name and the others are kept.
 */
import { NotAnImageError, SaehdError, toUserMessage } from '../errors.ts';
import { readJpegFrameInfo } from '../formats/jpegSegments.ts';
import type { StoredFrame } from './frameStore.ts';

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Size and MIME type from the file header (PNG IHDR or the JPEG frame header). */
export function frameFileInfo(bytes: Uint8Array): { width: number; height: number; type: 'image/png' | 'image/jpeg' } {
  if (bytes.length >= 24 && PNG_SIG.every((b, i) => bytes[i] === b)) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') throw new NotAnImageError('PNG without an IHDR header');
    const width = dv.getUint32(16), height = dv.getUint32(20);
    if (!width || !height) throw new NotAnImageError('PNG with a zero size');
    return { width, height, type: 'image/png' };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const { width, height } = readJpegFrameInfo(bytes);
    if (!width || !height) throw new NotAnImageError('JPEG with a zero size');
    return { width, height, type: 'image/jpeg' };
  }
  throw new NotAnImageError('frames must be PNG or JPEG files');
}

/** Frame sizes up to 8K: a larger frame would need gigabytes as floats. */
export const MAX_FRAME_SIDE = 8192;

/** Turn files into frames to store; bad files go to `failed` with their name and reason. */
export function framesFromFiles(files: readonly { name: string; bytes: Uint8Array }[]): { frames: StoredFrame[]; failed: { name: string; reason: string }[] } {
  const frames: StoredFrame[] = [];
  const failed: { name: string; reason: string }[] = [];
  for (const f of files) {
    try {
      const info = frameFileInfo(f.bytes);
      if (info.width > MAX_FRAME_SIDE || info.height > MAX_FRAME_SIDE)
        throw new SaehdError('frame-too-large', `frame size ${info.width}×${info.height} is beyond ${MAX_FRAME_SIDE}×${MAX_FRAME_SIDE}`);
      frames.push({ name: f.name, bytes: f.bytes, ...info });
    } catch (e) {
      failed.push({ name: f.name, reason: toUserMessage(e) });
    }
  }
  return { frames, failed };
}

/**
 * fflate's unzipSync trusted by nothing but the file itself. fflate believes the zip's central directory: it allocates
 * each deflated entry at its declared expanded size before inflating (a 100-byte zip declaring 1.9 GiB allocates
 * 1.9 GiB), it loops over the declared number of entries even when a zip64 end record claims billions that the file
 * cannot hold, and it throws plain Errors / RangeErrors for damaged data. This wrapper refuses the first two before
 * anything is allocated, so what a zip can expand to is bounded by its own size (deflate cannot exceed about 1032:1),
 * and turns the third into a named error.
 */
import { type UnzipFileInfo, type Unzipped, unzipSync } from 'fflate';
import { SaehdError } from '../errors.ts';

/** A zip that is damaged or whose directory lies (sizes, entry count, overlapping entries). */
export class ZipError extends SaehdError {
  constructor(detail: string) {
    super('bad-zip', `unreadable zip: ${detail}`);
  }
}

/** Deflate's largest possible expansion (zlib's technical notes: 1032:1), plus room for tiny streams. */
export const MAX_DEFLATE_RATIO = 1032;
const DEFLATE_SLACK = 1024;
/** A central-directory record is at least 46 bytes, so a zip of n bytes cannot list more than n / 46 entries. */
const MIN_CENTRAL_RECORD = 46;

/**
 * unzipSync with `filter` deciding which entries to expand (it may throw its own SaehdError to stop). A first pass
 * reads only the directory and throws ZipError for more entries than the file can hold, for entries whose compressed
 * sizes add up to more than the file (overlapping entries, the classic small zip bomb) and for a deflated entry
 * claiming more than deflate can produce from its data; only then are entries expanded. A damaged zip is a ZipError.
 */
export function safeUnzip(zip: Uint8Array, filter: (f: UnzipFileInfo) => boolean = () => true): Unzipped {
  const maxEntries = Math.floor(zip.length / MIN_CENTRAL_RECORD) + 1;
  let entries = 0;
  let compressed = 0;
  try {
    unzipSync(zip, {
      filter: (f) => {
        if (++entries > maxEntries) throw new ZipError(`it lists more entries than its ${zip.length} bytes can hold`);
        compressed += f.size;
        if (compressed > zip.length) throw new ZipError('its entries claim more data than the file holds (overlapping entries)');
        if (f.compression === 8 && f.originalSize > MAX_DEFLATE_RATIO * f.size + DEFLATE_SLACK)
          throw new ZipError(`entry "${f.name}" claims to expand to ${f.originalSize} bytes, more than its ${f.size} compressed bytes can hold`);
        return false;
      },
    });
    return unzipSync(zip, { filter });
  } catch (e) {
    if (e instanceof SaehdError) throw e;
    throw new ZipError(`damaged or unsupported zip (${e instanceof Error ? e.message : String(e)})`);
  }
}

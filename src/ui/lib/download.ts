import { Zip, ZipPassThrough } from 'fflate';

/** Hand bytes to the browser as a file download (the object URL is released once the download has started). */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

export function downloadBytes(bytes: Uint8Array, name: string, type = 'application/octet-stream'): void {
  downloadBlob(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }), name);
}

/**
 * A zip of already-compressed files (PNG, JPEG: stored, not deflated), built one entry at a time as the entries are
 * read, so a long sequence is never held twice in memory nor packed in one blocking call. Entries that read as
 * undefined are skipped.
 */
export async function zipStored(names: readonly string[], read: (name: string) => Promise<Uint8Array | undefined>, onEntry?: (done: number) => void): Promise<Blob> {
  const parts: Uint8Array[] = [];
  let failed: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) failed = err;
    else parts.push(chunk);
  });
  let done = 0;
  for (const name of names) {
    const bytes = await read(name);
    if (bytes) {
      const entry = new ZipPassThrough(name);
      zip.add(entry);
      entry.push(bytes, true);
    }
    onEntry?.(++done);
  }
  zip.end();
  if (failed) throw failed;
  return new Blob(parts as Uint8Array<ArrayBuffer>[], { type: 'application/zip' });
}

/**
 * Files from a drop: plain files, zips, and whole folders (walked recursively through the entries API), so a
 * DeepFaceLab `aligned` folder can be dropped as it is.
 */
export async function filesFromDrop(dt: DataTransfer): Promise<File[]> {
  const entries: FileSystemEntry[] = [];
  for (const item of Array.from(dt.items ?? [])) {
    const entry = item.kind === 'file' ? item.webkitGetAsEntry?.() : null;
    if (entry) entries.push(entry);
  }
  if (!entries.length) return Array.from(dt.files ?? []);
  const out: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      out.push(await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej)));
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

/** The files chosen in a file input's change event; the input is cleared so picking the same files again fires again. */
export function takePickedFiles(ev: Event): File[] {
  const input = ev.currentTarget as HTMLInputElement;
  const files = Array.from(input.files ?? []);
  input.value = '';
  return files;
}

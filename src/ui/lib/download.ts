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

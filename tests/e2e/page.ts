import { expect, type Page } from '@playwright/test';

export async function openApp(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.locator('main[data-ready="true"]')).toBeVisible({ timeout: 60_000 });
}

/**
 * Drop files on a panel's drop zone the way a person's drag does: a DataTransfer built in the page, dispatched
 * as dragover + drop. Bytes travel as base64 strings.
 */
export async function dropFiles(page: Page, role: 'src' | 'dst', files: { name: string; bytes: Uint8Array }[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, b64: Buffer.from(f.bytes).toString('base64') }));
  const dt = await page.evaluateHandle((items) => {
    const dt = new DataTransfer();
    for (const it of items) {
      const bin = atob(it.b64);
      const u8 = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
      dt.items.add(new File([u8], it.name, { type: it.name.endsWith('.jpg') ? 'image/jpeg' : 'application/octet-stream' }));
    }
    return dt;
  }, payload);
  const zone = page.locator(`[data-dropzone="${role}"]`);
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
}

export function panel(page: Page, role: 'src' | 'dst') {
  return page.getByRole('region', { name: role === 'src' ? 'Source faceset' : 'Destination faceset' });
}

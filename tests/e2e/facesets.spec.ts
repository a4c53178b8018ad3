import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { hasSharedData, readDir, sharedDataDir } from './data.ts';
import { dropFiles, openApp, panel } from './page.ts';

/** Real DFL faces when the workplace's data is there (all 6 real DFL files + 60 Obama faces), else self-made ones. */
async function facesToDrop(): Promise<{ name: string; bytes: Uint8Array }[]> {
  if (hasSharedData)
    return [
      ...readDir(join(sharedDataDir, 'dfl_ofurman_sample/data_src/aligned')),
      ...readDir(join(sharedDataDir, 'facesets/obama/aligned'), 60),
    ];
  await initNodeJpegCodec();
  return makeDflFaces(24, { size: 256 });
}

test(`faces dropped into the source faceset survive a reload, convert to 128 px gray and export as DFL files${hasSharedData ? ' (real DFL faces)' : ' (self-made faces: ../shared/data absent)'}`, async ({ page }) => {
  const faces = await facesToDrop();
  const originals = new Map(faces.map((f) => [f.name, readDflJpg(new Uint8Array(f.bytes))]));
  await openApp(page);
  const src = panel(page, 'src');

  await dropFiles(page, 'src', faces);
  await expect(src.getByTestId('face-count')).toHaveText(String(faces.length), { timeout: 120_000 });
  await expect(page.getByRole('region', { name: 'Import report' })).toContainText(`${faces.length} stored`);
  await expect(src.getByRole('list', { name: 'Source faceset faces' }).getByRole('listitem')).toHaveCount(faces.length);

  await page.reload();
  await openApp(page);
  await expect(src.getByTestId('face-count')).toHaveText(String(faces.length));
  await expect(src.getByRole('img').first()).toBeVisible();

  // Clicking a face shows its metadata and landmarks.
  await src.getByRole('list', { name: 'Source faceset faces' }).getByRole('button').first().click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('68 points');
  await expect(dialog.locator('circle')).toHaveCount(68);
  await dialog.getByRole('button', { name: 'Close' }).click();

  await src.getByLabel('Converted size').selectOption('128');
  await src.getByRole('button', { name: 'Convert to grayscale' }).click();
  await expect(src.getByTestId('faceset-stats')).toContainText('128 px', { timeout: 120_000 });
  await expect(src.getByTestId('faceset-stats')).toContainText('gray');
  await expect(src.getByTestId('face-count')).toHaveText(String(faces.length));

  const downloadP = page.waitForEvent('download');
  await src.getByRole('button', { name: 'Export faceset' }).click();
  const download = await downloadP;
  expect(download.suggestedFilename()).toMatch(/\.zip$/);
  const zip = unzipSync(new Uint8Array(readFileSync((await download.path())!)));
  const names = Object.keys(zip).sort();
  expect(names).toEqual([...originals.keys()].sort());
  for (const name of names) {
    const got = readDflJpg(zip[name]);
    const orig = originals.get(name)!;
    expect(got.frame.channels).toBe(1);
    expect(got.frame.width).toBe(128);
    expect(got.meta.face_type).toBe(orig.meta.face_type);
    expect(got.meta.source_filename).toBe(orig.meta.source_filename);
    const k = 128 / orig.frame.width;
    for (let i = 0; i < 136; i++) expect(got.meta.landmarks![i]).toBeCloseTo(orig.meta.landmarks![i] * k, 9);
    for (let i = 0; i < 6; i++) expect(got.meta.image_to_face_mat![i]).toBeCloseTo(orig.meta.image_to_face_mat![i] * k, 9);
    expect(Array.from(got.meta.source_landmarks!)).toEqual(Array.from(orig.meta.source_landmarks!));
  }
});

test('bad files are reported by name and reason while the good ones in the same drop are stored', async ({ page }) => {
  await initNodeJpegCodec();
  const good = await makeDflFaces(3, { size: 96 });
  const plainJpeg = good[0].bytes.slice(); // strip APP15 → a JPEG without DFL metadata
  const { readJpegSegments } = await import('../../src/core/formats/jpegSegments.ts');
  const app15 = readJpegSegments(plainJpeg).find((s) => s.marker === 0xef)!;
  const noMeta = new Uint8Array([...plainJpeg.subarray(0, app15.start), ...plainJpeg.subarray(app15.end)]);
  const bad = [
    { name: 'notes.jpg', bytes: new TextEncoder().encode('this is not an image at all') },
    { name: 'cut.jpg', bytes: good[1].bytes.subarray(0, Math.floor(good[1].bytes.length * 0.6)) },
    { name: 'plain.jpg', bytes: noMeta },
  ];
  await openApp(page);
  const dst = panel(page, 'dst');
  await dropFiles(page, 'dst', good.slice(0, 2));
  await expect(dst.getByTestId('face-count')).toHaveText('2');
  await dropFiles(page, 'dst', [...bad, good[2]]);
  const report = page.getByRole('region', { name: 'Import report' });
  await expect(report).toContainText('3 failed');
  await expect(report.locator('li.failed', { hasText: 'notes.jpg' })).toContainText('not');
  await expect(report.locator('li.failed', { hasText: 'cut.jpg' })).toContainText(/truncated|damaged/);
  await expect(report.locator('li.failed', { hasText: 'plain.jpg' })).toContainText('no DeepFaceLab metadata: extract faces first');
  await expect(dst.getByTestId('face-count')).toHaveText('3');
});

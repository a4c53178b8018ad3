import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { compareWithDfl } from '../../src/core/extract/accuracy.ts';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { encodePng } from '../../src/core/image/png.ts';
import { hasSharedData, sharedDataDir } from './data.ts';
import { openApp, panel } from './page.ts';

function extractSection(page: Page) {
  return page.getByRole('region', { name: 'Extract faces from frames' });
}

async function pickFrames(page: Page, files: { name: string; mimeType: string; buffer: Buffer }[]): Promise<void> {
  await extractSection(page).getByLabel('Add frames to extract').setInputFiles(files);
}

test.describe.configure({ timeout: 300_000 });

test('extraction loads its face models from the app origin; a frame with no face gives no face', async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const requests: string[] = [];
  page.context().on('request', (r) => requests.push(r.url()));
  await openApp(page);
  const w = 160, h = 120;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.fill((i % w) + 40, 3 * i, 3 * i + 3);
  await pickFrames(page, [{ name: '00001.png', mimeType: 'image/png', buffer: Buffer.from(encodePng({ width: w, height: h, channels: 3, data })) }]);
  const section = extractSection(page);
  await expect(section.getByTestId('extract-frame-count')).toHaveText('1 frame');
  await section.getByRole('button', { name: 'Extract', exact: true }).click();
  await expect(section.getByTestId('extract-summary')).toContainText('0 faces from 1 of 1 frames', { timeout: 180_000 });
  await expect(section.getByRole('list', { name: 'Extracted frames' })).toContainText('no face');
  expect(requests.some((u) => u.includes('/models/face-api/ssd_mobilenetv1_model.bin'))).toBe(true);
  expect(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'))).toEqual([]);
});

test(`obama frames → faces in the destination faceset, reviewed, culled and sorted${hasSharedData ? ' (shared data)' : ' (skipped: ../shared/data absent)'}`, async ({ page }) => {
  test.skip(!hasSharedData, 'needs ../shared/data (obama frames and faceset)');
  const stems = ['00001', '00050', '00100', '00150'];
  const dir = join(sharedDataDir, 'facesets', 'obama');
  await openApp(page);
  const dst = panel(page, 'dst');
  await pickFrames(
    page,
    stems.map((s) => ({ name: `${s}.jpg`, mimeType: 'image/jpeg', buffer: readFileSync(join(dir, 'frames', `${s}.jpg`)) })),
  );
  const section = extractSection(page);
  await section.getByLabel('Extract into').selectOption('dst');
  await expect(section.getByLabel('Face type')).toHaveValue('whole_face');
  await section.getByRole('button', { name: 'Extract', exact: true }).click();
  await expect(section.getByTestId('extract-summary')).toContainText(`${stems.length} faces from ${stems.length} of ${stems.length} frames`, { timeout: 240_000 });
  await expect(dst.getByTestId('face-count')).toHaveText(String(stems.length));
  // review: each frame shows its box and 68 landmarks over the frame
  const frames = section.getByRole('list', { name: 'Extracted frames' });
  await expect(frames.getByRole('listitem')).toHaveCount(stems.length);
  await expect(frames.locator('svg').first().locator('circle')).toHaveCount(68);
  await expect(frames.locator('svg rect')).toHaveCount(stems.length);

  // the stored faces are DFL files that match the shared faceset made the same way
  const dl = page.waitForEvent('download');
  await dst.getByRole('button', { name: 'Export faceset' }).click();
  const zip = unzipSync(new Uint8Array(readFileSync((await (await dl).path())!)));
  expect(Object.keys(zip).sort()).toEqual(stems.map((s) => `${s}_0.jpg`));
  for (const s of stems) {
    const ours = readDflJpg(zip[`${s}_0.jpg`]);
    const theirs = readDflJpg(new Uint8Array(readFileSync(join(dir, 'aligned', `${s}_0.jpg`))));
    expect(ours.meta.keys).toEqual(theirs.meta.keys);
    expect(ours.meta.source_filename).toBe(`${s}.jpg`);
    expect([ours.frame.width, ours.frame.height, ours.frame.channels]).toEqual([256, 256, 3]);
    const acc = compareWithDfl(ours.meta.source_landmarks!, theirs.meta, 256);
    expect(acc.meanPct).toBeLessThan(1.5);
  }

  // remove a wrong face, then sort what is left by blur and by yaw
  await section.getByRole('button', { name: 'Remove face 00050_0.jpg' }).click();
  await expect(dst.getByTestId('face-count')).toHaveText(String(stems.length - 1));
  await expect(frames.locator('li[data-frame="00050.jpg"]')).toContainText('removed');
  await section.getByRole('button', { name: 'Sort by blur' }).click();
  await expect(section.getByRole('list', { name: 'Faces sorted by blur' }).getByRole('listitem')).toHaveCount(stems.length - 1, { timeout: 60_000 });
  await section.getByRole('button', { name: 'Sort by yaw' }).click();
  await expect(section.getByRole('list', { name: 'Faces sorted by yaw' }).getByRole('listitem')).toHaveCount(stems.length - 1, { timeout: 60_000 });
});

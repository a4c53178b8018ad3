import { expect, test } from '@playwright/test';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { dropFiles, openApp, panel } from './page.ts';

test('no request leaves the page origin while importing, converting and exporting faces', async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  // Workers' requests are reported through the context.
  page.context().on('request', (r) => requests.push(r.url()));
  await initNodeJpegCodec();
  const faces = await makeDflFaces(4, { size: 128 });
  await openApp(page);
  const src = panel(page, 'src');
  await dropFiles(page, 'src', faces);
  await expect(src.getByTestId('face-count')).toHaveText('4');
  await src.getByLabel('Converted size').selectOption('96');
  await src.getByRole('button', { name: 'Convert to grayscale' }).click();
  await expect(src.getByTestId('faceset-stats')).toContainText('96 px');
  const dl = page.waitForEvent('download');
  await src.getByRole('button', { name: 'Export faceset' }).click();
  await dl;
  const response = await page.request.get('/');
  expect(response.headers()['content-security-policy']).toContain("default-src 'self'");
  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'));
  expect(requests.length).toBeGreaterThan(3);
  expect(foreign).toEqual([]);
});

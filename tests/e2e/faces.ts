/**
 * Filling both facesets for the studio's browser tests: real DFL faces (obama → src, faceswap_clip → dst) when
 * ../shared/data is there, self-made DFL faces (tests/fixtures/makeFaces.ts) otherwise.
 */
import { expect, type Page } from '@playwright/test';
import { join } from 'node:path';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { hasSharedData, readDir, sharedDataDir } from './data.ts';
import { dropFiles, panel } from './page.ts';

export const facesNote = hasSharedData ? 'real faces: obama → faceswap_clip' : 'self-made faces: ../shared/data absent';

/**
 * Drops `count` faces into each faceset and waits until both list them. `skip` > 0 takes later files instead (a
 * browser with different faces).
 */
export async function importFaces(page: Page, count: number, skip = 0): Promise<void> {
  let f: { src: { name: string; bytes: Uint8Array }[]; dst: { name: string; bytes: Uint8Array }[] };
  if (hasSharedData)
    f = {
      src: readDir(join(sharedDataDir, 'facesets/obama/aligned'), skip + count).slice(skip),
      dst: readDir(join(sharedDataDir, 'facesets/faceswap_clip/aligned'), skip + count).slice(skip),
    };
  else {
    await initNodeJpegCodec();
    const all = await makeDflFaces(2 * (skip + count), { size: 128 });
    f = { src: all.slice(2 * skip, 2 * skip + count), dst: all.slice(2 * skip + count) };
  }
  await dropFiles(page, 'src', f.src);
  await expect(panel(page, 'src').getByTestId('face-count')).toHaveText(String(count), { timeout: 60_000 });
  await dropFiles(page, 'dst', f.dst);
  await expect(panel(page, 'dst').getByTestId('face-count')).toHaveText(String(count), { timeout: 60_000 });
}

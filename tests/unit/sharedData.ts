import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The workplace's real face data (never committed): ../shared/data from the repo root, or SAEHDBW_SHARED_DATA.
 * Tests that need it use `describe.skipIf(!hasSharedData)` and say so in their name, so a fresh clone elsewhere
 * still passes and reports that the real-file tests did not run.
 */
export const sharedDataDir = resolve(process.env.SAEHDBW_SHARED_DATA ?? fileURLToPath(new URL('../../../shared/data', import.meta.url)));
export const hasSharedData = existsSync(sharedDataDir);

/** Every real DFL aligned JPG under the shared data (aligned/ folders), sorted. */
export function realAlignedFiles(): string[] {
  if (!hasSharedData) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.jpe?g$/i.test(e.name) && /[\\/]aligned[\\/]/.test(p)) out.push(p);
    }
  };
  walk(sharedDataDir);
  return out.sort();
}

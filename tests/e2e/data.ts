import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** ../shared/data from the repo root (overridable), as the unit tests compute it. */
export const sharedDataDir = resolve(process.env.SAEHDBW_SHARED_DATA ?? join(__dirname, '..', '..', '..', 'shared', 'data'));
export const hasSharedData = existsSync(sharedDataDir);

export function readDir(dir: string, limit = Infinity): { name: string; bytes: Buffer }[] {
  return readdirSync(dir)
    .filter((n) => /\.jpe?g$/i.test(n))
    .sort()
    .slice(0, limit)
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

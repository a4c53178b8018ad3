import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export { hasSharedData, sharedDataDir } from '../unit/sharedData.ts';

export function readDir(dir: string, limit = Infinity): { name: string; bytes: Buffer }[] {
  return readdirSync(dir)
    .filter((n) => /\.jpe?g$/i.test(n))
    .sort()
    .slice(0, limit)
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

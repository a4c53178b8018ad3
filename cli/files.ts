import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Files named on the command line, with folders expanded to their .jpg files (not recursive, like DFL's folders). */
export function listInputFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      out.push(p); // reported as an error by the caller with the file's name
      continue;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) if (/\.jpe?g$/i.test(name)) out.push(join(p, name));
    } else out.push(p);
  }
  return out;
}

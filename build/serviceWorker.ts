/**
 * Vite plugin: writes `sw.js` (the offline service worker, source src/sw/sw.ts) into the build folder once the build
 * is complete, with the precache list taken from the folder itself — every file the build wrote (page, JS chunks,
 * the workers' chunks, wasm binaries, face-api weights, public files) — so nothing has to be listed by hand and a
 * new chunk is cached the day it appears.
 *
 * Each file is listed with a SHA-256 prefix (the worker checks what it downloads against it); the version, a hash of
 * the whole list, names the cache, so every build whose output differs gets a new cache and the old one is dropped
 * when the new worker activates. The server's configured headers (preview.headers: COOP/COEP/CSP) are embedded so
 * cached responses carry them again (see src/sw/sw.ts).
 *
 * Only on `vite build`; the dev server has no service worker (src/main.ts registers it in production builds only).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformWithOxc, type Plugin, type ResolvedConfig } from 'vite';

export const SW_FILE = 'sw.js';
const SOURCE = fileURLToPath(new URL('../src/sw/sw.ts', import.meta.url));

export interface PrecacheManifest {
  version: string;
  /** URL path → first 16 hex digits of the file's SHA-256. */
  files: Record<string, string>;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** The precache list of a finished build folder (also used by tests to check the cache against the folder). */
export function precacheManifest(outDir: string): PrecacheManifest {
  const files: Record<string, string> = {};
  const paths = walk(outDir)
    .map((p) => relative(outDir, p).split(sep).join('/'))
    // The worker script itself is fetched by the browser's update check, never from the cache; maps are not needed.
    .filter((p) => p !== SW_FILE && !p.endsWith('.map'))
    .sort();
  for (const p of paths) files[`/${p}`] = createHash('sha256').update(readFileSync(join(outDir, p))).digest('hex').slice(0, 16);
  // The page is requested as '/', served as index.html: same bytes.
  if (files['/index.html']) files['/'] = files['/index.html'];
  const version = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 12);
  return { version, files };
}

export function serviceWorker(): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'saehdbw-service-worker',
    apply: 'build',
    configResolved(c) {
      config = c;
    },
    // closeBundle: after every chunk, the workers' bundles and the public folder are on disk.
    async closeBundle() {
      const outDir = resolve(config.root, config.build.outDir);
      const manifest = precacheManifest(outDir);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(config.preview.headers ?? {})) if (v !== undefined) headers[k] = String(v);
      const { code } = await transformWithOxc(readFileSync(SOURCE, 'utf8'), SOURCE, { lang: 'ts' });
      // A classic script (module service workers are not everywhere yet): drop the type checker's `export {}`.
      const body = code.replace(/^export\s*\{\s*\};?\s*$/m, '');
      if (/^\s*(import|export)\b/m.test(body)) throw new Error('src/sw/sw.ts must stay self-contained (no import/export)');
      const prelude = `self.__SAEHDBW_SW__ = ${JSON.stringify({ ...manifest, headers })};\n`;
      writeFileSync(join(outDir, SW_FILE), prelude + body);
      const n = Object.keys(manifest.files).length;
      config.logger.info(`service worker: ${SW_FILE} precaches ${n} files, version ${manifest.version}`);
    },
  };
}

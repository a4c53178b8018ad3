import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { initJpegCodec } from '../src/core/image/jpegCodec.ts';

/** Load MozJPEG's wasm from node_modules (the browser build fetches the same files from the app's origin). */
export async function initNodeJpegCodec(): Promise<void> {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('@jsquash/jpeg/package.json'));
  const [decoder, encoder] = await Promise.all([
    WebAssembly.compile(readFileSync(join(pkgDir, 'codec/dec/mozjpeg_dec.wasm'))),
    WebAssembly.compile(readFileSync(join(pkgDir, 'codec/enc/mozjpeg_enc.wasm'))),
  ]);
  await initJpegCodec({ decoder, encoder });
}

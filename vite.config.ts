import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { serviceWorker } from './build/serviceWorker.ts';

/**
 * Everything the page runs ships with the app (no CDN): the tfjs wasm binaries are served from /wasm/ in dev
 * and emitted into dist/wasm/ on build, straight from node_modules so no binary is committed.
 */
function tfjsWasmFiles(): Plugin {
  const dir = fileURLToPath(new URL('./node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith('.wasm'));
  return {
    name: 'tfjs-wasm-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = req.url?.startsWith('/wasm/') ? req.url.slice(6).split('?')[0] : '';
        if (!files.includes(name)) return next();
        res.setHeader('Content-Type', 'application/wasm');
        res.end(readFileSync(join(dir, name)));
      });
    },
    generateBundle() {
      for (const f of files) this.emitFile({ type: 'asset', fileName: `wasm/${f}`, source: readFileSync(join(dir, f)) });
    },
  };
}

/**
 * face-api's weights ship inside @vladmandic/face-api (model/); the extraction worker loads the two nets it uses from
 * the app's own origin: served from node_modules at /models/face-api/ in dev, emitted into dist/models/face-api/ on
 * build (the same file list as src/core/extract/detect.ts FACE_API_MODEL_FILES), so no weight file is committed.
 */
function faceApiModelFiles(): Plugin {
  const dir = fileURLToPath(new URL('./node_modules/@vladmandic/face-api/model/', import.meta.url));
  const nets = ['ssd_mobilenetv1_model', 'face_landmark_68_model'];
  const files = nets.flatMap((m) => [`${m}-weights_manifest.json`, `${m}.bin`]);
  const prefix = '/models/face-api/';
  return {
    name: 'face-api-model-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = req.url?.startsWith(prefix) ? req.url.slice(prefix.length).split('?')[0] : '';
        if (!files.includes(name)) return next();
        res.setHeader('Content-Type', name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        res.end(readFileSync(join(dir, name)));
      });
    },
    generateBundle() {
      for (const f of files) this.emitFile({ type: 'asset', fileName: `models/face-api/${f}`, source: readFileSync(join(dir, f)) });
    },
  };
}

// Cross-origin isolation lets the wasm backend use threads; the CSP keeps every request on the page's origin.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
// Every allowance beyond 'self', and why (issue 9 "private by construction"); the service worker (src/sw/sw.ts) puts
// these headers back on the responses it serves from its cache.
//  script-src 'wasm-unsafe-eval': compiling WebAssembly (tfjs wasm backend, MozJPEG) — it allows no JS eval. No blob:
//    here, so the wasm backend's blob: pthread scripts are refused and it runs single-threaded (workers/lib/tfjsSetup.ts).
//  worker-src blob: the video worker's encoder library starts helper workers from blob: sources; 'self' covers the app's
//    workers and the service worker.
//  img-src / media-src blob: thumbnails, face details and previews shown from in-memory JPEG/PNG blobs; frames and
//    videos played from the user's own files.
//  connect-src 'self' only: fetch/XHR/WebSocket reach nothing but the app's own files (wasm binaries, face-api
//    weights); nothing fetches blob: or data: URLs.
//  style-src 'self': every style is in the built CSS files (Svelte components, uPlot); style changes made from script
//    go through the CSSOM, which the CSP does not govern.
//  frame-ancestors 'none', form-action 'self', object-src 'none', base-uri 'self': no framing, no form posts or plugins
//    elsewhere, no <base> redirection of relative URLs.
const csp =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self'; " +
  "img-src 'self' blob:; style-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'self'; " +
  "form-action 'self'; frame-ancestors 'none'";

export default defineConfig({
  plugins: [svelte(), tfjsWasmFiles(), faceApiModelFiles(), serviceWorker()],
  // face-api's esm-nobundle build imports tfjs by deep paths; map them to the package entries the app imports, so
  // dev pre-bundling and the build both keep ONE tfjs instance (and one copy of each backend).
  resolve: {
    alias: [{ find: /^@tensorflow\/(tfjs|tfjs-backend-webgl|tfjs-backend-wasm)\/dist\/index\.js$/, replacement: '@tensorflow/$1' }],
  },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['@jsquash/jpeg'] },
  build: {
    // SAEHDBW_DIST lets several checkouts' builds and e2e runs share one tree without overwriting each other.
    outDir: process.env.SAEHDBW_DIST ?? 'dist',
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    // bench.html: the training benchmark page that bench/train.ts drives (same origin, so it sees the app's facesets).
    rollupOptions: { input: { main: 'index.html', bench: 'bench.html' } },
  },
  server: { headers: isolation },
  preview: { headers: { ...isolation, 'Content-Security-Policy': csp } },
});

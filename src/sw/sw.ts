/**
 * The app's service worker: after the first visit the whole app (page, every JS chunk including the workers' own,
 * the tfjs wasm binaries, the face-api weights) comes from Cache Storage, so it opens and trains with the network off.
 *
 * Written by hand instead of Workbox: the job is one precache list with a content version, cache-first for
 * same-origin GETs, and re-adding the server's security headers — about a hundred lines, no dependency, no runtime
 * fetched from anywhere (the CSP allows nothing off the origin anyway).
 *
 * This file is self-contained on purpose (no imports): build/serviceWorker.ts strips its types and prepends
 * `self.__SAEHDBW_SW__ = { version, files, headers }`, computed from the finished build:
 *  - files: every file the build wrote (path → SHA-256 prefix), plus '/' (the page itself).
 *  - version: a hash over that list; it names the cache, so a new build installs a new cache beside the old one and
 *    the old one is deleted when the new worker activates.
 *  - headers: the headers the server is configured to send (vite.config.ts preview headers: COOP/COEP for cross-origin
 *    isolation, the CSP). A response served from the cache gets any of them it lacks, because the document's and the
 *    workers' isolation and policy come from the response that built them: without COOP/COEP a cached page would
 *    lose `crossOriginIsolated` (SharedArrayBuffer, wasm threads), without the CSP it would lose its policy.
 */

interface SwConfig {
  version: string;
  files: Record<string, string>;
  headers: Record<string, string>;
}

/** The parts of the service worker global scope used here (the file is type-checked in the workers zone). */
interface ExtendableEventLike extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEventLike extends ExtendableEventLike {
  readonly request: Request;
  respondWith(r: Response | Promise<Response>): void;
}
interface MessageEventLike extends ExtendableEventLike {
  readonly data: unknown;
  readonly source: { postMessage(m: unknown): void } | null;
}
interface SwScope {
  __SAEHDBW_SW__?: SwConfig;
  location: { origin: string };
  registration: { scope: string };
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEventLike) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEventLike) => void): void;
  addEventListener(type: 'message', fn: (e: MessageEventLike) => void): void;
}

const sw = self as unknown as SwScope;
const config: SwConfig = sw.__SAEHDBW_SW__ ?? { version: 'dev', files: {}, headers: {} };
const PREFIX = 'saehdbw-app-';
const CACHE = PREFIX + config.version;

/** Hex SHA-256 of the bytes, cut to the length the build wrote. */
async function digest(bytes: ArrayBuffer, len: number): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(h, (b) => b.toString(16).padStart(2, '0')).join('').slice(0, len);
}

/**
 * Fetch every file of the build past the HTTP cache and check its bytes against the build's hash before storing it,
 * so a half-deployed server (a new index.html next to old chunks) can never be frozen into an offline copy: one
 * mismatch fails the install and the previous version stays in charge.
 */
async function precache(): Promise<void> {
  const cache = await caches.open(CACHE);
  const entries = Object.entries(config.files);
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < entries.length) {
      const [path, hash] = entries[next++];
      const res = await fetch(new Request(new URL(path, sw.location.origin).href, { cache: 'reload', credentials: 'same-origin' }));
      if (!res.ok) throw new Error(`offline copy: ${path} answered HTTP ${res.status}`);
      const body = await res.clone().arrayBuffer();
      if (hash && (await digest(body, hash.length)) !== hash) throw new Error(`offline copy: ${path} is not the file this version was built with`);
      await cache.put(path, res);
    }
  };
  // A few at a time: the weights and wasm files are the bulk; the rest are small.
  await Promise.all([one(), one(), one(), one()]);
}

/** A response with every configured header it lacks (see the file comment). */
function withHeaders(res: Response, headers: Record<string, string>): Response {
  const missing = Object.keys(headers).filter((k) => !res.headers.has(k));
  // Opaque or error responses cannot be rebuilt (and are never cached here).
  if (!missing.length || res.type === 'opaque' || res.type === 'error' || res.status === 0) return res;
  const h = new Headers(res.headers);
  for (const k of missing) h.set(k, headers[k]);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: h });
}

/** What the fetch handler does with a request: leave it to the network, or answer it from the cache. */
function routeOf(req: Request, origin: string): 'network' | 'page' | 'asset' {
  if (req.method !== 'GET' || req.headers.has('range')) return 'network';
  const url = new URL(req.url);
  if (url.origin !== origin) return 'network';
  if (url.pathname === '/sw.js') return 'network';
  return req.mode === 'navigate' ? 'page' : 'asset';
}

async function respond(req: Request, route: 'page' | 'asset'): Promise<Response> {
  const cache = await caches.open(CACHE);
  const url = new URL(req.url);
  // Pages are looked up without their query string ('/?x' is the same app); assets with it. ignoreVary: the server
  // answers with `Vary: Origin` (its CORS layer), and module scripts are requested with an Origin header the install
  // fetch did not send, so a strict match would miss every module script; the bytes are the same build either way.
  const hit = await cache.match(route === 'page' ? url.pathname : req, { ignoreSearch: route === 'page', ignoreVary: true });
  if (hit) return withHeaders(hit, config.headers);
  try {
    const res = await fetch(req);
    // Cache-first also for same-origin files the build did not list (none today); only complete answers (200, not
    // partial, not redirected). Same-origin is routeOf's guarantee.
    if (route === 'asset' && res.status === 200 && !res.redirected) await cache.put(req, res.clone());
    return withHeaders(res, config.headers);
  } catch (e) {
    // Offline and not in the cache: a page falls back to the app itself, anything else fails as it would.
    if (route === 'page') {
      const app = await cache.match('/', { ignoreVary: true });
      if (app) return withHeaders(app, config.headers);
    }
    throw e;
  }
}

sw.addEventListener('install', (e) => {
  e.waitUntil(precache());
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      // The first install takes the open page at once (nothing older to be consistent with).
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (e) => {
  const route = routeOf(e.request, sw.location.origin);
  if (route !== 'network') e.respondWith(respond(e.request, route));
});

/**
 * The page asks: 'status' → which version, how many files it holds of how many (the status bar's "available
 * offline"); 'activate' → a waiting new version takes over (the page reloads on controllerchange).
 */
sw.addEventListener('message', (e) => {
  const msg = e.data as { type?: string } | null;
  if (msg?.type === 'activate') void sw.skipWaiting();
  if (msg?.type === 'status')
    e.waitUntil(
      (async () => {
        const cache = await caches.open(CACHE);
        const keys = new Set((await cache.keys()).map((r) => new URL(r.url).pathname));
        const files = Object.keys(config.files);
        const cached = files.filter((f) => keys.has(f)).length;
        e.source?.postMessage({ type: 'status', version: config.version, files: files.length, cached });
      })(),
    );
});

// A module for the type checker (its names stay local); build/serviceWorker.ts drops this line from the classic script.
export {};

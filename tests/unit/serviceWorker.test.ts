/**
 * The offline service worker (src/sw/sw.ts) and its build step (build/serviceWorker.ts), in Node: the precache list
 * is the build folder, the version follows the content, install stores every listed file and refuses a file whose
 * bytes differ from the build's, cache-first answers carry the server's COOP/COEP/CSP headers again, and requests the
 * worker must not touch (other origins, non-GET, ranges, sw.js) are left to the network. The browser side (offline
 * reload, training a step) is tests/e2e/offline.spec.ts.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { precacheManifest } from '../../build/serviceWorker.ts';

describe('precache manifest of a build folder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sw-'));
    mkdirSync(join(dir, 'assets'));
    mkdirSync(join(dir, 'wasm'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>page');
    writeFileSync(join(dir, 'assets', 'main-abc.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'main-abc.js.map'), '{}');
    writeFileSync(join(dir, 'wasm', 'x.wasm'), new Uint8Array([0, 97, 115, 109]));
    writeFileSync(join(dir, 'sw.js'), 'old worker');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists every file but the worker and source maps, with SHA-256 prefixes, and "/" as the page', () => {
    const m = precacheManifest(dir);
    expect(Object.keys(m.files).sort()).toEqual(['/', '/assets/main-abc.js', '/index.html', '/wasm/x.wasm']);
    const sha = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16);
    expect(m.files['/assets/main-abc.js']).toBe(sha('console.log(1)'));
    expect(m.files['/wasm/x.wasm']).toBe(sha(new Uint8Array([0, 97, 115, 109])));
    expect(m.files['/']).toBe(m.files['/index.html']);
  });

  it('gets a new version when any file changes, and keeps it when nothing does', () => {
    const a = precacheManifest(dir).version;
    expect(precacheManifest(dir).version).toBe(a);
    writeFileSync(join(dir, 'wasm', 'x.wasm'), new Uint8Array([0, 97, 115, 110]));
    expect(precacheManifest(dir).version).not.toBe(a);
  });
});

// ---- the worker itself, with a fake global scope ------------------------------------------------------------------

const ORIGIN = 'https://app.test';
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Content-Security-Policy': "default-src 'self'",
};
const sha16 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

class FakeCache {
  readonly store = new Map<string, Response>();
  private key(r: Request | string, ignoreSearch = false): string {
    const u = new URL(typeof r === 'string' ? r : r.url, ORIGIN);
    return ignoreSearch ? u.origin + u.pathname : u.href;
  }
  async put(r: Request | string, res: Response) {
    this.store.set(this.key(r), res);
  }
  async match(r: Request | string, o?: { ignoreSearch?: boolean }) {
    const k = this.key(r, o?.ignoreSearch);
    for (const [key, v] of this.store) if ((o?.ignoreSearch ? key.split('?')[0] : key) === k) return v.clone();
    return undefined;
  }
  async keys() {
    return [...this.store.keys()].map((k) => new Request(k));
  }
}

interface Loaded {
  handlers: Record<string, (e: unknown) => void>;
  caches: Map<string, FakeCache>;
  fetched: { url: string; cache?: RequestCache }[];
  server: Map<string, { body: string; headers?: Record<string, string> }>;
}

async function loadWorker(files: Record<string, string>, server: Loaded['server']): Promise<Loaded> {
  vi.resetModules();
  const handlers: Loaded['handlers'] = {};
  const cacheMap = new Map<string, FakeCache>();
  const fetched: Loaded['fetched'] = [];
  const scope = {
    __SAEHDBW_SW__: { version: 'v1', files, headers: HEADERS },
    location: { origin: ORIGIN },
    registration: { scope: ORIGIN + '/' },
    skipWaiting: vi.fn(async () => {}),
    clients: { claim: vi.fn(async () => {}) },
    addEventListener: (t: string, fn: (e: unknown) => void) => (handlers[t] = fn),
  };
  vi.stubGlobal('self', scope);
  vi.stubGlobal('caches', {
    open: async (n: string) => {
      if (!cacheMap.has(n)) cacheMap.set(n, new FakeCache());
      return cacheMap.get(n)!;
    },
    keys: async () => [...cacheMap.keys()],
    delete: async (n: string) => cacheMap.delete(n),
  });
  vi.stubGlobal('fetch', async (r: Request) => {
    const url = new URL(r.url, ORIGIN);
    fetched.push({ url: url.pathname + url.search, cache: r.cache });
    const f = server.get(url.pathname);
    if (!f) return new Response('missing', { status: 404 });
    return new Response(f.body, { status: 200, headers: f.headers ?? { 'Content-Type': 'text/plain' } });
  });
  await import('../../src/sw/sw.ts');
  return { handlers, caches: cacheMap, fetched, server };
}

async function runExtendable(h: (e: unknown) => void): Promise<void> {
  let p: Promise<unknown> = Promise.resolve();
  h({ waitUntil: (x: Promise<unknown>) => (p = x) });
  await p;
}

/** Dispatch a fetch event; null when the worker let it go to the network. */
async function dispatchFetch(w: Loaded, url: string, init: { method?: string; mode?: string; headers?: Record<string, string> } = {}) {
  let answer = null as Promise<Response> | null;
  const request = {
    url: new URL(url, ORIGIN).href,
    method: init.method ?? 'GET',
    mode: init.mode ?? 'cors',
    headers: new Headers(init.headers ?? {}),
    cache: 'default',
  } as unknown as Request;
  w.handlers.fetch({ request, respondWith: (r: Promise<Response>) => (answer = Promise.resolve(r)), waitUntil() {} });
  return answer ? await answer : null;
}

describe('service worker', () => {
  const server = new Map([
    ['/', { body: 'page' }],
    ['/index.html', { body: 'page' }],
    ['/assets/a.js', { body: 'chunk', headers: { 'Content-Type': 'text/javascript', 'Cross-Origin-Embedder-Policy': 'credentialless' } }],
    ['/wasm/b.wasm', { body: 'wasm-bytes' }],
  ]);
  const files = { '/': sha16('page'), '/index.html': sha16('page'), '/assets/a.js': sha16('chunk'), '/wasm/b.wasm': sha16('wasm-bytes') };
  afterEach(() => vi.unstubAllGlobals());

  it('install stores every listed file, fetched past the HTTP cache', async () => {
    const w = await loadWorker(files, server);
    await runExtendable(w.handlers.install);
    expect(w.fetched.map((f) => f.url).sort()).toEqual(Object.keys(files).sort());
    expect(w.fetched.every((f) => f.cache === 'reload')).toBe(true);
    const cache = w.caches.get('saehdbw-app-v1')!;
    expect(cache.store.size).toBe(4);
    expect(await (await cache.match('/wasm/b.wasm'))!.text()).toBe('wasm-bytes');
  });

  it('install fails when a file is not the one the build listed (or missing), so an older version stays', async () => {
    const bad = await loadWorker({ ...files, '/assets/a.js': sha16('other chunk') }, server);
    await expect(runExtendable(bad.handlers.install)).rejects.toThrow('/assets/a.js is not the file this version was built with');
    const missing = await loadWorker({ ...files, '/gone.js': sha16('x') }, server);
    await expect(runExtendable(missing.handlers.install)).rejects.toThrow('/gone.js answered HTTP 404');
  });

  it('answers from the cache without the network, adding the isolation headers and CSP a response lacks', async () => {
    const w = await loadWorker(files, server);
    await runExtendable(w.handlers.install);
    w.fetched.length = 0;
    const wasm = (await dispatchFetch(w, '/wasm/b.wasm'))!;
    expect(await wasm.text()).toBe('wasm-bytes');
    expect(wasm.headers.get('Cross-Origin-Opener-Policy')).toBe('same-origin');
    expect(wasm.headers.get('Cross-Origin-Embedder-Policy')).toBe('require-corp');
    expect(wasm.headers.get('Content-Security-Policy')).toBe("default-src 'self'");
    // A header the stored response has is kept as it is.
    const js = (await dispatchFetch(w, '/assets/a.js'))!;
    expect(js.headers.get('Cross-Origin-Embedder-Policy')).toBe('credentialless');
    expect(js.headers.get('Content-Type')).toBe('text/javascript');
    // A navigation with a query string is the page.
    const page = (await dispatchFetch(w, '/?model=x', { mode: 'navigate' }))!;
    expect(await page.text()).toBe('page');
    expect(page.headers.get('Content-Security-Policy')).toBe("default-src 'self'");
    expect(w.fetched).toEqual([]);
  });

  it('offline, an unknown page falls back to the app; an unknown asset fails', async () => {
    const w = await loadWorker(files, server);
    await runExtendable(w.handlers.install);
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    expect(await (await dispatchFetch(w, '/somewhere', { mode: 'navigate' }))!.text()).toBe('page');
    await expect(dispatchFetch(w, '/assets/unknown.js')).rejects.toThrow('Failed to fetch');
  });

  it('caches a same-origin GET it did not list on first use (cache-first afterwards)', async () => {
    const w = await loadWorker(files, new Map([...server, ['/extra.json', { body: '{"a":1}' }]]));
    await runExtendable(w.handlers.install);
    w.fetched.length = 0;
    expect(await (await dispatchFetch(w, '/extra.json'))!.text()).toBe('{"a":1}');
    expect(await (await dispatchFetch(w, '/extra.json'))!.text()).toBe('{"a":1}');
    expect(w.fetched.map((f) => f.url)).toEqual(['/extra.json']);
  });

  it('leaves other origins, non-GET, range requests and its own script to the network', async () => {
    const w = await loadWorker(files, server);
    expect(await dispatchFetch(w, 'https://cdn.example/x.js')).toBeNull();
    expect(await dispatchFetch(w, '/assets/a.js', { method: 'POST' })).toBeNull();
    expect(await dispatchFetch(w, '/wasm/b.wasm', { headers: { range: 'bytes=0-3' } })).toBeNull();
    expect(await dispatchFetch(w, '/sw.js')).toBeNull();
    expect(await dispatchFetch(w, '/assets/a.js')).not.toBeNull();
  });

  it('activation deletes the caches of older versions only, and reports its status on request', async () => {
    const w = await loadWorker(files, server);
    await runExtendable(w.handlers.install);
    const other = new FakeCache();
    w.caches.set('saehdbw-app-old', other);
    w.caches.set('someone-else', new FakeCache());
    await runExtendable(w.handlers.activate);
    expect([...w.caches.keys()].sort()).toEqual(['saehdbw-app-v1', 'someone-else']);
    const posted: unknown[] = [];
    let p: Promise<unknown> = Promise.resolve();
    w.handlers.message({ data: { type: 'status' }, source: { postMessage: (m: unknown) => posted.push(m) }, waitUntil: (x: Promise<unknown>) => (p = x) });
    await p;
    expect(posted).toEqual([{ type: 'status', version: 'v1', files: 4, cached: 4 }]);
  });
});

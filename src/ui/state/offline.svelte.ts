/**
 * The page's side of the offline service worker (src/sw/sw.ts, written into the build by build/serviceWorker.ts):
 * registration, and what the status bar says about it — caching, available offline (every file of this version is in
 * the cache), a newer version waiting, or why there is no offline copy. Registered in production builds only
 * (src/main.ts): the dev server serves modules that change on every edit.
 */

export type OfflineStatus =
  | { kind: 'off' }
  | { kind: 'caching' }
  | { kind: 'ready'; version: string; files: number }
  | { kind: 'failed'; reason: string };

interface SwStatus {
  type: 'status';
  version: string;
  files: number;
  cached: number;
}

export class OfflineState {
  status = $state<OfflineStatus>({ kind: 'off' });
  /** A newer build is installed and waits for this page to let it take over. */
  updateWaiting = $state(false);
  /** navigator.onLine: the status bar says when the app runs from its offline copy. */
  online = $state(true);
  private registration: ServiceWorkerRegistration | null = null;

  async register(url = '/sw.js'): Promise<void> {
    this.online = navigator.onLine;
    addEventListener('online', () => (this.online = true));
    addEventListener('offline', () => (this.online = false));
    if (!('serviceWorker' in navigator)) {
      this.status = { kind: 'failed', reason: 'this browser has no service workers' };
      return;
    }
    const sw = navigator.serviceWorker;
    sw.addEventListener('message', (e: MessageEvent<SwStatus>) => {
      const d = e.data;
      if (d?.type !== 'status') return;
      this.status = d.cached === d.files ? { kind: 'ready', version: d.version, files: d.files } : { kind: 'caching' };
    });
    // A new version took over (after "Reload to update"): load the page it belongs to.
    let reloading = false;
    sw.addEventListener('controllerchange', () => {
      if (this.updateRequested && !reloading) {
        reloading = true;
        location.reload();
      } else void this.ask();
    });
    sw.startMessages();
    this.status = { kind: 'caching' };
    try {
      // updateViaCache 'none': the update check always sees the newest sw.js, so a new build is found at once.
      const reg = await sw.register(url, { scope: '/', updateViaCache: 'none' });
      this.registration = reg;
      const watch = (w: ServiceWorker | null) => {
        w?.addEventListener('statechange', () => {
          if (w.state === 'installed' && sw.controller) this.updateWaiting = true;
          if (w.state === 'redundant' && !reg.active) this.status = { kind: 'failed', reason: 'the offline copy could not be stored' };
          if (w.state === 'activated') void this.ask();
        });
      };
      if (reg.waiting && sw.controller) this.updateWaiting = true;
      watch(reg.installing);
      reg.addEventListener('updatefound', () => watch(reg.installing));
      // `ready` resolves once a version is active, i.e. its install (the whole precache) succeeded.
      await sw.ready;
      await this.ask();
    } catch (e) {
      this.status = { kind: 'failed', reason: e instanceof Error ? e.message : String(e) };
    }
  }

  private updateRequested = false;

  /** Let the waiting version take over; the page reloads when it does. */
  applyUpdate(): void {
    this.updateRequested = true;
    this.registration?.waiting?.postMessage({ type: 'activate' });
  }

  private async ask(): Promise<void> {
    const reg = this.registration ?? (await navigator.serviceWorker.getRegistration());
    reg?.active?.postMessage({ type: 'status' });
  }
}

export const offline = new OfflineState();

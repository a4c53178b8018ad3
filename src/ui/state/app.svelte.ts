import type { Capabilities } from '../../core/env.ts';
import type { ImportReport } from '../../core/faceset/importFaces.ts';
import { FacesetStore } from '../../core/faceset/store.ts';
import type { FaceRecord, FacesetInfo, FacesetRole } from '../../core/faceset/types.ts';
import { toUserMessage } from '../../core/errors.ts';
import type { FacesetCalls } from '../../../workers/faceset.protocol.ts';
import { probeCapabilities, probeStorage, requestPersistence } from '../lib/capabilities.ts';
import { WorkerClient } from '../lib/workerClient.ts';
import { downloadBlob } from '../lib/download.ts';

export interface ReportEntry {
  role: FacesetRole;
  title: string;
  imported: number;
  failed: { name: string; reason: string }[];
  skipped: { name: string; reason: string }[];
  note: string | null;
}

export interface Busy {
  label: string;
  done: number;
  total: number;
  abort: AbortController;
}

const roleTitle: Record<FacesetRole, string> = { src: 'Source faceset', dst: 'Destination faceset' };

/** What one faceset panel shows: the active faceset of its role, its thumbnails, and the running job. */
export class FacesetPanelState {
  info = $state<FacesetInfo | null>(null);
  versions = $state<FacesetInfo[]>([]);
  thumbs = $state<Record<string, string>>({});
  busy = $state<Busy | null>(null);
  error = $state<string | null>(null);
  readonly title: string;

  constructor(
    readonly role: FacesetRole,
    private readonly app: AppState,
  ) {
    this.title = roleTitle[role];
  }

  async refresh(): Promise<void> {
    const store = this.app.store;
    const info = await store.forRole(this.role);
    this.versions = (await store.list()).filter((f) => f.role === this.role);
    const known = this.info?.id === info.id ? this.thumbs : {};
    if (this.info?.id !== info.id) for (const url of Object.values(this.thumbs)) URL.revokeObjectURL(url);
    const missing = info.faces.map((f) => f.name).filter((n) => !known[n]);
    const next: Record<string, string> = {};
    for (const f of info.faces) if (known[f.name]) next[f.name] = known[f.name];
    const blobs = await store.thumbs(info.id, missing);
    missing.forEach((n, i) => {
      const b = blobs[i];
      if (b) next[n] = URL.createObjectURL(new Blob([b as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
    });
    for (const [n, url] of Object.entries(known)) if (!next[n]) URL.revokeObjectURL(url);
    this.thumbs = next;
    this.info = info;
  }

  private async run<T>(label: string, job: (signal: AbortSignal, progress: (done: number, total: number) => void) => Promise<T>) {
    if (this.busy) return undefined;
    const abort = new AbortController();
    this.busy = { label, done: 0, total: 0, abort };
    this.error = null;
    try {
      return await job(abort.signal, (done, total) => {
        if (this.busy) this.busy = { ...this.busy, done, total };
      });
    } catch (e) {
      this.error = toUserMessage(e);
      return undefined;
    } finally {
      this.busy = null;
      await this.refresh().catch(() => undefined);
      await this.app.refreshStorage();
    }
  }

  cancel(): void {
    this.busy?.abort.abort();
  }

  async importFiles(files: File[]): Promise<void> {
    if (!files.length) return;
    await this.app.askPersistenceOnce();
    const info = this.info ?? (await this.app.store.forRole(this.role));
    const report = await this.run(`Importing ${files.length} file${files.length === 1 ? '' : 's'}`, (signal, progress) =>
      this.app.worker.call('import', { facesetId: info.id, files }, { signal, onProgress: (p) => progress(p.done, p.total) }),
    );
    if (report) this.app.addReport(this.role, `Import into ${this.title.toLowerCase()}`, report);
  }

  async convert(size: number | null, gray: boolean): Promise<void> {
    const info = this.info;
    if (!info || !info.faces.length) return;
    const res = await this.run(`Converting ${info.faces.length} faces`, (signal, progress) =>
      this.app.worker.call('convert', { facesetId: info.id, size, gray }, { signal, onProgress: (p) => progress(p.done, p.total) }),
    );
    if (res)
      this.app.addReport(this.role, `Conversion to ${res.faceset.name}`, {
        imported: res.faceset.faces.length,
        failed: res.failed,
        skipped: [],
        cancelled: res.cancelled,
        stopped: null,
      });
  }

  async exportZip(): Promise<void> {
    const info = this.info;
    if (!info || !info.faces.length) return;
    const res = await this.run(`Exporting ${info.faces.length} faces`, (signal, progress) =>
      this.app.worker.call('export', { facesetId: info.id }, { signal, onProgress: (p) => progress(p.done, p.total) }),
    );
    if (res) downloadBlob(new Blob([res.zip], { type: 'application/zip' }), res.fileName);
  }

  async removeFace(name: string): Promise<void> {
    if (!this.info) return;
    await this.app.store.removeFaces(this.info.id, [name]);
    await this.refresh();
  }

  async clear(): Promise<void> {
    if (!this.info) return;
    await this.app.store.clear(this.info.id);
    await this.refresh();
  }

  async select(id: string): Promise<void> {
    await this.app.store.setRole(this.role, id);
    await this.refresh();
  }

  async deleteVersion(id: string): Promise<void> {
    const others = this.versions.filter((v) => v.id !== id);
    if (this.info?.id === id) {
      if (others.length) await this.app.store.setRole(this.role, others[others.length - 1].id);
    }
    await this.app.store.delete(id);
    await this.refresh();
  }
}

export class AppState {
  readonly store = new FacesetStore();
  readonly worker = new WorkerClient<FacesetCalls>(
    new Worker(new URL('../../../workers/faceset.worker.ts', import.meta.url), { type: 'module', name: 'faceset' }),
  );
  caps = $state<Capabilities | null>(null);
  reports = $state<ReportEntry[]>([]);
  selected = $state<{ role: FacesetRole; record: FaceRecord } | null>(null);
  readonly src = new FacesetPanelState('src', this);
  readonly dst = new FacesetPanelState('dst', this);
  private askedPersistence = false;

  async start(): Promise<void> {
    this.caps = await probeCapabilities();
    await this.store.sweepOrphans().catch(() => 0);
    await Promise.all([this.src.refresh(), this.dst.refresh()]);
  }

  async refreshStorage(): Promise<void> {
    if (this.caps) this.caps = { ...this.caps, storage: await probeStorage() };
  }

  async askPersistenceOnce(): Promise<void> {
    if (this.askedPersistence) return;
    this.askedPersistence = true;
    const granted = await requestPersistence();
    await this.refreshStorage();
    if (!granted)
      this.reports = [
        {
          role: 'src',
          title: 'Storage',
          imported: 0,
          failed: [],
          skipped: [],
          note: 'The browser did not grant persistent storage: it may evict facesets under disk pressure. Export important facesets.',
        },
        ...this.reports,
      ];
  }

  addReport(role: FacesetRole, title: string, r: ImportReport): void {
    const note = r.stopped ?? (r.cancelled ? 'Cancelled: the faces stored before the cancel are kept.' : null);
    this.reports = [{ role, title, imported: r.imported, failed: r.failed, skipped: r.skipped, note }, ...this.reports].slice(0, 20);
  }

  async openFace(role: FacesetRole, name: string): Promise<void> {
    const panel = role === 'src' ? this.src : this.dst;
    if (!panel.info) return;
    this.selected = { role, record: await this.store.face(panel.info.id, name) };
  }
}

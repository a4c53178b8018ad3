/**
 * The model list (issue 5 "Models and options"): every model in the CheckpointStore with its architecture string,
 * parameters, iteration, last save and size in storage. Backups (`<id>~bk<k>`, `<id>~best`, see src/ui/lib/studio.ts)
 * are folded into their model's row.
 */
import { CheckpointStore, type Manifest } from '../../core/checkpoint/checkpointStore.ts';
import { TimelapseStore } from '../../core/checkpoint/timelapseStore.ts';
import { toUserMessage } from '../../core/errors.ts';
import { baseIdOf, isAuxId } from '../lib/studio.ts';

export interface ModelRow {
  id: string;
  name: string;
  archi: string;
  params: number | null;
  iter: number;
  savedAt: number;
  /** Bytes of the current + previous generation, plus its backups. */
  bytes: number;
  backups: { id: string; iter: number; savedAt: number; best: boolean }[];
}

const genBytes = (m: Manifest) => m.current.bytes + (m.previous?.bytes ?? 0);

export class ModelsState {
  rows = $state.raw<ModelRow[]>([]);
  error = $state<string | null>(null);

  constructor(
    readonly store: CheckpointStore = new CheckpointStore(),
    readonly frames: TimelapseStore = new TimelapseStore(),
  ) {}

  async refresh(): Promise<void> {
    try {
      const all = await this.store.list();
      const rows = new Map<string, ModelRow>();
      for (const m of all.filter((x) => !isAuxId(x.id))) {
        rows.set(m.id, {
          id: m.id,
          name: m.name,
          archi: String(m.summary.archi ?? '?'),
          params: typeof m.summary.params === 'number' ? m.summary.params : null,
          iter: m.current.iter,
          savedAt: m.current.savedAt,
          bytes: genBytes(m),
          backups: [],
        });
      }
      for (const m of all.filter((x) => isAuxId(x.id))) {
        const row = rows.get(baseIdOf(m.id));
        if (!row) continue;
        row.bytes += genBytes(m);
        row.backups.push({ id: m.id, iter: m.current.iter, savedAt: m.current.savedAt, best: m.id.endsWith('~best') });
      }
      this.rows = [...rows.values()].sort((a, b) => b.savedAt - a.savedAt);
    } catch (e) {
      this.error = toUserMessage(e);
    }
  }

  async rename(id: string, name: string): Promise<void> {
    const n = name.trim();
    if (!n) return;
    await this.store.rename(id, n);
    await this.refresh();
  }

  /** Delete a model, its backups and its preview history. */
  async remove(id: string): Promise<void> {
    const ids = (await this.store.list()).map((m) => m.id).filter((x) => x === id || (isAuxId(x) && baseIdOf(x) === id));
    for (const x of ids) await this.store.delete(x);
    await this.frames.delete(id);
    await this.refresh();
  }
}

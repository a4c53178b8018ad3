/**
 * DFL's `write_preview_history` (spec §C.10: a preview image every 10·max(1, res // 64) iterations, kept in
 * `<model>_history/`) in IndexedDB, per model, as encoded images (PNG bytes made by the page):
 *   tl/<id>/index          → number[] of the iterations that have a frame, ascending
 *   tl/<id>/f/<iter>       → Uint8Array (the frame's image file)
 * Frames are written before the index names them, so a crash leaves at most an unreferenced frame (removed with the
 * model). The page holds only the index and the one frame it shows, so memory stays bounded however long the model
 * trains. Storage is bounded too: past `maxFrames`, every second frame is dropped, so the timelapse still spans
 * the whole training at a coarser step (DFL keeps every file; a browser profile cannot).
 */
import { createStore, del, delMany, get, keys, set, update, type UseStore } from 'idb-keyval';
import { QuotaError } from '../errors.ts';

export const TIMELAPSE_MAX_FRAMES = 600;

const indexKey = (id: string) => `tl/${id}/index`;
const frameKey = (id: string, iter: number) => `tl/${id}/f/${iter}`;

/**
 * Which iterations to drop once more than `max` frames exist: every second frame (odd positions), never the first or
 * the newest, which halves the count, so the kept frames stay spread evenly over the whole training. Pure; unit-tested.
 */
export function thinFrames(iters: readonly number[], max: number): number[] {
  if (iters.length <= Math.max(2, max)) return [];
  const drop: number[] = [];
  for (let i = 1; i < iters.length - 1; i += 2) drop.push(iters[i]);
  return drop;
}

export class TimelapseStore {
  private readonly db: UseStore;
  constructor(
    dbName = 'saehdbw-timelapse',
    storeName = 'frames',
    readonly maxFrames = TIMELAPSE_MAX_FRAMES,
  ) {
    this.db = createStore(dbName, storeName);
  }

  /** Iterations with a frame, ascending. */
  async list(id: string): Promise<number[]> {
    return (await get<number[]>(indexKey(id), this.db)) ?? [];
  }

  async frame(id: string, iter: number): Promise<Uint8Array | undefined> {
    return get<Uint8Array>(frameKey(id, iter), this.db);
  }

  /** Store the frame of `iter` (replacing one of the same iteration); returns the index after thinning. */
  async add(id: string, iter: number, bytes: Uint8Array): Promise<number[]> {
    try {
      await set(frameKey(id, iter), bytes, this.db);
    } catch (e) {
      if (e instanceof Error && (e.name === 'QuotaExceededError' || /quota/i.test(e.message)))
        throw new QuotaError('the preview history frame does not fit in browser storage');
      throw e;
    }
    let dropped: number[] = [];
    let out: number[] = [];
    await update<number[]>(
      indexKey(id),
      (old) => {
        const list = (old ?? []).filter((x) => x !== iter);
        list.push(iter);
        list.sort((a, b) => a - b);
        dropped = thinFrames(list, this.maxFrames);
        const gone = new Set(dropped);
        out = list.filter((x) => !gone.has(x));
        return out;
      },
      this.db,
    );
    if (dropped.length) await delMany(dropped.map((x) => frameKey(id, x)), this.db);
    return out;
  }

  /** Remove every frame of a model (and frames a crash left unreferenced). */
  async delete(id: string): Promise<void> {
    await del(indexKey(id), this.db);
    const prefix = `tl/${id}/`;
    const all = (await keys(this.db)).filter((k) => typeof k === 'string' && k.startsWith(prefix));
    if (all.length) await delMany(all, this.db);
  }

  /** Total bytes of a model's frames (for the report in the UI). */
  async bytes(id: string): Promise<number> {
    let n = 0;
    for (const it of await this.list(id)) n += (await this.frame(id, it))?.length ?? 0;
    return n;
  }
}

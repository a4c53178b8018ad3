/**
 * Frame sets in IndexedDB through idb-keyval (architecture.md, "Storage shape"): the dst frames a faceset was cut from
 * (added by the user or decoded from a video) and the merged frames the merger writes (spec §F).
 *   framesets                       → string[] of set ids
 *   frameset/<id>                   → FrameSetInfo
 *   frameset/<id>/names             → string[] of frame names (insertion order; `frameNames` sorts them)
 *   frameset/<id>/frame/<name>      → StoredFrame (encoded bytes + size + MIME type)
 *   frameset/<id>/blob/<key>        → Uint8Array side data (e.g. a video's audio track)
 * A batch of frames is written with the updated name list and count in ONE transaction, so an interrupted write (a
 * closed tab, a full disk) leaves the set exactly as it was after the last complete batch — which is what lets a
 * batch merge resume by skipping the frames already stored.
 * Its own database ('saehdbw-frames'): idb-keyval opens one object store per database.
 */
import { createStore, delMany, get, getMany, keys, promisifyRequest, set, update, type UseStore } from 'idb-keyval';
import { QuotaError, SaehdError } from '../errors.ts';

export interface FrameSetInfo {
  id: string;
  name: string;
  /** 'frames': input frames (files or a decoded video); 'merged': the merger's output. */
  kind: 'frames' | 'merged';
  /** Number of frames stored. */
  count: number;
  /** Frame size (of the first frame; frames may differ, each StoredFrame has its own). */
  width: number;
  height: number;
  fps?: number;
  /** Where the frames came from (a file or folder name). */
  source?: string;
  /** For a 'merged' set: the frame set it was merged from. */
  sourceSetId?: string;
  createdAt: number;
}

export interface StoredFrame {
  name: string;
  /** Encoded image (PNG or JPEG). */
  bytes: Uint8Array;
  width: number;
  height: number;
  /** MIME type of `bytes`, e.g. 'image/png'. */
  type: string;
}

export class FrameSetNotFoundError extends SaehdError {
  constructor(id: string) {
    super('frameset-missing', `frame set ${id} is not in browser storage`);
  }
}

export class FrameNotFoundError extends SaehdError {
  constructor(setId: string, name: string) {
    super('frame-missing', `frame ${name} is not in frame set ${setId}`);
  }
}

const LIST = 'framesets';
const infoKey = (id: string) => `frameset/${id}`;
const namesKey = (id: string) => `frameset/${id}/names`;
const frameKey = (id: string, name: string) => `frameset/${id}/frame/${name}`;
const blobKey = (id: string, key: string) => `frameset/${id}/blob/${key}`;

function isQuota(e: unknown): boolean {
  return e instanceof Error && (e.name === 'QuotaExceededError' || /quota/i.test(e.message));
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
/** Natural order: frame2 before frame10, as a person (and DFL's sorted file lists of zero-padded names) expects. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

export class FrameStore {
  private readonly db: UseStore;
  constructor(dbName = 'saehdbw-frames', storeName = 'frames') {
    this.db = createStore(dbName, storeName);
  }

  /** A new empty set; the info and the list entry are written in one transaction. */
  async createSet(info: Omit<FrameSetInfo, 'id' | 'count' | 'createdAt'>): Promise<FrameSetInfo> {
    const id = `${info.kind}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
    const full: FrameSetInfo = { ...info, id, count: 0, createdAt: Date.now() };
    await this.db('readwrite', (os) => {
      os.put(full, infoKey(id));
      os.put([], namesKey(id));
      const req = os.get(LIST);
      req.onsuccess = () => os.put([...((req.result as string[] | undefined) ?? []), id], LIST);
      return promisifyRequest(os.transaction);
    });
    return full;
  }

  /**
   * Store a batch of frames with the set's name list and count in one transaction. A name already in the set is
   * replaced (a re-merged frame overwrites the old one). The set's width/height are taken from the first frame ever
   * stored when they were 0.
   */
  async putFrames(setId: string, frames: StoredFrame[]): Promise<void> {
    if (frames.length === 0) return;
    for (const f of frames)
      if (!f.name || f.name.includes('/')) throw new SaehdError('bad-frame-name', `frame name "${f.name}" is empty or has a "/"`);
    let found = false;
    try {
      await this.db('readwrite', (os) => {
        const infoReq = os.get(infoKey(setId));
        const namesReq = os.get(namesKey(setId));
        namesReq.onsuccess = () => {
          const info = infoReq.result as FrameSetInfo | undefined;
          if (!info) {
            os.transaction.abort();
            return;
          }
          found = true;
          const names = (namesReq.result as string[] | undefined) ?? [];
          const have = new Set(names);
          for (const f of frames) {
            os.put({ name: f.name, bytes: f.bytes, width: f.width, height: f.height, type: f.type } satisfies StoredFrame, frameKey(setId, f.name));
            if (!have.has(f.name)) {
              have.add(f.name);
              names.push(f.name);
            }
          }
          const first = frames[0];
          os.put(names, namesKey(setId));
          os.put(
            { ...info, count: names.length, width: info.width || first.width, height: info.height || first.height },
            infoKey(setId),
          );
        };
        return promisifyRequest(os.transaction);
      });
    } catch (e) {
      if (!found) throw new FrameSetNotFoundError(setId);
      if (isQuota(e)) throw new QuotaError(`could not store ${frames.length} more frames`);
      throw e;
    }
  }

  async listSets(): Promise<FrameSetInfo[]> {
    const ids = (await get<string[]>(LIST, this.db)) ?? [];
    const infos = await getMany<FrameSetInfo>(ids.map(infoKey), this.db);
    return infos.filter((x): x is FrameSetInfo => !!x);
  }

  async getSet(id: string): Promise<FrameSetInfo> {
    const info = await get<FrameSetInfo>(infoKey(id), this.db);
    if (!info) throw new FrameSetNotFoundError(id);
    return info;
  }

  /** Frame names in natural order (frame2 < frame10). */
  async frameNames(setId: string): Promise<string[]> {
    const names = await get<string[]>(namesKey(setId), this.db);
    if (!names) throw new FrameSetNotFoundError(setId);
    return [...names].sort(naturalCompare);
  }

  async getFrame(setId: string, name: string): Promise<StoredFrame> {
    const f = await get<StoredFrame>(frameKey(setId, name), this.db);
    if (!f) throw new FrameNotFoundError(setId, name);
    return f;
  }

  /** Update name / fps / source (not id, kind, count or createdAt). */
  async updateSet(id: string, patch: Partial<Pick<FrameSetInfo, 'name' | 'fps' | 'source' | 'width' | 'height'>>): Promise<FrameSetInfo> {
    let out: FrameSetInfo | undefined;
    await update<FrameSetInfo>(
      infoKey(id),
      (info) => {
        if (!info) throw new FrameSetNotFoundError(id);
        out = { ...info, ...patch };
        return out;
      },
      this.db,
    );
    return out!;
  }

  /** Delete a set: the list entry goes first (one write), then every record under the set. */
  async deleteSet(id: string): Promise<void> {
    await update<string[]>(LIST, (ids) => (ids ?? []).filter((x) => x !== id), this.db);
    const prefix = `${infoKey(id)}/`;
    const all = (await keys(this.db)).filter((k) => typeof k === 'string' && k.startsWith(prefix));
    await delMany([...all, infoKey(id)], this.db);
  }

  /** Side data of a set (e.g. the audio track of a decoded video), keyed by a name of the caller's choice. */
  async putBlob(setId: string, key: string, bytes: Uint8Array): Promise<void> {
    await this.getSet(setId);
    try {
      await set(blobKey(setId, key), bytes, this.db);
    } catch (e) {
      if (isQuota(e)) throw new QuotaError(`could not store ${bytes.length} bytes of ${key}`);
      throw e;
    }
  }

  async getBlob(setId: string, key: string): Promise<Uint8Array | undefined> {
    return get<Uint8Array>(blobKey(setId, key), this.db);
  }
}

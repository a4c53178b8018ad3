/**
 * Faceset storage in IndexedDB through idb-keyval (architecture.md, "Storage shape"):
 *   facesets            → string[] of faceset ids
 *   roles               → { src?: id, dst?: id }: the faceset each panel shows
 *   faceset/<id>        → FacesetInfo (index: name, role, face summaries)
 *   faceset/<id>/face/<name>  → FaceRecord (original bytes + parsed metadata)
 *   faceset/<id>/thumb/<name> → Uint8Array JPEG thumbnail
 * Every batch of faces is written together with the updated index in ONE transaction, so an
 * interrupted import or a full disk leaves the faceset exactly as it was after the last complete batch.
 */
import { createStore, del, delMany, get, getMany, keys, promisifyRequest, update, type UseStore } from 'idb-keyval';
import { QuotaError, SaehdError } from '../errors.ts';
import type { FaceRecord, FaceSummary, FacesetInfo, FacesetRole } from './types.ts';

export class FacesetNotFoundError extends SaehdError {
  constructor(id: string) {
    super('faceset-missing', `faceset ${id} is not in browser storage`);
  }
}

const faceKey = (id: string, name: string) => `faceset/${id}/face/${name}`;
const thumbKey = (id: string, name: string) => `faceset/${id}/thumb/${name}`;
const infoKey = (id: string) => `faceset/${id}`;

export interface NewFace {
  record: FaceRecord;
  thumb: Uint8Array;
  summary: FaceSummary;
}

function isQuota(e: unknown): boolean {
  return e instanceof Error && (e.name === 'QuotaExceededError' || /quota/i.test(e.message));
}

export class FacesetStore {
  private readonly db: UseStore;
  constructor(dbName = 'saehdbw', storeName = 'facesets') {
    this.db = createStore(dbName, storeName);
  }

  async list(): Promise<FacesetInfo[]> {
    const ids = (await get<string[]>('facesets', this.db)) ?? [];
    const infos = await getMany<FacesetInfo>(ids.map(infoKey), this.db);
    return infos.filter((x): x is FacesetInfo => !!x);
  }

  async get(id: string): Promise<FacesetInfo> {
    const info = await get<FacesetInfo>(infoKey(id), this.db);
    if (!info) throw new FacesetNotFoundError(id);
    return info;
  }

  async roles(): Promise<Partial<Record<FacesetRole, string>>> {
    return (await get('roles', this.db)) ?? {};
  }

  /** Read-modify-write in one transaction (`update`), so the two panels starting together never lose a role. */
  async setRole(role: FacesetRole, id: string): Promise<void> {
    await update<Partial<Record<FacesetRole, string>>>('roles', (roles) => ({ ...(roles ?? {}), [role]: id }), this.db);
  }

  /** The faceset a panel shows, created empty on first use. */
  async forRole(role: FacesetRole): Promise<FacesetInfo> {
    const roles = await this.roles();
    const id = roles[role];
    if (id) {
      const info = await get<FacesetInfo>(infoKey(id), this.db);
      if (info) return info;
    }
    const info = await this.create(role === 'src' ? 'source' : 'destination', role, null);
    await this.setRole(role, info.id);
    return info;
  }

  async create(name: string, role: FacesetRole, derivedFrom: string | null): Promise<FacesetInfo> {
    const id = `${role}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
    const info: FacesetInfo = { id, name, role, createdAt: Date.now(), derivedFrom, faces: [] };
    // The index record and the list entry are written in one transaction, reading the list inside it.
    await this.db('readwrite', (os) => {
      os.put(info, infoKey(id));
      const req = os.get('facesets');
      req.onsuccess = () => os.put([...((req.result as string[] | undefined) ?? []), id], 'facesets');
      return promisifyRequest(os.transaction);
    });
    return info;
  }

  /**
   * Store a batch of faces and the index that lists them in one transaction. Names already present get a
   * numbered suffix so nothing stored before is overwritten.
   */
  async addFaces(id: string, faces: NewFace[]): Promise<FaceSummary[]> {
    if (faces.length === 0) return [];
    const added: FaceSummary[] = [];
    try {
      // One transaction: read the index, write faces + thumbnails + the extended index. Either all land or none.
      await this.db('readwrite', (os) => {
        const req = os.get(infoKey(id));
        req.onsuccess = () => {
          const info = req.result as FacesetInfo | undefined;
          if (!info) {
            os.transaction.abort();
            return;
          }
          const taken = new Set(info.faces.map((f) => f.name));
          for (const f of faces) {
            const name = uniqueName(f.summary.name, taken);
            taken.add(name);
            os.put({ ...f.record, name }, faceKey(id, name));
            os.put(f.thumb, thumbKey(id, name));
            added.push({ ...f.summary, name });
          }
          os.put({ ...info, faces: [...info.faces, ...added] }, infoKey(id));
        };
        return promisifyRequest(os.transaction);
      });
    } catch (e) {
      if (isQuota(e)) throw new QuotaError(`could not store ${faces.length} more faces`);
      if (!added.length) throw new FacesetNotFoundError(id);
      throw e;
    }
    return added;
  }

  async face(id: string, name: string): Promise<FaceRecord> {
    const r = await get<FaceRecord>(faceKey(id, name), this.db);
    if (!r) throw new SaehdError('face-missing', `face ${name} is not in faceset ${id}`);
    return r;
  }

  async faces(id: string, names: string[]): Promise<FaceRecord[]> {
    const rs = await getMany<FaceRecord>(
      names.map((n) => faceKey(id, n)),
      this.db,
    );
    return rs.map((r, i) => {
      if (!r) throw new SaehdError('face-missing', `face ${names[i]} is not in faceset ${id}`);
      return r;
    });
  }

  async thumbs(id: string, names: string[]): Promise<(Uint8Array | undefined)[]> {
    return getMany<Uint8Array>(
      names.map((n) => thumbKey(id, n)),
      this.db,
    );
  }

  /** Remove faces: the index drops them first (one write), then their records go. */
  async removeFaces(id: string, names: string[]): Promise<void> {
    const drop = new Set(names);
    await update<FacesetInfo>(
      infoKey(id),
      (info) => {
        if (!info) throw new FacesetNotFoundError(id);
        return { ...info, faces: info.faces.filter((f) => !drop.has(f.name)) };
      },
      this.db,
    );
    await delMany(
      names.flatMap((n) => [faceKey(id, n), thumbKey(id, n)]),
      this.db,
    );
  }

  async clear(id: string): Promise<void> {
    const info = await this.get(id);
    await this.removeFaces(
      id,
      info.faces.map((f) => f.name),
    );
  }

  async rename(id: string, name: string): Promise<void> {
    await update<FacesetInfo>(
      infoKey(id),
      (info) => {
        if (!info) throw new FacesetNotFoundError(id);
        return { ...info, name };
      },
      this.db,
    );
  }

  /** Delete a whole faceset (not the one a panel shows: the caller switches the role first). */
  async delete(id: string): Promise<void> {
    await update<string[]>('facesets', (ids) => (ids ?? []).filter((x) => x !== id), this.db);
    const prefix = `faceset/${id}/`;
    const all = (await keys(this.db)).filter((k) => typeof k === 'string' && k.startsWith(prefix));
    await delMany([...all, infoKey(id)], this.db);
  }

  /** Records that no index lists (left by a crash between writes of older versions); removed at start-up. */
  async sweepOrphans(): Promise<number> {
    const infos = await this.list();
    const live = new Set<string>();
    for (const info of infos) {
      live.add(infoKey(info.id));
      for (const f of info.faces) {
        live.add(faceKey(info.id, f.name));
        live.add(thumbKey(info.id, f.name));
      }
    }
    const orphans = (await keys(this.db)).filter(
      (k) => typeof k === 'string' && k.startsWith('faceset/') && !live.has(k),
    );
    if (orphans.length) await delMany(orphans, this.db);
    return orphans.length;
  }

  async deleteKey(key: string): Promise<void> {
    await del(key, this.db);
  }
}

function uniqueName(name: string, taken: Set<string>): string {
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot) : '';
  for (let i = 1; ; i++) {
    const candidate = `${stem}_${i}${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
}

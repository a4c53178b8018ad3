/**
 * Crash-safe checkpoints in IndexedDB (architecture.md, "Storage shape"; issue: checkpoints that never get lost).
 *   models                          → string[] of model ids
 *   model/<id>/manifest             → Manifest
 *   model/<id>/gen/<g>/chunk/<k>    → Uint8Array (a slice of the checkpoint file)
 * Saving writes generation g+1's chunks (each with its SHA-256) without touching anything else, then flips the
 * manifest to g+1 in ONE final transaction (the only commit point), and only then deletes the generation before the
 * previous one. Loading verifies every chunk and falls back to the previous generation, saying so.
 */
import { createStore, delMany, get, keys, set, update, type UseStore } from 'idb-keyval';
import { QuotaError, SaehdError } from '../errors.ts';

export const CHUNK_BYTES = 8 * 1024 * 1024;

export interface ChunkRef {
  key: string;
  bytes: number;
  sha256: string;
}

export interface Generation {
  generation: number;
  savedAt: number;
  iter: number;
  bytes: number;
  chunks: ChunkRef[];
}

export interface Manifest {
  schemaVersion: 1;
  id: string;
  name: string;
  /** Summary for the model list (architecture string, parameters…), set by the caller. */
  summary: Record<string, unknown>;
  current: Generation;
  previous: Generation | null;
}

export class CheckpointMissingError extends SaehdError {
  constructor(id: string) {
    super('checkpoint-missing', `model ${id} has no saved checkpoint`);
  }
}

export class CheckpointCorruptError extends SaehdError {
  constructor(id: string, detail: string) {
    super('checkpoint-corrupt', `model ${id}: no stored generation passes its checksums (${detail})`);
  }
}

export interface LoadedCheckpoint {
  bytes: Uint8Array;
  generation: Generation;
  /** Set when the newest generation failed verification and the previous one was loaded instead. */
  fellBack: string | null;
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  let s = '';
  for (const b of d) s += b.toString(16).padStart(2, '0');
  return s;
}

function isQuota(e: unknown): boolean {
  return e instanceof Error && (e.name === 'QuotaExceededError' || /quota/i.test(e.message));
}

const manifestKey = (id: string) => `model/${id}/manifest`;
const chunkKey = (id: string, g: number, k: number) => `model/${id}/gen/${g}/chunk/${k}`;

export class CheckpointStore {
  private readonly db: UseStore;
  constructor(
    dbName = 'saehdbw-models',
    storeName = 'checkpoints',
    private readonly chunkBytes = CHUNK_BYTES,
  ) {
    this.db = createStore(dbName, storeName);
  }

  async list(): Promise<Manifest[]> {
    const ids = (await get<string[]>('models', this.db)) ?? [];
    const out: Manifest[] = [];
    for (const id of ids) {
      const m = await get<Manifest>(manifestKey(id), this.db);
      if (m) out.push(m);
    }
    return out;
  }

  manifest(id: string): Promise<Manifest | undefined> {
    return get<Manifest>(manifestKey(id), this.db);
  }

  /**
   * Save a new generation. `hooks.afterChunks` runs after the chunks are written and before the manifest flip
   * (tests use it to simulate a crash at the worst moment).
   */
  async save(
    id: string,
    name: string,
    file: Uint8Array,
    info: { iter: number; summary?: Record<string, unknown> },
    hooks: { afterChunks?: () => Promise<void> } = {},
  ): Promise<Generation> {
    const old = await this.manifest(id);
    const g = Math.max(old?.current.generation ?? 0, old?.previous?.generation ?? 0) + 1;
    const chunks: ChunkRef[] = [];
    try {
      for (let k = 0, off = 0; off < file.length || k === 0; k++, off += this.chunkBytes) {
        const part = file.slice(off, Math.min(file.length, off + this.chunkBytes));
        const key = chunkKey(id, g, k);
        await set(key, part, this.db);
        chunks.push({ key, bytes: part.length, sha256: await sha256Hex(part) });
      }
    } catch (e) {
      await delMany(chunks.map((c) => c.key), this.db).catch(() => undefined);
      if (isQuota(e)) throw new QuotaError(`the checkpoint (${(file.length / 2 ** 20).toFixed(1)} MiB) does not fit`);
      throw e;
    }
    await hooks.afterChunks?.();
    const gen: Generation = { generation: g, savedAt: Date.now(), iter: info.iter, bytes: file.length, chunks };
    await update<Manifest>(
      manifestKey(id),
      (m) => {
        return {
          schemaVersion: 1,
          id,
          name: m?.name ?? name,
          summary: info.summary ?? m?.summary ?? {},
          current: gen,
          previous: m?.current ?? null,
        };
      },
      this.db,
    );
    await update<string[]>('models', (ids) => (ids?.includes(id) ? ids : [...(ids ?? []), id]), this.db);
    // Only now is the generation before the previous one unreferenced; remove it and any stray chunks of
    // generations a crash left behind.
    await this.sweep(id).catch(() => undefined);
    return gen;
  }

  /** Load the newest generation whose every chunk passes its SHA-256; fall back to the previous one. */
  async load(id: string): Promise<LoadedCheckpoint> {
    const m = await this.manifest(id);
    if (!m) throw new CheckpointMissingError(id);
    const problems: string[] = [];
    for (const gen of [m.current, m.previous]) {
      if (!gen) continue;
      const problem = await this.verify(gen);
      if (typeof problem !== 'string') {
        return {
          bytes: problem,
          generation: gen,
          fellBack:
            gen === m.current
              ? null
              : `the newest save (generation ${m.current.generation}, iteration ${m.current.iter}) is damaged: ${problems[0]}; loaded generation ${gen.generation} (iteration ${gen.iter}) instead`,
        };
      }
      problems.push(problem);
    }
    throw new CheckpointCorruptError(id, problems.join('; '));
  }

  private async verify(gen: Generation): Promise<Uint8Array | string> {
    const out = new Uint8Array(gen.bytes);
    let off = 0;
    for (const c of gen.chunks) {
      const part = await get<Uint8Array>(c.key, this.db);
      if (!part) return `chunk ${c.key} is missing`;
      if (part.length !== c.bytes || (await sha256Hex(part)) !== c.sha256) return `chunk ${c.key} fails its checksum`;
      if (off + part.length > out.length) return `chunk ${c.key} is longer than the checkpoint`;
      out.set(part, off);
      off += part.length;
    }
    if (off !== gen.bytes) return 'chunks are shorter than the checkpoint';
    return out;
  }

  /** Delete chunks that neither the current nor the previous generation references. */
  async sweep(id: string): Promise<number> {
    const m = await this.manifest(id);
    const live = new Set([...(m?.current.chunks ?? []), ...(m?.previous?.chunks ?? [])].map((c) => c.key));
    const prefix = `model/${id}/gen/`;
    const stale = (await keys(this.db)).filter((k) => typeof k === 'string' && k.startsWith(prefix) && !live.has(k));
    if (stale.length) await delMany(stale, this.db);
    return stale.length;
  }

  async rename(id: string, name: string): Promise<void> {
    await update<Manifest>(
      manifestKey(id),
      (m) => {
        if (!m) throw new CheckpointMissingError(id);
        return { ...m, name };
      },
      this.db,
    );
  }

  async delete(id: string): Promise<void> {
    await update<string[]>('models', (ids) => (ids ?? []).filter((x) => x !== id), this.db);
    const prefix = `model/${id}/`;
    const all = (await keys(this.db)).filter((k) => typeof k === 'string' && k.startsWith(prefix));
    await delMany(all, this.db);
  }
}

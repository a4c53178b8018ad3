import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createStore, set } from 'idb-keyval';
import {
  CheckpointFormatError,
  decodeCheckpoint,
  encodeCheckpoint,
  type CheckpointContent,
} from '../../src/core/checkpoint/checkpointFile.ts';
import { crc32 } from '../../src/core/formats/crc32.ts';
import { CheckpointCorruptError, CheckpointStore, sha256Hex } from '../../src/core/checkpoint/checkpointStore.ts';

function content(iter: number, seed = 1): CheckpointContent {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const t = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd) });
  return {
    options: { archi: 'df-ud', resolution: 32, channels: 1 },
    optionsSchemaVersion: 1,
    iter,
    lossHistory: Array.from({ length: iter }, (_, i) => [1 / (i + 1), 2 / (i + 1)] as [number, number]),
    weights: new Map([
      ['encoder/down1/conv1/weight:0', t([5, 5, 1, 8])],
      ['encoder/down1/conv1/bias:0', t([8])],
      ['decoder_src/out_conv/weight:0', t([1, 1, 8, 1])],
    ]),
    optimizer: new Map([['ms_encoder/down1/conv1/weight_0:0', t([5, 5, 1, 8])]]),
    extra: { previewIds: ['00001_0.jpg', '00007_0.jpg'], note: 'ü' },
  };
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('checkpoint file', () => {
  it('round-trips weights, optimizer state, options, iteration and loss history bit for bit', () => {
    const c = content(7);
    const d = decodeCheckpoint(encodeCheckpoint(c));
    expect(d.iter).toBe(7);
    expect(d.options).toEqual(c.options);
    expect(d.lossHistory).toEqual(c.lossHistory);
    expect(d.extra).toEqual(c.extra);
    expect([...d.weights.keys()]).toEqual([...c.weights.keys()]);
    for (const [k, v] of c.weights) expect(bits(d.weights.get(k)!.data)).toEqual(bits(v.data));
    for (const [k, v] of c.optimizer) expect(bits(d.optimizer.get(k)!.data)).toEqual(bits(v.data));
  });

  it('crc32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('refuses a truncated, damaged, foreign or newer-version file with a named error', () => {
    const f = encodeCheckpoint(content(3));
    expect(() => decodeCheckpoint(f.subarray(0, f.length - 100))).toThrow(CheckpointFormatError);
    const damaged = f.slice();
    damaged[200] ^= 0x40;
    expect(() => decodeCheckpoint(damaged)).toThrow(/checksum/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('PK\u0003\u0004 not a checkpoint at all'))).toThrow(/not a SAEHDBW Web checkpoint/);
    const newer = f.slice();
    newer[8] = 99;
    expect(() => decodeCheckpoint(newer)).toThrow(/version 99/);
  });
});

let n = 0;
const fresh = (chunk = 1024) => {
  const name = `ckpt-${++n}`;
  return { store: new CheckpointStore(name, 'c', chunk), raw: createStore(name, 'c') };
};

describe('checkpoint store', () => {
  it('saves generations in chunks, loads the newest, keeps only current and previous', async () => {
    const { store } = fresh(1000);
    const f1 = encodeCheckpoint(content(1, 1));
    const f2 = encodeCheckpoint(content(2, 2));
    const f3 = encodeCheckpoint(content(3, 3));
    const g1 = await store.save('m', 'my model', f1, { iter: 1 });
    expect(g1.chunks.length).toBe(Math.ceil(f1.length / 1000));
    expect(g1.chunks[0].sha256).toBe(await sha256Hex(f1.subarray(0, 1000)));
    await store.save('m', 'my model', f2, { iter: 2 });
    let l = await store.load('m');
    expect(l.generation.generation).toBe(2);
    expect(l.fellBack).toBeNull();
    expect(l.bytes).toEqual(f2);
    await store.save('m', 'my model', f3, { iter: 3 });
    const m = (await store.manifest('m'))!;
    expect([m.current.generation, m.previous!.generation]).toEqual([3, 2]);
    expect(await store.sweep('m')).toBe(0); // generation 1 is already gone
    l = await store.load('m');
    expect(decodeCheckpoint(l.bytes).iter).toBe(3);
    expect((await store.list()).map((x) => x.name)).toEqual(['my model']);
  });

  it('falls back to the previous generation when a chunk of the newest is damaged, and says so', async () => {
    const { store, raw } = fresh(1000);
    const f1 = encodeCheckpoint(content(1, 1));
    await store.save('m', 'x', f1, { iter: 1 });
    const g2 = await store.save('m', 'x', encodeCheckpoint(content(2, 2)), { iter: 2 });
    const bad = new Uint8Array(g2.chunks[1].bytes).fill(7);
    await set(g2.chunks[1].key, bad, raw);
    const l = await store.load('m');
    expect(l.generation.generation).toBe(1);
    expect(l.bytes).toEqual(f1);
    expect(l.fellBack).toMatch(/generation 2.*damaged.*checksum.*generation 1/);
  });

  it('a crash between the chunks and the manifest flip leaves the last good generation loadable', async () => {
    const { store } = fresh(1000);
    const f1 = encodeCheckpoint(content(1, 1));
    await store.save('m', 'x', f1, { iter: 1 });
    await expect(
      store.save('m', 'x', encodeCheckpoint(content(2, 2)), { iter: 2 }, { afterChunks: async () => Promise.reject(new Error('tab closed')) }),
    ).rejects.toThrow('tab closed');
    const l = await store.load('m');
    expect(l.bytes).toEqual(f1);
    expect(l.fellBack).toBeNull();
    expect(await store.sweep('m')).toBeGreaterThan(0); // the orphaned chunks of the interrupted save
    await store.save('m', 'x', encodeCheckpoint(content(3, 3)), { iter: 3 });
    expect(decodeCheckpoint((await store.load('m')).bytes).iter).toBe(3);
  });

  it('refuses to load when every generation is damaged', async () => {
    const { store, raw } = fresh(1000);
    const g = await store.save('m', 'x', encodeCheckpoint(content(1)), { iter: 1 });
    await set(g.chunks[0].key, new Uint8Array(3), raw);
    await expect(store.load('m')).rejects.toThrow(CheckpointCorruptError);
  });
});

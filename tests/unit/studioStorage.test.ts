/**
 * Issue 5 storage beside the weights: checkpoint attachments (the fixed preview faces, an imported DFL data.dat) and
 * the persisted preview history (TimelapseStore: frames in IndexedDB, bounded by halving).
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { CheckpointFormatError, decodeCheckpoint, encodeCheckpoint, type CheckpointContent } from '../../src/core/checkpoint/checkpointFile.ts';
import { crc32 } from '../../src/core/formats/crc32.ts';
import { TimelapseStore, thinFrames } from '../../src/core/checkpoint/timelapseStore.ts';

function content(): CheckpointContent {
  return {
    options: { archi: 'df-ud', resolution: 32, channels: 1 },
    optionsSchemaVersion: 1,
    iter: 5,
    lossHistory: [[1, 2]],
    weights: new Map([['encoder/w:0', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }]]),
    optimizer: new Map([['ms_encoder/w_0:0', { shape: [2, 3], data: Float32Array.from([6, 5, 4, 3, 2, 1]) }]]),
    extra: { previewFaces: { n: 1, resolution: 32, channels: 1 } },
  };
}

describe('checkpoint attachments', () => {
  it('round-trip byte for byte (odd lengths, empty ones), beside unchanged weights and slots', () => {
    const c = content();
    const odd = Uint8Array.from({ length: 13 }, (_, i) => (i * 37) & 255);
    const faces = new Uint8Array(Float32Array.from([0.25, 0.5, 0.75]).buffer);
    c.attachments = new Map([['dfl/data.dat', odd], ['empty', new Uint8Array(0)], ['preview/src', faces]]);
    const bytes = encodeCheckpoint(c);
    const d = decodeCheckpoint(bytes);
    expect([...d.attachments!.keys()]).toEqual(['dfl/data.dat', 'empty', 'preview/src']);
    expect([...d.attachments!.get('dfl/data.dat')!]).toEqual([...odd]);
    expect(d.attachments!.get('empty')!.length).toBe(0);
    expect([...new Float32Array(d.attachments!.get('preview/src')!.slice().buffer)]).toEqual([0.25, 0.5, 0.75]);
    expect([...d.weights.get('encoder/w:0')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...d.optimizer.get('ms_encoder/w_0:0')!.data]).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it('a file without attachments is what it was before (no attachments key, same bytes as without the field)', () => {
    const a = encodeCheckpoint(content());
    const b = encodeCheckpoint({ ...content(), attachments: new Map() });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(decodeCheckpoint(a).attachments).toBeUndefined();
  });

  it('refuses an attachment entry that points outside the file', () => {
    const c = content();
    c.attachments = new Map([['x', new Uint8Array(16)]]);
    const bytes = encodeCheckpoint(c);
    const view = new DataView(bytes.buffer);
    const headerLen = view.getUint32(12, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLen)));
    const entry = header.tensors.find((t: { group: string }) => t.group === 'a');
    // 16 → 99 bytes: the same header length, but past the end of the file.
    entry.length = 99;
    entry.shape = [99];
    const hb = new TextEncoder().encode(JSON.stringify(header));
    expect(hb.length).toBe(headerLen);
    const bad = bytes.slice();
    bad.set(hb, 16);
    new DataView(bad.buffer).setUint32(bad.length - 4, crc32(bad.subarray(0, bad.length - 4)), true);
    expect(() => decodeCheckpoint(bad)).toThrow(CheckpointFormatError);
    expect(() => decodeCheckpoint(bad)).toThrow(/attachment x lies outside the file/);
  });
});

describe('preview history (TimelapseStore)', () => {
  it('thinning halves the frames and keeps the first and the newest', () => {
    expect(thinFrames([10, 20, 30], 4)).toEqual([]);
    expect(thinFrames([10, 20, 30, 40, 50], 4)).toEqual([20, 40]);
    expect(thinFrames([10, 20, 30, 40, 50, 60], 5)).toEqual([20, 40]);
  });

  it('keeps frames per model in IndexedDB, bounded, and deletes them with the model', async () => {
    const store = new TimelapseStore('tl-test', 'frames', 8);
    const png = (i: number) => Uint8Array.from([0x89, 0x50, 0x4e, 0x47, i]);
    for (let it = 10; it <= 80; it += 10) await store.add('a', it, png(it));
    await store.add('b', 10, png(1));
    expect(await store.list('a')).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    // The ninth frame exceeds 8: every second frame goes, the first and the newest stay, spread over the whole run.
    const after = await store.add('a', 90, png(90));
    expect(after).toEqual([10, 30, 50, 70, 90]);
    expect(await store.frame('a', 20)).toBeUndefined();
    expect([...(await store.frame('a', 90))!]).toEqual([...png(90)]);
    // The same iteration again replaces its frame.
    await store.add('a', 90, png(91));
    expect(await store.list('a')).toEqual([10, 30, 50, 70, 90]);
    expect((await store.frame('a', 90))![4]).toBe(91);
    expect(await store.bytes('a')).toBe(5 * 5);
    await store.delete('a');
    expect(await store.list('a')).toEqual([]);
    expect(await store.frame('a', 10)).toBeUndefined();
    expect(await store.list('b')).toEqual([10]);
  });
});

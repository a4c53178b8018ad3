import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { FrameStore, naturalCompare, type StoredFrame } from '../../src/core/frames/frameStore.ts';

let n = 0;
const fresh = () => new FrameStore(`frames-test-${++n}`, 'frames');
const frame = (name: string, fill: number, w = 4, h = 3): StoredFrame => ({
  name,
  bytes: new Uint8Array([fill, fill + 1, fill + 2]),
  width: w,
  height: h,
  type: 'image/png',
});

describe('FrameStore', () => {
  it('creates a set, stores batches, counts them and lists names in natural order', async () => {
    const store = fresh();
    const set = await store.createSet({ name: 'clip', kind: 'frames', width: 0, height: 0, fps: 25, source: 'clip.mp4' });
    expect(set.count).toBe(0);
    expect(set.id).toMatch(/^frames-/);
    await store.putFrames(set.id, [frame('f10.png', 10), frame('f2.png', 2)]);
    await store.putFrames(set.id, [frame('f1.png', 1, 8, 6)]);
    const info = await store.getSet(set.id);
    expect(info.count).toBe(3);
    // the size comes from the first frame stored when the set was created without one
    expect([info.width, info.height]).toEqual([4, 3]);
    expect(info.fps).toBe(25);
    expect(await store.frameNames(set.id)).toEqual(['f1.png', 'f2.png', 'f10.png']);
    const f = await store.getFrame(set.id, 'f10.png');
    expect([...f.bytes]).toEqual([10, 11, 12]);
    expect(f.type).toBe('image/png');
    // reopening the database sees the same
    const again = new FrameStore(`frames-test-${n}`, 'frames');
    expect((await again.listSets()).map((s) => s.id)).toEqual([set.id]);
  });

  it('replaces a frame stored again under the same name without counting it twice', async () => {
    const store = fresh();
    const set = await store.createSet({ name: 'm', kind: 'merged', width: 4, height: 3, sourceSetId: 'x' });
    await store.putFrames(set.id, [frame('a.png', 1), frame('b.png', 2)]);
    await store.putFrames(set.id, [frame('a.png', 50), frame('c.png', 3)]);
    expect((await store.getSet(set.id)).count).toBe(3);
    expect([...(await store.getFrame(set.id, 'a.png')).bytes]).toEqual([50, 51, 52]);
    expect((await store.getSet(set.id)).sourceSetId).toBe('x');
  });

  it('refuses frames for a missing set and names a missing frame', async () => {
    const store = fresh();
    await expect(store.putFrames('nope', [frame('a.png', 1)])).rejects.toThrow(/frame set nope is not in browser storage/);
    const set = await store.createSet({ name: 's', kind: 'frames', width: 1, height: 1 });
    await expect(store.getFrame(set.id, 'zz.png')).rejects.toThrow(/frame zz.png is not in frame set/);
    await expect(store.putFrames(set.id, [frame('a/b.png', 1)])).rejects.toThrow(/has a "\/"/);
    expect((await store.getSet(set.id)).count).toBe(0);
  });

  it('keeps side data and deletes a set with everything under it, leaving the others', async () => {
    const store = fresh();
    const a = await store.createSet({ name: 'a', kind: 'frames', width: 4, height: 3 });
    const b = await store.createSet({ name: 'b', kind: 'frames', width: 4, height: 3 });
    await store.putFrames(a.id, [frame('1.png', 1)]);
    await store.putFrames(b.id, [frame('1.png', 9)]);
    await store.putBlob(a.id, 'audio', new Uint8Array([7, 8]));
    expect([...((await store.getBlob(a.id, 'audio')) ?? [])]).toEqual([7, 8]);
    expect(await store.getBlob(a.id, 'none')).toBeUndefined();
    await store.deleteSet(a.id);
    expect((await store.listSets()).map((s) => s.id)).toEqual([b.id]);
    await expect(store.getSet(a.id)).rejects.toThrow(/not in browser storage/);
    await expect(store.getFrame(a.id, '1.png')).rejects.toThrow();
    expect(await store.getBlob(a.id, 'audio')).toBeUndefined();
    expect([...(await store.getFrame(b.id, '1.png')).bytes]).toEqual([9, 10, 11]);
    await expect(store.putBlob(a.id, 'audio', new Uint8Array(1))).rejects.toThrow(/not in browser storage/);
  });

  it('sorts names naturally', () => {
    expect(['img10.jpg', 'img9.jpg', 'img100.jpg', 'IMG1.jpg'].sort(naturalCompare)).toEqual(['IMG1.jpg', 'img9.jpg', 'img10.jpg', 'img100.jpg']);
    expect(['00002.png', '00010.png', '00001.png'].sort(naturalCompare)).toEqual(['00001.png', '00002.png', '00010.png']);
  });
});

describe('frame files', () => {
  it('reads the size and type of PNG and JPEG frames from their headers and names the files it cannot use', async () => {
    const { framesFromFiles } = await import('../../src/core/frames/frameFiles.ts');
    const { encodePng } = await import('../../src/core/image/png.ts');
    const { initNodeJpegCodec } = await import('../../cli/nodeCodec.ts');
    const { encodeJpeg } = await import('../../src/core/image/jpegCodec.ts');
    await initNodeJpegCodec();
    const png = encodePng({ width: 7, height: 5, channels: 3, data: new Uint8Array(7 * 5 * 3) });
    const jpg = await encodeJpeg({ width: 33, height: 17, channels: 3, data: new Uint8Array(33 * 17 * 3) }, 90);
    const r = framesFromFiles([
      { name: 'a.png', bytes: png },
      { name: 'b.jpg', bytes: jpg },
      { name: 'c.txt', bytes: new TextEncoder().encode('hello') },
      { name: 'd.jpg', bytes: jpg.subarray(0, 4) },
    ]);
    expect(r.frames.map((f) => [f.name, f.width, f.height, f.type])).toEqual([
      ['a.png', 7, 5, 'image/png'],
      ['b.jpg', 33, 17, 'image/jpeg'],
    ]);
    expect(r.frames[1].bytes).toBe(jpg);
    expect(r.failed.map((f) => f.name)).toEqual(['c.txt', 'd.jpg']);
    expect(r.failed[0].reason).toMatch(/PNG or JPEG/);
    expect(r.failed[1].reason).not.toMatch(/unexpected problem/);
  });
});

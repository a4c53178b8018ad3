import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { hasSharedData, sharedDataDir } from './data.ts';
import { openApp, panel } from './page.ts';
import { makeSyntheticClip } from './videoClip.ts';

test.describe.configure({ timeout: 420_000 });

function videoSection(page: Page) {
  return page.getByRole('region', { name: 'Video' });
}

/** Pick a video with a frame-rate choice and wait for its summary line. */
async function addVideo(page: Page, name: string, buffer: Buffer, fps = 'every'): Promise<{ kept: number; audio: string; setId: string }> {
  const s = videoSection(page);
  await s.getByLabel('Frame rate').selectOption(fps, { timeout: 5_000 });
  const type = name.endsWith('.webm') ? 'video/webm' : 'video/mp4';
  const summary = s.getByTestId('video-summary');
  const before = (await summary.count()) ? await summary.getAttribute('data-set') : null;
  await s.getByLabel('Add video').setInputFiles({ name, mimeType: type, buffer });
  // a new decode has a new set (the same file may be decoded twice)
  await expect(summary).toHaveAttribute('data-set', before ? new RegExp(`^(?!${before}$)`) : /./, { timeout: 120_000 });
  await expect(summary).toContainText(`${name}: `);
  await expect(s).toHaveAttribute('data-busy', 'false');
  const setId = (await summary.getAttribute('data-set'))!;
  await expect(s.locator(`li[data-set="${setId}"]`)).toBeVisible();
  return { kept: Number(await summary.getAttribute('data-kept')), audio: (await summary.getAttribute('data-audio')) ?? '', setId };
}

/** The stored frame names and a digest of each frame's bytes, read from IndexedDB in the page. */
async function storedFrames(page: Page, setId: string): Promise<{ names: string[]; sizes: [number, number][]; digests: string[]; png: boolean }> {
  return page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open('saehdbw-frames');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const get = (key: string) =>
      new Promise<unknown>((res, rej) => {
        const g = db.transaction('frames').objectStore('frames').get(key);
        g.onsuccess = () => res(g.result);
        g.onerror = () => rej(g.error);
      });
    const names = ((await get(`frameset/${id}/names`)) as string[]).slice().sort();
    const sizes: [number, number][] = [];
    const digests: string[] = [];
    let png = true;
    for (const n of names) {
      const f = (await get(`frameset/${id}/frame/${n}`)) as { bytes: Uint8Array; width: number; height: number; type: string };
      sizes.push([f.width, f.height]);
      png &&= f.type === 'image/png' && f.bytes[0] === 0x89 && f.bytes[1] === 0x50 && f.bytes[2] === 0x4e && f.bytes[3] === 0x47;
      const h = await crypto.subtle.digest('SHA-256', f.bytes as Uint8Array<ArrayBuffer>);
      digests.push(Array.from(new Uint8Array(h).slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join(''));
    }
    db.close();
    return { names, sizes, digests, png };
  }, setId);
}

/**
 * A 'merged' set as the merger leaves it (FrameStore's layout, frameStore.ts): the first `n` frames of `sourceSetId`,
 * no frame rate of its own, `sourceSetId` pointing at the decoded video's set.
 */
async function fakeMergedSet(page: Page, sourceSetId: string, n: number): Promise<string> {
  return page.evaluate(
    async ({ src, n }) => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open('saehdbw-frames');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const tx = db.transaction('frames', 'readwrite');
      const os = tx.objectStore('frames');
      const get = <T,>(key: string) =>
        new Promise<T>((res, rej) => {
          const g = os.get(key);
          g.onsuccess = () => res(g.result as T);
          g.onerror = () => rej(g.error);
        });
      const id = 'merged-test';
      const info = await get<Record<string, unknown>>(`frameset/${src}`);
      const names = (await get<string[]>(`frameset/${src}/names`)).slice().sort().slice(0, n);
      for (const name of names) os.put(await get(`frameset/${src}/frame/${name}`), `frameset/${id}/frame/${name}`);
      os.put({ ...info, id, name: 'synthetic merged', kind: 'merged', count: names.length, fps: undefined, sourceSetId: src, createdAt: Date.now() }, `frameset/${id}`);
      os.put(names, `frameset/${id}/names`);
      os.put([...(await get<string[]>('framesets')), id], 'framesets');
      await new Promise((res, rej) => {
        tx.oncomplete = res;
        tx.onerror = () => rej(tx.error);
      });
      db.close();
      return id;
    },
    { src: sourceSetId, n },
  );
}

/** Size of the audio file kept with a set (FrameStore blob `audio.mka`), 0 when none. */
async function audioBytes(page: Page, setId: string): Promise<number> {
  return page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open('saehdbw-frames');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const b = await new Promise<Uint8Array | undefined>((res, rej) => {
      const g = db.transaction('frames').objectStore('frames').get(`frameset/${id}/blob/audio.mka`);
      g.onsuccess = () => res(g.result as Uint8Array | undefined);
      g.onerror = () => rej(g.error);
    });
    db.close();
    return b?.byteLength ?? 0;
  }, setId);
}

const dflNames = (n: number) => Array.from({ length: n }, (_, i) => `${String(i + 1).padStart(5, '0')}.png`);

/** "Make video" on a set, then download it; returns the file and what the panel says about it. */
async function makeVideo(page: Page, setId: string): Promise<{ name: string; bytes: Buffer; container: string; audio: string; text: string }> {
  const s = videoSection(page);
  await s.locator(`li[data-set="${setId}"]`).getByRole('button', { name: 'Make video' }).click();
  const made = s.getByTestId('video-made');
  await expect(made).toBeVisible({ timeout: 120_000 });
  await expect(s).toHaveAttribute('data-busy', 'false');
  const dl = page.waitForEvent('download');
  await s.getByRole('button', { name: 'Download video' }).click();
  const d = await dl;
  return {
    name: d.suggestedFilename(),
    bytes: readFileSync((await d.path())!),
    container: (await made.getAttribute('data-container'))!,
    audio: (await made.getAttribute('data-audio'))!,
    text: (await made.textContent())!,
  };
}

test('a video made in the page (VP8 + Opus) → frames 00001.png … with its audio → MP4/WebM → decoded again', async ({ page, browser, baseURL }) => {
  // 2 s at 12 fps, every frame different, with an Opus sine: made with WebCodecs, nothing from the shared data.
  const clip = await makeSyntheticClip(browser, baseURL!, { container: 'webm', codec: 'vp8', width: 160, height: 120, frames: 24, fps: 12, audio: true });
  await openApp(page);
  const s = videoSection(page);

  const a = await addVideo(page, 'synthetic.webm', clip);
  expect(a.kept).toBe(24);
  expect(a.audio).toBe('opus');
  await expect(s.getByTestId('video-summary')).toContainText('WebM · VP8 video 160×120');
  const row = s.locator(`li[data-set="${a.setId}"]`);
  await expect(row.getByTestId('set-count')).toHaveText('24');
  await expect(row).toContainText('Opus audio');
  const frames = await storedFrames(page, a.setId);
  expect(frames.names).toEqual(dflNames(24));
  expect(frames.png).toBe(true);
  expect(new Set(frames.sizes.map((x) => x.join('x')))).toEqual(new Set(['160x120']));
  expect(new Set(frames.digests).size).toBe(24); // 24 different pictures, not one frame repeated

  // sampled at 2 fps: the frames on screen at 0, 0.5, 1 and 1.5 s of the 12 fps clip
  const sampled = await addVideo(page, 'synthetic.webm', clip, '2');
  expect(sampled.kept).toBe(4);
  const sampledFrames = await storedFrames(page, sampled.setId);
  expect(sampledFrames.names).toEqual(dflNames(4));
  expect(sampledFrames.digests).toEqual([0, 6, 12, 18].map((i) => frames.digests[i]));

  // frames → video: H.264/MP4 where this browser encodes it (else WebM), the Opus packets copied over
  const v = await makeVideo(page, a.setId);
  expect(['mp4', 'webm']).toContain(v.container);
  expect(v.name).toBe(`synthetic_frames.${v.container}`);
  expect(v.audio).toBe('copy');
  expect(v.text).toContain(v.container === 'mp4' ? 'MP4 · H.264 video · Opus audio copied' : 'WebM · VP');
  expect(v.text).toContain('24 frames at 12 fps');
  await expect(s.getByLabel(`Preview of ${v.name}`)).toBeVisible();

  // the made file plays: decoded again by the app it has the same 24 frames, the audio track and the frame rate
  const back = await addVideo(page, v.name, v.bytes);
  expect(back.kept).toBe(24);
  expect(back.audio).toBe('opus');
  expect(new Set((await storedFrames(page, back.setId)).digests).size).toBe(24); // each frame encoded, none repeated
  await expect(s.getByTestId('video-summary')).toContainText(v.container === 'mp4' ? 'MP4 · H.264 video 160×120 · 24 frames at 12 fps' : '24 frames at 12 fps');

  // a merged set (no frame rate of its own) takes its source set's rate and audio, the audio cut at its last frame
  const merged = await fakeMergedSet(page, a.setId, 12);
  await openApp(page);
  const m = await makeVideo(page, merged);
  expect(m.name).toBe(`synthetic_merged.${m.container}`);
  expect(m.audio).toBe('copy');
  expect(m.text).toContain('12 frames at 12 fps');
  const mBack = await addVideo(page, m.name, m.bytes);
  expect(mBack.kept).toBe(12);
  expect(mBack.audio).toBe('opus');
  // 1 s of the 2 s sound: the audio file kept from the merged video is about half the source's
  const full = await audioBytes(page, a.setId);
  const cut = await audioBytes(page, mBack.setId);
  expect(cut).toBeGreaterThan(0.3 * full);
  expect(cut).toBeLessThan(0.7 * full);
});

test('MOV with PCM audio: the audio is kept and re-encoded for the new video; Cancel keeps the frames decoded so far', async ({ page, browser, baseURL }) => {
  const mov = await makeSyntheticClip(browser, baseURL!, { container: 'mov', codec: 'avc', width: 128, height: 96, frames: 20, fps: 10, audio: true, audioCodec: 'pcm-s16' });
  await openApp(page);
  const s = videoSection(page);
  const a = await addVideo(page, 'camera.mov', mov);
  expect(a.kept).toBe(20);
  expect(a.audio).toBe('pcm-s16');
  await expect(s.getByTestId('video-summary')).toContainText('MOV · H.264 video 128×96');
  // PCM does not go into MP4/WebM as it is: decoded and re-encoded (Opus where the browser has no AAC encoder)
  const v = await makeVideo(page, a.setId);
  expect(v.audio).toBe('encode');
  expect(v.text).toMatch(/(AAC|Opus) audio re-encoded from the source's PCM \(pcm-s16\)/);
  const back = await addVideo(page, v.name, v.bytes);
  expect(back.kept).toBe(20);
  expect(['aac', 'opus']).toContain(back.audio);

  // a longer clip, cancelled part-way: the frames stored before the cancel stay, as a set of that many frames
  const long = await makeSyntheticClip(browser, baseURL!, { container: 'webm', codec: 'vp8', width: 320, height: 240, frames: 600, fps: 30, audio: false });
  await s.getByLabel('Frame rate').selectOption('every');
  await s.getByLabel('Add video').setInputFiles({ name: 'long.webm', mimeType: 'video/webm', buffer: long });
  const progress = s.getByLabel('Video progress');
  await expect.poll(async () => Number((await progress.getAttribute('value')) ?? 0), { timeout: 60_000, intervals: [50] }).toBeGreaterThan(0);
  await s.getByRole('button', { name: 'Cancel' }).click();
  const summary = s.getByTestId('video-summary');
  await expect(summary).toContainText('long.webm: ', { timeout: 60_000 });
  await expect(summary).toContainText('cancelled: the frames stored before the cancel are kept');
  const kept = Number(await summary.getAttribute('data-kept'));
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(600);
  const setId = (await summary.getAttribute('data-set'))!;
  await expect(s.locator(`li[data-set="${setId}"]`).getByTestId('set-count')).toHaveText(String(kept));
  expect((await storedFrames(page, setId)).names).toEqual(dflNames(kept));
});

test('a file that is not a readable video is refused with its name, and nothing is stored', async ({ page }) => {
  await openApp(page);
  const s = videoSection(page);
  const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 255));
  await s.getByLabel('Add video').setInputFiles({ name: 'broken.mp4', mimeType: 'video/mp4', buffer: junk });
  await expect(s.getByRole('alert')).toContainText('broken.mp4: cannot read this video', { timeout: 60_000 });
  await expect(s).toContainText('No frame sets yet.');
});

test(`shared clips: decode → frame sets → faces (DFL metadata) and a round trip through video${hasSharedData ? ' (shared data)' : ' (skipped: ../shared/data absent)'}`, async ({ page }) => {
  test.skip(!hasSharedData, 'needs ../shared/data/video');
  await openApp(page);
  const s = videoSection(page);

  // faceswap_test.mp4: 426x240, 91 frames at 5 fps, no audio track → every frame, then back through video
  const clip = readFileSync(join(sharedDataDir, 'video', 'faceswap_test.mp4'));
  const a = await addVideo(page, 'faceswap_test.mp4', clip);
  expect(a.kept).toBe(91);
  expect(a.audio).toBe('');
  await expect(s.getByTestId('video-summary')).toContainText('no audio: the video has no audio track');
  expect((await storedFrames(page, a.setId)).names).toEqual(dflNames(91));
  const v = await makeVideo(page, a.setId);
  expect(v.audio).toBe('none');
  expect(v.text).toContain('91 frames at 5 fps');
  const back = await addVideo(page, v.name, v.bytes);
  expect(back.kept).toBe(91);

  // dflive_Obama_speaking.mp4 (512x388, 30 fps, 8.6 s) at 1 fps → 9 frames → faces into the destination faceset
  const obama = readFileSync(join(sharedDataDir, 'video', 'dflive_Obama_speaking.mp4'));
  const o = await addVideo(page, 'dflive_Obama_speaking.mp4', obama, '1');
  expect(o.kept).toBe(9);
  await s.getByLabel('Extract faces into').selectOption('dst');
  await s.getByRole('button', { name: 'Extract faces from dflive_Obama_speaking' }).click();
  const ex = page.getByRole('region', { name: 'Extract faces from frames' });
  await expect(ex.getByTestId('extract-frame-count')).toHaveText('frame set dflive_Obama_speaking: 9 frames');
  await expect(ex.getByTestId('extract-summary')).toContainText('from 9 of 9 frames into the destination faceset', { timeout: 300_000 });
  const faces = Number(/(\d+) faces? from/.exec((await ex.getByTestId('extract-summary').textContent())!)![1]);
  expect(faces).toBeGreaterThanOrEqual(8);
  // the review shows the stored frames with their detections
  await expect(ex.getByRole('list', { name: 'Extracted frames' }).locator('img').first()).toBeVisible();

  const dst = panel(page, 'dst');
  await expect(dst.getByTestId('face-count')).toHaveText(String(faces));
  const dl = page.waitForEvent('download');
  await dst.getByRole('button', { name: 'Export faceset' }).click();
  const zip = unzipSync(new Uint8Array(readFileSync((await (await dl).path())!)));
  const names = Object.keys(zip).sort();
  expect(names).toHaveLength(faces);
  for (const n of names) {
    expect(n).toMatch(/^\d{5}_0\.jpg$/);
    const f = readDflJpg(zip[n]);
    expect(f.meta.keys).toEqual(expect.arrayContaining(['face_type', 'landmarks', 'source_filename', 'source_rect', 'source_landmarks', 'image_to_face_mat']));
    expect(f.meta.face_type).toBe('whole_face');
    expect(f.meta.source_filename).toBe(n.replace('_0.jpg', '.png'));
    expect(f.meta.landmarks).toHaveLength(136);
    expect(f.meta.source_landmarks).toHaveLength(136);
    expect(f.meta.image_to_face_mat).toHaveLength(6);
    const [l, t, r, b] = f.meta.source_rect!;
    // the face box lies in the 512x388 frame, and is a face-sized part of it
    expect(l).toBeGreaterThanOrEqual(-5);
    expect(t).toBeGreaterThanOrEqual(-5);
    expect(r).toBeLessThanOrEqual(517);
    expect(b).toBeLessThanOrEqual(393);
    expect(r - l).toBeGreaterThan(40);
  }
});

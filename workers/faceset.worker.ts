/// <reference lib="webworker" />
import { zipSync } from 'fflate';
import { AbortError, QuotaError, throwIfAborted, toUserMessage } from '../src/core/errors.ts';
import { convertFace, convertedFacesetName } from '../src/core/faceset/convert.ts';
import { importFaces, THUMB_SIDE, type InputFile } from '../src/core/faceset/importFaces.ts';
import { FacesetStore, type NewFace } from '../src/core/faceset/store.ts';
import { encodeJpeg } from '../src/core/image/jpegCodec.ts';
import { downscaleArea } from '../src/core/image/thumbnail.ts';
import type { FacesetCalls } from './faceset.protocol.ts';
import { serve } from './lib/serve.ts';

const store = new FacesetStore();

serve<FacesetCalls>({
  async import(req, ctx) {
    const files: InputFile[] = [];
    for (const f of req.files) {
      const bytes = f instanceof File ? new Uint8Array(await f.arrayBuffer()) : new Uint8Array(f.bytes);
      files.push({ name: f.name, bytes });
    }
    return importFaces(files, store, req.facesetId, { signal: ctx.signal, onProgress: ctx.progress });
  },

  async convert(req, ctx) {
    const src = await store.get(req.facesetId);
    const opts = { size: req.size, gray: req.gray };
    const out = await store.create(convertedFacesetName(src.name, opts), src.role, src.id);
    const failed: { name: string; reason: string }[] = [];
    let batch: NewFace[] = [];
    let cancelled = false;
    const total = src.faces.length;
    try {
      for (let i = 0; i < total; i++) {
        throwIfAborted(ctx.signal);
        const face = src.faces[i];
        try {
          const rec = await store.face(src.id, face.name);
          const c = await convertFace(rec.bytes, opts);
          batch.push({
            record: { name: face.name, bytes: c.bytes, meta: c.meta, width: c.width, height: c.height, channels: c.channels },
            thumb: await encodeJpeg(downscaleArea(c.image, THUMB_SIDE), 85),
            summary: { ...face, width: c.width, height: c.height, channels: c.channels, bytes: c.bytes.length },
          });
        } catch (e) {
          failed.push({ name: face.name, reason: toUserMessage(e) });
        }
        if (batch.length >= 16 || i === total - 1) {
          await store.addFaces(out.id, batch);
          batch = [];
        }
        ctx.progress({ done: i + 1, total });
      }
    } catch (e) {
      if (e instanceof AbortError) cancelled = true;
      else if (e instanceof QuotaError) failed.push({ name: '(storage)', reason: e.message });
      else throw e;
    }
    await store.setRole(src.role, out.id);
    return { faceset: await store.get(out.id), failed, cancelled };
  },

  async export(req, ctx) {
    const info = await store.get(req.facesetId);
    const files: Record<string, [Uint8Array, { level: 0 }]> = {};
    const total = info.faces.length;
    for (let i = 0; i < total; i += 32) {
      throwIfAborted(ctx.signal);
      const names = info.faces.slice(i, i + 32).map((f) => f.name);
      const recs = await store.faces(info.id, names);
      // JPEGs do not compress: store them (level 0) so export is as fast as copying.
      for (const r of recs) files[r.name] = [r.bytes, { level: 0 }];
      ctx.progress({ done: Math.min(total, i + 32), total });
    }
    const zip = zipSync(files);
    const buf = zip.buffer as ArrayBuffer;
    ctx.transfer(buf);
    const fileName = `${info.name.replace(/[^\w.-]+/g, '_')}_aligned.zip`;
    return { fileName, zip: buf, count: total };
  },
});

/// <reference lib="webworker" />
/**
 * Video in and out off the UI thread (issue 7).
 *
 * decode: a video file → frames `00001.png` … in a new FrameStore set, at every frame or a chosen rate
 * (core/video/frames.ts), with the source's audio track kept beside them (its packets copied unchanged into an
 * audio-only Matroska file) so video out can carry it over. mediabunny demuxes MP4/MOV/WebM/MKV and drives the
 * browser's WebCodecs VideoDecoder; frames are drawn on an OffscreenCanvas (rotation metadata applied) and stored as
 * PNG, a batch per IndexedDB transaction, so a cancel or a full disk keeps every frame stored before it.
 *
 * encode: a frame set → H.264/MP4 where WebCodecs can encode it, else VP9/VP8 in WebM (core/video/codecs.ts), at the
 * set's frame rate, with the source audio copied when the container carries its codec, else re-encoded.
 */
import {
  AudioSampleSink,
  AudioSampleSource,
  BlobSource,
  BufferTarget,
  EncodedAudioPacketSource,
  EncodedPacketSink,
  Input,
  MATROSKA,
  MP4,
  MkvOutputFormat,
  Mp4OutputFormat,
  Output,
  QTFF,
  VideoSample,
  VideoSampleSink,
  VideoSampleSource,
  WEBM,
  WebMOutputFormat,
  canEncodeVideo,
  getEncodableAudioCodecs,
  type AudioCodec,
  type InputAudioTrack,
} from 'mediabunny';
import { AbortError, QuotaError, toUserMessage } from '../src/core/errors.ts';
import { FrameStore, type FrameSetInfo, type StoredFrame } from '../src/core/frames/frameStore.ts';
import {
  CONTAINER_MIME,
  VIDEO_OUTPUTS,
  chooseVideoOutput,
  codecLabel,
  describeOutput,
  evenSize,
  outputFileName,
  planAudio,
  videoBitrate,
  type VideoCodecName,
} from '../src/core/video/codecs.ts';
import { FrameSetVideoError, NoVideoEncoderError, UnsupportedVideoError } from '../src/core/video/errors.ts';
import { FrameSampler, expectedKeptFrames, frameName } from '../src/core/video/frames.ts';
import { AUDIO_KEY, VIDEO_META_KEY, decodeVideoMeta, encodeVideoMeta, outputFps, type VideoSourceMeta } from '../src/core/video/meta.ts';
import type { VideoCalls } from './video.protocol.ts';
import { serve } from './lib/serve.ts';

const store = new FrameStore();
/** The containers a camera or DFL's tools give (and this worker's own audio file, Matroska); only their demuxers ship. */
const FORMATS = [MP4, QTFF, WEBM, MATROSKA];

/** Frames per IndexedDB transaction: few enough that a cancel loses little, enough to amortise the commit. */
const BATCH = 8;

/**
 * The source's audio, packets copied as they are (no quality loss, no encoder needed) into an audio-only Matroska
 * file, which holds every codec a video may carry. Timestamps are shifted so 0 is the first video frame.
 */
async function keepAudio(track: InputAudioTrack, videoStart: number): Promise<{ bytes: Uint8Array; codec: string } | { note: string }> {
  const codec = await track.getCodec();
  if (!codec) return { note: 'the audio track uses a codec this app does not know, so it was not kept' };
  const format = new MkvOutputFormat();
  if (!format.getSupportedAudioCodecs().includes(codec)) return { note: `${codecLabel(codec)} audio cannot be kept` };
  const output = new Output({ format, target: new BufferTarget() });
  const source = new EncodedAudioPacketSource(codec);
  output.addAudioTrack(source);
  await output.start();
  const decoderConfig = (await track.getDecoderConfig()) ?? undefined;
  let first = true;
  for await (const p of new EncodedPacketSink(track).packets()) {
    const t = p.timestamp - videoStart;
    if (t < 0) continue; // before the first frame: nothing to play it with
    await source.add(p.clone({ timestamp: t }), first && decoderConfig ? { decoderConfig } : undefined);
    first = false;
  }
  if (first) {
    await output.cancel();
    return { note: 'the audio track has no sound during the video' };
  }
  source.close();
  await output.finalize();
  return { bytes: new Uint8Array(output.target.buffer!), codec };
}

function formatName(name: string): string {
  return name === 'QuickTime File Format' ? 'MOV' : name === 'Matroska' ? 'MKV' : name;
}

serve<VideoCalls>({
  async decode(req, ctx) {
    const t0 = performance.now();
    const file = req.file;
    const name = file.name;
    const sampler = new FrameSampler(req.fps);
    const input = new Input({ source: new BlobSource(file), formats: FORMATS });
    let set: FrameSetInfo | null = null;
    try {
      let container: string;
      try {
        container = formatName((await input.getFormat()).name);
      } catch {
        throw new UnsupportedVideoError(name, 'it is not an MP4, MOV, WebM or MKV file (or it is damaged)');
      }
      const track = await input.getPrimaryVideoTrack();
      if (!track) throw new UnsupportedVideoError(name, `the ${container} file has no video track`);
      const codec = await track.getCodec();
      if (!codec || !(await track.canDecode()))
        throw new UnsupportedVideoError(
          name,
          `this browser cannot decode its ${codec ? codecLabel(codec) : 'unknown'} video${codec === 'hevc' ? ' (convert it to H.264 first)' : ''}`,
        );
      const width = await track.getDisplayWidth();
      const height = await track.getDisplayHeight();
      const packets = (await track.computePacketStats()).packetCount;
      const rate = await track.computeFrameRateMetrics();
      const sourceFps = rate.bestGuessFrameRate;
      const total = expectedKeptFrames(packets, sourceFps, req.fps);
      const description = `${container} · ${codecLabel(codec)} video ${width}×${height} · ${packets} frames at ${+sourceFps.toFixed(3)} fps`;
      ctx.progress({ done: 0, total, kept: 0 });

      set = await store.createSet({
        name: name.replace(/\.[^.]+$/, ''),
        kind: 'frames',
        width,
        height,
        fps: req.fps ?? sourceFps,
        source: name,
      });
      const setId = set.id;

      const canvas = new OffscreenCanvas(width, height);
      const c2d = canvas.getContext('2d');
      if (!c2d) throw new UnsupportedVideoError(name, 'no 2D canvas in this worker to draw frames');
      let batch: StoredFrame[] = [];
      let decodeMs = 0, pngMs = 0, storeMs = 0;
      let start: number | null = null, end = 0;
      let cancelled = false, stopped: string | null = null;
      let lastProgress = 0;
      const flush = async () => {
        if (!batch.length) return;
        const t = performance.now();
        const b = batch;
        batch = [];
        await store.putFrames(setId, b);
        storeMs += performance.now() - t;
      };

      try {
        let tWait = performance.now();
        for await (const sample of new VideoSampleSink(track).samples()) {
          decodeMs += performance.now() - tWait;
          try {
            if (ctx.signal.aborted) {
              cancelled = true;
              break; // leaving the loop closes the decoder
            }
            if (!sampler.take(sample.timestamp, sample.duration)) continue;
            start ??= sample.timestamp;
            end = sample.timestamp + Math.max(0, sample.duration);
            const t = performance.now();
            sample.draw(c2d, 0, 0, width, height);
            const blob = await canvas.convertToBlob({ type: 'image/png' });
            const bytes = new Uint8Array(await blob.arrayBuffer());
            pngMs += performance.now() - t;
            batch.push({ name: frameName(sampler.kept - 1), bytes, width, height, type: 'image/png' });
            if (batch.length >= BATCH) await flush();
          } finally {
            sample.close();
            if (performance.now() - lastProgress > 250) {
              lastProgress = performance.now();
              ctx.progress({ done: sampler.kept, total: Math.max(total, sampler.kept), kept: sampler.kept });
            }
            tWait = performance.now();
          }
        }
        await flush();
      } catch (e) {
        if (!(e instanceof QuotaError)) throw e;
        stopped = `Storage is full: stopped after ${(await store.getSet(setId)).count} frames; the frames stored before are kept.`;
      }

      // The audio goes last: it is small next to the frames, and a cancel or a full disk before it loses nothing.
      let audioCodec: string | null = null;
      let audioNote: string | null = null;
      const audioTrack = await input.getPrimaryAudioTrack();
      if (!audioTrack) audioNote = 'the video has no audio track';
      else if (!cancelled && !stopped) {
        try {
          const kept = await keepAudio(audioTrack, start ?? 0);
          if ('note' in kept) audioNote = kept.note;
          else {
            await store.putBlob(setId, AUDIO_KEY, kept.bytes);
            audioCodec = kept.codec;
          }
        } catch (e) {
          audioNote = `the audio could not be kept: ${toUserMessage(e)}`;
        }
      } else audioNote = 'decoding stopped before the audio was kept';

      const meta: VideoSourceMeta = {
        file: name,
        container,
        videoCodec: codec,
        sourceFps,
        sampledFps: req.fps,
        start: start ?? 0,
        duration: Math.max(0, end - (start ?? 0)),
        decodedFrames: sampler.seen,
        keptFrames: sampler.kept,
        audioCodec,
        audioNote,
      };
      await store.putBlob(setId, VIDEO_META_KEY, encodeVideoMeta(meta)).catch(() => undefined);
      const info = await store.getSet(setId);
      ctx.progress({ done: sampler.kept, total: sampler.kept, kept: sampler.kept });
      return {
        set: info,
        decoded: sampler.seen,
        kept: info.count,
        sourceFps,
        description,
        audioCodec,
        audioNote,
        cancelled,
        stopped,
        decodeSeconds: decodeMs / 1000,
        pngSeconds: pngMs / 1000,
        storeSeconds: storeMs / 1000,
        seconds: (performance.now() - t0) / 1000,
      };
    } catch (e) {
      // A video that turned out unreadable part-way leaves no empty set behind; frames already stored stay.
      if (set && (await store.getSet(set.id).catch(() => null))?.count === 0) await store.deleteSet(set.id).catch(() => undefined);
      if (e instanceof UnsupportedVideoError || e instanceof AbortError) throw e;
      throw new UnsupportedVideoError(name, toUserMessage(e));
    } finally {
      input.dispose();
    }
  },

  async encode(req, ctx) {
    const t0 = performance.now();
    const info = await store.getSet(req.setId);
    const names = await store.frameNames(info.id);
    if (!names.length) throw new FrameSetVideoError(info.name, 'it has no frames to make a video of');
    // A merged set carries its source set's frame rate and audio (the merge helper records sourceSetId).
    const sourceSet = info.sourceSetId ? await store.getSet(info.sourceSetId).catch(() => null) : null;
    const owner = [info, sourceSet].filter((s): s is FrameSetInfo => !!s);
    let audioBytes: Uint8Array | undefined;
    let meta: VideoSourceMeta | null = null;
    for (const s of owner) {
      audioBytes ??= await store.getBlob(s.id, AUDIO_KEY);
      if (!meta) {
        const m = await store.getBlob(s.id, VIDEO_META_KEY);
        if (m) meta = (() => { try { return decodeVideoMeta(m); } catch { return null; } })();
      }
    }
    const { fps, from: fpsFrom } = outputFps(info.fps, sourceSet?.fps);
    const first = await store.getFrame(info.id, names[0]);
    const srcW = info.width || first.width;
    const srcH = info.height || first.height;
    const { width, height } = evenSize(srcW, srcH);
    const bitrate = videoBitrate(width, height, fps);

    const encodable: VideoCodecName[] = [];
    for (const o of VIDEO_OUTPUTS)
      if (typeof VideoEncoder !== 'undefined' && (await canEncodeVideo(o.codec, { width, height, bitrate, frameRate: fps }).catch(() => false)))
        encodable.push(o.codec);
    const choice = chooseVideoOutput(encodable, req.container ?? 'auto');
    if (!choice)
      throw new NoVideoEncoderError(
        typeof VideoEncoder === 'undefined'
          ? 'it has no WebCodecs video encoder'
          : `it can encode none of ${VIDEO_OUTPUTS.filter((o) => req.container === undefined || req.container === 'auto' || o.container === req.container).map((o) => codecLabel(o.codec)).join(', ')} at ${width}×${height}`,
      );

    let audioInput: Input | null = null;
    try {
      let audioTrack: InputAudioTrack | null = null;
      if (audioBytes) {
        audioInput = new Input({ source: new BlobSource(new Blob([audioBytes as Uint8Array<ArrayBuffer>])), formats: FORMATS });
        audioTrack = await audioInput.getPrimaryAudioTrack().catch(() => null);
      }
      const sourceAudio = audioTrack ? { codec: await audioTrack.getCodec(), decodable: await audioTrack.canDecode() } : null;
      const encodableAudio = audioTrack
        ? await getEncodableAudioCodecs(['aac', 'opus'], {
            numberOfChannels: await audioTrack.getNumberOfChannels(),
            sampleRate: await audioTrack.getSampleRate(),
            bitrate: 128_000,
          }).catch(() => [] as AudioCodec[])
        : [];
      let plan = planAudio(choice.container, sourceAudio, encodableAudio);
      if (plan.mode === 'none' && !audioTrack && meta?.audioNote) plan = { mode: 'none', reason: meta.audioNote };

      const output = new Output({
        format: choice.container === 'mp4' ? new Mp4OutputFormat({ fastStart: 'in-memory' }) : new WebMOutputFormat(),
        target: new BufferTarget(),
      });
      const videoSource = new VideoSampleSource({ codec: choice.codec, bitrate, keyFrameInterval: 2, sizeChangeBehavior: 'fill' });
      output.addVideoTrack(videoSource, { frameRate: fps });
      const copySource = plan.mode === 'copy' ? new EncodedAudioPacketSource(plan.codec as AudioCodec) : null;
      const encodeSource = plan.mode === 'encode' ? new AudioSampleSource({ codec: plan.codec as AudioCodec, bitrate: 128_000 }) : null;
      if (copySource) output.addAudioTrack(copySource);
      if (encodeSource) output.addAudioTrack(encodeSource);
      await output.start();
      let next: Promise<StoredFrame> = Promise.resolve(first);
      // Any failure after start (an encoder error, a frame deleted mid-way) closes the output and its encoders.
      try {
        const abortIfAsked = async () => {
          if (!ctx.signal.aborted) return;
          await output.cancel().catch(() => undefined);
          throw new AbortError();
        };

        // Audio first, cut at the video's end (a cancelled decode or a shorter merge has fewer frames).
        const videoEnd = names.length / fps;
        if (audioTrack && copySource) {
          const decoderConfig = (await audioTrack.getDecoderConfig()) ?? undefined;
          let firstPacket = true;
          for await (const p of new EncodedPacketSink(audioTrack).packets()) {
            if (p.timestamp >= videoEnd) break;
            await copySource.add(p, firstPacket && decoderConfig ? { decoderConfig } : undefined);
            firstPacket = false;
          }
          copySource.close();
        } else if (audioTrack && encodeSource) {
          for await (const s of new AudioSampleSink(audioTrack).samples(0, videoEnd)) {
            try {
              await encodeSource.add(s);
            } finally {
              s.close();
            }
          }
          encodeSource.close();
        }
        await abortIfAsked();

        const canvas = new OffscreenCanvas(width, height);
        const c2d = canvas.getContext('2d');
        if (!c2d) throw new FrameSetVideoError(info.name, 'no 2D canvas in this worker to draw frames');
        // The next frame is read from IndexedDB while this one is encoded.
        for (let i = 0; i < names.length; i++) {
          await abortIfAsked();
          const f = await next;
          if (i + 1 < names.length) next = store.getFrame(info.id, names[i + 1]);
          let bmp: ImageBitmap;
          try {
            bmp = await createImageBitmap(new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: f.type }));
          } catch {
            await output.cancel().catch(() => undefined);
            throw new FrameSetVideoError(info.name, `frame ${f.name} is not an image the browser can read`);
          }
          try {
            // Same size as the set: drawn 1:1, so an odd last row/column is cropped (evenSize); another size is scaled.
            if (bmp.width === srcW && bmp.height === srcH) c2d.drawImage(bmp, 0, 0);
            else c2d.drawImage(bmp, 0, 0, width, height);
          } finally {
            bmp.close();
          }
          const sample = new VideoSample(canvas, { timestamp: i / fps, duration: 1 / fps });
          try {
            await videoSource.add(sample);
          } finally {
            sample.close();
          }
          ctx.progress({ done: i + 1, total: names.length });
        }
        videoSource.close();
        await output.finalize();
      } catch (e) {
        next.catch(() => undefined);
        await output.cancel().catch(() => undefined);
        throw e;
      }
      const bytes = output.target.buffer!;
      ctx.transfer(bytes);
      return {
        bytes,
        fileName: outputFileName(info.source ?? meta?.file, info.name, info.kind, choice.container),
        mimeType: CONTAINER_MIME[choice.container],
        container: choice.container,
        videoCodec: choice.codec,
        audio: plan,
        description: describeOutput(choice.container, choice.codec, plan),
        frames: names.length,
        fps,
        fpsFrom,
        width,
        height,
        seconds: (performance.now() - t0) / 1000,
      };
    } finally {
      audioInput?.dispose();
    }
  },
});

/**
 * Container and codec decisions for frames → video (issue 7, "Video out"). Pure: the worker asks the browser what
 * its WebCodecs can encode and passes the answers in, so every rule here is unit-tested without a browser.
 *
 * Codec names are mediabunny's (`avc` = H.264, `aac`, `opus`, …), which are also the names the UI shows after
 * `codecLabel`.
 */

export type Container = 'mp4' | 'webm';
export type VideoCodecName = 'avc' | 'hevc' | 'vp9' | 'av1' | 'vp8' | 'prores';
export type AudioCodecName = string;

/**
 * What we try, best first: H.264 in MP4 plays everywhere (the issue asks for it where the browser can encode it);
 * VP9 then VP8 in WebM are what Chromium builds without an H.264 encoder still have.
 */
export const VIDEO_OUTPUTS: readonly { container: Container; codec: VideoCodecName }[] = [
  { container: 'mp4', codec: 'avc' },
  { container: 'webm', codec: 'vp9' },
  { container: 'webm', codec: 'vp8' },
];

/**
 * The first output whose video codec the browser can encode; `prefer` limits the choice to one container.
 * Null when none can be encoded (no WebCodecs VideoEncoder, or none of the three codecs).
 */
export function chooseVideoOutput(
  encodable: readonly VideoCodecName[],
  prefer: Container | 'auto' = 'auto',
): { container: Container; codec: VideoCodecName } | null {
  for (const o of VIDEO_OUTPUTS) if ((prefer === 'auto' || prefer === o.container) && encodable.includes(o.codec)) return o;
  return null;
}

/**
 * Audio codecs each container carries in a way common players play. MP4 could also hold Vorbis or PCM, but few
 * players read those from MP4, so they are re-encoded instead.
 */
export const CONTAINER_AUDIO: Record<Container, readonly AudioCodecName[]> = {
  mp4: ['aac', 'mp3', 'opus', 'flac', 'ac3', 'eac3'],
  webm: ['opus', 'vorbis'],
};

/** The codec a re-encode targets, best first: AAC is MP4's usual audio; Opus is valid in MP4 and WebM's own. */
const ENCODE_ORDER: Record<Container, readonly AudioCodecName[]> = {
  mp4: ['aac', 'opus'],
  webm: ['opus'],
};

export type AudioPlan =
  | { mode: 'copy'; codec: AudioCodecName }
  | { mode: 'encode'; from: AudioCodecName; codec: AudioCodecName }
  | { mode: 'none'; reason: string };

/**
 * How the source's audio gets into the output: its packets copied as they are when the container carries the codec
 * (no quality loss, no encoder needed), else decoded and re-encoded into the first codec the browser can encode for
 * that container, else left out with the reason.
 */
export function planAudio(
  container: Container,
  source: { codec: AudioCodecName | null; decodable: boolean } | null,
  encodable: readonly AudioCodecName[],
): AudioPlan {
  if (!source) return { mode: 'none', reason: 'the source video has no audio track' };
  if (source.codec && CONTAINER_AUDIO[container].includes(source.codec)) return { mode: 'copy', codec: source.codec };
  const name = source.codec ?? 'an unknown codec';
  if (!source.decodable) return { mode: 'none', reason: `this browser cannot decode the source audio (${codecLabel(name)}) to re-encode it for ${containerLabel(container)}` };
  const target = ENCODE_ORDER[container].find((c) => encodable.includes(c));
  if (!target) return { mode: 'none', reason: `this browser cannot encode ${ENCODE_ORDER[container].map(codecLabel).join(' or ')} audio for ${containerLabel(container)}` };
  return { mode: 'encode', from: name, codec: target };
}

/**
 * H.264 and VP8/VP9 encode 4:2:0 video, whose chroma planes are half size: WebCodecs encoders refuse odd sizes, so
 * the frame is cropped by one pixel on the odd side (what ffmpeg users do with `scale=trunc(iw/2)*2:…`).
 */
export function evenSize(width: number, height: number): { width: number; height: number } {
  return { width: Math.max(2, width - (width % 2)), height: Math.max(2, height - (height % 2)) };
}

/**
 * A bitrate that keeps merged faces sharp: ~0.2 bits per pixel per frame (between YouTube's recommendations for
 * H.264 SDR uploads and lossless), bounded to 1–40 Mbit/s.
 */
export function videoBitrate(width: number, height: number, fps: number): number {
  const bps = width * height * Math.max(1, fps) * 0.2;
  return Math.round(Math.min(40e6, Math.max(1e6, bps)));
}

const CODEC_LABELS: Record<string, string> = {
  avc: 'H.264',
  hevc: 'H.265',
  vp8: 'VP8',
  vp9: 'VP9',
  av1: 'AV1',
  prores: 'ProRes',
  aac: 'AAC',
  opus: 'Opus',
  mp3: 'MP3',
  vorbis: 'Vorbis',
  flac: 'FLAC',
  ac3: 'AC-3',
  eac3: 'E-AC-3',
};

export function codecLabel(codec: string): string {
  return CODEC_LABELS[codec] ?? (codec.startsWith('pcm') || codec === 'ulaw' || codec === 'alaw' ? `PCM (${codec})` : codec);
}

export function containerLabel(c: Container): string {
  return c === 'mp4' ? 'MP4' : 'WebM';
}

export const CONTAINER_MIME: Record<Container, string> = { mp4: 'video/mp4', webm: 'video/webm' };

/** One line for the UI: which container and codecs the made video uses, and what happened to the audio. */
export function describeOutput(container: Container, codec: VideoCodecName, audio: AudioPlan): string {
  const v = `${containerLabel(container)} · ${codecLabel(codec)} video`;
  if (audio.mode === 'copy') return `${v} · ${codecLabel(audio.codec)} audio copied from the source`;
  if (audio.mode === 'encode') return `${v} · ${codecLabel(audio.codec)} audio re-encoded from the source's ${codecLabel(audio.from)}`;
  return `${v} · no audio (${audio.reason})`;
}

/** `clip.mp4` + merged set → `clip_merged.mp4`: the source's stem, so the file lands next to DFL's `result.mp4`. */
export function outputFileName(source: string | undefined, setName: string, kind: 'frames' | 'merged', container: Container): string {
  const base = (source ?? setName).split(/[\\/]/).pop() ?? 'video';
  const stem = base.replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_') || 'video';
  return `${stem}${kind === 'merged' ? '_merged' : '_frames'}.${container}`;
}

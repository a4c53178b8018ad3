/**
 * The checkpoint file: one binary blob holding everything needed to resume training exactly (weights, optimizer
 * slots, options, iteration, loss history, preview sample ids, free-form JSON). It is the page's download format, the
 * unit the checkpoint store splits into chunks, and the command line's model file.
 *
 * Layout (little-endian):
 *   magic "SAEHDBWC" (8 bytes) · u32 format version · u32 header byte length · header (UTF-8 JSON) · zero padding to
 *   a multiple of 8 · tensor data, each tensor at the offset the header names, 8-byte aligned · u32 CRC-32 of every
 *   byte before it.
 * Header entries are weights (group 'w'), optimizer slots ('o') and attachments ('a': raw bytes, `length` in bytes,
 * shape [length]) — the studio's fixed preview faces and an imported DFL model's data.dat (issue 5, issue 4). A file
 * without attachments is byte-for-byte what earlier versions wrote; readers that predate 'a' refuse such a file
 * with a clear message instead of misreading it.
 * The CRC lets an upload that was truncated or damaged be refused before anything is stored.
 */
import { SaehdError } from '../errors.ts';
import { crc32 } from '../formats/crc32.ts';

export const CHECKPOINT_MAGIC = 'SAEHDBWC';
export const CHECKPOINT_FORMAT_VERSION = 1;

export class CheckpointFormatError extends SaehdError {
  constructor(detail: string) {
    super('bad-checkpoint', `not a usable checkpoint: ${detail}`);
  }
}

export interface TensorData {
  shape: number[];
  data: Float32Array;
}

export interface CheckpointContent {
  /** Model options (validated by the model's option schema when loaded). */
  options: Record<string, unknown>;
  optionsSchemaVersion: number;
  iter: number;
  /** [src, dst] loss per iteration, as DFL's loss_history. */
  lossHistory: [number, number][];
  /** Weights keyed `module/dflVariableName`. */
  weights: Map<string, TensorData>;
  /** Optimizer slots keyed as DFL's optimizer files key them (`ms_encoder/...`). */
  optimizer: Map<string, TensorData>;
  /** Anything else that must survive a resume (preview sample ids, merge settings, timers…). */
  extra: Record<string, unknown>;
  /** Opaque byte blobs that travel with the checkpoint (preview faces, an imported DFL data.dat); optional. */
  attachments?: Map<string, Uint8Array>;
}

interface HeaderTensor {
  name: string;
  group: 'w' | 'o' | 'a';
  shape: number[];
  offset: number;
  length: number;
}
interface Header {
  options: Record<string, unknown>;
  optionsSchemaVersion: number;
  iter: number;
  lossHistory: [number, number][];
  extra: Record<string, unknown>;
  tensors: HeaderTensor[];
}


const align8 = (n: number) => (n + 7) & ~7;

export function encodeCheckpoint(c: CheckpointContent): Uint8Array {
  const tensors: HeaderTensor[] = [];
  let offset = 0;
  const add = (group: 'w' | 'o', m: Map<string, TensorData>) => {
    for (const [name, t] of m) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (n !== t.data.length) throw new CheckpointFormatError(`tensor ${name} has ${t.data.length} values for shape [${t.shape}]`);
      tensors.push({ name, group, shape: [...t.shape], offset, length: t.data.length });
      offset = align8(offset + t.data.byteLength);
    }
  };
  add('w', c.weights);
  add('o', c.optimizer);
  const blobs = [...(c.attachments ?? new Map<string, Uint8Array>())];
  for (const [name, b] of blobs) {
    tensors.push({ name, group: 'a', shape: [b.length], offset, length: b.length });
    offset = align8(offset + b.length);
  }
  const header: Header = {
    options: c.options,
    optionsSchemaVersion: c.optionsSchemaVersion,
    iter: c.iter,
    lossHistory: c.lossHistory,
    extra: c.extra,
    tensors,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align8(16 + headerBytes.length);
  const total = dataStart + offset + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = CHECKPOINT_MAGIC.charCodeAt(i);
  view.setUint32(8, CHECKPOINT_FORMAT_VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, 16);
  const all: Uint8Array[] = [...c.weights.values(), ...c.optimizer.values()].map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  for (const [, b] of blobs) all.push(b);
  tensors.forEach((t, i) => out.set(all[i], dataStart + t.offset));
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): CheckpointContent {
  if (bytes.length < 20) throw new CheckpointFormatError('the file is too short');
  for (let i = 0; i < 8; i++)
    if (bytes[i] !== CHECKPOINT_MAGIC.charCodeAt(i)) throw new CheckpointFormatError('it is not a SAEHDBW Web checkpoint file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_FORMAT_VERSION)
    throw new CheckpointFormatError(`format version ${version} is not supported by this version (${CHECKPOINT_FORMAT_VERSION})`);
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored)
    throw new CheckpointFormatError('its checksum does not match (the file is truncated or damaged)');
  const headerLen = view.getUint32(12, true);
  if (16 + headerLen > bytes.length - 4) throw new CheckpointFormatError('its header is longer than the file');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + headerLen)));
  } catch {
    throw new CheckpointFormatError('its header is not valid JSON');
  }
  if (!header || typeof header !== 'object' || !Array.isArray(header.tensors) || !Number.isSafeInteger(header.iter) || header.iter < 0)
    throw new CheckpointFormatError('its header lacks tensors or iteration');
  // The header is untrusted: check every field's type before use, so a hostile file ends in this error and not in a
  // TypeError here or in restoreState.
  const isRecord = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isRecord(header.options) || typeof header.optionsSchemaVersion !== 'number')
    throw new CheckpointFormatError('its header lacks the model options');
  if (header.extra !== undefined && !isRecord(header.extra)) throw new CheckpointFormatError('its header has a malformed extra section');
  if (
    header.lossHistory !== undefined &&
    !(Array.isArray(header.lossHistory) &&
      header.lossHistory.every((r: unknown) => Array.isArray(r) && r.length === 2 && r.every((x) => x === null || typeof x === 'number')))
  )
    throw new CheckpointFormatError('its loss history is malformed');
  const dataStart = align8(16 + headerLen);
  const weights = new Map<string, TensorData>();
  const optimizer = new Map<string, TensorData>();
  const attachments = new Map<string, Uint8Array>();
  // Tensors may not overlap or reuse bytes, so their total size is bounded by the file: a small file cannot make this
  // allocate more than its own size (many header entries pointing at the same data would otherwise multiply it).
  const room = bytes.length - 4 - dataStart;
  let total = 0;
  header.tensors.forEach((t: unknown, i: number) => {
    const e = t as HeaderTensor;
    if (
      !isRecord(t) || typeof e.name !== 'string' || (e.group !== 'w' && e.group !== 'o' && e.group !== 'a') || !Array.isArray(e.shape) ||
      !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || !Number.isSafeInteger(e.offset) || e.offset < 0 ||
      !Number.isSafeInteger(e.length)
    )
      throw new CheckpointFormatError(`tensor entry ${i} of its header is malformed`);
    if (e.group === 'a') {
      const start = dataStart + e.offset;
      total += e.length;
      if (e.length < 0 || e.shape.length !== 1 || e.shape[0] !== e.length || e.offset % 8 !== 0 || start + e.length > bytes.length - 4 || total > room)
        throw new CheckpointFormatError(`attachment ${e.name} lies outside the file`);
      attachments.set(e.name, bytes.slice(start, start + e.length));
      return;
    }
    const n = e.shape.reduce((a, b) => a * b, 1);
    const start = dataStart + e.offset;
    total += 4 * n;
    if (n !== e.length || e.offset % 8 !== 0 || start + 4 * n > bytes.length - 4 || total > room)
      throw new CheckpointFormatError(`tensor ${e.name} lies outside the file`);
    // Copy into an aligned buffer (the input may sit at any byte offset).
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(start, start + 4 * n));
    (e.group === 'o' ? optimizer : weights).set(e.name, { shape: e.shape, data });
  });
  return {
    options: header.options,
    optionsSchemaVersion: header.optionsSchemaVersion,
    iter: header.iter,
    lossHistory: header.lossHistory ?? [],
    extra: header.extra ?? {},
    weights,
    optimizer,
    ...(attachments.size ? { attachments } : {}),
  };
}

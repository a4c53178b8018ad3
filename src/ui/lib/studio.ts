/**
 * The pure parts of the training studio (issue 5; spec §C.10, §I.4): ETA, timers for autosave and autobackup, the
 * backup ring, faceswap's best-loss rule, the key map, loss-graph ranges, the info line and the option form model.
 * No DOM, no tensors: unit-tested in Node (tests/unit/studio.test.ts).
 *
 * Backups live in the same CheckpointStore as the model, under derived ids (documented here, used by models.svelte.ts):
 *   <id>~bk<k>   slot k (0 … K−1) of the autobackup ring (DFL's autobackup_hour), oldest slot overwritten first;
 *   <id>~best    the best-loss backup (faceswap's `.bk` rule), replaced only when a save has lower src AND dst loss.
 * Each is an ordinary model entry (manifest + generations), so it has the same crash safety and can be opened as a
 * model; the model list hides ids containing `~` and shows them as backups of their base model.
 */
import {
  OPTION_SCHEMA,
  archiString,
  normalizeOptions,
  parseBool,
  type ModelOptions,
  type OptionKey,
  type OptionSpec,
} from '../../core/model/options.ts';

// ---- time ----------------------------------------------------------------------------------------------------------

/** Milliseconds left until `targetIter` at `msPerIter`; null when there is no target (0), it is reached, or no rate yet. */
export function etaMs(iter: number, targetIter: number, msPerIter: number | null | undefined): number | null {
  if (!(targetIter > 0) || iter >= targetIter || !msPerIter || !Number.isFinite(msPerIter) || msPerIter <= 0) return null;
  return (targetIter - iter) * msPerIter;
}

/** True when training should stop by itself: a target is set and reached (DFL's target_iter). */
export function targetReached(iter: number, targetIter: number): boolean {
  return targetIter > 0 && iter >= targetIter;
}

/** Iterations to ask the worker for so that it stops at `targetIter` (Infinity-safe: MAX_SAFE_INTEGER without one). */
export function iterationsToTarget(iter: number, targetIter: number): number {
  return targetIter > 0 ? Math.max(0, targetIter - iter) : Number.MAX_SAFE_INTEGER;
}

/** '1d 02:03:04', '02:03:04', '03:04' (DFL's info-line style), '–' for null. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '–';
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const p = (x: number) => String(x).padStart(2, '0');
  const hms = h > 0 || d > 0 ? `${p(h)}:${p(m)}:${p(s)}` : `${p(m)}:${p(s)}`;
  return d > 0 ? `${d}d ${hms}` : hms;
}

/** Samples per second of a step: both sides' batches count (DFL trains src and dst together). */
export function samplesPerSecond(batchSize: number, msPerIter: number | null | undefined): number | null {
  if (!msPerIter || msPerIter <= 0) return null;
  return (2 * batchSize * 1000) / msPerIter;
}

/** Autosave: every `minutes` (0 = off) since the last save (or since training started when never saved). */
export function autosaveDue(lastSaveAt: number, minutes: number, now: number): boolean {
  return minutes > 0 && now - lastSaveAt >= minutes * 60_000;
}

/** Autobackup (DFL's autobackup_hour, 0–24; 0 = off) since the last backup. */
export function backupDue(lastBackupAt: number, hours: number, now: number): boolean {
  return hours > 0 && now - lastBackupAt >= hours * 3_600_000;
}

// ---- backups -------------------------------------------------------------------------------------------------------

export const AUX_SEPARATOR = '~';
export const backupId = (id: string, slot: number): string => `${id}${AUX_SEPARATOR}bk${slot}`;
export const bestId = (id: string): string => `${id}${AUX_SEPARATOR}best`;
export const isAuxId = (id: string): boolean => id.includes(AUX_SEPARATOR);
export const baseIdOf = (id: string): string => id.split(AUX_SEPARATOR)[0];

/** The ring slot the next backup overwrites: the first empty one, else the one saved longest ago. */
export function chooseBackupSlot(slots: ReadonlyArray<{ slot: number; savedAt: number | null }>, k: number): number {
  if (k < 1) throw new RangeError('the backup ring needs at least one slot');
  const bySlot = new Map(slots.filter((s) => s.slot >= 0 && s.slot < k).map((s) => [s.slot, s.savedAt]));
  for (let i = 0; i < k; i++) if (bySlot.get(i) == null) return i;
  let best = 0;
  for (let i = 1; i < k; i++) if ((bySlot.get(i) as number) < (bySlot.get(best) as number)) best = i;
  return best;
}

/** Mean [src, dst] loss of the history entries after `fromIter` (the iterations since the last save); null if none. */
export function meanLossSince(history: ReadonlyArray<readonly [number, number]>, fromIndex: number): [number, number] | null {
  const part = history.slice(Math.max(0, fromIndex));
  if (!part.length) return null;
  let s = 0;
  let d = 0;
  for (const [a, b] of part) {
    s += a;
    d += b;
  }
  return [s / part.length, d / part.length];
}

/**
 * faceswap's backup rule (`.bk` files): a save replaces the best-loss backup only when the mean loss since the last
 * save is lower than the best so far on EVERY side; the first save always sets it.
 */
export function isNewBest(current: readonly [number, number] | null, best: readonly [number, number] | null): boolean {
  if (!current || !current.every(Number.isFinite)) return false;
  if (!best) return true;
  return current[0] < best[0] && current[1] < best[1];
}

// ---- keys ----------------------------------------------------------------------------------------------------------

export type StudioAction = 'save' | 'preview' | 'cycleLoss' | 'backup' | 'saveStop' | 'help';

/** The seed's keys (§I.4), in the order the `?` overlay lists them. */
export const KEY_HELP: ReadonlyArray<{ keys: string; action: StudioAction; what: string }> = [
  { keys: '2 or s', action: 'save', what: 'save the model now' },
  { keys: '3–9 or p', action: 'preview', what: 'refresh the preview' },
  { keys: '1 or l', action: 'cycleLoss', what: 'cycle the loss-graph range (1k / 10k / 100k / all)' },
  { keys: 'b or 0', action: 'backup', what: 'make a backup now' },
  { keys: 'Enter', action: 'saveStop', what: 'save and stop training' },
  { keys: '?', action: 'help', what: 'show or hide this list' },
];

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** Tag name of the event target (INPUT, TEXTAREA, SELECT, BUTTON…). */
  targetTag?: string;
  /** The target is contenteditable. */
  editable?: boolean;
}

/** The action of a key press, or null (also null while typing in a form field, or with a modifier). */
export function keyAction(e: KeyLike): StudioAction | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  const tag = (e.targetTag ?? '').toUpperCase();
  if (e.editable || tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') return null;
  const k = e.key;
  if (k === 'Enter') return tag === 'BUTTON' || tag === 'A' || tag === 'SUMMARY' ? null : 'saveStop';
  if (k === '?') return 'help';
  const l = k.toLowerCase();
  if (l === '2' || l === 's') return 'save';
  if (/^[3-9]$/.test(l) || l === 'p') return 'preview';
  if (l === '1' || l === 'l') return 'cycleLoss';
  if (l === 'b' || l === '0') return 'backup';
  return null;
}

// ---- loss graph ----------------------------------------------------------------------------------------------------

/** Last 1k / 10k / 100k iterations, 0 = all. */
export const LOSS_RANGES = [1000, 10_000, 100_000, 0] as const;
export type LossRange = (typeof LOSS_RANGES)[number];
export const lossRangeLabel = (r: LossRange): string => (r === 0 ? 'all' : `last ${r / 1000}k`);
export function nextLossRange(r: LossRange): LossRange {
  return LOSS_RANGES[(LOSS_RANGES.indexOf(r) + 1) % LOSS_RANGES.length];
}

/**
 * The columns uPlot draws for a range: x = iteration (1-based, history[i] is iteration i+1), src, dst. Long ranges are
 * thinned to at most `maxPoints` by averaging buckets, so the graph stays fast over days of history.
 */
export function lossSeries(history: ReadonlyArray<readonly [number, number]>, range: LossRange, maxPoints = 2000): [number[], number[], number[]] {
  const start = range === 0 ? 0 : Math.max(0, history.length - range);
  const n = history.length - start;
  const step = Math.max(1, Math.ceil(n / maxPoints));
  const xs: number[] = [];
  const ss: number[] = [];
  const ds: number[] = [];
  for (let i = start; i < history.length; i += step) {
    const end = Math.min(history.length, i + step);
    let s = 0;
    let d = 0;
    for (let j = i; j < end; j++) {
      s += history[j][0];
      d += history[j][1];
    }
    xs.push(end);
    ss.push(s / (end - i));
    ds.push(d / (end - i));
  }
  return [xs, ss, ds];
}

// ---- info line -----------------------------------------------------------------------------------------------------

/**
 * The seed's info line (§I.4: `" B:<batch> <archi> <face_type> R:<res> AEDM[<ae>|<e>|<d>|<m>] Prе:<0|1>"`, with the
 * seed's Cyrillic е in "Prе"), prefixed by the model type and followed by the channel count.
 */
export function infoLine(o: ModelOptions): string {
  const type = o.channels === 1 ? 'SAEHDBW' : 'SAEHD';
  return `${type} B:${o.batch_size} ${o.archi} ${o.face_type} R:${o.resolution} AEDM[${o.ae_dims}|${o.e_dims}|${o.d_dims}|${o.d_mask_dims}] Pr\u0435:${o.pretrain ? 1 : 0} C:${o.channels}`;
}

/** DFL's preview-history period (§C.10): every 10·max(1, res // 64) iterations. */
export function previewHistoryPeriod(resolution: number): number {
  return 10 * Math.max(1, Math.floor(resolution / 64));
}

/** The model's summary for the store's manifest (shown by the model list without loading the checkpoint). */
export function modelSummary(o: ModelOptions, params: number | null): Record<string, unknown> {
  return { archi: archiString(o), params, info: infoLine(o) };
}

// ---- option form model ---------------------------------------------------------------------------------------------

export interface OptionField {
  spec: OptionSpec;
  key: OptionKey;
  /** The value as the form shows it (a string: y/n for booleans). */
  value: string;
  /** Fixed at creation and resuming: shown, not editable. */
  locked: boolean;
  /** false when the option does not apply to the other values (relevantWhen). */
  relevant: boolean;
}

/** A value as the form shows it. */
export function showValue(spec: OptionSpec, v: unknown): string {
  if (spec.type === 'bool') return v ? 'y' : 'n';
  return String(v);
}

/** The default of one option given the values before it (schema order). */
export function defaultOf(spec: OptionSpec, o: Partial<ModelOptions>): number | boolean | string {
  return typeof spec.default === 'function' ? spec.default(o) : spec.default;
}

/** One field per schema option, filled from `values`; fixed-at-creation options locked when `resuming`. */
export function optionFields(values: ModelOptions, resuming: boolean): OptionField[] {
  return OPTION_SCHEMA.map((spec) => ({
    spec,
    key: spec.key,
    value: showValue(spec, values[spec.key]),
    locked: resuming && spec.fixedAtCreation,
    relevant: spec.relevantWhen ? spec.relevantWhen(values) : true,
  }));
}

/** Form strings → loose option values (booleans through parseBool, so 1/0 work as y/n). Throws OptionError. */
export function parseFormValues(raw: Readonly<Record<string, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of OPTION_SCHEMA) {
    const v = raw[spec.key];
    if (v === undefined || v.trim() === '') continue;
    out[spec.key] = spec.type === 'bool' ? parseBool(v, spec.key) : v.trim();
  }
  return out;
}

export type FormPresetId = 'default' | 'seed2GB' | 'quickTest' | 'tiny';

/**
 * Options for a new model from the form. DFL's rules apply (clamping, rounding), except for the 'tiny' test preset
 * whose fixed-at-creation values lie below DFL's minimums on purpose (they are kept; the rest is normalised).
 * When `stored` is given (resume), fixed options come from it and the others from the form.
 */
export function formOptions(raw: Readonly<Record<string, string>>, settings: { tiny?: ModelOptions; stored?: ModelOptions } = {}): { options: ModelOptions; notes: string[] } {
  const values = parseFormValues(raw);
  if (settings.stored) {
    const free: Record<string, unknown> = {};
    for (const spec of OPTION_SCHEMA) if (!spec.fixedAtCreation && spec.key in values) free[spec.key] = values[spec.key];
    const r = normalizeOptions(free, { base: settings.stored });
    return { options: r.options, notes: r.changes };
  }
  if (settings.tiny) {
    const fixed: Record<string, unknown> = {};
    const free: Record<string, unknown> = {};
    for (const spec of OPTION_SCHEMA) if (spec.key in values) (spec.fixedAtCreation ? fixed : free)[spec.key] = values[spec.key];
    const base = { ...settings.tiny } as Record<string, unknown>;
    for (const [k, v] of Object.entries(fixed)) base[k] = typeof settings.tiny[k as OptionKey] === 'number' ? Number(v) : v;
    const r = normalizeOptions(free, { base: base as unknown as ModelOptions });
    return { options: r.options, notes: r.changes };
  }
  const r = normalizeOptions(values);
  return { options: r.options, notes: r.changes };
}

/** A model id: time-ordered and unique enough for one browser. */
export function newModelId(now = Date.now(), rnd = Math.random()): string {
  return `m${now.toString(36)}${Math.floor(rnd * 36 ** 4).toString(36).padStart(4, '0')}`;
}

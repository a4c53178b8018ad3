/**
 * Histogram matching (`channel_hist_match` / `color_hist_match`, spec §E.8), used by the merge modes `hist-match` and
 * `seamless-hist-match`. Works for any channel count: the first three channels are matched, further ones copied (as
 * DFL does); a one-channel image gets the plain `channel_hist_match` the spec asks for instead of BW's broken
 * `bw_hist_match` (§E.9).
 */
import type { FloatImage } from '../image/rawImage.ts';
import { interp1 } from './idt.ts';

interface UniqueCounts {
  values: Float64Array;
  /** Cumulative counts (quantiles before scaling). */
  cum: Float64Array;
}

/** Sorted unique values of one channel and their cumulative counts (`np.unique(…, return_counts=True)` + cumsum). */
function uniqueCumulative(data: Float32Array, C: number, c: number, P: number, buf: Float32Array): UniqueCounts {
  for (let i = 0; i < P; i++) buf[i] = data[i * C + c];
  buf.sort();
  let u = 0;
  for (let i = 0; i < P; i++) if (i === 0 || buf[i] !== buf[i - 1]) u++;
  const values = new Float64Array(u), cum = new Float64Array(u);
  let k = -1;
  for (let i = 0; i < P; i++) {
    if (i === 0 || buf[i] !== buf[i - 1]) values[++k] = buf[i];
    cum[k] = i + 1;
  }
  return { values, cum };
}

/** Index of `v` in the sorted unique `values` (it is present). */
function indexOf(values: Float64Array, v: number): number {
  let lo = 0, hi = values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Match channel `c` of `source` to channel `c` of `template` (spec §E.8): source quantiles = cumulative counts scaled
 * to `threshold` (0–255), template quantiles scaled to 255; each source value maps to the template value at the same
 * quantile by linear interpolation. Writes into `out` (same layout as source).
 */
export function channelHistMatch(source: FloatImage, template: FloatImage, c: number, threshold: number, out: Float32Array): void {
  const P = source.width * source.height, Q = template.width * template.height;
  const buf = new Float32Array(Math.max(P, Q));
  const s = uniqueCumulative(source.data, source.channels, c, P, buf);
  const t = uniqueCumulative(template.data, template.channels, c, Q, buf);
  const sTotal = s.cum[s.cum.length - 1], tTotal = t.cum[t.cum.length - 1];
  const tq = new Float64Array(t.cum.length);
  for (let i = 0; i < tq.length; i++) tq[i] = (255 * t.cum[i]) / tTotal;
  const mapped = new Float32Array(s.values.length);
  for (let i = 0; i < mapped.length; i++) {
    const q = (threshold * s.cum[i]) / sTotal;
    mapped[i] = interp1(q, tq, t.values, t.values[0], t.values[t.values.length - 1]);
  }
  const C = source.channels;
  for (let i = 0; i < P; i++) out[i * C + c] = mapped[indexOf(s.values, source.data[i * C + c])];
}

/** `color_hist_match(src, tmpl, threshold)` (spec §E.8): channels 0–2 matched, the rest copied. Not clipped. */
export function colorHistMatch(source: FloatImage, template: FloatImage, threshold = 255): FloatImage {
  if (source.channels !== template.channels) throw new RangeError('hist-match: channel counts differ');
  const out = source.data.slice();
  const n = Math.min(3, source.channels);
  for (let c = 0; c < n; c++) channelHistMatch(source, template, c, threshold, out);
  return { width: source.width, height: source.height, channels: source.channels, data: out };
}

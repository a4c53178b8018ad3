/**
 * Convex hull and polygon filling in the spirit of cv2.convexHull / cv2.fillConvexPoly / cv2.fillPoly (shift 0,
 * 8-connected edges): vertices are integer pixels, edges are drawn as OpenCV's line iterator steps them, and each
 * row is filled between its leftmost and rightmost edge pixel (matches cv2.fillConvexPoly pixel for pixel on the
 * polygons we compared, apart from rare single pixels; spec §D.5 only needs masks).
 */

/** Convex hull (Andrew's monotone chain) of points [x0, y0, x1, y1, …]; counter-clockwise in y-down image space. */
export function convexHull(points: ArrayLike<number>): number[] {
  const n = points.length >> 1;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => points[2 * a] - points[2 * b] || points[2 * a + 1] - points[2 * b + 1]);
  if (n < 3) return idx.flatMap((i) => [points[2 * i], points[2 * i + 1]]);
  const cross = (o: number, a: number, b: number) =>
    (points[2 * a] - points[2 * o]) * (points[2 * b + 1] - points[2 * o + 1]) -
    (points[2 * a + 1] - points[2 * o + 1]) * (points[2 * b] - points[2 * o]);
  const lower: number[] = [];
  for (const i of idx) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], i) <= 0) lower.pop();
    lower.push(i);
  }
  const upper: number[] = [];
  for (let k = idx.length - 1; k >= 0; k--) {
    const i = idx[k];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], i) <= 0) upper.pop();
    upper.push(i);
  }
  upper.pop();
  lower.pop();
  const hull = lower.concat(upper);
  return hull.flatMap((i) => [points[2 * i], points[2 * i + 1]]);
}

/**
 * Record, per row, the leftmost and rightmost pixel of the 8-connected segment (x0,y0)–(x1,y1), stepped the way
 * OpenCV's line iterator does it: from the left end, one pixel per step of the major axis, the minor coordinate
 * rounded to nearest with exact halves rounded back towards the starting point.
 */
function edgeSpans(x0: number, y0: number, x1: number, y1: number, h: number, lo: Int32Array, hi: Int32Array): void {
  if (x1 < x0) {
    let t = x0;
    x0 = x1;
    x1 = t;
    t = y0;
    y0 = y1;
    y1 = t;
  }
  const put = (x: number, y: number) => {
    if (y < 0 || y >= h) return;
    if (x < lo[y]) lo[y] = x;
    if (x > hi[y]) hi[y] = x;
  };
  const dx = x1 - x0;
  const dy = Math.abs(y1 - y0);
  const sy = y1 >= y0 ? 1 : -1;
  if (dy > dx) {
    for (let j = 0; j <= dy; j++) put(x0 + Math.floor((2 * j * dx + dy - 1) / (2 * dy)), y0 + sy * j);
  } else if (dx === 0) {
    put(x0, y0);
  } else {
    for (let j = 0; j <= dx; j++) put(x0 + j, y0 + sy * Math.floor((2 * j * dy + dx - 1) / (2 * dx)));
  }
}

/**
 * The scan-line part of cv2.fillConvexPoly: each edge, walked from its upper end in 16-bit fixed point with a
 * rounded per-row step, contributes round-half-up(x) to the rows [y_top, y_bottom).
 */
function edgeFill(x0: number, y0: number, x1: number, y1: number, h: number, lo: Int32Array, hi: Int32Array): void {
  if (y0 === y1) return;
  if (y1 < y0) {
    let t = x0;
    x0 = x1;
    x1 = t;
    t = y0;
    y0 = y1;
    y1 = t;
  }
  const ONE = 65536;
  const dy = y1 - y0;
  const dxFix = Math.trunc((2 * (x1 - x0) * ONE + dy) / (2 * dy));
  for (let y = Math.max(y0, 0); y < y1 && y < h; y++) {
    const x = Math.floor((x0 * ONE + (y - y0) * dxFix + ONE / 2) / ONE);
    if (x < lo[y]) lo[y] = x;
    if (x > hi[y]) hi[y] = x;
  }
}

/**
 * Fill a convex polygon (vertices rounded to integer pixels) into a 1-channel buffer of size w×h with `value`.
 * `data` may be a Float32Array or a Uint8Array.
 */
export function fillConvexPoly(data: Float32Array | Uint8Array, w: number, h: number, pts: ArrayLike<number>, value = 1): void {
  const n = pts.length >> 1;
  if (n === 0) return;
  const lo = new Int32Array(h).fill(0x7fffffff);
  const hi = new Int32Array(h).fill(-0x80000000);
  let ymin = h, ymax = -1;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const x0 = Math.round(pts[2 * i]), y0 = Math.round(pts[2 * i + 1]);
    const x1 = Math.round(pts[2 * j]), y1 = Math.round(pts[2 * j + 1]);
    edgeSpans(x0, y0, x1, y1, h, lo, hi);
    edgeFill(x0, y0, x1, y1, h, lo, hi);
    ymin = Math.min(ymin, y0);
    ymax = Math.max(ymax, y0);
  }
  ymin = Math.max(0, ymin);
  ymax = Math.min(h - 1, ymax);
  for (let y = ymin; y <= ymax; y++) {
    if (hi[y] < lo[y]) continue;
    const a = Math.max(0, lo[y]);
    const b = Math.min(w - 1, hi[y]);
    const row = y * w;
    for (let x = a; x <= b; x++) data[row + x] = value;
  }
}

/**
 * Fill a possibly non-convex polygon (even-odd rule at pixel centres) plus its 8-connected outline, like
 * cv2.fillPoly with shift 0 for simple polygons (used for XSeg editor polygons).
 */
export function fillPoly(data: Float32Array | Uint8Array, w: number, h: number, pts: ArrayLike<number>, value = 1): void {
  const n = pts.length >> 1;
  if (n < 3) return fillConvexPoly(data, w, h, pts, value);
  const xs: number[] = [];
  for (let y = 0; y < h; y++) {
    xs.length = 0;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const xa = Math.round(pts[2 * i]), ya = Math.round(pts[2 * i + 1]);
      const xb = Math.round(pts[2 * j]), yb = Math.round(pts[2 * j + 1]);
      if ((ya <= y && yb > y) || (yb <= y && ya > y)) xs.push(xa + ((y - ya) * (xb - xa)) / (yb - ya));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const a = Math.max(0, Math.ceil(xs[k] - 0.5));
      const b = Math.min(w - 1, Math.floor(xs[k + 1] + 0.5));
      for (let x = a; x <= b; x++) data[y * w + x] = value;
    }
  }
  // outline
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const lo = new Int32Array(h).fill(0x7fffffff);
    const hi = new Int32Array(h).fill(-0x80000000);
    edgeSpans(Math.round(pts[2 * i]), Math.round(pts[2 * i + 1]), Math.round(pts[2 * j]), Math.round(pts[2 * j + 1]), h, lo, hi);
    for (let y = 0; y < h; y++) {
      if (hi[y] < lo[y]) continue;
      for (let x = Math.max(0, lo[y]); x <= Math.min(w - 1, hi[y]); x++) data[y * w + x] = value;
    }
  }
}

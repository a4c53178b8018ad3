/**
 * Head pose from 68 aligned landmarks for uniform-yaw sampling (spec §H.5, §D.6): a perspective-n-point fit of a
 * generic 3-D face (33 points: indices 0…26 and 30…35) to the same landmarks, camera focal length = image size,
 * principal point at the centre, no distortion; then OpenCV's rotation-matrix → Euler convention, clipped to ±π/2,
 * returned as (pitch, yaw, roll) = (−x, y, z).
 *
 * OpenCV's iterative solvePnP (DLT start + Levenberg–Marquardt) is replaced by Levenberg–Marquardt started from the
 * frontal pose, which reaches the same minimum for the face poses an aligned crop shows (the spec allows any
 * reasonable yaw estimator: yaw only selects one of 128 bins).
 */

/** 3-D model points (x, y, z) for landmark indices 0…26 then 30…35 (spec §H.5 table). */
export const FACE_MODEL_3D = Float64Array.of(
  -73.393523, -29.801432, 47.667532, -72.775014, -10.949766, 45.909403, -70.533638, 7.929818, 44.84258,
  -66.850058, 26.07428, 43.141114, -59.790187, 42.56439, 38.635298, -48.368973, 56.48108, 30.750622,
  -34.121101, 67.246992, 18.456453, -17.875411, 75.056892, 3.609035, 0.098749, 77.061286, -0.881698,
  17.477031, 74.758448, 5.181201, 32.648966, 66.929021, 19.176563, 46.372358, 56.311389, 30.77057,
  57.34348, 42.419126, 37.628629, 64.388482, 25.45588, 40.886309, 68.212038, 6.990805, 42.281449,
  70.486405, -11.666193, 44.142567, 71.375822, -30.365191, 47.140426, // 0-16
  -61.119406, -49.361602, 14.254422, -51.287588, -58.769795, 7.268147, -37.8048, -61.996155, 0.442051,
  -24.022754, -61.033399, -6.606501, -11.635713, -56.686759, -11.967398, // 17-21
  12.056636, -57.391033, -12.051204, 25.106256, -61.902186, -7.315098, 38.338588, -62.777713, -1.022953,
  51.191007, -59.302347, 5.349435, 60.053851, -50.190255, 11.615746, // 22-26
  1.226783, -8.414541, -36.94806, -14.772472, 2.598255, -20.132003, -7.180239, 4.751589, -23.536684,
  0.55592, 6.5629, -25.944448, 8.272499, 4.661005, -23.695741, 15.214351, 2.643046, -20.858157, // 30-35
);

/** The landmark index of each model point. */
export const FACE_MODEL_INDICES: readonly number[] = [...Array.from({ length: 27 }, (_, i) => i), 30, 31, 32, 33, 34, 35];

/** Rodrigues vector → row-major 3×3 rotation matrix. */
export function rodrigues(rx: number, ry: number, rz: number, out: Float64Array = new Float64Array(9)): Float64Array {
  const th = Math.hypot(rx, ry, rz);
  if (th < 1e-12) {
    out.set([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    return out;
  }
  const kx = rx / th, ky = ry / th, kz = rz / th;
  const c = Math.cos(th), s = Math.sin(th), v = 1 - c;
  out[0] = c + kx * kx * v;
  out[1] = kx * ky * v - kz * s;
  out[2] = kx * kz * v + ky * s;
  out[3] = ky * kx * v + kz * s;
  out[4] = c + ky * ky * v;
  out[5] = ky * kz * v - kx * s;
  out[6] = kz * kx * v - ky * s;
  out[7] = kz * ky * v + kx * s;
  out[8] = c + kz * kz * v;
  return out;
}

/** Project the model with pose p = [rx, ry, rz, tx, ty, tz] into `out` (2 per point). */
function project(p: ArrayLike<number>, f: number, c: number, out: Float64Array, R: Float64Array): void {
  rodrigues(p[0], p[1], p[2], R);
  const n = FACE_MODEL_3D.length / 3;
  for (let i = 0; i < n; i++) {
    const X = FACE_MODEL_3D[3 * i], Y = FACE_MODEL_3D[3 * i + 1], Z = FACE_MODEL_3D[3 * i + 2];
    const xc = R[0] * X + R[1] * Y + R[2] * Z + p[3];
    const yc = R[3] * X + R[4] * Y + R[5] * Z + p[4];
    let zc = R[6] * X + R[7] * Y + R[8] * Z + p[5];
    if (zc < 1e-6) zc = 1e-6;
    out[2 * i] = (f * xc) / zc + c;
    out[2 * i + 1] = (f * yc) / zc + c;
  }
}

/** Solve the 6×6 system A·x = b in place (Gaussian elimination with partial pivoting). */
function solve6(A: Float64Array, b: Float64Array): boolean {
  const n = 6;
  for (let k = 0; k < n; k++) {
    let piv = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(A[i * n + k]) > Math.abs(A[piv * n + k])) piv = i;
    if (Math.abs(A[piv * n + k]) < 1e-300) return false;
    if (piv !== k) {
      for (let j = 0; j < n; j++) {
        const t = A[k * n + j];
        A[k * n + j] = A[piv * n + j];
        A[piv * n + j] = t;
      }
      const t = b[k];
      b[k] = b[piv];
      b[piv] = t;
    }
    for (let i = k + 1; i < n; i++) {
      const m = A[i * n + k] / A[k * n + k];
      for (let j = k; j < n; j++) A[i * n + j] -= m * A[k * n + j];
      b[i] -= m * b[k];
    }
  }
  for (let k = n - 1; k >= 0; k--) {
    let s = b[k];
    for (let j = k + 1; j < n; j++) s -= A[k * n + j] * b[j];
    b[k] = s / A[k * n + k];
  }
  return true;
}

/**
 * Fit the pose (rotation vector + translation) of the 3-D model to the landmarks by Levenberg–Marquardt on the
 * reprojection error. Returns [rx, ry, rz, tx, ty, tz].
 */
export function solveFacePnP(landmarks: ArrayLike<number>, size: number): Float64Array {
  const n = FACE_MODEL_INDICES.length;
  const obs = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const k = FACE_MODEL_INDICES[i];
    obs[2 * i] = landmarks[2 * k];
    obs[2 * i + 1] = landmarks[2 * k + 1];
  }
  const f = size, c = size / 2;
  // Frontal start: scale from the spread of the points, translation from their centroid.
  let ox = 0, oy = 0, mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    ox += obs[2 * i];
    oy += obs[2 * i + 1];
    mx += FACE_MODEL_3D[3 * i];
    my += FACE_MODEL_3D[3 * i + 1];
  }
  ox /= n;
  oy /= n;
  mx /= n;
  my /= n;
  let so = 0, sm = 0;
  for (let i = 0; i < n; i++) {
    so += Math.hypot(obs[2 * i] - ox, obs[2 * i + 1] - oy);
    sm += Math.hypot(FACE_MODEL_3D[3 * i] - mx, FACE_MODEL_3D[3 * i + 1] - my);
  }
  const tz = so > 0 ? (f * sm) / so : 10 * f;
  const p = Float64Array.of(0, 0, 0, ((ox - c) * tz) / f - mx, ((oy - c) * tz) / f - my, tz);

  const R = new Float64Array(9);
  const proj = new Float64Array(2 * n);
  const projD = new Float64Array(2 * n);
  const J = new Float64Array(2 * n * 6);
  const A = new Float64Array(36);
  const g = new Float64Array(6);
  const trial = new Float64Array(6);
  const cost = (q: ArrayLike<number>): number => {
    project(q, f, c, proj, R);
    let s = 0;
    for (let i = 0; i < 2 * n; i++) {
      const d = proj[i] - obs[i];
      s += d * d;
    }
    return s;
  };
  let err = cost(p);
  let lambda = 1e-3;
  for (let it = 0; it < 100; it++) {
    // numeric Jacobian (central differences)
    const base = proj.slice();
    for (let k = 0; k < 6; k++) {
      const h = k < 3 ? 1e-6 : 1e-4 * Math.max(1, Math.abs(p[k]));
      const keep = p[k];
      p[k] = keep + h;
      project(p, f, c, projD, R);
      p[k] = keep - h;
      project(p, f, c, proj, R);
      p[k] = keep;
      for (let i = 0; i < 2 * n; i++) J[i * 6 + k] = (projD[i] - proj[i]) / (2 * h);
    }
    // normal equations
    A.fill(0);
    g.fill(0);
    for (let i = 0; i < 2 * n; i++) {
      const r = base[i] - obs[i];
      for (let a = 0; a < 6; a++) {
        const ja = J[i * 6 + a];
        g[a] -= ja * r;
        for (let b = 0; b <= a; b++) A[a * 6 + b] += ja * J[i * 6 + b];
      }
    }
    for (let a = 0; a < 6; a++) for (let b = 0; b < a; b++) A[b * 6 + a] = A[a * 6 + b];
    let improved = false;
    for (let tries = 0; tries < 10 && !improved; tries++) {
      const Ad = A.slice();
      const step = g.slice();
      for (let a = 0; a < 6; a++) Ad[a * 6 + a] *= 1 + lambda;
      if (!solve6(Ad, step)) {
        lambda *= 10;
        continue;
      }
      for (let a = 0; a < 6; a++) trial[a] = p[a] + step[a];
      const e = cost(trial);
      if (e < err) {
        const gain = err - e;
        p.set(trial);
        err = e;
        lambda = Math.max(lambda / 10, 1e-12);
        improved = true;
        if (gain < 1e-12 * (1 + err)) return p;
      } else lambda *= 10;
    }
    if (!improved) break;
  }
  return p;
}

/**
 * `estimate_pitch_yaw_roll(aligned landmarks, size)` (spec §H.5): (pitch, yaw, roll) in radians, each clipped to
 * ±π/2. `size` is the aligned image width.
 */
export function estimatePitchYawRoll(landmarks: ArrayLike<number>, size: number): { pitch: number; yaw: number; roll: number } {
  const p = solveFacePnP(landmarks, size);
  const R = rodrigues(p[0], p[1], p[2]);
  const sy = Math.hypot(R[0], R[3]);
  let x: number, y: number, z: number;
  if (sy >= 1e-6) {
    x = Math.atan2(R[7], R[8]);
    y = Math.atan2(-R[6], sy);
    z = Math.atan2(R[3], R[0]);
  } else {
    x = Math.atan2(-R[5], R[4]);
    y = Math.atan2(-R[6], sy);
    z = 0;
  }
  const h = Math.PI / 2;
  const clip = (v: number) => (v < -h ? -h : v > h ? h : v);
  return { pitch: -clip(x), yaw: clip(y), roll: clip(z) };
}

/** Number of yaw bins for uniform-yaw sampling (spec §D.6). */
export const YAW_BINS = 128;

/**
 * DFL's yaw bin of a sample (spec §D.6): the bin edges are linspace(−1.2, 1.2, 128); `v` = −yaw; bin 0 takes
 * everything below the second edge, bin g (1 ≤ g ≤ 126) takes [edge_g, edge_{g+1}), bin 127 takes v ≥ 1.2.
 */
export function yawBin(yaw: number): number {
  const v = -yaw;
  const step = 2.4 / (YAW_BINS - 1);
  const edge = (g: number) => -1.2 + g * step;
  if (v < edge(1)) return 0;
  if (v >= 1.2) return YAW_BINS - 1;
  let g = Math.floor((v + 1.2) / step);
  // guard the floating-point boundary so the half-open intervals are respected exactly
  if (g > YAW_BINS - 2) g = YAW_BINS - 2;
  while (g > 1 && v < edge(g)) g--;
  while (g < YAW_BINS - 2 && v >= edge(g + 1)) g++;
  return g;
}

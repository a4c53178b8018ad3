/**
 * RCT — Reinhard colour transfer in Lab (`reinhard_color_transfer`, spec §E.4), with OpenCV's float Lab conversion
 * (`cv2.cvtColor(…, COLOR_BGR2LAB / COLOR_LAB2BGR)` on float32 images: sRGB gamma, D65 white, L ∈ [0,100],
 * a, b ∈ about [−127,127]). Colour (3-channel) images only (spec §E.9).
 */
import type { FloatImage } from '../image/rawImage.ts';

export type ChannelOrder = 'bgr' | 'rgb';

// OpenCV's sRGB → XYZ (D65) matrix and white point (imgproc/color_lab.cpp).
const D65 = [0.950456, 1, 1.088754];
const RGB2XYZ = [0.412453, 0.35758, 0.180423, 0.212671, 0.71516, 0.072169, 0.019334, 0.119193, 0.950227];
const XYZ2RGB = [3.240479, -1.53715, -0.498535, -0.969256, 1.875991, 0.041556, 0.055648, -0.204043, 1.057311];
const LAB_T = 0.008856;
const LAB_K = 903.3;
const F16_116 = 16 / 116;
const L_THRESH = LAB_T * LAB_K; // 7.9996
const F_THRESH = 7.787 * LAB_T + F16_116; // 0.2069

function gammaToLinear(x: number): number {
  x = x < 0 ? 0 : x > 1 ? 1 : x;
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}
function linearToGamma(x: number): number {
  return x <= 0.0031308 ? 12.92 * x : 1.055 * Math.pow(x, 1 / 2.4) - 0.055;
}
function labF(t: number): number {
  return t > LAB_T ? Math.cbrt(t) : 7.787 * t + F16_116;
}

/** Convert a 3-channel [0,1] image (channel order `order`) to interleaved L, a, b (OpenCV float Lab). */
export function toLab(img: FloatImage, order: ChannelOrder = 'bgr'): Float32Array {
  if (img.channels !== 3) throw new RangeError('Lab conversion needs a 3-channel image');
  const P = img.width * img.height;
  const s = img.data;
  const out = new Float32Array(P * 3);
  const ri = order === 'bgr' ? 2 : 0, bi = order === 'bgr' ? 0 : 2;
  for (let i = 0; i < P; i++) {
    const o = 3 * i;
    const r = gammaToLinear(s[o + ri]), g = gammaToLinear(s[o + 1]), b = gammaToLinear(s[o + bi]);
    const X = (RGB2XYZ[0] * r + RGB2XYZ[1] * g + RGB2XYZ[2] * b) / D65[0];
    const Y = RGB2XYZ[3] * r + RGB2XYZ[4] * g + RGB2XYZ[5] * b;
    const Z = (RGB2XYZ[6] * r + RGB2XYZ[7] * g + RGB2XYZ[8] * b) / D65[2];
    const fx = labF(X), fy = labF(Y), fz = labF(Z);
    out[o] = Y > LAB_T ? 116 * fy - 16 : LAB_K * Y;
    out[o + 1] = 500 * (fx - fy);
    out[o + 2] = 200 * (fy - fz);
  }
  return out;
}

/** Convert interleaved L, a, b back to a [0,1] image in channel order `order` (OpenCV clips RGB to [0,1]). */
export function fromLab(lab: Float32Array, width: number, height: number, order: ChannelOrder = 'bgr'): FloatImage {
  const P = width * height;
  const out = new Float32Array(P * 3);
  const ri = order === 'bgr' ? 2 : 0, bi = order === 'bgr' ? 0 : 2;
  for (let i = 0; i < P; i++) {
    const o = 3 * i;
    const L = lab[o], a = lab[o + 1], b = lab[o + 2];
    let y: number, fy: number;
    if (L <= L_THRESH) {
      y = L / LAB_K;
      fy = 7.787 * y + F16_116;
    } else {
      fy = (L + 16) / 116;
      y = fy * fy * fy;
    }
    let fx = a / 500 + fy, fz = fy - b / 200;
    fx = fx <= F_THRESH ? (fx - F16_116) / 7.787 : fx * fx * fx;
    fz = fz <= F_THRESH ? (fz - F16_116) / 7.787 : fz * fz * fz;
    const X = fx * D65[0], Z = fz * D65[2];
    let r = XYZ2RGB[0] * X + XYZ2RGB[1] * y + XYZ2RGB[2] * Z;
    let g = XYZ2RGB[3] * X + XYZ2RGB[4] * y + XYZ2RGB[5] * Z;
    let bb = XYZ2RGB[6] * X + XYZ2RGB[7] * y + XYZ2RGB[8] * Z;
    r = r < 0 ? 0 : r > 1 ? 1 : r;
    g = g < 0 ? 0 : g > 1 ? 1 : g;
    bb = bb < 0 ? 0 : bb > 1 ? 1 : bb;
    out[o + ri] = linearToGamma(r);
    out[o + 1] = linearToGamma(g);
    out[o + bi] = linearToGamma(bb);
  }
  return { width, height, channels: 3, data: out };
}

export interface RctOptions {
  order?: ChannelOrder;
  /** Pixels where this mask is < `maskCutoff` count as Lab (0,0,0) in the target's statistics (spec §E.4). */
  targetMask?: FloatImage | null;
  /** The same for the reference. */
  referenceMask?: FloatImage | null;
  /** Default 0.5. */
  maskCutoff?: number;
}

/** Per-channel mean and population std of interleaved Lab, masked-out pixels counted as zeros (spec §E.4, J.4 #10). */
function labStats(lab: Float32Array, P: number, mask: FloatImage | null | undefined, cutoff: number): Float64Array {
  if (mask && mask.width * mask.height !== P) throw new RangeError('RCT: mask size differs from the image');
  const md = mask?.data, mC = mask?.channels ?? 1;
  const sum = new Float64Array(3), sq = new Float64Array(3);
  for (let i = 0; i < P; i++) {
    if (md && md[i * mC] < cutoff) continue; // a zero: adds nothing to the sums but counts in P
    for (let c = 0; c < 3; c++) {
      const v = lab[3 * i + c];
      sum[c] += v;
      sq[c] += v * v;
    }
  }
  const out = new Float64Array(6); // mean0, std0, mean1, std1, mean2, std2
  for (let c = 0; c < 3; c++) {
    const m = sum[c] / P;
    out[2 * c] = m;
    out[2 * c + 1] = Math.sqrt(Math.max(0, sq[c] / P - m * m));
  }
  return out;
}

/**
 * `reinhard_color_transfer(target, reference)` (spec §E.4): in Lab, per channel
 * out = (x − mean_t)·std_ref/std_t + mean_ref; L clipped to [0,100], a and b to [−127,127]; back to RGB/BGR.
 * A flat target channel (std 0, where DFL divides by zero) keeps its values shifted by the mean difference.
 */
export function reinhardColorTransfer(target: FloatImage, reference: FloatImage, opts: RctOptions = {}): FloatImage {
  if (target.channels !== 3 || reference.channels !== 3) throw new RangeError('RCT needs 3-channel images (spec §E.9)');
  const order = opts.order ?? 'bgr';
  const cutoff = opts.maskCutoff ?? 0.5;
  const P = target.width * target.height;
  const t = toLab(target, order);
  const s = toLab(reference, order);
  const ts = labStats(t, P, opts.targetMask, cutoff);
  const ss = labStats(s, reference.width * reference.height, opts.referenceMask, cutoff);
  const lo = [0, -127, -127], hi = [100, 127, 127];
  const k = new Float64Array(3);
  for (let c = 0; c < 3; c++) k[c] = ts[2 * c + 1] > 0 ? ss[2 * c + 1] / ts[2 * c + 1] : 1;
  for (let i = 0; i < P; i++)
    for (let c = 0; c < 3; c++) {
      let v = (t[3 * i + c] - ts[2 * c]) * k[c] + ss[2 * c];
      v = v < lo[c] ? lo[c] : v > hi[c] ? hi[c] : v;
      t[3 * i + c] = v;
    }
  return fromLab(t, target.width, target.height, order);
}

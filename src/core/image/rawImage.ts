/** An 8-bit image in memory, rows top to bottom, channels interleaved (1 = gray, 3 = RGB, 4 = RGBA). */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** Float image in [0,1], interleaved, as the model and the sample generator use it. */
export interface FloatImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

export function rawImage(width: number, height: number, channels: 1 | 3 | 4, data?: Uint8Array): RawImage {
  const n = width * height * channels;
  if (data && data.length !== n) throw new Error(`image buffer has ${data.length} bytes, expected ${n}`);
  return { width, height, channels, data: data ?? new Uint8Array(n) };
}

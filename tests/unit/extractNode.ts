/**
 * Node setup for the extraction tests and benchmark: tfjs' wasm backend and face-api's `node-wasm` build, which
 * `require`s the same `@tensorflow/tfjs` the core imports (one tfjs instance), with the model files read from the
 * npm package's own `model/` folder, as the app serves them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { FaceDetector, type FaceApiModule } from '../../src/core/extract/detect.ts';

const require = createRequire(import.meta.url);
export const faceApiModelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');

let detector: Promise<FaceDetector> | null = null;

/** The detector on tfjs-wasm (falls back to cpu), models from node_modules; JPEG codec ready too. */
export function nodeFaceDetector(): Promise<FaceDetector> {
  detector ??= (async () => {
    await initNodeJpegCodec();
    if (!(await tf.setBackend('wasm').catch(() => false))) await tf.setBackend('cpu');
    await tf.ready();
    return FaceDetector.create(faceapi as unknown as FaceApiModule, async (f) => new Uint8Array(readFileSync(join(faceApiModelDir, f))));
  })();
  return detector;
}

/** Whether face-api's tfjs is the very instance the core uses. */
export function faceApiSharesTfjs(): boolean {
  return (faceapi as unknown as { tf: typeof tf }).tf.tensor === tf.tensor;
}

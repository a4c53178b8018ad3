/**
 * Page side of webgpuKernels.spec.ts: the custom WebGPU kernels against the stock tfjs ops on the page's WebGPU
 * adapter (SwiftShader here, a real GPU elsewhere).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWebgpuKernels, webgpuKernelsUsable } from '../../src/core/webgpu/webgpuKernels.ts';
import { checkElementwise, checkFilterGrad, checkFusedUpdate, checkUploadsAndReductions } from '../fixtures/webgpuKernelChecks.ts';

async function run() {
  if (!(await tf.setBackend('webgpu'))) throw new Error('no webgpu backend');
  await tf.ready();
  // SwiftShader is a software adapter, where 'auto' keeps the tfjs ops: force the kernels to test them.
  setWebgpuKernels('on');
  const usable = webgpuKernelsUsable();
  const before = tf.memory().numTensors;
  const checks = [...(await checkFilterGrad()), ...(await checkFusedUpdate()), ...(await checkUploadsAndReductions()), ...(await checkElementwise())];
  return { usable, checks, tensorsBefore: before, tensorsAfter: tf.memory().numTensors };
}

(window as unknown as { kernelChecks: typeof run }).kernelChecks = run;

/**
 * One SAEHD training iteration (spec §C.2–§C.10) around a model from src/core/model/saehd.ts:
 *
 *   upload batch → target preprocessing (§C.3) → forward (§C.4) → src/dst losses (§C.5) (+ true face §C.6, GAN §C.7)
 *   → gradients of the loss *summed* over the batch → [loss read-back, non-finite check] → generator update (§C.8)
 *   → code-discriminator update → GAN-discriminator update.
 *
 * The losses are read back with `await tensor.data()` (never dataSync) *before* the updates are queued, so a NaN/Inf
 * step throws `NonFiniteLossError` with the weights and optimizer state untouched; the cost is one GPU→CPU round trip
 * per step, which the caller needs anyway to report the losses.
 *
 * Pretrain (§C.9) changes, applied by `trainSettings`: random warp off (LIAE then freezes inter_AB, §J.4 #4), LR dropout
 * off, GAN off, face/bg style off, and the code discriminator is not updated (its G-loss term stays). The data-side
 * overrides (one pretraining set for both src and dst, flips on, uniform yaw, no colour transfer or HSV jitter) belong
 * to the sample generator; `pretrainSampleOverrides` lists them for the caller.
 */
import * as tf from '@tensorflow/tfjs';
import { NonFiniteLossError, TrainingBatchError } from '../errors.ts';
import { stopGradient } from '../model/layers.ts';
import type { ModelOptions } from '../model/options.ts';
import type { SaehdModel } from '../model/saehd.ts';
import { CodeDiscriminator, UNetPatchDiscriminator } from './discriminators.ts';
import {
  bceWithLogits, blurOutMask, dssimFilterSizes, dssimPerSample, imageLossPerSample, lossMaskBlur, maePerSample,
  msePerSample, styleLoss, totalVariationMse,
} from './losses.ts';
import { variableGrads } from './gradients.ts';
import { DflOptimizer, type OptimizerConfig } from './optimizers.ts';
import { installFastUploads, registerLeanReductionGrads } from '../webgpu/webgpuKernels.ts';

// ---- settings ---------------------------------------------------------------------------------------------------

/** The training-relevant options after pretrain overrides (§C.9) and DF/LIAE restrictions (§C.1). */
export interface TrainSettings {
  resolution: number;
  channels: number;
  archiType: 'df' | 'liae';
  maskedTraining: boolean;
  eyesMouthPrio: boolean;
  blurOutMask: boolean;
  /** face_style_power / 100. */
  faceStyle: number;
  /** bg_style_power / 100. */
  bgStyle: number;
  /** true_face_power (DF only). */
  trueFacePower: number;
  /** Whether the code discriminator is trained this run (not in pretrain). */
  trainCodeDiscriminator: boolean;
  ganPower: number;
  ganPatchSize: number;
  ganDims: number;
  optimizer: 'adabelief' | 'rmsprop';
  lrDropout: boolean;
  clipGrad: boolean;
  /** Effective random warp (off in pretrain); decides whether LIAE's inter_AB trains (§C.8). */
  randomWarp: boolean;
  pretrain: boolean;
}

export function trainSettings(o: ModelOptions): TrainSettings {
  const pre = o.pretrain;
  const archiType = o.archi.trim().toLowerCase().startsWith('liae') ? 'liae' : 'df';
  const trueFacePower = archiType === 'df' ? o.true_face_power : 0;
  return {
    resolution: o.resolution,
    channels: o.channels,
    archiType,
    maskedTraining: o.masked_training,
    eyesMouthPrio: o.eyes_mouth_prio,
    blurOutMask: o.blur_out_mask,
    faceStyle: pre ? 0 : o.face_style_power / 100,
    bgStyle: pre ? 0 : o.bg_style_power / 100,
    trueFacePower,
    trainCodeDiscriminator: trueFacePower !== 0 && !pre,
    ganPower: pre ? 0 : o.gan_power,
    ganPatchSize: o.gan_patch_size,
    ganDims: o.gan_dims,
    optimizer: o.adabelief ? 'adabelief' : 'rmsprop',
    lrDropout: (o.lr_dropout === 'y' || o.lr_dropout === 'cpu') && !pre,
    clipGrad: o.clipgrad,
    randomWarp: o.random_warp && !pre,
    pretrain: pre,
  };
}

/** Sample-generator settings that pretrain mode forces (§C.9, §D.3, §D.6), for the caller that builds the generators. */
export function pretrainSampleOverrides(o: ModelOptions): Partial<ModelOptions> {
  if (!o.pretrain) return {};
  return { random_warp: false, random_src_flip: true, random_dst_flip: true, uniform_yaw: true, random_hsv_power: 0, ct_mode: 'none' };
}

// ---- batches ----------------------------------------------------------------------------------------------------

/** One side of a batch (§C.2), NHWC float32 in [0,1]: images N×res×res×C, masks N×res×res×1. */
export interface TrainSide {
  warped: Float32Array;
  target: Float32Array;
  targetMask: Float32Array;
  /** Eyes-and-mouth mask; required only with eyes_mouth_prio. */
  targetEmMask?: Float32Array;
}

export interface TrainBatch {
  src: TrainSide;
  dst: TrainSide;
}

export interface StepResult {
  /** Batch means of src_loss and dst_loss (§C.5 "Reported losses"). */
  srcLoss: number;
  dstLoss: number;
  /** Model iteration after this step (DFL's `iter`, the loss-history length). */
  iter: number;
}

export interface TrainerInit {
  /** Seed for discriminator initialisation and LR-dropout masks. */
  seed?: number;
  /** Iteration count to continue from (data.dat `iter`). */
  iter?: number;
}

export interface Trainer {
  readonly settings: TrainSettings;
  /** Model iteration count. */
  iter: number;
  /** Generator optimizer (`src_dst_opt`), covering every model variable. */
  readonly srcDstOpt: DflOptimizer;
  /** True-face code discriminator (`code_discriminator.npy`) and its optimizer (`D_code_opt.npy`); DF with true_face_power only. */
  readonly codeDiscriminator: CodeDiscriminator | null;
  readonly codeOpt: DflOptimizer | null;
  /** GAN patch discriminator (`GAN.npy`) and its optimizer (`GAN_opt.npy`); gan_power > 0 outside pretrain only. */
  readonly gan: UNetPatchDiscriminator | null;
  readonly ganOpt: DflOptimizer | null;
  step(batch: TrainBatch): Promise<StepResult>;
  dispose(): void;
}

type Side = { warped: tf.Tensor4D; target: tf.Tensor4D; mask: tf.Tensor4D; em: tf.Tensor4D | null };

function fullNames(prefix: string, vars: Map<string, tf.Variable>): Map<string, tf.Variable> {
  return new Map([...vars].map(([k, v]) => [`${prefix}/${k}`, v]));
}

/**
 * Build the trainer for `model` with training options `opts` (normally `model.options`; the "override" options of §C.1
 * may differ from the ones the model was created with).
 */
export function createTrainer(model: SaehdModel, opts: ModelOptions = model.options, init: TrainerInit = {}): Trainer {
  // WebGPU fast paths (issue 8); no-ops on other backends.
  registerLeanReductionGrads();
  installFastUploads();
  const s = trainSettings(opts);
  const seed = init.seed ?? 1;
  const res = model.geometry.resolution;
  const ch = model.geometry.channels;
  if (s.resolution !== res || s.channels !== ch)
    throw new TrainingBatchError(`options say ${s.resolution}px × ${s.channels} channels, the model is ${res}px × ${ch}`);

  const optConfig = (k: number): OptimizerConfig => ({
    kind: s.optimizer,
    lrDropout: s.lrDropout ? 0.3 : 1,
    lrCos: s.lrDropout ? 500 : 0,
    clipNorm: s.clipGrad ? 1 : 0,
    seed: (seed * 7919 + k) >>> 0,
    // models_opt_on_gpu off: every optimizer's state in worker memory (DFL places all three on the CPU then).
    onBackend: opts.models_opt_on_gpu,
  });

  // Generator: slots for every saveable weight; gradients only for the trainable ones (§C.8).
  const allVars = model.allVariables();
  const srcDstOpt = new DflOptimizer(allVars, optConfig(1));
  const trainableSet = new Set(model.trainableVariables(s.randomWarp));
  const gVars: Array<[string, tf.Variable]> = [...allVars].filter(([, v]) => trainableSet.has(v));

  let codeDiscriminator: CodeDiscriminator | null = null;
  let codeOpt: DflOptimizer | null = null;
  let gan: UNetPatchDiscriminator | null = null;
  let ganOpt: DflOptimizer | null = null;
  try {
    if (s.trueFacePower !== 0) {
      codeDiscriminator = new CodeDiscriminator(model.options.ae_dims, model.geometry.interOutRes, `${seed}`);
      codeOpt = new DflOptimizer(fullNames('dis', codeDiscriminator.variables()), optConfig(2));
    }
    if (s.ganPower !== 0) {
      gan = new UNetPatchDiscriminator(s.ganPatchSize, ch, s.ganDims, `${seed}`);
      ganOpt = new DflOptimizer(fullNames('D_src', gan.variables()), optConfig(3));
    }
  } catch (e) {
    for (const x of [srcDstOpt, codeOpt, codeDiscriminator, ganOpt, gan]) x?.dispose();
    throw e;
  }

  const needSwap = s.faceStyle !== 0 || s.bgStyle !== 0;
  const fs1 = dssimFilterSizes(res)[0];
  let disposed = false;

  const upload = (side: TrainSide, name: string, n: number): Side => {
    const img = n * res * res * ch;
    const msk = n * res * res;
    const check = (a: Float32Array | undefined, len: number, what: string) => {
      if (!(a instanceof Float32Array)) throw new TrainingBatchError(`${name}.${what} is missing`);
      if (a.length !== len) throw new TrainingBatchError(`${name}.${what} has ${a.length} values, expected ${len} (${n}×${res}×${res}×${len / (n * res * res)})`);
    };
    check(side.warped, img, 'warped');
    check(side.target, img, 'target');
    check(side.targetMask, msk, 'targetMask');
    if (s.eyesMouthPrio) check(side.targetEmMask, msk, 'targetEmMask');
    return {
      warped: tf.tensor4d(side.warped, [n, res, res, ch]),
      target: tf.tensor4d(side.target, [n, res, res, ch]),
      mask: tf.tensor4d(side.targetMask, [n, res, res, 1]),
      em: s.eyesMouthPrio ? tf.tensor4d(side.targetEmMask!, [n, res, res, 1]) : null,
    };
  };

  const trainer: Trainer = {
    settings: s,
    iter: init.iter ?? 0,
    srcDstOpt,
    codeDiscriminator,
    codeOpt,
    gan,
    ganOpt,

    async step(batch: TrainBatch): Promise<StepResult> {
      if (disposed) throw new Error('trainer disposed');
      const per = res * res * ch;
      const ns = batch.src?.warped?.length / per;
      const nd = batch.dst?.warped?.length / per;
      if (!Number.isInteger(ns) || ns < 1 || !Number.isInteger(nd) || nd < 1)
        throw new TrainingBatchError(`warped arrays must hold whole ${res}×${res}×${ch} images`);

      // Everything created here is disposed in `finally`; the tape's intermediates die inside variableGrads.
      const owned: tf.Tensor[] = [];
      const keep = <T extends tf.Tensor>(t: T): T => {
        owned.push(tf.keep(t));
        return t;
      };
      let gGrads: tf.NamedTensorMap = {};
      try {
        const sideTensors = (x: Side) => [x.warped, x.target, x.mask, ...(x.em ? [x.em] : [])];
        const src = upload(batch.src, 'src', ns);
        owned.push(...sideTensors(src));
        const dst = upload(batch.dst, 'dst', nd);
        owned.push(...sideTensors(dst));

        // For the discriminator steps (inputs of D, captured from the generator's forward pass).
        const cap: { codeS?: tf.Tensor4D; codeD?: tf.Tensor4D; ganReal?: tf.Tensor4D; ganFake?: tf.Tensor4D; srcMean?: tf.Scalar; dstMean?: tf.Scalar } = {};

        const { value, grads } = variableGrads(() => {
          // §C.3 target preprocessing (inputs only: no gradient flows here).
          let tSrc = src.target;
          let tDst = dst.target;
          if (s.blurOutMask) {
            tSrc = blurOutMask(tSrc, src.mask, res);
            tDst = blurOutMask(tDst, dst.mask, res);
          }
          const srcmBlur = lossMaskBlur(src.mask, res);
          const dstmBlur = lossMaskBlur(dst.mask, res);

          // §C.4 forward.
          const f = model.forwardSrcDst(src.warped, dst.warped, { swap: needSwap, swapNoCodeGrad: s.faceStyle !== 0 });
          const opt = (x: tf.Tensor4D, m: tf.Tensor4D) => (s.maskedTraining ? (tf.mul(x, m) as tf.Tensor4D) : x);
          const tSrcOpt = opt(tSrc, srcmBlur);
          const tDstOpt = opt(tDst, dstmBlur);
          const pssOpt = opt(f.pred_src_src, srcmBlur);
          const pddOpt = opt(f.pred_dst_dst, dstmBlur);

          // §C.5 src_loss.
          let srcLoss = imageLossPerSample(tSrcOpt, pssOpt, res);
          if (s.eyesMouthPrio)
            srcLoss = tf.add(srcLoss, tf.mul(maePerSample(tf.mul(tSrc, src.em!) as tf.Tensor4D, tf.mul(f.pred_src_src, src.em!) as tf.Tensor4D), 300));
          srcLoss = tf.add(srcLoss, tf.mul(msePerSample(src.mask, f.pred_src_srcm), 10));
          if (s.faceStyle !== 0) {
            const a = tf.mul(f.pred_src_dst_no_code_grad!, stopGradient(f.pred_src_dstm!)) as tf.Tensor4D;
            const b = stopGradient(tf.mul(f.pred_dst_dst, f.pred_dst_dstm) as tf.Tensor4D);
            srcLoss = tf.add(srcLoss, styleLoss(a, b, Math.floor(res / 8), 10000 * s.faceStyle));
          }
          if (s.bgStyle !== 0) {
            // §C.5 / §J.4 #3: the background region is defined by the *src* target loss mask.
            const anti = tf.sub(1, stopGradient(tf.clipByValue(srcmBlur, 0, 1)));
            const psd = tf.mul(f.pred_src_dst!, anti) as tf.Tensor4D;
            const td = tf.mul(tDst, anti) as tf.Tensor4D;
            srcLoss = tf.add(srcLoss, tf.mul(dssimPerSample(psd, td, fs1), 10 * s.bgStyle));
            srcLoss = tf.add(srcLoss, tf.mul(msePerSample(psd, td), 10 * s.bgStyle));
          }
          // dst_loss: the same structure without style terms.
          let dstLoss = imageLossPerSample(tDstOpt, pddOpt, res);
          if (s.eyesMouthPrio)
            dstLoss = tf.add(dstLoss, tf.mul(maePerSample(tf.mul(tDst, dst.em!) as tf.Tensor4D, tf.mul(f.pred_dst_dst, dst.em!) as tf.Tensor4D), 300));
          dstLoss = tf.add(dstLoss, tf.mul(msePerSample(dst.mask, f.pred_dst_dstm), 10));

          cap.srcMean = keep(tf.mean(srcLoss) as tf.Scalar);
          cap.dstMean = keep(tf.mean(dstLoss) as tf.Scalar);
          let gLoss = tf.add(tf.sum(srcLoss), tf.sum(dstLoss));

          // §C.6 true face: G wants the code discriminator to call src codes "dst-like" (label 1).
          if (codeDiscriminator) {
            gLoss = tf.add(gLoss, tf.mul(tf.sum(bceWithLogits(1, codeDiscriminator.apply(f.code_src))), s.trueFacePower));
            if (s.trainCodeDiscriminator) {
              cap.codeS = keep(f.code_src);
              cap.codeD = keep(f.code_dst);
            }
          }
          // §C.7 GAN on the masked src reconstruction.
          if (gan) {
            const [dc, df] = gan.apply(pssOpt);
            gLoss = tf.add(gLoss, tf.mul(tf.sum(tf.add(bceWithLogits(1, dc), bceWithLogits(1, df))), s.ganPower));
            if (s.maskedTraining) {
              const anti = tf.sub(1, srcmBlur);
              const bg = msePerSample(tf.mul(f.pred_src_src, anti) as tf.Tensor4D, tf.mul(tSrc, anti) as tf.Tensor4D);
              gLoss = tf.add(gLoss, tf.add(tf.mul(tf.sum(totalVariationMse(f.pred_src_src)), 1e-6), tf.mul(tf.sum(bg), 0.02)));
            }
            cap.ganReal = keep(tSrcOpt);
            cap.ganFake = keep(pssOpt);
          }
          return gLoss as tf.Scalar;
        }, gVars.map(([, v]) => v));
        owned.push(value);
        gGrads = grads;

        // Read the losses back before touching any weight (see the module comment).
        const [sv, dv] = await Promise.all([cap.srcMean!.data(), cap.dstMean!.data()]);
        const srcLoss = sv[0];
        const dstLoss = dv[0];
        if (!Number.isFinite(srcLoss) || !Number.isFinite(dstLoss)) throw new NonFiniteLossError(trainer.iter + 1, srcLoss, dstLoss);

        // §C.8 generator update.
        const named = new Map<string, tf.Tensor>();
        for (const [name, v] of gVars) {
          const g = grads[v.name];
          if (g) named.set(name, g);
        }
        // consume: each gradient is freed right after its weight's update (issue 8 memory); gGrads' later dispose is a no-op.
        await srcDstOpt.update(named, true);

        // §C.6 code discriminator: ½[BCE(1, D(code_dst)) + BCE(0, D(code_src))], after the G step, same batch.
        if (codeDiscriminator && codeOpt && cap.codeS && cap.codeD) {
          const cs = cap.codeS;
          const cd = cap.codeD;
          await discriminatorStep(codeDiscriminator.variables(), 'dis', codeOpt, () =>
            tf.mul(tf.sum(tf.add(bceWithLogits(1, codeDiscriminator!.apply(cd)), bceWithLogits(0, codeDiscriminator!.apply(cs)))), 0.5) as tf.Scalar,
          );
        }
        // §C.7 GAN discriminator: for the centre and the full-resolution outputs, ½[BCE(1, D(real)) + BCE(0, D(fake))].
        if (gan && ganOpt && cap.ganReal && cap.ganFake) {
          const real = cap.ganReal;
          const fake = cap.ganFake;
          await discriminatorStep(gan.variables(), 'D_src', ganOpt, () => {
            const [rc, rf] = gan!.apply(real);
            const [fc, ff] = gan!.apply(fake);
            const centre = tf.mul(tf.add(bceWithLogits(1, rc), bceWithLogits(0, fc)), 0.5);
            const full = tf.mul(tf.add(bceWithLogits(1, rf), bceWithLogits(0, ff)), 0.5);
            return tf.sum(tf.add(centre, full)) as tf.Scalar;
          });
        }

        trainer.iter += 1;
        return { srcLoss, dstLoss, iter: trainer.iter };
      } finally {
        tf.dispose(Object.values(gGrads));
        tf.dispose(owned);
      }
    },

    dispose() {
      if (disposed) return;
      disposed = true;
      srcDstOpt.dispose();
      codeOpt?.dispose();
      codeDiscriminator?.dispose();
      ganOpt?.dispose();
      gan?.dispose();
    },
  };
  return trainer;
}

/** Gradient of `loss` w.r.t. a discriminator's variables and one optimizer update; frees everything it made. */
async function discriminatorStep(vars: Map<string, tf.Variable>, module: string, opt: DflOptimizer, loss: () => tf.Scalar): Promise<void> {
  const list = [...vars];
  const { value, grads } = variableGrads(loss, list.map(([, v]) => v));
  try {
    const named = new Map<string, tf.Tensor>();
    for (const [key, v] of list) if (grads[v.name]) named.set(`${module}/${key}`, grads[v.name]);
    await opt.update(named);
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
}

/**
 * Build a model (and its trainer) from an imported DeepFaceLab folder (src/core/formats/dflModel.ts; spec §C.11, §J.2).
 *
 * Everything is checked before anything is assigned: each module's arrays against the variables of the network the
 * options build (keys and shapes, §A.3–§A.5), and the optimizer slots against the generator optimizer (§C.8). Any
 * missing or mis-shaped array refuses the whole import with the full list (DflModelError 'dfl-weights'), and the
 * half-built model is disposed, so nothing is kept. Extra keys are ignored, as DFL's `load_weights` ignores them.
 *
 * Discriminators (§C.6, §C.7) follow DFL instead: a file that is missing or does not fit (DFL re-initialises the GAN when
 * its patch size or dims change, and older DFL versions built it differently) leaves that discriminator freshly
 * initialised, with a note.
 */
import * as tf from '@tensorflow/tfjs';
import {
  DflModelError, readDflModel, type DflArray, type DflFile, type DflModel, type DflOptimizerState, type DflWeights,
  type ReadDflOptions,
} from '../formats/dflModel.ts';
import { createTrainer, type Trainer } from '../train/trainStep.ts';
import type { ModelOptions } from './options.ts';
import { createSaehd, loadModuleWeights, type BuildOptions, type SaehdModel } from './saehd.ts';

const dims = (s: readonly number[]) => (s.length ? s.join('×') : 'scalar');
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Keys and shapes of `arrays` against the variables: missing and mis-shaped keys as problems, extra keys apart. */
export function compareArrays(
  vars: ReadonlyMap<string, { shape: number[] }>,
  arrays: ReadonlyMap<string, DflArray> | null,
  file: string,
): { problems: string[]; extra: string[] } {
  const problems: string[] = [];
  if (!arrays) return { problems: [`missing file ${file}`], extra: [] };
  for (const [key, v] of vars) {
    const a = arrays.get(key);
    if (!a) problems.push(`${file}: missing ${key} (${dims(v.shape)})`);
    else if (!sameShape(a.shape, v.shape)) problems.push(`${file}: ${key} is ${dims(a.shape)}, the model needs ${dims(v.shape)}`);
  }
  const extra = [...arrays.keys()].filter((k) => !vars.has(k));
  return { problems, extra };
}

function assign(vars: ReadonlyMap<string, tf.Variable>, arrays: ReadonlyMap<string, DflArray>): void {
  for (const [key, v] of vars) {
    const a = arrays.get(key);
    if (a) tf.tidy(() => v.assign(tf.tensor(a.data, v.shape, 'float32')));
  }
}

export interface LoadDflSettings {
  /** Seed for initialisation (of parts the folder does not hold) and the trainer's random streams. */
  seed?: number;
  /** Build the trainer with the optimizer state and discriminators (default true; predicting needs only the model). */
  trainer?: boolean;
  /** Training options when they differ from the imported ones (DFL's "override" options, §C.1). */
  trainOptions?: ModelOptions;
  build?: BuildOptions;
}

export interface LoadedDflModel {
  model: SaehdModel;
  trainer: Trainer | null;
  options: ModelOptions;
  iter: number;
  lossHistory: Array<[number, number]>;
  /** The reader's notes plus what loading decided (fresh discriminators, ignored keys). */
  notes: string[];
  /** The imported data, for re-export (`exportDflModel(..., { source })`). */
  source: DflModel;
}

/** An aux network (discriminator) and its optimizer, checked together; null = fits. */
function auxProblems(
  vars: ReadonlyMap<string, tf.Variable>,
  opt: ReadonlyMap<string, { shape: number[] }> | null,
  state: { weights: DflWeights | null; optimizer: DflOptimizerState | null },
  file: string,
  optFile: string,
): string[] {
  const p = compareArrays(vars, state.weights, file).problems;
  if (opt && state.optimizer) p.push(...compareArrays(opt, state.optimizer.slots, optFile).problems);
  return p;
}

/**
 * Create the network (and, by default, the trainer) for an imported model and load its weights and state. Throws
 * DflModelError listing every missing or mis-shaped array; nothing is kept then.
 */
export function loadDflModel(dfl: DflModel, settings: LoadDflSettings = {}): LoadedDflModel {
  const seed = settings.seed ?? 1;
  const notes = [...dfl.notes];
  const model = createSaehd(dfl.options, seed, settings.build);
  let trainer: Trainer | null = null;
  try {
    if (settings.trainer !== false) trainer = createTrainer(model, settings.trainOptions ?? dfl.options, { seed, iter: dfl.iter });
    const cls = dfl.modelClass;
    const fileName = (part: string) => `${dfl.modelName}_${cls}_${part}.npy`;
    const problems: string[] = [];

    // Network modules (§C.11): keys and shapes must match the network the options build.
    for (const [module, vars] of model.weights()) {
      const r = compareArrays(vars, dfl.weights.get(module) ?? null, fileName(module));
      problems.push(...r.problems);
      if (r.extra.length) notes.push(`${fileName(module)}: ${r.extra.length} key(s) this network does not have, ignored (${r.extra.slice(0, 3).join(', ')}${r.extra.length > 3 ? ', …' : ''})`);
    }
    // Generator optimizer (§C.8): one slot (RMSprop) or two (AdaBelief) per weight.
    if (trainer && dfl.optimizer) {
      const r = compareArrays(trainer.srcDstOpt.slotInfo(), dfl.optimizer.slots, fileName('src_dst_opt'));
      problems.push(...r.problems);
      if (r.extra.length) notes.push(`${fileName('src_dst_opt')}: ${r.extra.length} slot(s) this optimizer does not have, ignored`);
    }
    if (problems.length)
      throw new DflModelError('dfl-weights', problems, `the weights of ${dfl.modelName} (${cls}) do not fit the network its options describe:`);

    // Discriminators: load when they fit, else start fresh as DFL does.
    const loadAux = (
      net: { variables(): Map<string, tf.Variable> } | null,
      opt: { slotInfo(): Map<string, { shape: number[] }>; loadState(s: { iters: number; slots: ReadonlyMap<string, DflArray> }): void } | null,
      state: DflModel['gan'],
      what: string,
      w: string,
      o: string,
    ): (() => void) | null => {
      if (!net) {
        if (state && trainer) notes.push(`${what} files present but not used with these options (kept for export)`);
        return null;
      }
      if (!state?.weights) {
        notes.push(`no ${fileName(w)}: the ${what} starts fresh, as DFL does`);
        return null;
      }
      const p = auxProblems(net.variables(), opt?.slotInfo() ?? null, state, fileName(w), fileName(o));
      if (p.length) {
        notes.push(`the ${what} in ${fileName(w)} does not fit (${p.slice(0, 3).join('; ')}${p.length > 3 ? '; …' : ''}): it starts fresh, as DFL does when its file does not load`);
        return null;
      }
      return () => {
        assign(net.variables(), state.weights!);
        if (opt && state.optimizer) opt.loadState({ iters: state.optimizer.iters, slots: state.optimizer.slots });
      };
    };
    const auxLoads = [
      loadAux(trainer?.codeDiscriminator ?? null, trainer?.codeOpt ?? null, dfl.codeDiscriminator, 'true-face code discriminator', 'code_discriminator', 'D_code_opt'),
      loadAux(trainer?.gan ?? null, trainer?.ganOpt ?? null, dfl.gan, 'GAN discriminator', 'GAN', 'GAN_opt'),
    ];

    // Everything checked: assign.
    for (const [name, module] of model.modules()) loadModuleWeights(module, dfl.weights.get(name)!);
    if (trainer && dfl.optimizer) trainer.srcDstOpt.loadState({ iters: dfl.optimizer.iters, slots: dfl.optimizer.slots });
    for (const f of auxLoads) f?.();
    return { model, trainer, options: dfl.options, iter: dfl.iter, lossHistory: dfl.lossHistory, notes, source: dfl };
  } catch (e) {
    trainer?.dispose();
    model.dispose();
    throw e;
  }
}

/** `readDflModel` + `loadDflModel`: a folder's (or a zip's) files to a model ready to train or predict. */
export function importDflModel(files: readonly DflFile[], settings: LoadDflSettings & ReadDflOptions = {}): LoadedDflModel {
  return loadDflModel(readDflModel(files, settings), settings);
}

/**
 * `saehdbw model` — describe a SAEHD / SAEHDBW network: parameters per module, output shapes, GFLOP per iteration and a
 * memory estimate, as ONE JSON object on stdout (spec §A.10, §B.1–§B.3).
 *
 *   saehdbw model --archi df-udt --resolution 192 --ae-dims 128 --e-dims 48 --d-dims 32 --d-mask-dims 16 --channels 1
 *                 [--batch 6] [--face-type mf] [--preset seed2GB|quickTest] [--build] [--<any option> value]
 *
 * Default: closed-form counts (§A.10) and shapes from the geometry. `--build` builds the model on the tfjs cpu backend and
 * reports counts from the real variables and shapes from a real forward pass (batch 1; slow for big models: the seed
 * model needs ≈ 12 GFLOP, about 10–15 s on the cpu backend). Invalid options: message on stderr, exit status 2.
 */
import { toUserMessage } from '../../src/core/errors.ts';
import { closedFormCounts, countBuilt, flopReport, gflopPerIter, memoryEstimate, orderedModules, outputShapes } from '../../src/core/model/counts.ts';
import { OPTION_SCHEMA, PRESETS, archiString, normalizeOptions, type ModelOptions } from '../../src/core/model/options.ts';

export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}

const defaultIO: CommandIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

const USAGE = `usage: saehdbw model [--preset seed2GB|quickTest] [--archi df-udt] [--resolution 192] [--ae-dims 128]
       [--e-dims 48] [--d-dims 32] [--d-mask-dims 16] [--channels 1|3] [--batch 6] [--face-type wf] [--build]
       any other model option as --<name> <value> (names as in DeepFaceLab, '-' or '_')
Prints one JSON object: params per module, output shapes, gflop_per_iter, memory estimate.
`;

class UsageError extends Error {}

const ALIASES: Record<string, string> = { batch: 'batch_size' };
const KNOWN = new Set(OPTION_SCHEMA.map((s) => s.key as string));

interface Parsed {
  options: Record<string, unknown>;
  preset?: keyof typeof PRESETS;
  build: boolean;
  help: boolean;
}

function parseArgs(argv: string[]): Parsed {
  const p: Parsed = { options: {}, build: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      p.help = true;
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const flag = (eq >= 0 ? a.slice(2, eq) : a.slice(2)).replace(/-/g, '_');
    if (flag === 'build') {
      p.build = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${flag.replace(/_/g, '-')} needs a value`);
      value = argv[++i];
    }
    if (flag === 'preset') {
      if (!(value in PRESETS)) throw new UsageError(`unknown preset "${value}" (known: ${Object.keys(PRESETS).join(', ')})`);
      p.preset = value as keyof typeof PRESETS;
      continue;
    }
    const key = ALIASES[flag] ?? flag;
    if (!KNOWN.has(key)) throw new UsageError(`unknown option --${flag.replace(/_/g, '-')}`);
    p.options[key] = value;
  }
  return p;
}

export async function modelCommand(argv: string[], io: CommandIO = defaultIO): Promise<number> {
  let parsed: Parsed;
  let opts: ModelOptions;
  let changes: string[];
  try {
    parsed = parseArgs(argv);
    if (parsed.help) {
      io.out(USAGE);
      return 0;
    }
    const base = parsed.preset ? { ...PRESETS[parsed.preset] } : {};
    ({ options: opts, changes } = normalizeOptions({ ...base, ...parsed.options }));
  } catch (e) {
    io.err(`saehdbw model: ${e instanceof UsageError ? e.message : toUserMessage(e)}\n${e instanceof UsageError ? USAGE : ''}`);
    return 2;
  }

  const batch = opts.batch_size;
  let modules: Record<string, number>;
  let params: number;
  let shapes: Record<string, number[]>;
  let source: 'closed-form' | 'built';
  try {
    if (parsed.build) {
      ({ modules, params, shapes } = await buildAndMeasure(opts));
      source = 'built';
    } else {
      const counts = closedFormCounts(opts);
      modules = Object.fromEntries(orderedModules(opts, counts));
      params = counts.total;
      const s = outputShapes(opts);
      shapes = { encoder: s.encoder, inter: s.inter, decoder_input: s.decoder_input, image: s.image, mask: s.mask };
      source = 'closed-form';
    }
  } catch (e) {
    io.err(`saehdbw model: ${toUserMessage(e)}\n`);
    return 1;
  }

  const flops = flopReport(opts);
  const mem = memoryEstimate(opts, batch);
  const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  const result = {
    archi: opts.archi,
    archi_string: archiString(opts),
    resolution: opts.resolution,
    face_type: opts.face_type,
    channels: opts.channels,
    ae_dims: opts.ae_dims,
    e_dims: opts.e_dims,
    d_dims: opts.d_dims,
    d_mask_dims: opts.d_mask_dims,
    params,
    modules,
    /** Per sample, without the batch axis. */
    output_shapes: shapes,
    batch,
    gflop_per_iter: round(gflopPerIter(opts, batch), 1),
    gflop: {
      encoder_fwd_per_image: round(flops.encoderFwd / 1e9),
      inter_fwd_per_image: round(flops.interFwd / 1e9),
      decoder_image_fwd_per_image: round(flops.decoderImageFwd / 1e9),
      decoder_mask_fwd_per_image: round(flops.decoderMaskFwd / 1e9),
      train_fwd_per_pair: round(flops.trainFwdPerPair / 1e9, 2),
      train_fwd_bwd_per_pair: round(flops.trainPerPair / 1e9, 1),
      merge_fwd_per_face: round(flops.mergeFwdPerFace / 1e9, 2),
      counting: 'conv/dense multiply-adds x2; fwd+bwd = 3 x fwd; loss side excluded',
    },
    memory_mib: {
      weights: round(mem.weightsMiB, 1),
      grads: round(mem.gradsMiB, 1),
      optimizer: round(mem.optimizerMiB, 1),
      activations_per_pair: round(mem.activationsPerPairMiB, 1),
      activations: round(mem.activationsMiB, 1),
      total: round(mem.totalMiB, 1),
    },
    source,
    changes,
  };
  io.out(JSON.stringify(result) + '\n');
  return 0;
}

/** Build on the tfjs cpu backend: counts from the variables, shapes from a batch-1 forward pass (src→src and dst mask). */
async function buildAndMeasure(opts: ModelOptions): Promise<{ modules: Record<string, number>; params: number; shapes: Record<string, number[]> }> {
  const tf = await import('@tensorflow/tfjs');
  const { createSaehd } = await import('../../src/core/model/saehd.ts');
  await tf.setBackend('cpu');
  const model = createSaehd(opts, 1);
  try {
    const counts = countBuilt(model);
    const modules = Object.fromEntries(orderedModules(opts, counts));
    const shapes: Record<string, number[]> = {};
    const firstInter = model.type === 'df' ? 'inter' : 'inter_AB';
    tf.tidy(() => {
      const x = tf.zeros([1, opts.resolution, opts.resolution, opts.channels]) as import('@tensorflow/tfjs').Tensor4D;
      const out = model.predict(x, 'src_src', (name, t) => {
        const per = t.shape.slice(1);
        if (name === 'encoder/flatten') shapes.encoder = per;
        else if (name.startsWith(`${firstInter}/`)) shapes.inter = per; // last trace of the Inter = its output
        else if (name === 'code') shapes.decoder_input = per;
      });
      shapes.decoder_input ??= shapes.inter;
      shapes.image = out.image.shape.slice(1);
      shapes.mask = out.mask.shape.slice(1);
    });
    return { modules, params: counts.total, shapes };
  } finally {
    model.dispose();
  }
}

import { inspectCommand } from './commands/inspect.ts';
import { convertCommand } from './commands/convert.ts';

const usage = `saehdbw — SAEHDBW Web on the command line (same core as the page)

  saehdbw inspect FILE_OR_DIR...                 one JSON line per DFL aligned face
  saehdbw convert --gray --size N IN_DIR OUT_DIR grayscale / resize a faceset (DFL's resizer)
  saehdbw model [options]                        parameter counts, shapes, GFLOP of an SAEHD model
  saehdbw predict --model DIR_OR_ZIP --faces IN_DIR --out OUT_DIR [--swap]
                                                 a DFL model's predicted face and mask per face (PNG)
  saehdbw train --src DIR --dst DIR --model FILE [--preset NAME | model options] [--iters N]
                [--backend wasm|cpu|webgpu] [--save-every MIN] [--seed N] [--holdout-every K]
                                                 train (or resume) a model kept in the page's checkpoint file
  saehdbw eval --model FILE --faces DIR [--swap] [--side dst|src] [--holdout-every K]
                                                 mean SSIM / PSNR of the model's output against the faces (JSON)
  saehdbw soak [--iters N] [--preview-every K] [--save-every M] [--json FILE]
                                                 long-run check: tiny model, previews, checkpoints; fails on growth
  saehdbw help                                   this text
`;

type Command = (argv: string[]) => Promise<number>;

async function loadModelCommand(): Promise<Command> {
  const m = await import('./commands/model.ts');
  return m.modelCommand;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const commands: Record<string, () => Promise<Command>> = {
    inspect: async () => inspectCommand,
    convert: async () => convertCommand,
    model: loadModelCommand,
    predict: async () => (await import('./commands/predict.ts')).predictCommand,
    train: async () => (await import('./commands/train.ts')).trainCommand,
    eval: async () => (await import('./commands/eval.ts')).evalCommand,
    soak: async () => (await import('./commands/soak.ts')).soakCommand,
  };
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(usage);
    return cmd ? 0 : 2;
  }
  const load = commands[cmd];
  if (!load) {
    process.stderr.write(`saehdbw: unknown command "${cmd}"\n\n${usage}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    const { toUserMessage } = await import('../src/core/errors.ts');
    process.stderr.write(`saehdbw ${cmd}: ${toUserMessage(e)}\n`);
    return 1;
  }
}

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { toUserMessage } from '../../src/core/errors.ts';
import { convertFace, MAX_CONVERT_SIZE, MIN_CONVERT_SIZE } from '../../src/core/faceset/convert.ts';
import { parseArgs } from '../args.ts';
import { listInputFiles } from '../files.ts';
import { initNodeJpegCodec } from '../nodeCodec.ts';

const usage = 'usage: saehdbw convert [--gray] [--size N] IN_DIR OUT_DIR\n';

/** `saehdbw convert --gray --size N IN_DIR OUT_DIR`: SAEHDBW's faceset resizer (spec I.3) writing DFL files. */
export async function convertCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, { flags: ['gray'], values: ['size', 'quality'] });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  const [inDir, outDir] = args.positionals;
  const size = args.flags.size === undefined ? null : Number(args.flags.size);
  const gray = args.flags.gray === true;
  if (!inDir || !outDir || args.positionals.length !== 2) {
    process.stderr.write(usage);
    return 2;
  }
  if (size !== null && (!Number.isInteger(size) || size < MIN_CONVERT_SIZE || size > MAX_CONVERT_SIZE)) {
    process.stderr.write(`--size must be an integer from ${MIN_CONVERT_SIZE} to ${MAX_CONVERT_SIZE}\n`);
    return 2;
  }
  if (size === null && !gray) {
    process.stderr.write(`nothing to do: give --gray and/or --size\n${usage}`);
    return 2;
  }
  if (resolve(inDir) === resolve(outDir)) {
    process.stderr.write('OUT_DIR must differ from IN_DIR (the originals are kept)\n');
    return 2;
  }
  const quality = args.flags.quality === undefined ? 100 : Number(args.flags.quality);
  await initNodeJpegCodec();
  mkdirSync(outDir, { recursive: true });
  let ok = 0;
  let bad = 0;
  for (const path of listInputFiles([inDir])) {
    try {
      const out = await convertFace(new Uint8Array(readFileSync(path)), { size, gray, quality });
      writeFileSync(join(outDir, basename(path)), out.bytes);
      ok++;
    } catch (e) {
      bad++;
      process.stderr.write(`${path}: ${toUserMessage(e)}\n`);
    }
  }
  process.stderr.write(`converted ${ok} face${ok === 1 ? '' : 's'} into ${outDir}${bad ? `, ${bad} failed` : ''}\n`);
  if (ok === 0 && bad === 0) {
    process.stderr.write('no .jpg faces found in IN_DIR\n');
    return 1;
  }
  return bad ? 1 : 0;
}

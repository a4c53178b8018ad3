import { readFileSync } from 'node:fs';
import { toUserMessage } from '../../src/core/errors.ts';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { listInputFiles } from '../files.ts';

/**
 * `saehdbw inspect FILE_OR_DIR...`: one JSON object per line per file; a bad file gives `{ path, error }` and the
 * exit status is 1 at the end (the other files are still listed).
 */
export async function inspectCommand(argv: string[]): Promise<number> {
  const files = listInputFiles(argv);
  if (!files.length) {
    process.stderr.write('usage: saehdbw inspect FILE_OR_DIR...\n');
    return 2;
  }
  let bad = 0;
  for (const path of files) {
    let line: object;
    try {
      const { frame, meta } = readDflJpg(new Uint8Array(readFileSync(path)));
      const l = meta.landmarks;
      line = {
        path,
        face_type: meta.face_type,
        source_filename: meta.source_filename,
        landmarks: l ? l.length / 2 : 0,
        first_landmark: l && l.length >= 2 ? [l[0], l[1]] : null,
        source_rect: meta.source_rect,
        image_to_face_mat: meta.image_to_face_mat ? Array.from(meta.image_to_face_mat) : null,
        width: frame.width,
        height: frame.height,
        channels: frame.channels,
        keys: meta.keys,
      };
    } catch (e) {
      bad++;
      const code = (e as NodeJS.ErrnoException)?.code;
      line = { path, error: code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : toUserMessage(e) };
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
  return bad ? 1 : 0;
}

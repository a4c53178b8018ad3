import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeJpegCodec } from '../../cli/nodeCodec.ts';
import { readDflJpg } from '../../src/core/formats/dfljpg.ts';
import { makeDflFaces } from '../fixtures/makeFaces.ts';
import { hasSharedData, sharedDataDir } from './sharedData.ts';

const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['cli/saehdbw.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
};

let dir: string;
beforeAll(async () => {
  await initNodeJpegCodec();
  dir = mkdtempSync(join(tmpdir(), 'saehdbw-cli-'));
  mkdirSync(join(dir, 'aligned'));
  for (const f of await makeDflFaces(3, { size: 128 })) writeFileSync(join(dir, 'aligned', f.name), f.bytes);
  writeFileSync(join(dir, 'aligned', 'broken.jpg'), 'not a jpeg');
});

describe('saehdbw inspect', () => {
  it('prints one JSON object per file and exits non-zero after a bad file', () => {
    const r = run('inspect', join(dir, 'aligned'));
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(4);
    const ok = r.lines.find((l) => l.path.endsWith('00002_0.jpg'));
    const ref = readDflJpg(readFileSync(join(dir, 'aligned', '00002_0.jpg'))).meta;
    expect(ok).toMatchObject({ face_type: 'whole_face', source_filename: '00002.jpg', landmarks: 68, width: 128, height: 128, channels: 3 });
    expect(ok.first_landmark).toEqual([ref.landmarks![0], ref.landmarks![1]]);
    expect(ok.image_to_face_mat).toHaveLength(6);
    expect(ok.keys).toEqual(['face_type', 'landmarks', 'source_filename', 'source_rect', 'source_landmarks', 'image_to_face_mat']);
    const bad = r.lines.find((l) => l.path.endsWith('broken.jpg'));
    expect(Object.keys(bad).sort()).toEqual(['error', 'path']);
  });

  it.skipIf(!hasSharedData)(`reads a real DFL file${hasSharedData ? '' : ' (skipped: ../shared/data absent)'}`, () => {
    const r = run('inspect', join(sharedDataDir, 'dfl_ofurman_sample/data_src/aligned/58_0.jpg'));
    expect(r.status).toBe(0);
    expect(r.lines[0]).toMatchObject({ face_type: 'whole_face', source_filename: '58.jpg', landmarks: 68, channels: 3 });
    expect(r.lines[0].keys).toContain('xseg_mask');
  });
});

describe('saehdbw convert', () => {
  it('writes gray 64 px DFL files with landmarks halved', () => {
    const out = join(dir, 'gray64');
    const r = run('convert', '--gray', '--size', '64', join(dir, 'aligned'), out);
    expect(r.status).toBe(1); // broken.jpg is reported, the rest converted
    expect(r.stderr).toMatch(/broken\.jpg: /);
    expect(readdirSync(out).sort()).toEqual(['00001_0.jpg', '00002_0.jpg', '00003_0.jpg']);
    const a = readDflJpg(readFileSync(join(dir, 'aligned', '00001_0.jpg')));
    const b = readDflJpg(readFileSync(join(out, '00001_0.jpg')));
    expect(b.frame).toMatchObject({ width: 64, height: 64, channels: 1 });
    for (let i = 0; i < 136; i++) expect(b.meta.landmarks![i]).toBe(a.meta.landmarks![i] / 2);
  });

  it('refuses bad arguments with a usage message', () => {
    expect(run('convert', '--gray', '--size', '7', join(dir, 'aligned'), join(dir, 'x')).status).toBe(2);
    expect(run('convert', join(dir, 'aligned')).status).toBe(2);
    expect(run('frobnicate').status).toBe(2);
  });
});

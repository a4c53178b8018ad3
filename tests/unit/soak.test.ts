/**
 * `saehdbw soak` (cli/commands/soak.ts) on a few iterations: a clean run passes and writes its curve; a trainer that
 * leaks one tensor per step, and one whose loss turns NaN, make it fail with exit status 1 and say why.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type * as TrainStep from '../../src/core/train/trainStep.ts';

const fault = vi.hoisted(() => ({ kind: 'none' as 'none' | 'leak' | 'nan' }));

vi.mock('../../src/core/train/trainStep.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof TrainStep>();
  return {
    ...orig,
    createTrainer: (...a: Parameters<typeof orig.createTrainer>) => {
      const t = orig.createTrainer(...a);
      const step = t.step.bind(t);
      t.step = async (b) => {
        const r = await step(b);
        if (fault.kind === 'leak' && r.iter > 3) tf.zeros([8]); // never disposed
        if (fault.kind === 'nan' && r.iter === 4) return { ...r, dstLoss: NaN };
        return r;
      };
      return t;
    },
  };
});

const { soakCommand } = await import('../../cli/commands/soak.ts');

describe('saehdbw soak', () => {
  const dir = mkdtempSync(join(tmpdir(), 'soak-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const printed = () => out.mock.calls.map((c) => String(c[0])).join('');
  const run = (json: string) => soakCommand(['--iters', '6', '--preview-every', '2', '--save-every', '3', '--report-every', '3', '--backend', 'wasm', '--json', json]);

  it('a clean run passes: flat tensors, previews, checkpoints read back and restored identical, curve written', async () => {
    fault.kind = 'none';
    const json = join(dir, 'ok.json');
    expect(await run(json)).toBe(0);
    const j = JSON.parse(readFileSync(json, 'utf8'));
    expect(j.curve.iter).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(j.curve.numTensors.slice(1)).size).toBe(1);
    expect(j.previews).toHaveLength(3);
    expect(j.checkpoints.map((c: { iter: number }) => c.iter)).toEqual([3, 6]);
    expect(j.checkpoints.every((c: { maxRestoreDiff: number; tensorsBefore: number; tensorsAfter: number }) => c.maxRestoreDiff === 0 && c.tensorsAfter === c.tensorsBefore)).toBe(true);
    expect(j.summary.ok).toBe(true);
    expect(printed()).toContain('OK: tensor count and bytes flat');
  }, 120_000);

  it('a tensor leaked per step fails the run', async () => {
    fault.kind = 'leak';
    out.mockClear();
    const json = join(dir, 'leak.json');
    expect(await run(json)).toBe(1);
    expect(printed()).toMatch(/FAILED:\n {2}iteration 4: \d+ tensors/);
    expect(JSON.parse(readFileSync(json, 'utf8')).summary.ok).toBe(false);
  }, 120_000);

  it('a non-finite loss fails the run', async () => {
    fault.kind = 'nan';
    out.mockClear();
    expect(await run(join(dir, 'nan.json'))).toBe(1);
    expect(printed()).toContain('iteration 4: loss is not finite');
  }, 120_000);
});

/**
 * The dedicated fuzz command (`npm run fuzz`): every tests/fuzz/*.fuzz.ts with 10 000 cases per parser (FUZZ_RUNS
 * overrides; FUZZ_SEED replays a run). One worker at a time, so the per-case timings are not skewed by the others.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/fuzz/**/*.fuzz.ts'],
    environment: 'node',
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    execArgv: ['--expose-gc'],
    testTimeout: 30 * 60_000,
    hookTimeout: 120_000,
    env: { FUZZ_RUNS: process.env.FUZZ_RUNS ?? '10000' },
    // MozJPEG prints a line for each damaged JPEG it still decodes ("Corrupt JPEG data: …"); expected while fuzzing.
    onConsoleLog: (log) => !/^(Corrupt JPEG data|Premature end of JPEG|Warning: )/.test(log),
  },
});

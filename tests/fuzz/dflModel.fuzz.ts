/** `npm run fuzz`: the dflModel suite with FUZZ_RUNS cases (10 000 by default there); see suites.ts. */
import { describe } from 'vitest';
import { fuzzRuns } from './harness.ts';
import { fuzzSuite } from './suites.ts';

describe('fuzz', () => {
  fuzzSuite('dflModel', fuzzRuns(10_000), 30 * 60_000);
});

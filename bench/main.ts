import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { benchFacesets } from './facesets.ts';
import { benchTrain, TRAIN_BENCH_CONFIGS } from './train.ts';

type Row = Record<string, string | number | null>;
interface Suite {
  name: string;
  /** Configuration names `--only` may pick inside this suite. */
  configs?: readonly string[];
  /** Rows are written as they are, without a `suite` key (their keys are a fixed schema, e.g. issue 3's). */
  untagged?: boolean;
  /** `only`: the suite's own name, one of its configurations, or null (everything). */
  run: (opts: { only: string | null; argv: string[] }) => Promise<Row[]>;
}

/** The benchmark suites; `--only NAME` runs one suite, or one configuration of the suite that lists it. */
const suites: Suite[] = [
  { name: 'facesets', run: async () => (await benchFacesets()) as unknown as Row[] },
  { name: 'train', configs: TRAIN_BENCH_CONFIGS, untagged: true, run: async (o) => (await benchTrain(o)) as unknown as Row[] },
  { name: 'extract', run: async () => (await (await import('./extract.ts')).benchExtract()) as unknown as Row[] },
  { name: 'video', run: async () => (await (await import('./video.ts')).benchVideo()) as unknown as Row[] },
  { name: 'memory', configs: ['mem-tiny', 'mem-96', 'mem-seed'], run: async (o) => (await (await import('./memory.ts')).benchMemory(o)) as unknown as Row[] },
  { name: 'profile', configs: ['prof-tiny', 'prof-96'], run: async (o) => (await (await import('./profile.ts')).benchProfile(o)) as unknown as Row[] },
  { name: 'pipeline', run: async (o) => (await (await import('./pipeline.ts')).benchPipeline(o)) as unknown as Row[] },
  // Needs the optional `webgpu` npm package (dawn.node) and a GPU driver Dawn accepts; see bench/gpuNode.ts.
  { name: 'gpu', run: async (o) => (await (await import('./gpuNode.ts')).benchGpuNode(o)) as unknown as Row[] },
  { name: 'merge', configs: ['merge-tiny', 'merge-seed'], run: async (o) => (await (await import('./merge.ts')).benchMerge(o)) as unknown as Row[] },
];

export function printTable(title: string, rows: Row[]): void {
  if (!rows.length) return;
  const cols = Object.keys(rows[0]);
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 1)) : String(v ?? ''));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  console.log(`\n${title}`);
  console.log(cols.map((c, i) => c.padEnd(widths[i])).join('  '));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => fmt(r[c]).padEnd(widths[i])).join('  '));
}

export async function main(argv: string[]): Promise<number> {
  let json = `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  let only: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') json = argv[++i];
    else if (argv[i] === '--only') only = argv[++i];
  }
  const picked = suites.filter((s) => !only || only === s.name || s.configs?.includes(only));
  if (!picked.length) {
    const known = suites.flatMap((s) => [s.name, ...(s.configs ?? [])]);
    console.error(`--only ${only}: no suite or configuration of that name (known: ${known.join(', ')})`);
    return 2;
  }
  const results: Row[] = [];
  for (const s of picked) {
    const rows = await s.run({ only: only === s.name ? null : only, argv });
    printTable(s.name, rows);
    results.push(...rows.map((r) => (s.untagged ? r : { suite: s.name, ...r })));
  }
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(results, null, 2));
  console.log(`\nwrote ${json}`);
  return 0;
}

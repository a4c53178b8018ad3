import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { benchFacesets } from './facesets.ts';

type Row = Record<string, string | number | null>;
interface Suite {
  name: string;
  run: () => Promise<Row[]>;
}

/** The benchmark suites; `--only NAME` runs one suite (or one configuration, where a suite supports it). */
const suites: Suite[] = [{ name: 'facesets', run: async () => (await benchFacesets()) as unknown as Row[] }];

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
  const results: Row[] = [];
  for (const s of suites) {
    if (only && only !== s.name) continue;
    const rows = await s.run();
    printTable(s.name, rows);
    results.push(...rows.map((r) => ({ suite: s.name, ...r })));
  }
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(results, null, 2));
  console.log(`\nwrote ${json}`);
  return 0;
}

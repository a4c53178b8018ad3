/** A small argv parser: `--flag`, `--key value`, `--key=value`, positionals. Unknown options are errors. */
export interface ParsedArgs {
  flags: Record<string, string | true>;
  positionals: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], known: { flags?: string[]; values?: string[] }): ParsedArgs {
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  const isFlag = new Set(known.flags ?? []);
  const isValue = new Set(known.values ?? []);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const key = a.slice(2, eq > 0 ? eq : undefined);
    if (isFlag.has(key) && eq < 0) flags[key] = true;
    else if (isValue.has(key)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${key} needs a value`);
      flags[key] = v;
    } else throw new UsageError(`unknown option --${key}`);
  }
  return { flags, positionals };
}

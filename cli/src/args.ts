/**
 * A tiny flag parser for the CLI: `--name value`, `--name=value`, boolean `--flag`, and
 * positionals. Unknown flags are an error (exit code 2) naming the flag.
 */
export class UsageError extends Error {}

export interface Parsed {
  flags: Record<string, string | boolean>;
  positionals: string[];
}

export function parseArgs(argv: readonly string[], known: Record<string, 'string' | 'boolean'>): Parsed {
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq > 0 ? eq : undefined);
    const kind = known[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      flags[name] = true;
    } else {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`option --${name} needs a value`);
      flags[name] = v;
    }
  }
  return { flags, positionals };
}

export function intFlag(p: Parsed, name: string, def: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = p.flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer in [${min}, ${max}], got '${String(v)}'`);
  return n;
}

export function strFlag(p: Parsed, name: string, def: string): string {
  const v = p.flags[name];
  return typeof v === 'string' ? v : def;
}

/**
 * What a node writes aside — `<path>.tmp-<pid>`, renamed into place once complete — and a
 * process that stopped before the rename (a crash, a kill, a full volume) left behind: the next
 * process that writes `<path>` removes every such entry but its own, so that a broker's failed
 * 3 GB download or media's half-made publication does not hold the state volume's space for
 * good (a new process has another pid, so removing its own name alone never found them).
 *
 * Guarantees: removes only entries of `dir` named `<base>.tmp-<digits>…` (any base when `base`
 * is undefined) other than this process's `.tmp-<pid>`; returns their names. One node process
 * per state directory is assumed, as its database assumes; not for paths several processes
 * write at once (the shards of an Indexed Job each write a path of their own).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export function removeStaleTemps(dir: string, base?: string): string[] {
  if (!existsSync(dir)) return [];
  const own = `.tmp-${process.pid}`;
  const stale = readdirSync(dir).filter((f) => {
    const at = f.lastIndexOf('.tmp-');
    if (at < 0 || !/^\d/.test(f.slice(at + 5))) return false;
    if (base !== undefined && f.slice(0, at) !== base) return false;
    return !f.slice(at).startsWith(own) || /\d/.test(f.slice(at + own.length, at + own.length + 1));
  });
  for (const f of stale) rmSync(join(dir, f), { recursive: true, force: true });
  return stale;
}

/**
 * Room on a node's state volume, checked before a long write rather than found missing at its
 * end: the bytes available to this process (statfs) against what the write needs.
 *
 * Guarantees: `lackOfRoom` returns undefined when `need` bytes fit, else one sentence naming
 * the directory, both figures (MB) and what needs them; it creates `dir` when missing (a first
 * start) and reads nothing else.
 */
import { mkdirSync, statfsSync } from 'node:fs';

/** Bytes of the volume holding `dir` available to this process. */
export function availableBytes(dir: string): number {
  mkdirSync(dir, { recursive: true });
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

/** Why `need` bytes for `what` (e.g. "publication 43cab5d70ae2 needs ≈") do not fit under `dir`, or undefined when they do. */
export function lackOfRoom(dir: string, need: number, what: string): string | undefined {
  const free = availableBytes(dir);
  return free >= need ? undefined : `${dir} has ${mb(free)} MB available, ${what} ${mb(need)} MB`;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

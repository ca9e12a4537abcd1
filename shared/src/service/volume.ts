/**
 * Room on a node's state volume, checked before a long write rather than found missing at its
 * end: the bytes available to this process (statfs) against what the write needs.
 *
 * Guarantees: `availableBytes` only reads (statfs; it throws where `dir` is missing);
 * `lackOfRoom` returns undefined when `need` bytes fit, else one sentence naming the directory,
 * both figures (MB) and what needs them, creating `dir` first when missing (a first start).
 */
import { mkdirSync, statfsSync } from 'node:fs';

/** Bytes of the volume holding `dir` available to this process. */
export function availableBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

/** Why `need` bytes for `what` (e.g. "publication 43cab5d70ae2 needs ≈") do not fit under `dir`, or undefined when they do. */
export function lackOfRoom(dir: string, need: number, what: string): string | undefined {
  mkdirSync(dir, { recursive: true });
  const free = availableBytes(dir);
  return free >= need ? undefined : `${dir} has ${mb(free)} MB available, ${what} ${mb(need)} MB`;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/**
 * One pino logger per process: JSON lines with `party`; child loggers add `sessionId` and
 * `phase`. Never log payloads, IDs or attribute values — only counts, sizes and phases.
 * Long start-up stages log their progress through one gate (progressGate, every 5 s).
 */
import { pino, type Logger } from 'pino';
import type { Party } from '../protocol/messages.ts';

export type { Logger };

export function createLogger(party: Party, level = 'info'): Logger {
  return pino({ level, base: { party }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** How often a long start-up stage (preparation, publication, labels) logs its progress at most. */
export const PROGRESS_LOG_MS = 5000;

/**
 * A gate for progress lines: returns true when `ms` have passed since the last line it let
 * through (or since it was made; at once on the first call when `first` is true).
 */
export function progressGate(ms = PROGRESS_LOG_MS, first = false): () => boolean {
  let last = first ? -Infinity : performance.now();
  return () => {
    const now = performance.now();
    if (now - last < ms) return false;
    last = now;
    return true;
  };
}

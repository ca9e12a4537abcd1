/**
 * One pino logger per process: JSON lines with `party`; child loggers add `sessionId` and
 * `phase`. Never log payloads, IDs or attribute values — only counts, sizes and phases.
 */
import { pino, type Logger } from 'pino';
import type { Party } from '../protocol/messages.ts';

export type { Logger };

export function createLogger(party: Party, level = 'info'): Logger {
  return pino({ level, base: { party }, timestamp: pino.stdTimeFunctions.isoTime });
}

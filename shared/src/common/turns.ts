/**
 * Event-loop turns for long synchronous work. A node's start-up work at 10^7 users (the
 * publication's token sort and encryption: many minutes) would otherwise hold the event loop
 * the whole time, and with it the admin API (/healthz, /readyz, /metrics), the gRPC health
 * service and the log's writes. `turnTaker(ms)` returns a function to await between units of
 * that work: it yields a turn (setImmediate) when `ms` or more have passed since the last one,
 * and otherwise returns at once, so short work pays almost nothing.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Time between turns for start-up work: well inside a health probe's timeout. */
export const TURN_EVERY_MS = 100;

export function turnTaker(ms = TURN_EVERY_MS): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < ms) return undefined;
    return nextTurn().then(() => {
      last = performance.now();
    });
  };
}

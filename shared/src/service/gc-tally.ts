/**
 * Garbage collections of this thread's V8 heap over a stretch of work (perf_hooks 'gc'
 * entries): how many of each kind and their pause in ms — what the broker logs with its
 * universe sync, whose CPU beyond its primitives is partly the collection of call buffers.
 *
 * Guarantees: counts only collections that end between start and stop(); stop() detaches the
 * observer (a second call returns the same figures); 'gc' entries arrive asynchronously, so stop() waits one
 * turn of the event loop for the last ones to be queued and takes them before it reports.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

export interface GcTally {
  /** Mark-compact (full) collections. */
  major: number;
  /** Scavenges and minor mark-sweeps. */
  minor: number;
  /** Incremental marking steps and weak-callback processing. */
  other: number;
  /** Main-thread pause of all of them, ms. */
  ms: number;
}

export function startGcTally(): { stop(): Promise<GcTally> } {
  const t: GcTally = { major: 0, minor: 0, other: 0, ms: 0 };
  const add = (entries: readonly PerformanceEntry[]): void => {
    for (const e of entries) {
      const kind = ((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) t.major++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) t.minor++;
      else t.other++;
      t.ms += e.duration;
    }
  };
  const obs = new PerformanceObserver((list) => add(list.getEntries()));
  obs.observe({ entryTypes: ['gc'] });
  let done: Promise<GcTally> | undefined;
  return {
    stop() {
      // Node queues a collection's entry on the next turn after it, and hands it to observers one turn later.
      done ??= new Promise<void>((r) => setImmediate(r)).then(() => {
        add(obs.takeRecords());
        obs.disconnect();
        return { ...t, ms: Math.round(t.ms) };
      });
      return done;
    },
  };
}

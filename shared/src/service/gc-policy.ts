/**
 * V8's collection policy for a node that streams large buffers (the broker's universe sync
 * receives ≈ 1.5 GB of ciphertext pages at 10^6 users, as gRPC call buffers): V8 accounts
 * the external memory of ArrayBuffers in its global heap limit, which grows with the heap,
 * instead of against a fixed soft limit of a few tens of MiB of external growth. With the fixed
 * limit every ~20 MB of received (and already dead) call buffers forced a full mark-compact of
 * the whole JS heap: 28 major collections, 903 ms of main-thread pause in one 200,000-user
 * sync; with this policy 7–8, ≈ 260 ms, for ≈ +50 MiB of peak resident memory
 * (`node bench/sync.ts`, which prints the sync's collections from the broker's log line).
 *
 * Guarantees: idempotent; only the heuristic of when to collect changes — nothing that is
 * reachable is freed and everything unreachable is still collected.
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flag this policy sets (v8.setFlagsFromString; NODE_OPTIONS does not accept it). */
export const GC_POLICY_FLAG = '--external-memory-accounted-in-global-limit';

export function applyGcPolicy(): void {
  setFlagsFromString(GC_POLICY_FLAG);
}

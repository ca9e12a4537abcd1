/**
 * V8's collection policy for a node that streams large buffers (the broker's universe sync
 * receives ≈ 1.5 GB of ciphertext pages at 10^6 users, as gRPC call buffers): V8 accounts
 * the external memory of ArrayBuffers in its global heap limit, which grows with the heap,
 * instead of against a fixed soft limit of a few tens of MiB of external growth. With the fixed
 * limit every ≈ 20 MB of received (and already dead) call buffers forced a full mark-compact of
 * the whole JS heap: 28–33 major collections in one 200,000-user sync; with this policy 7–22,
 * and 7–8 once the sync stored each message as it arrived (broker node.ts, rpc/peer.ts callEach).
 * Its cost is memory: alone it raised the broker's peak at that sync from 303 to 353 MiB; with
 * the message-by-message reading the peak was 252–268 MiB (`node bench/sync.ts` prints the
 * collections from the broker's log line; the memory lines are in the broker's log). The model
 * of the pattern in `node bench/gc-model.ts` (200 messages of 3 MB from 16 KB chunks, a 40 MB
 * live heap): 16–18 major collections and 1.8–2.3 s of CPU without the policy, 0–3 and
 * 0.9–1.7 s with it, for a peak 60–180 MiB higher (nothing in the model frees early).
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

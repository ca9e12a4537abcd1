/**
 * V8's collection policies of the nodes, each a V8 flag set at run time.
 *
 * The broker's (applyGcPolicy), for a node that streams large buffers (the broker's universe sync
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
 * The broker's sync policy (applySyncGcPolicy, held for each universe sync, undone after it):
 * at 10^6 users the sync still ran 34–48 full collections under the policy above (V8's
 * --trace-gc: a scavenge for "external memory pressure", then a mark-compact of a ≈ 40 MB heap,
 * every 10–15 messages of ≈ 3 MB), and their concurrent marking was most of the process CPU
 * outside the main thread (≈ 2.2–2.9 s of a 24 s sync). V8 sets the next limit after a full
 * collection from its own growing factor, which stays low in a process that mostly waits;
 * a fixed factor of 2 (SYNC_GC_FLAG) leaves room for more of the dead call buffers, which the
 * scavenges then free while they are young: 15–23 full collections and 1.4–2.2 s less process
 * CPU per 10^6-user sync (3 pairs with `node bench/sync.ts --broker-root`, loaded machine), the
 * sync's peak unchanged (366–375 MiB both). Factors of 3 and 5 (unpaired runs) left 2–3 full
 * collections and 20.7–23.1 s of CPU against 21.7–23.7 with 2, for a peak of 444–472 MiB.
 *
 *
 * Media's serving policy (applyServingGcPolicy, once its start-up stages are done): V8 sizes
 * the old generation's next limit from the mutator's allocation speed against the collector's,
 * and a node that mostly waits on its peers allocates slowly, so after each full collection the
 * limit is set barely above the live heap (≈ 41 → 50 MB at 200,000 users: the 8 MB minimum
 * step). Media's live heap is mostly code and module sources, yet with that headroom the little
 * each PSI page allocates (decoding, copies, the gRPC and TLS buffers) started a new
 * mark-compact of the whole heap in nearly every page's round trip: 4–6 in one 200,000-user
 * retargeting session, their concurrent marking ≈ 60–90 ms of CPU each on V8's worker threads
 * (perf: ≈ 90 % of those threads' samples in ConcurrentMarking), which is what the `lookalike`
 * phase's CPU beyond its X25519 and lookups was. A fixed growing factor of 1.5 (the next limit
 * at 1.5 × the live heap) leaves 1–3 in the session. Its cost is at most half the live JS heap
 * of extra garbage between collections, applied after start-up only, so the start-up stages,
 * which set media's peak resident memory (label publication, preparation), keep V8's own factor.
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

/** The V8 flag of the broker's sync policy: the next limit after a full collection at 2 × the live heap. */
export const SYNC_GC_FLAG = '--heap-growing-percent=100';

/** V8's own growing factor again (0: computed from the collector's and the mutator's speeds), what the broker runs outside its syncs. */
const OWN_GROWING_FLAG = '--heap-growing-percent=0';

/**
 * The broker's sync policy (see the module header), until the function it returns is called
 * (again: nothing). V8's flags are process-wide: one holder at a time — the broker runs one sync
 * at a time (BrokerNode.syncUniverse shares a running one).
 */
export function applySyncGcPolicy(): () => void {
  setFlagsFromString(SYNC_GC_FLAG);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    setFlagsFromString(OWN_GROWING_FLAG);
  };
}

/** The V8 flag of media's serving policy: the old generation's next limit at 1.5 × the live heap after a full collection. */
export const SERVING_GC_FLAG = '--heap-growing-percent=50';

/** Media's policy once it serves sessions (see the module header); call it after the start-up stages. */
export function applyServingGcPolicy(): void {
  setFlagsFromString(SERVING_GC_FLAG);
}

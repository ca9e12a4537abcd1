/**
 * Process-wide tallies of the expensive cryptographic operations (OPRF evaluations, BFV
 * operations) and of the session bytes on the wire (per direction, peer and round), as
 * plain numbers.
 *
 * The crypto and rpc layers increment them; they import nothing else for it, so those
 * layers stay free of any metrics library and of I/O. The service layer (shared/src/service/metrics.ts)
 * reads them when Prometheus scrapes. Counts only ever grow; they are per process (in a
 * deployment one process is one party's node).
 */

/** BFV operations counted, each as a number of ciphertexts handled. */
export type BfvOp = 'encrypt' | 'decrypt' | 'aggregate';

/** A record of the operation tallies, all zero (one factory: the live record and uncounted's sink share one shape). */
function operationTallies(): { oprfEvaluations: number; bfv: Record<BfvOp, number> } {
  return {
    /** Blinded elements evaluated under an OPRF key for sessions (not media's own preparation or labels). */
    oprfEvaluations: 0,
    bfv: { encrypt: 0, decrypt: 0, aggregate: 0 },
  };
}

export const opCounts = operationTallies();

/**
 * The primitives a phase's floor is made of (bench/floors.ts measures each one's cost): every
 * X25519 (variable base; `x25519Base` for the fixed base), hash to group, and the BFV
 * operations themselves (SEAL calls, without encoding, serialisation or validation), and
 * `bfvPlainNtt`: a plaintext's transform to NTT form at the first level — with its `bfvEncode`
 * (below), the operand a session-specific multiply_plain needs: the joint-count sum's selection
 * of the matched slots of each indicator ciphertext it touches (BrokerBfv.sumIndicators), an
 * aggregation's mask built for a list of users (maskFor); the slots are the session's data, so
 * no precomputed plaintext can stand in for them; `bfvLoad`: SEAL's load of one of media's wire ciphertexts, which the broker's sync cannot
 * skip — the bytes are untrusted and seed-compressed, so the load regenerates the uniform half
 * from its seed and checks the ciphertext against the parameters (zstd, where present, is not
 * part of it: bench/floors.ts measures the form media sends, crypto/bfv.ts WIRE_COMPRESSION;
 * counted where the sync parses them, BrokerBfv.toStoredForm, and where a joint-count session
 * parses media's indicator ciphertexts, BrokerBfv.sumIndicators — the same untrusted wire form,
 * one load per ciphertext it touches); `bfvReadStored`: one positioned read of a stored (NTT-form, uncompressed, ≈ 393 KB)
 * ciphertext from the broker's file into memory — the one copy by which a session's aggregation
 * gets a ciphertext it masks into SEAL's memory (the encrypted universe is on disk, 3 GB at
 * 10^6 users), counted once per ciphertext the aggregation touches (BrokerBfv.aggregateStored);
 * `bfvWriteStored`: its converse, one vectored write (writev) of a stored ciphertext appended
 * to the broker's file — the one copy by which the sync persists each ciphertext it received
 * into the page cache (the stored form is what makes a session's masking one product; kept on
 * disk, not in memory), counted once per ciphertext the sync stores (UniverseDownload.addCiphertexts);
 * and `lookalikeScore`: scoring one user's packed attribute vector for a look-alike
 * (the 8 byte-table lookups summed, the least any scorer of this model does per user;
 * selection, the quality figure and writing the audience are above it); `ed25519Sign` and
 * `ed25519Verify`: the Ed25519 signature of each session message a node seals and the check of
 * each it opens (rpc/channel.ts SessionChannel: every message is signed by its sender and
 * verified by its receiver, the charter's rule; node:crypto's OpenSSL Ed25519 over the
 * statement's PAE bytes, nothing around it — not the payload's SHA-256, the statement's JSON or
 * the transcript); and `psiLookup`:
 * one 32-byte membership test in a DH-PSI's element table (crypto/dh-psi.ts ElementTable.has)
 * — media testing each of its offered elements' answers against the broker's set, the least
 * the matching does per element (decoding, validation and transcripts are above it); and media's
 * own BFV steps around its SEAL encryptions and decryptions, each where media does it:
 * `bfvEncode`, the batch encoding of N slot values into the plaintext it encrypts (one per
 * ciphertext: slots are how values enter a BFV plaintext; also the broker's, for the selections
 * and masks it builds, beside their bfvPlainNtt), `bfvDecode`, the batch decoding of a
 * decrypted plaintext back to its N slots (one per profile or masked sum it reads), and
 * `bfvNoiseBudget`, SEAL's invariant noise budget of the untrusted last-level ciphertext it is
 * about to decrypt (a broker's ciphertext past its noise budget would decrypt to garbage
 * undetected: media checks each one, MediaBfv.decryptProfile / decryptSlotSum). Counted
 * by the thread that asks for the work: work handed to worker threads is counted when it is
 * dispatched, the workers' own tallies are never read.
 */
export type Primitive =
  | 'x25519' | 'x25519Base' | 'hashToGroup'
  | 'bfvEncrypt' | 'bfvEncryptZero' | 'bfvDecrypt' | 'bfvMultiplyPlain' | 'bfvAdd' | 'bfvRotate' | 'bfvNtt'
  | 'bfvPlainNtt' | 'bfvLoad' | 'bfvReadStored' | 'bfvWriteStored' | 'lookalikeScore' | 'ed25519Sign' | 'ed25519Verify' | 'psiLookup'
  | 'bfvEncode' | 'bfvDecode' | 'bfvNoiseBudget';

export const PRIMITIVES: readonly Primitive[] = [
  'x25519', 'x25519Base', 'hashToGroup', 'bfvEncrypt', 'bfvEncryptZero', 'bfvDecrypt', 'bfvMultiplyPlain', 'bfvAdd', 'bfvRotate', 'bfvNtt',
  'bfvPlainNtt', 'bfvLoad', 'bfvReadStored', 'bfvWriteStored', 'lookalikeScore', 'ed25519Sign', 'ed25519Verify', 'psiLookup',
  'bfvEncode', 'bfvDecode', 'bfvNoiseBudget',
];

/** A record of every primitive's tally, all zero (one factory: the live record and uncounted's sink share one shape). */
function primitiveTallies(): Record<Primitive, number> {
  return Object.fromEntries(PRIMITIVES.map((k) => [k, 0])) as Record<Primitive, number>;
}

/** Process-wide primitive tallies (a session's per-phase share: service/sessions.ts). */
export const primitiveCounts: Record<Primitive, number> = primitiveTallies();

/** > 0 while `uncounted` runs its function: nothing is tallied. */
let uncountedDepth = 0;

/**
 * Where `uncounted` work tallies: records of the same shapes as the live ones, never read.
 * Counting then runs the same code counted or not — one store into a record of one shape —
 * so that code compiled in a start-up warm-up (uncounted) still holds when a session first
 * counts: with an early return instead, the store never ran in the warm-up, had no type
 * feedback, and the warmed-up optimised code was thrown away at the session's first count
 * and compiled again within the session (node --trace-deopt: MediaBfv's profile decryption,
 * "wrong name" / "insufficient type feedback", then compiled again on V8's threads).
 */
const discardedPrimitives = primitiveTallies();
const discardedOperations = operationTallies();
const discardedWireBytes = new Map<string, number>();

export function countPrimitive(kind: Primitive, n = 1): void {
  const into = uncountedDepth > 0 ? discardedPrimitives : primitiveCounts;
  into[kind] += n;
}

/**
 * Runs `work` — synchronous, as a warm-up is (a Promise or other thenable returned is refused:
 * its later turns would run counted, among sessions') — with no primitive, OPRF evaluation,
 * BFV operation or wire byte tallied: work that is no session's (a node's start-up and background warm-ups)
 * is never seen in a session's phases, whatever session runs meanwhile. Unlike a snapshot
 * restored afterwards, nothing a session counted is ever taken back: between two event-loop
 * turns only one of them runs, and `work` runs whole inside one. Nests.
 */
export function uncounted<T>(work: () => T): T {
  uncountedDepth++;
  let out: T;
  try {
    out = work();
  } finally {
    uncountedDepth--;
  }
  if (out !== null && (typeof out === 'object' || typeof out === 'function') && typeof (out as { then?: unknown }).then === 'function') {
    throw new TypeError('uncounted: expected synchronous work, got a thenable (its later turns would be counted)');
  }
  return out;
}

/** A copy of the tallies, to subtract later (primitiveDelta). */
export function primitiveSnapshot(): Record<Primitive, number> {
  return { ...primitiveCounts };
}

/** Sets the tallies back to `snapshot` (work done at start-up, e.g. a warm-up, is no session's). */
export function restorePrimitiveCounts(snapshot: Readonly<Record<Primitive, number>>): void {
  for (const k of PRIMITIVES) primitiveCounts[k] = snapshot[k];
}

/** What was counted since `since`, without the zero entries. */
export function primitiveDelta(since: Readonly<Record<Primitive, number>>): Partial<Record<Primitive, number>> {
  const out: Partial<Record<Primitive, number>> = {};
  for (const k of PRIMITIVES) {
    const d = primitiveCounts[k] - since[k];
    if (d > 0) out[k] = d;
  }
  return out;
}

export function countOprf(n: number): void {
  const into = uncountedDepth > 0 ? discardedOperations : opCounts;
  into.oprfEvaluations += n;
}

export function countBfv(op: BfvOp, ciphertexts: number): void {
  const into = uncountedDepth > 0 ? discardedOperations : opCounts;
  into.bfv[op] += ciphertexts;
}

export type Direction = 'sent' | 'received';

/** Wire bytes of session messages: key `${direction}|${peer}|${round}` → bytes. */
export const wireBytes = new Map<string, number>();

export function countBytes(direction: Direction, peer: string, round: string, bytes: number): void {
  const into = uncountedDepth > 0 ? discardedWireBytes : wireBytes; // a warm-up's messages are no traffic (uncounted)
  const k = `${direction}|${peer}|${round}`;
  into.set(k, (into.get(k) ?? 0) + bytes);
}

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

export const opCounts = {
  /** Elements evaluated under an OPRF key, including media's own universe preparation. */
  oprfEvaluations: 0,
  bfv: { encrypt: 0, decrypt: 0, aggregate: 0 } as Record<BfvOp, number>,
};

export function countOprf(n: number): void {
  opCounts.oprfEvaluations += n;
}

export function countBfv(op: BfvOp, ciphertexts: number): void {
  opCounts.bfv[op] += ciphertexts;
}

export type Direction = 'sent' | 'received';

/** Wire bytes of session messages: key `${direction}|${peer}|${round}` → bytes. */
export const wireBytes = new Map<string, number>();

export function countBytes(direction: Direction, peer: string, round: string, bytes: number): void {
  const k = `${direction}|${peer}|${round}`;
  wireBytes.set(k, (wireBytes.get(k) ?? 0) + bytes);
}

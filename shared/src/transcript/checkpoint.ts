/**
 * Co-signed checkpoints (RFC 6962 Merkle trees over a session's message statements).
 *
 * The broker is the hub: every message of a session is sent or received by it, so its
 * transcript's leaves are the session's messages. After each phase it proposes the root of
 * that tree to the advertiser and to media, with an inclusion proof for every message the
 * receiver exchanged (in order) and a consistency proof from the last root the receiver
 * signed. A receiver co-signs only when all of its own messages are in the tree, in its
 * order, and the new tree extends the last one it signed. Both peers signing the same root
 * commits the broker to one history for both: it cannot show them different ones.
 *
 * Pure functions: the proposal, its check, the signing body and co-signatures, and the
 * Checkpoint message's shape. The Cosign handler and the broker's collection of
 * co-signatures, which run them over a session's channel, are in rpc/session-control.ts.
 */
import { merkleProofs, verifyConsistency, verifyInclusion } from '../crypto/merkle.ts';
import { canonicalBytes } from '../crypto/jcs.ts';
import { verifySignature, type SigningKey } from '../crypto/dsse.ts';
import { ProtocolError, type Party } from '../protocol/messages.ts';

/** DSSE payload type of a checkpoint co-signature. */
export const CHECKPOINT_TYPE = 'application/vnd.cleanroom.checkpoint+json; version=1';

/** A checkpoint as the broker proposes it and the peers return it co-signed (the Checkpoint payload). */
export interface CheckpointMessage {
  treeSize: number;
  rootHash: Uint8Array;
  afterRound: string;
  cosignatures: { keyid: string; sig: Uint8Array }[];
  inclusion: { index: number; path: Uint8Array[] }[];
  previousSize: number;
  consistency: Uint8Array[];
}

/** What a co-signature commits to. */
export type SignedCheckpoint = Pick<CheckpointMessage, 'treeSize' | 'rootHash' | 'afterRound'>;

/** The bytes each party co-signs for a checkpoint (the transcripts record the root in hex). */
export function checkpointSigningBody(cp: { sessionId: string; treeSize: number; root: string; afterRound: string }): Uint8Array {
  return canonicalBytes({ v: 1, kind: 'checkpoint', sessionId: cp.sessionId, treeSize: cp.treeSize, root: cp.root, afterRound: cp.afterRound });
}

export interface SignedTree {
  size: number;
  root: Uint8Array;
}

function partiesOf(statement: Uint8Array): [string, string] {
  const s = JSON.parse(new TextDecoder().decode(statement)) as { sender: string; receiver: string };
  return [s.sender, s.receiver];
}

/** The broker's proposal to `peer` over `leaves` (the broker's statements so far). */
export function propose(leaves: Uint8Array[], peer: Party, afterRound: string, previous: SignedTree | undefined): CheckpointMessage {
  const indices: number[] = [];
  leaves.forEach((leaf, index) => {
    if (partiesOf(leaf).includes(peer)) indices.push(index);
  });
  const proofs = merkleProofs(leaves, indices, previous?.size ?? 0);
  return {
    treeSize: leaves.length,
    rootHash: proofs.root,
    afterRound,
    cosignatures: [],
    inclusion: indices.map((index, k) => ({ index, path: proofs.inclusion[k]! })),
    previousSize: previous?.size ?? 0,
    consistency: proofs.consistency,
  };
}

/**
 * A receiver's check of a proposal against its own messages (`mine`, in its transcript
 * order, without the proposal itself) and the last tree it signed. Throws INVALID_ARGUMENT
 * naming what does not hold.
 */
export function check(p: CheckpointMessage, mine: readonly Uint8Array[], last: SignedTree | undefined): void {
  const bad = (why: string): never => {
    throw new ProtocolError('INVALID_ARGUMENT', `checkpoint after ${p.afterRound} refused: ${why}`);
  };
  if (p.inclusion.length !== mine.length) bad(`it includes ${p.inclusion.length} of this party's messages, this party has ${mine.length}`);
  let prev = -1;
  p.inclusion.forEach((proof, i) => {
    if (proof.index <= prev) bad(`message ${i} is out of order in the tree`);
    prev = proof.index;
    if (!verifyInclusion(mine[i]!, proof.index, p.treeSize, proof.path, p.rootHash)) bad(`message ${i} of this party is not in the tree at index ${proof.index}`);
  });
  if (last) {
    if (p.previousSize !== last.size) bad(`it extends a tree of size ${p.previousSize}, this party last signed size ${last.size}`);
    if (!verifyConsistency(last.size, p.treeSize, last.root, p.rootHash, p.consistency)) bad(`it is not consistent with the tree of size ${last.size} this party signed`);
  } else if (p.previousSize !== 0) {
    bad(`it extends a tree of size ${p.previousSize}, this party signed none`);
  }
}

export function signingBody(sessionId: string, p: SignedCheckpoint): Uint8Array {
  return checkpointSigningBody({ sessionId, treeSize: p.treeSize, root: Buffer.from(p.rootHash).toString('hex'), afterRound: p.afterRound });
}

export function cosign(key: SigningKey, sessionId: string, p: SignedCheckpoint): { keyid: string; sig: Uint8Array } {
  return key.sign(CHECKPOINT_TYPE, signingBody(sessionId, p));
}

export function verifyCosignature(publicKey: Uint8Array, sessionId: string, p: SignedCheckpoint, sig: Uint8Array): boolean {
  return verifySignature(publicKey, CHECKPOINT_TYPE, signingBody(sessionId, p), sig);
}

/**
 * The session-control RPCs, in one place for the three nodes: Cosign (a peer checks the
 * broker's checkpoint proposal against its own messages and co-signs it), the broker's side
 * of it (propose to each peer, collect and check the co-signatures, record the co-signed
 * checkpoint), and Abort (acknowledge, and let the node fail the session).
 *
 * The checkpoint itself — proposal, check, signing body — is transcript/checkpoint.ts; this
 * module runs it over a session's channel, so every message stays signed and recorded.
 */
import { merkleRoot } from '../crypto/merkle.ts';
import { ProtocolError, type Party, type Round } from '../protocol/messages.ts';
import { check, cosign, propose, verifyCosignature, type SignedTree } from '../transcript/checkpoint.ts';
import type { Envelope } from '../transcript/statement.ts';
import type { SessionChannel } from './channel.ts';
import { AbortCodec, CheckpointCodec } from './codec.ts';
import type { Handler } from './grpc.ts';
import type { Peer } from './peer.ts';

/** What a node needs to answer a session-control call: the session's channel, once it has one. */
interface SessionOf {
  sessionId: string;
  channel: SessionChannel;
}

function one(env: Envelope | undefined, what: string): Envelope {
  if (!env) throw new ProtocolError('INVALID_ARGUMENT', `expected one ${what} message`);
  return env;
}

/**
 * The Cosign handler of a peer (advertiser, media). `session` finds the caller's session (its
 * signature checked); `lastSigned` holds the last tree this node co-signed for it, which the
 * proposal must extend. `afterCosign` runs once the reply is sealed (media closes its
 * channel after the final checkpoint).
 */
export function cosignHandler<R>(o: {
  session: (caller: Party, env: Envelope | undefined) => R;
  channelOf: (rec: R) => SessionOf;
  lastSigned: { get(rec: R): SignedTree | undefined; set(rec: R, tree: SignedTree): void };
  afterCosign?: (rec: R, afterRound: string) => void;
}): Handler {
  return async (caller, [env]) => {
    const rec = o.session(caller, env);
    const { channel, sessionId } = o.channelOf(rec);
    const p = channel.open(one(env, 'Checkpoint'), caller, ['CHECKPOINT'], CheckpointCodec).value;
    check(p, channel.leaves().slice(0, -1), o.lastSigned.get(rec)); // my messages, without the proposal just received
    o.lastSigned.set(rec, { size: p.treeSize, root: p.rootHash });
    const reply = channel.seal(caller, 'CHECKPOINT', CheckpointCodec, { ...p, inclusion: [], consistency: [], cosignatures: [cosign(channel.signingKey, sessionId, p)] });
    o.afterCosign?.(rec, p.afterRound);
    return [reply];
  };
}

/**
 * The Abort handler of every node: opens the caller's Abort, acknowledges it, then lets the
 * node fail the session (`onAbort` with the reason the caller gave).
 */
export function abortHandler<R>(o: {
  session: (caller: Party, env: Envelope | undefined) => R;
  channelOf: (rec: R) => SessionOf;
  onAbort: (rec: R, caller: Party, reason: string) => void;
}): Handler {
  return async (caller, [env]) => {
    const rec = o.session(caller, env);
    const { channel } = o.channelOf(rec);
    const { value } = channel.open(one(env, 'Abort'), caller, ['ABORT'], AbortCodec);
    const reply = channel.seal(caller, 'ABORT', AbortCodec, { reason: 'acknowledged' });
    o.onAbort(rec, caller, value.reason);
    return [reply];
  };
}

/** A peer the broker collects a co-signature from. */
export interface Cosigner {
  party: 'advertiser' | 'media';
  peer: Peer<'Advertiser'> | Peer<'Media'>;
  /** The peer's pinned public key. */
  key: Uint8Array;
}

/**
 * The broker's checkpoint after `afterRound`: proposes the root of this session's message
 * tree to each peer in turn, checks each co-signature against the peer's pinned key, and
 * records the checkpoint co-signed by the broker and the peers. `signed` holds the last tree
 * each peer co-signed (updated here). A peer that refuses or returns no valid co-signature
 * fails the call (PERMISSION_DENIED), and so the session.
 */
export async function collectCheckpoint(channel: SessionChannel, peers: readonly Cosigner[], signed: Partial<Record<Party, SignedTree>>, afterRound: Round): Promise<void> {
  const leaves = channel.leaves();
  const rootHash = merkleRoot(leaves);
  const cosignatures: { party: Party; keyid: string; sig: Uint8Array }[] = [];
  for (const { party, peer, key } of peers) {
    const proposal = propose(leaves, party, afterRound, signed[party]);
    const [resp] = await peer.call('Cosign', [channel.seal(party, 'CHECKPOINT', CheckpointCodec, proposal)]);
    const reply = channel.open(one(resp, 'Checkpoint'), party, ['CHECKPOINT'], CheckpointCodec).value;
    const sig = reply.cosignatures[0];
    if (!sig || !verifyCosignature(key, channel.sessionId, proposal, sig.sig)) {
      throw new ProtocolError('PERMISSION_DENIED', `${party} returned no valid co-signature for the checkpoint after ${afterRound}`);
    }
    cosignatures.push({ party, keyid: sig.keyid, sig: sig.sig });
    signed[party] = { size: proposal.treeSize, root: proposal.rootHash };
  }
  const own = cosign(channel.signingKey, channel.sessionId, { treeSize: leaves.length, rootHash, afterRound });
  cosignatures.unshift({ party: channel.party, keyid: own.keyid, sig: own.sig });
  channel.recordCheckpoint({ treeSize: leaves.length, root: Buffer.from(rootHash).toString('hex'), afterRound, cosignatures });
}

/**
 * SessionChannel: one node's view of one session's messages.
 *
 * It seals outgoing messages (signed statement + payload) and opens incoming ones
 * (signature → digest → addressing → round → sequence, in that order, before decoding),
 * keeps the per-link sequence numbers that make replays and reordering detectable, and
 * appends every message sent or received to this node's transcript of the session.
 *
 * An optional observer sees every payload this node receives — the tests use it to prove
 * the "never sees" column of the privacy contract.
 */
import { PARTIES } from '../common/names.ts';
import { keyidOf, type SigningKey } from '../crypto/dsse.ts';
import type { TranscriptWriter } from '../transcript/writer.ts';
import {
  EnvelopeError, openEnvelope, sealEnvelope, type Envelope, type Statement,
} from '../transcript/statement.ts';
import { ProtocolError, type Party, type Policy, type Round } from '../protocol/messages.ts';
import type { Batch, Codec } from './codec.ts';
import { countBytes, countPrimitive } from '../common/op-counts.ts';

export interface ReceiveObserver {
  (me: Party, statement: Statement, payload: Uint8Array): void;
}

export interface ChannelIdentity {
  party: Party;
  key: SigningKey;
  /** Pinned public keys of the parties (trust bundle). */
  peerKey(party: Party): Uint8Array;
}

export class SessionChannel {
  readonly sessionId: string;
  private readonly id: ChannelIdentity;
  private readonly transcript: TranscriptWriter | undefined;
  private readonly observer: ReceiveObserver | undefined;
  private readonly sendSeq = new Map<Party, number>();
  private readonly recvSeq = new Map<Party, number>();
  /** Wire bytes (statement + payload + signatures) sent and received, by round. */
  readonly bytes = { sent: {} as Record<string, number>, received: {} as Record<string, number> };

  constructor(id: ChannelIdentity, sessionId: string, transcript?: TranscriptWriter, observer?: ReceiveObserver) {
    this.id = id;
    this.sessionId = sessionId;
    this.transcript = transcript;
    this.observer = observer;
  }

  get party(): Party {
    return this.id.party;
  }

  seal<T>(receiver: Party, round: Round, c: Codec<T>, message: T, chunk = 0, last = true): Envelope {
    const seq = this.sendSeq.get(receiver) ?? 0;
    this.sendSeq.set(receiver, seq + 1);
    const { envelope } = sealEnvelope(
      this.id.key,
      { sessionId: this.sessionId, round, sender: this.id.party, receiver, seq, chunk, last, payloadType: c.type },
      c.encode(message),
    );
    countPrimitive('ed25519Sign'); // the floor's share of sealing (op-counts.ts)
    this.transcript?.appendMessage('sent', envelope.statement, envelope.signatures[0]!);
    this.bytes.sent[round] = (this.bytes.sent[round] ?? 0) + envelopeSize(envelope);
    countBytes('sent', receiver, round, envelopeSize(envelope));
    return envelope;
  }

  /** Seals a list of chunks of one logical message (chunk i of n, last on the final one). */
  sealChunks<T>(receiver: Party, round: Round, c: Codec<T>, chunks: readonly T[]): Envelope[] {
    return chunks.map((m, i) => this.seal(receiver, round, c, m, i, i === chunks.length - 1));
  }

  open<T>(env: Envelope, sender: Party, rounds: readonly Round[], c: Codec<T>): { statement: Statement; value: T } {
    const statement = openEnvelope(env, this.id.peerKey(sender), {
      sender, receiver: this.id.party, sessionId: this.sessionId, rounds, payloadType: c.type,
    });
    countPrimitive('ed25519Verify'); // the floor's share of opening (op-counts.ts)
    const expected = this.recvSeq.get(sender) ?? 0;
    if (statement.seq < expected) throw new EnvelopeError('replay', `sequence number ${statement.seq} from ${sender} was already received (next is ${expected})`);
    if (statement.seq > expected) throw new EnvelopeError('out-of-order', `expected sequence number ${expected} from ${sender}, got ${statement.seq}`);
    this.recvSeq.set(sender, expected + 1);
    this.bytes.received[statement.round] = (this.bytes.received[statement.round] ?? 0) + envelopeSize(env);
    countBytes('received', sender, statement.round, envelopeSize(env));
    this.transcript?.appendMessage('received', env.statement, env.signatures[0]!);
    this.observer?.(this.id.party, statement, env.payload);
    return { statement, value: c.decode(env.payload) };
  }

  /**
   * Whether `env`'s statement names `c`'s payload type — read unverified, to choose how to open
   * a message that is one of two types (a paged call's answer: an Ack for every page but the
   * last, the final reply for the last); `open` then checks everything, signature first.
   */
  names<T>(env: Envelope, c: Codec<T>): boolean {
    try {
      return (JSON.parse(new TextDecoder().decode(env.statement)) as { payloadType?: unknown }).payloadType === c.type;
    } catch {
      return false;
    }
  }

  /** Opens all chunks of one logical message: chunk indexes 0..n-1, `last` exactly on the final one. */
  openChunks<T>(envs: readonly Envelope[], sender: Party, rounds: readonly Round[], c: Codec<T>): T[] {
    if (envs.length === 0) throw new ProtocolError('INVALID_ARGUMENT', `expected at least one ${c.type} message, got none`);
    return envs.map((env, i) => {
      const { statement, value } = this.open(env, sender, rounds, c);
      if (statement.chunk !== i) throw new ProtocolError('INVALID_ARGUMENT', `${c.type}: expected chunk ${i}, got ${statement.chunk}`);
      if (statement.last !== (i === envs.length - 1)) {
        throw new ProtocolError('INVALID_ARGUMENT', `${c.type}: the stream ended ${statement.last ? 'after' : 'before'} the chunk marked last`);
      }
      return value;
    });
  }

  /**
   * Opens the chunks of one logical message one at a time as they arrive (a reply read as a
   * stream, rpc/peer.ts callEach), with openChunks's checks: chunk i at index i, `last` exactly
   * on the final one; a chunk after the one marked last is refused before it is opened, and
   * `end()`, called when the stream has ended, refuses a stream with no chunk or none marked last.
   */
  chunkReader<T>(sender: Party, rounds: readonly Round[], c: Codec<T>): { open(env: Envelope): T; end(): void } {
    let next = 0;
    let ended = false;
    return {
      open: (env) => {
        if (ended) throw new ProtocolError('INVALID_ARGUMENT', `${c.type}: the stream ended after the chunk marked last`);
        const { statement, value } = this.open(env, sender, rounds, c);
        if (statement.chunk !== next) throw new ProtocolError('INVALID_ARGUMENT', `${c.type}: expected chunk ${next}, got ${statement.chunk}`);
        next++;
        ended = statement.last;
        return value;
      },
      end: () => {
        if (next === 0) throw new ProtocolError('INVALID_ARGUMENT', `expected at least one ${c.type} message, got none`);
        if (!ended) throw new ProtocolError('INVALID_ARGUMENT', `${c.type}: the stream ended before the chunk marked last`);
      },
    };
  }

  /**
   * Records, signed, the policy this party agreed to for the session, with the pinned key
   * ids of the three parties — what an auditor checks the rest of the session against.
   */
  recordPolicy(policy: Policy & Record<string, unknown>): void {
    if (!this.transcript) return;
    const keyFingerprints = Object.fromEntries(PARTIES.map((p) => [p, keyidOf(this.id.peerKey(p))]));
    this.transcript.appendPolicy({ ...policy, keyFingerprints }, this.id.key);
  }

  /**
   * Records, signed, the final privacy charge of the session (the reservation was declared
   * with the policy at OPEN): what `cleanroom audit verify` adds up against the budget.
   */
  recordLedgerSettlement(settlement: { charged: number; spentAfter: number; budget: number }): void {
    this.transcript?.appendPolicy({ ledgerSettlement: settlement }, this.id.key);
  }

  /** Statements of every message recorded so far, in order (the Merkle leaves). */
  leaves(): Uint8Array[] {
    return this.transcript?.leaves() ?? [];
  }

  /** Appends a co-signed checkpoint over this node's own first `treeSize` leaves. */
  recordCheckpoint(cp: { treeSize: number; root: string; afterRound: Round; cosignatures: { party: Party; keyid: string; sig: Uint8Array }[] }): void {
    this.transcript?.appendCheckpoint(cp);
  }

  get signingKey(): SigningKey {
    return this.id.key;
  }

  /**
   * Closes the transcript (fsync + close). Never throws: it runs when the session's outcome is
   * already decided, often from a timer or a `finally`, where a throw would end the process;
   * a failure is kept in `closeError` for the caller to log.
   */
  close(): void {
    try {
      this.transcript?.close();
    } catch (err) {
      this.closeError = err as Error;
    }
  }

  /** Why closing the transcript failed, if it did. */
  closeError: Error | undefined;
}

export type { Batch };

function envelopeSize(e: Envelope): number {
  return e.statement.length + e.payload.length + e.signatures.reduce((a, s) => a + s.keyid.length + s.sig.length, 0);
}

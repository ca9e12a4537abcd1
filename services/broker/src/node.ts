/**
 * The broker node: serves the advertiser, drives media, holds media's universe table.
 *
 * Per session it runs the BrokerRole: OPEN (settle policy, fetch media's session keys) →
 * BLIND (pad, relay to media, unpad) → TOKENS (match, ask media for the encrypted
 * attributes of real + decoy matches) → AGGREGATE (encrypted cohort profile to media) →
 * LOOKALIKE (media's result relayed to the advertiser). If anything fails, the session is
 * failed on both sides (Abort to the other peer) and nothing partial is released.
 * The universe table (tokens only) is synced from media at start and when media's epoch
 * changes.
 */
import { ProtocolError, type Party } from '@cleanroom/shared/protocol/messages.ts';
import { BrokerRole, type UniverseTable } from '@cleanroom/shared/protocol/broker.ts';
import type { BrokerPolicyConfig } from '@cleanroom/shared/protocol/policy.ts';
import {
  AbortCodec, BATCH_BYTES, BATCH_ITEMS, BlindedBatchCodec, CiphertextBatchCodec, CohortProfileCodec, joinBatches, joinSessionKeys, LookalikeResultCodec,
  OpenSessionCodec, PrepareSessionCodec, SessionAcceptedCodec, SessionKeysCodec, SessionResultCodec, splitBatches, TokenBatchCodec,
  UniverseChunkCodec, UniverseRequestCodec,
} from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import type { Handler } from '@cleanroom/shared/rpc/grpc.ts';
import type { Peer } from '@cleanroom/shared/rpc/peer.ts';
import { TokenTable, packTokens } from '@cleanroom/shared/common/token-set.ts';
import { openEnvelope, type Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';
import type { NodeCommonOptions } from '@cleanroom/shared/service/identity.ts';
import { SessionRegistry, type SessionRecord } from '@cleanroom/shared/service/sessions.ts';
import { randomUUID } from 'node:crypto';
import { propose, verifyCosignature, cosign, type SignedTree } from '@cleanroom/shared/transcript/checkpoint.ts';
import { CheckpointCodec } from '@cleanroom/shared/rpc/codec.ts';
import type { Round } from '@cleanroom/shared/protocol/messages.ts';

interface State {
  role: BrokerRole;
  channel: SessionChannel;
  /** The last tree each peer co-signed. */
  signed: Partial<Record<Party, SignedTree>>;
}

export interface BrokerNodeOptions extends NodeCommonOptions {
  media: Peer;
  advertiser: Peer;
  policy: BrokerPolicyConfig;
}

export class BrokerNode {
  readonly sessions: SessionRegistry<State>;
  universe: (UniverseTable & { syncedAt: string }) | undefined;
  private readonly o: BrokerNodeOptions;

  constructor(o: BrokerNodeOptions) {
    this.o = o;
    this.sessions = new SessionRegistry<State>(o.deadlineMs, (rec) => this.fail(rec, `no message from a peer for ${o.deadlineMs} ms`, true));
  }

  /** Pulls media's universe table (tokens only, shuffled by media), signed like any message. */
  async syncUniverse(): Promise<UniverseTable> {
    const sessionId = `universe-${randomUUID()}`;
    const ch = new SessionChannel(this.o.identity, sessionId, TranscriptWriter.open(this.o.transcriptDir, 'broker', sessionId), this.o.observer);
    try {
      const resp = await this.o.media.call('SyncUniverse', [ch.seal('media', 'UNIVERSE', UniverseRequestCodec, { haveEpoch: this.universe?.epoch ?? '' })]);
      const chunks = ch.openChunks(resp, 'media', ['UNIVERSE'], UniverseChunkCodec);
      const epoch = chunks[0]!.epoch;
      const tokens = joinBatches(chunks.map((c) => {
        if (c.epoch !== epoch) throw new ProtocolError('INVALID_ARGUMENT', `universe chunks mix epochs ${epoch} and ${c.epoch}`);
        return { offset: c.offset, items: c.tokens };
      }), 'universe table');
      if (tokens.length !== chunks[0]!.size) throw new ProtocolError('INVALID_ARGUMENT', `universe table announced ${chunks[0]!.size} tokens, got ${tokens.length}`);
      this.universe = { epoch, table: TokenTable.fromPacked(packTokens(tokens)), syncedAt: new Date().toISOString() };
      this.o.log.info({ epoch, tokens: tokens.length }, 'universe table synced from media');
      return this.universe;
    } finally {
      ch.close();
    }
  }

  private session(caller: Party, env: Envelope | undefined): SessionRecord<State> {
    return this.sessions.forEnvelope(env, caller, 'broker', this.o.identity.peerKey(caller));
  }

  /** One phase's work; on failure the session fails everywhere and the caller gets the status. */
  private step<T>(rec: SessionRecord<State>, phase: string, work: () => Promise<T>): Promise<T> {
    return this.sessions.step(rec, phase, work, (reason) => this.fail(rec, reason, true));
  }

  private fail(rec: SessionRecord<State>, reason: string, tellMedia: boolean): void {
    if (rec.status !== 'running') return;
    this.o.log.warn({ sessionId: rec.sessionId, phase: rec.phase, reason }, 'session failed');
    rec.state.role.fail(reason);
    this.sessions.finish(rec, 'failed', undefined, reason);
    if (tellMedia) {
      const env = rec.state.channel.seal('media', 'ABORT', AbortCodec, { reason });
      this.o.media.call('Abort', [env], 5000).catch(() => undefined).finally(() => rec.state.channel.close());
    } else {
      rec.state.channel.close();
    }
  }

  /**
   * Proposes the root of this session's message tree to both peers, collects their
   * co-signatures (each checked against the peer's pinned key) and records the co-signed
   * checkpoint. A peer that refuses fails the session.
   */
  private async checkpoint(rec: SessionRecord<State>, afterRound: Round): Promise<void> {
    const { channel, signed } = rec.state;
    const leaves = channel.leaves();
    const cosignatures: { party: Party; keyid: string; sig: Uint8Array }[] = [];
    let root: Uint8Array | undefined;
    for (const peer of ['advertiser', 'media'] as const) {
      const proposal = propose(leaves, peer, afterRound, signed[peer]);
      root = proposal.rootHash;
      const [resp] = await (peer === 'advertiser' ? this.o.advertiser : this.o.media).call('Cosign', [channel.seal(peer, 'CHECKPOINT', CheckpointCodec, proposal)]);
      const reply = channel.open(resp!, peer, ['CHECKPOINT'], CheckpointCodec).value;
      const sig = reply.cosignatures[0];
      if (!sig || !verifyCosignature(this.o.identity.peerKey(peer), rec.sessionId, proposal, sig.sig)) {
        throw new ProtocolError('PERMISSION_DENIED', `${peer} returned no valid co-signature for the checkpoint after ${afterRound}`);
      }
      cosignatures.push({ party: peer, keyid: sig.keyid, sig: sig.sig });
      signed[peer] = { size: proposal.treeSize, root: proposal.rootHash };
    }
    const own = cosign(channel.signingKey, rec.sessionId, { treeSize: leaves.length, rootHash: root!, afterRound } as never);
    cosignatures.unshift({ party: 'broker', keyid: own.keyid, sig: own.sig });
    channel.recordCheckpoint({ treeSize: leaves.length, root: Buffer.from(root!).toString('hex'), afterRound, cosignatures });
  }

  handlers(): Record<string, Handler> {
    return {
      OpenSession: async (caller, [env]) => {
        if (!env) throw new ProtocolError('INVALID_ARGUMENT', 'expected one OpenSession message');
        const s = openEnvelope(env, this.o.identity.peerKey(caller), { sender: caller, receiver: 'broker', rounds: ['OPEN'] });
        if (this.sessions.has(s.sessionId)) throw new ProtocolError('ALREADY_EXISTS', `session ${s.sessionId} already exists`);
        if (!this.universe) throw new ProtocolError('UNAVAILABLE', 'broker has not synced media\'s universe table yet');
        const channel = new SessionChannel(this.o.identity, s.sessionId, TranscriptWriter.open(this.o.transcriptDir, 'broker', s.sessionId), this.o.observer);
        const role = new BrokerRole({ config: this.o.policy, universe: this.universe });
        const rec = this.sessions.create(s.sessionId, { role, channel, signed: {} }, 'open');
        rec.bytes = () => channel.bytes;
        return this.step(rec, 'open', async () => {
          const open = channel.open(env, caller, ['OPEN'], OpenSessionCodec).value;
          const prepare = role.open(open);
          channel.recordPolicy({ ...prepare.policy, paddedCount: prepare.paddedCount });
          rec.progress = { seedCount: open.seedCount, paddedCount: role.paddedCount };
          const keyEnvs = await this.o.media.call('PrepareSession', [channel.seal('media', 'OPEN', PrepareSessionCodec, prepare)]);
          const keys = joinSessionKeys(channel.openChunks(keyEnvs, 'media', ['OPEN'], SessionKeysCodec));
          const accepted = await role.acceptKeys(keys);
          await this.checkpoint(rec, 'OPEN');
          // Draw the dummies while the advertiser blinds its seeds.
          setImmediate(() => {
            try {
              role.prepareDummies();
            } catch {
              // pad() draws them itself if this did not happen
            }
          });
          return [channel.seal('advertiser', 'OPEN', SessionAcceptedCodec, accepted)];
        });
      },

      Blind: async (caller, envs) => {
        const rec = this.session(caller, envs[0]);
        const { role, channel } = rec.state;
        return this.step(rec, 'blind', async () => {
          const blinded = joinBatches(channel.openChunks(envs, caller, ['BLIND'], BlindedBatchCodec), 'blinded elements');
          const padded = role.pad(blinded);
          const resp = await this.o.media.call('Evaluate', channel.sealChunks('media', 'BLIND', BlindedBatchCodec, splitBatches(padded, BATCH_ITEMS, BATCH_BYTES)));
          const evaluated = joinBatches(channel.openChunks(resp, 'media', ['BLIND'], BlindedBatchCodec), 'evaluated elements');
          const mine = role.unpad(evaluated);
          await this.checkpoint(rec, 'BLIND');
          return channel.sealChunks('advertiser', 'BLIND', BlindedBatchCodec, splitBatches(mine, BATCH_ITEMS, BATCH_BYTES));
        });
      },

      SubmitTokens: async (caller, envs) => {
        const rec = this.session(caller, envs[0]);
        const { role, channel } = rec.state;
        const tokens = await this.step(rec, 'tokens', async () =>
          joinBatches(channel.openChunks(envs, caller, ['TOKENS'], TokenBatchCodec), 'tokens'));
        const list = await this.step(rec, 'match', async () => role.match(tokens));
        rec.progress = { ...rec.progress, realMatches: role.counts!.realMatches, decoyMatches: role.counts!.decoyMatches };
        let profile;
        if (list === null) {
          profile = role.tooSmallProfile();
        } else {
          const cts = await this.step(rec, 'encrypt', async () => {
            const resp = await this.o.media.call('EncryptAttributes', channel.sealChunks('media', 'ENCRYPT', TokenBatchCodec, splitBatches(list, BATCH_ITEMS, BATCH_BYTES)));
            return joinBatches(channel.openChunks(resp, 'media', ['ENCRYPT'], CiphertextBatchCodec), 'ciphertexts');
          });
          profile = await this.step(rec, 'aggregate', async () => role.aggregate(cts));
        }
        const result = await this.step(rec, 'lookalike', async () => {
          const [resp] = await this.o.media.call('BuildLookalike', [channel.seal('media', 'AGGREGATE', CohortProfileCodec, profile)]);
          const lookalike = channel.open(resp!, 'media', ['LOOKALIKE'], LookalikeResultCodec).value;
          const result = role.finish(lookalike);
          await this.checkpoint(rec, 'LOOKALIKE');
          return result;
        });
        const out = [channel.seal('advertiser', 'LOOKALIKE', SessionResultCodec, result)];
        this.sessions.finish(rec, result.outcome === 'COMPLETED' ? 'completed' : 'cohort-too-small', { counts: role.counts, outcome: result.outcome });
        channel.close();
        this.o.log.info({ sessionId: rec.sessionId, phase: 'done', outcome: result.outcome, ...role.counts }, 'session finished');
        return out;
      },

      Abort: async (caller, [env]) => {
        const rec = this.session(caller, env);
        const { value } = rec.state.channel.open(env!, caller, ['ABORT'], AbortCodec);
        const reply = rec.state.channel.seal(caller, 'ABORT', AbortCodec, { reason: 'acknowledged' });
        this.fail(rec, `aborted by ${caller}: ${value.reason}`, caller !== 'media');
        return [reply];
      },
    };
  }

  close(): void {
    this.sessions.close();
  }
}

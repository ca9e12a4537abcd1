/**
 * The media node: serves the broker. Holds the prepared universe and, per session, a
 * MediaRole with fresh BFV keys. Audiences it builds stay here (state dir); only their
 * handle, size, quality and the cohort insight leave.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MediaRole } from '@cleanroom/shared/protocol/media.ts';
import { ProtocolError, type Party } from '@cleanroom/shared/protocol/messages.ts';
import type { PreparedUniverse } from '@cleanroom/shared/protocol/universe.ts';
import { randomPermutation } from '@cleanroom/shared/protocol/policy.ts';
import {
  AbortCodec, BlindedBatchCodec, CiphertextBatchCodec, CohortProfileCodec, LookalikeResultCodec, PrepareSessionCodec,
  SessionKeysCodec, splitBatches, splitSessionKeys, TokenBatchCodec, joinBatches, UniverseChunkCodec, UniverseRequestCodec,
} from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import type { Handler } from '@cleanroom/shared/rpc/grpc.ts';
import { openEnvelope, type Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';
import type { NodeCommonOptions } from '@cleanroom/shared/service/identity.ts';
import { SessionRegistry, type SessionRecord } from '@cleanroom/shared/service/sessions.ts';
import { check, cosign, type SignedTree } from '@cleanroom/shared/transcript/checkpoint.ts';
import { CheckpointCodec } from '@cleanroom/shared/rpc/codec.ts';

interface State {
  role: MediaRole;
  channel: SessionChannel;
  /** The last checkpoint tree this node co-signed. */
  lastSigned: SignedTree | undefined;
}

export interface MediaNodeOptions extends NodeCommonOptions {
  universe: PreparedUniverse;
  stateDir: string;
  maxPaddedCount: number;
  evalThreads: number;
}

const CT_BATCH_BYTES = 3 * 1024 * 1024;
const KEY_CHUNK_BYTES = 2 * 1024 * 1024;

export class MediaNode {
  readonly sessions: SessionRegistry<State>;
  private readonly o: MediaNodeOptions;

  constructor(o: MediaNodeOptions) {
    this.o = o;
    this.sessions = new SessionRegistry<State>(o.deadlineMs, (rec) => this.fail(rec, `no message from the broker for ${o.deadlineMs} ms`));
  }

  private session(caller: Party, env: Envelope | undefined, allowFinished = false): SessionRecord<State> {
    return this.sessions.forEnvelope(env, caller, 'media', this.o.identity.peerKey(caller), allowFinished);
  }

  private step<T>(rec: SessionRecord<State>, phase: string, work: () => Promise<T>): Promise<T> {
    return this.sessions.step(rec, phase, work, (reason) => this.fail(rec, reason));
  }

  private fail(rec: SessionRecord<State>, reason: string): void {
    if (rec.status !== 'running') return;
    this.o.log.warn({ sessionId: rec.sessionId, phase: rec.phase, reason }, 'session failed; nothing released');
    rec.state.role.fail(reason);
    this.sessions.finish(rec, 'failed', undefined, reason);
    rec.state.channel.close();
  }

  handlers(): Record<string, Handler> {
    return {
      PrepareSession: async (caller, [env]) => {
        if (!env) throw new ProtocolError('INVALID_ARGUMENT', 'expected one PrepareSession message');
        const s = openEnvelope(env, this.o.identity.peerKey(caller), { sender: caller, receiver: 'media', rounds: ['OPEN'] });
        if (this.sessions.has(s.sessionId)) throw new ProtocolError('ALREADY_EXISTS', `session ${s.sessionId} already exists`);
        const channel = new SessionChannel(this.o.identity, s.sessionId, TranscriptWriter.open(this.o.transcriptDir, 'media', s.sessionId), this.o.observer);
        const role = new MediaRole({ universe: this.o.universe, maxPaddedCount: this.o.maxPaddedCount, threads: this.o.evalThreads });
        const rec = this.sessions.create(s.sessionId, { role, channel, lastSigned: undefined }, 'open');
        rec.bytes = () => channel.bytes;
        return this.step(rec, 'open', async () => {
          const req = channel.open(env, caller, ['OPEN'], PrepareSessionCodec).value;
          rec.progress = { paddedCount: req.paddedCount };
          channel.recordPolicy({ ...req.policy, paddedCount: req.paddedCount, universeEpoch: this.o.universe.epoch });
          const keys = await role.prepare(req);
          return channel.sealChunks('broker', 'OPEN', SessionKeysCodec, splitSessionKeys(keys, KEY_CHUNK_BYTES));
        });
      },

      Evaluate: async (caller, envs) => {
        const rec = this.session(caller, envs[0]);
        const { role, channel } = rec.state;
        return this.step(rec, 'blind', async () => {
          const batches = channel.openChunks(envs, caller, ['BLIND'], BlindedBatchCodec);
          joinBatches(batches, 'blinded elements'); // offsets contiguous
          const out = [];
          for (const b of batches) {
            out.push({ offset: b.offset, items: await role.evaluate(b.items) });
            rec.progress = { ...rec.progress, evaluated: b.offset + b.items.length };
            this.sessions.touch(rec);
          }
          return channel.sealChunks('broker', 'BLIND', BlindedBatchCodec, out);
        });
      },

      EncryptAttributes: async (caller, envs) => {
        const rec = this.session(caller, envs[0]);
        const { role, channel } = rec.state;
        return this.step(rec, 'encrypt', async () => {
          const tokens = joinBatches(channel.openChunks(envs, caller, ['ENCRYPT'], TokenBatchCodec), 'matched tokens');
          const cts = role.encrypt(tokens);
          rec.progress = { ...rec.progress, matchedUsers: tokens.length, ciphertexts: cts.length };
          return channel.sealChunks('broker', 'ENCRYPT', CiphertextBatchCodec, splitBatches(cts, 1024, CT_BATCH_BYTES));
        });
      },

      BuildLookalike: async (caller, [env]) => {
        const rec = this.session(caller, env);
        const { role, channel } = rec.state;
        const out = await this.step(rec, 'lookalike', async () => {
          const profile = channel.open(env!, caller, ['AGGREGATE'], CohortProfileCodec).value;
          const result = role.lookalike(profile);
          if (role.audience) this.saveAudience(role.audience.audienceId, role.audience.rows);
          return { result, envs: [channel.seal('broker', 'LOOKALIKE', LookalikeResultCodec, result)] };
        });
        this.sessions.finish(rec, out.result.outcome === 'COMPLETED' ? 'completed' : 'cohort-too-small', {
          outcome: out.result.outcome, audienceId: out.result.audienceId, audienceSize: out.result.audienceSize, matchedUsers: out.result.matchedUsers,
        });
        // The channel stays open for the broker's final checkpoint; closed then, or after the deadline.
        setTimeout(() => channel.close(), this.o.deadlineMs).unref();
        this.o.log.info({ sessionId: rec.sessionId, phase: 'done', outcome: out.result.outcome, audienceSize: out.result.audienceSize }, 'session finished');
        return out.envs;
      },

      SyncUniverse: async (caller, [env]) => {
        if (!env) throw new ProtocolError('INVALID_ARGUMENT', 'expected one UniverseRequest');
        const s = openEnvelope(env, this.o.identity.peerKey(caller), { sender: caller, receiver: 'media', rounds: ['UNIVERSE'] });
        const channel = new SessionChannel(this.o.identity, s.sessionId, TranscriptWriter.open(this.o.transcriptDir, 'media', s.sessionId));
        try {
          channel.open(env, caller, ['UNIVERSE'], UniverseRequestCodec);
          const type = [...this.o.universe.index.keys()][0]!;
          const table = this.o.universe.index.get(type)!.tokens;
          // Shuffled, so the table's order says nothing about media's row order.
          const perm = randomPermutation(table.size);
          const tokens = Array.from(perm, (r) => table.at(r));
          const batches = splitBatches(tokens, 65_536, 2 * 1024 * 1024);
          return channel.sealChunks('broker', 'UNIVERSE', UniverseChunkCodec, batches.map((b) => ({
            epoch: this.o.universe.epoch, size: table.size, offset: b.offset, tokens: b.items,
          })));
        } finally {
          channel.close();
        }
      },

      Cosign: async (caller, [env]) => {
        const rec = this.session(caller, env, true);
        const { channel } = rec.state;
        const p = channel.open(env!, caller, ['CHECKPOINT'], CheckpointCodec).value;
        const mine = channel.leaves().slice(0, -1); // without the proposal just received
        check(p, mine, rec.state.lastSigned);
        rec.state.lastSigned = { size: p.treeSize, root: p.rootHash };
        const reply = channel.seal(caller, 'CHECKPOINT', CheckpointCodec, { ...p, inclusion: [], consistency: [], cosignatures: [cosign(channel.signingKey, rec.sessionId, p)] });
        if (p.afterRound === 'LOOKALIKE') channel.close();
        return [reply];
      },

      Abort: async (caller, [env]) => {
        const rec = this.session(caller, env);
        const { value } = rec.state.channel.open(env!, caller, ['ABORT'], AbortCodec);
        const reply = rec.state.channel.seal(caller, 'ABORT', AbortCodec, { reason: 'acknowledged' });
        this.fail(rec, `aborted by ${caller}: ${value.reason}`);
        return [reply];
      },
    };
  }

  private saveAudience(audienceId: string, rows: Uint32Array): void {
    const dir = join(this.o.stateDir, 'audiences');
    mkdirSync(dir, { recursive: true });
    const ids = Array.from(rows, (r) => this.o.universe.userIds[r]!);
    writeFileSync(join(dir, `${audienceId}.txt`), ids.join('\n') + '\n');
  }

  close(): void {
    this.sessions.close();
  }
}

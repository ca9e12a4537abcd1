/**
 * The advertiser node as a federation member: runs the member role
 * (protocol/federated-member.ts) of a federated session against the broker over its signed
 * link (rpc/federated-link.ts), one Broker call per step (FederatedJoin … FederatedUnmask), and keeps each session's
 * outcome for the admin API.
 *
 * Its private training rows never leave it; at the end it evaluates the final global model on
 * its own held-out test set and, for comparison, a model trained on its own rows alone — both
 * figures stay on this node (result JSON, admin API).
 */
import { evaluate, train, zeroModel, type Model } from '@cleanroom/shared/protocol/fedavg.ts';
import { FederatedMember, type RosterEntry } from '@cleanroom/shared/protocol/federated-member.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import type { FederatedDataset } from '@cleanroom/shared/data/federated.ts';
import type { FederatedRound } from '@cleanroom/shared/common/names.ts';
import { keyidOf } from '@cleanroom/shared/crypto/dsse.ts';
import { SessionChannel, type ReceiveObserver } from '@cleanroom/shared/rpc/channel.ts';
import type { Codec } from '@cleanroom/shared/rpc/codec.ts';
import { linkSessionId, STEPS } from '@cleanroom/shared/rpc/federated-link.ts';
import type { Peer } from '@cleanroom/shared/rpc/peer.ts';
import type { NodeIdentity } from '@cleanroom/shared/service/identity.ts';
import type { Logger } from '@cleanroom/shared/service/log.ts';
import { describeError } from '@cleanroom/shared/service/sessions.ts';
import { TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';

export interface FederatedParticipantOptions {
  identity: Pick<NodeIdentity, 'party' | 'key' | 'peerKey'>;
  broker: Peer;
  roster: readonly RosterEntry[];
  data: { train: FederatedDataset; test: FederatedDataset };
  transcriptDir: string;
  /** Deadline of each Federate call (the broker holds a reply until its step closes). */
  deadlineMs: number;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  observer?: ReceiveObserver;
  /**
   * Tests: stop answering (a dropout) before this step of this training round — the session
   * fails at this member, or, with `crash`, that is called instead (the process kills itself:
   * CLEANROOM_FEDERATED_CRASH_AFTER_ROUND).
   */
  dropBefore?: { round: number; step: FederatedRound; crash?: () => never };
}

export interface FederatedMemberResult {
  sessionId: string;
  member: string;
  memberIndex: number;
  status: 'running' | 'completed' | 'failed' | 'dropped';
  error: string | undefined;
  rounds: { round: number; loss: number; rows: number; contributors: number }[];
  /** The final global model, and its figures on this member's own held-out test set. */
  model: { weights: number[]; bias: number } | null;
  test: { rows: number; positives: number; federated: { auc: number; logLoss: number } | null; ownModel: { auc: number; logLoss: number } } | null;
  trainRows: number;
  transcript: string;
}

/** How a member's own-data-only reference model is trained: gradient descent to convergence. */
export const OWN_MODEL_TRAINING = { localEpochs: 5000, learningRate: 0.5, l2: 1e-3 } as const;

export class FederatedParticipant {
  private readonly o: FederatedParticipantOptions;
  private readonly results = new Map<string, FederatedMemberResult>();
  readonly name: string;
  readonly index: number;

  constructor(o: FederatedParticipantOptions) {
    const i = o.roster.findIndex((r) => Buffer.compare(Buffer.from(r.signingKey), Buffer.from(o.identity.key.publicKey)) === 0);
    if (i < 0) throw new Error(`this node's signing key ${keyidOf(o.identity.key.publicKey)} is not in the federation roster (${o.roster.map((r) => r.name).join(', ')})`);
    this.o = o;
    this.name = o.roster[i]!.name;
    this.index = i + 1;
  }

  result(sessionId: string): FederatedMemberResult | undefined {
    return this.results.get(sessionId);
  }

  /** Joins the broker's federated session `sessionId` and runs it in the background. */
  join(sessionId: string): { done: Promise<FederatedMemberResult> } {
    if (this.results.has(sessionId)) throw new ProtocolError('ALREADY_EXISTS', `this member already joined federated session ${sessionId}`);
    const linkId = linkSessionId(sessionId, this.index);
    const rec: FederatedMemberResult = {
      sessionId, member: this.name, memberIndex: this.index, status: 'running', error: undefined, rounds: [], model: null, test: null,
      trainRows: this.o.data.train.rows, transcript: linkId,
    };
    this.results.set(sessionId, rec);
    const done = this.run(rec, linkId).catch((err) => {
      rec.status = rec.status === 'dropped' ? 'dropped' : 'failed';
      rec.error = describeError(err);
      this.o.log.warn({ sessionId, err: rec.error }, 'federated session failed');
    }).then(() => rec);
    return { done };
  }

  private async run(rec: FederatedMemberResult, linkId: string): Promise<void> {
    const member = new FederatedMember({
      sessionId: rec.sessionId, name: this.name, key: this.o.identity.key, roster: this.o.roster, train: this.o.data.train, minThreshold: 2, maxRounds: 10_000,
    });
    const writer = TranscriptWriter.open(this.o.transcriptDir, 'advertiser', linkId);
    const ch = new SessionChannel(this.o.identity, linkId, writer, this.o.observer);
    let round = 0;
    const call = async <Q, R>(step: FederatedRound, message: Q): Promise<R> => {
      const d = this.o.dropBefore;
      if (d && (round > d.round || (round === d.round && STEP_ORDER.indexOf(step) >= STEP_ORDER.indexOf(d.step)))) {
        if (d.crash) d.crash();
        rec.status = 'dropped';
        throw new ProtocolError('ABORTED', `dropped out before ${step} of round ${round} (test)`);
      }
      const env = ch.seal('broker', step, STEPS[step].request as Codec<Q>, message);
      const [reply] = await this.o.broker.call(STEPS[step].method, [env], this.o.deadlineMs);
      if (!reply) throw new ProtocolError('INVALID_ARGUMENT', `Broker.${STEPS[step].method} answered ${step} with nothing`);
      return ch.open(reply, 'broker', [step], STEPS[step].reply as Codec<R>).value;
    };
    try {
      const accepted = await call<ReturnType<FederatedMember['join']>, Parameters<FederatedMember['accepted']>[0]>('FED_JOIN', member.join());
      member.accepted(accepted);
      writer.appendPolicy({ kind: 'federated', member: this.name, memberIndex: this.index, ...accepted.policy, keyFingerprints: { broker: keyidOf(this.o.identity.peerKey('broker')), advertiser: keyidOf(this.o.identity.key.publicKey) } }, this.o.identity.key);
      for (;;) {
        round = member.phase.kind === 'ready' ? member.phase.round : round;
        const roster = await call<ReturnType<FederatedMember['advertiseKeys']>, Parameters<FederatedMember['shareKeys']>[0]>('FED_KEYS', member.advertiseKeys());
        const delivery = await call<ReturnType<FederatedMember['shareKeys']>, Parameters<FederatedMember['maskInput']>[0]>('FED_SHARES', member.shareKeys(roster));
        const survivors = await call<ReturnType<FederatedMember['maskInput']>, Parameters<FederatedMember['unmask']>[0]>('FED_MASKED', member.maskInput(delivery));
        const result = await call<ReturnType<FederatedMember['unmask']>, Parameters<FederatedMember['finishRound']>[0]>('FED_UNMASK', member.unmask(survivors));
        const next = member.finishRound(result);
        rec.rounds = [...member.history];
        if (next === 'done') break;
      }
    } catch (err) {
      member.fail(describeError(err));
      throw err;
    } finally {
      ch.close();
    }
    const model = member.model as Model;
    const own = train(zeroModel(), this.o.data.train, OWN_MODEL_TRAINING);
    const fed = evaluate(model, this.o.data.test);
    const ownEval = evaluate(own, this.o.data.test);
    rec.model = { weights: Array.from(model.weights), bias: model.bias };
    rec.test = {
      rows: fed.rows, positives: fed.positives,
      federated: { auc: fed.auc, logLoss: fed.logLoss },
      ownModel: { auc: ownEval.auc, logLoss: ownEval.logLoss },
    };
    rec.status = 'completed';
    this.o.log.info({ sessionId: rec.sessionId, rounds: rec.rounds.length, auc: fed.auc, ownAuc: ownEval.auc }, 'federated session completed');
  }
}

const STEP_ORDER: FederatedRound[] = ['FED_JOIN', 'FED_KEYS', 'FED_SHARES', 'FED_MASKED', 'FED_UNMASK'];

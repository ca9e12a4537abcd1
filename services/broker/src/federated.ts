/**
 * The broker's federation hub: runs the aggregator role (protocol/federated-aggregator.ts) of
 * each federated session over the members' signed links (rpc/federated-link.ts).
 *
 * - `create` (admin API, `kind: federated`) declares a session over the pinned roster: rounds,
 *   threshold, training parameters. Each member then joins by calling Broker.FederatedJoin.
 * - Each step's method (FederatedJoin … FederatedUnmask) routes an envelope to its link by the statement's session id, opens it with the
 *   link's channel (signature under the member's pinned key, digest, round, sequence: forged,
 *   replayed or out-of-round updates are refused with PERMISSION_DENIED / ALREADY_EXISTS /
 *   FAILED_PRECONDITION), hands the message to the aggregator, and holds the reply until the
 *   step closes: when every expected member has been heard, or `stepTimeoutMs` after the step
 *   opened — the silent ones are dropouts. Below the threshold the session fails and every
 *   waiting member gets FAILED_PRECONDITION naming the step.
 * Every message is in the link's transcripts; the policy is declared, signed, on each link.
 */
import { randomUUID } from 'node:crypto';
import { keyidOf } from '@cleanroom/shared/crypto/dsse.ts';
import type { FederatedRound } from '@cleanroom/shared/common/names.ts';
import type { FederatedMethod } from '@cleanroom/shared/common/methods.ts';
import { FRAC_BITS, UPDATE_LENGTH, zeroModel, DEFAULT_TRAINING, type Model } from '@cleanroom/shared/protocol/fedavg.ts';
import { defaultThreshold, FederatedAggregator, type RoundFigures } from '@cleanroom/shared/protocol/federated-aggregator.ts';
import type { RosterEntry } from '@cleanroom/shared/protocol/federated-member.ts';
import type { FederatedPolicy } from '@cleanroom/shared/protocol/federated-messages.ts';
import { ProtocolError, type Party } from '@cleanroom/shared/protocol/messages.ts';
import { SessionChannel, type ReceiveObserver } from '@cleanroom/shared/rpc/channel.ts';
import type { Codec } from '@cleanroom/shared/rpc/codec.ts';
import { linkSessionId, memberChannelIdentity, parseLinkSessionId, peekSessionId, STEPS } from '@cleanroom/shared/rpc/federated-link.ts';
import type { Handler } from '@cleanroom/shared/rpc/grpc.ts';
import type { NodeIdentity } from '@cleanroom/shared/service/identity.ts';
import type { Logger } from '@cleanroom/shared/service/log.ts';
import type { Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';

export interface FederationHubOptions {
  identity: Pick<NodeIdentity, 'key' | 'peerKey'>;
  roster: readonly RosterEntry[];
  transcriptDir: string;
  /** How long a step waits for silent members before closing without them. */
  stepTimeoutMs: number;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  observer?: ReceiveObserver;
}

export interface FederatedSessionRequest {
  rounds: number;
  threshold?: number;
  convergenceTol?: number;
  localEpochs?: number;
  learningRate?: number;
  l2?: number;
}

export interface FederatedBrokerResult {
  sessionId: string;
  status: 'running' | 'completed' | 'failed';
  error: string | undefined;
  policy: FederatedPolicy;
  rounds: RoundFigures[];
  model: { weights: number[]; bias: number };
  transcripts: string[];
}

type Reply = { codec: Codec<unknown>; value: unknown };

interface Session {
  id: string;
  agg: FederatedAggregator;
  links: Map<number, SessionChannel>;
  step: FederatedRound;
  waiting: Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>;
  accepted: Map<number, unknown>;
  timer: NodeJS.Timeout | undefined;
  status: 'running' | 'completed' | 'failed';
  error: string | undefined;
  /** Resolves when the session ends (tests, simulate). */
  done: Promise<void>;
  finish: () => void;
}

export class FederationHub {
  private readonly o: FederationHubOptions;
  private readonly sessions = new Map<string, Session>();

  constructor(o: FederationHubOptions) {
    if (o.roster.length < 3) throw new Error(`expected a federation roster of at least 3 members, got ${o.roster.length}`);
    this.o = o;
  }

  /** Declares a federated session over the roster (validated: ProtocolError INVALID_ARGUMENT). */
  create(req: FederatedSessionRequest, sessionId = randomUUID()): { sessionId: string; done: Promise<void> } {
    const names = this.o.roster.map((r) => r.name);
    const policy: FederatedPolicy = {
      roster: names,
      threshold: req.threshold ?? defaultThreshold(names.length),
      rounds: req.rounds,
      convergenceTol: req.convergenceTol ?? 0,
      localEpochs: req.localEpochs ?? DEFAULT_TRAINING.localEpochs,
      learningRate: req.learningRate ?? DEFAULT_TRAINING.learningRate,
      l2: req.l2 ?? DEFAULT_TRAINING.l2,
      fracBits: FRAC_BITS,
      updateLength: UPDATE_LENGTH,
    };
    const agg = new FederatedAggregator(sessionId, policy, zeroModel());
    const links = new Map<number, SessionChannel>();
    let finish = () => {};
    const done = new Promise<void>((r) => (finish = r));
    const s: Session = { id: sessionId, agg, links, step: 'FED_JOIN', waiting: new Map(), accepted: new Map(), timer: undefined, status: 'running', error: undefined, done, finish };
    this.o.roster.forEach((m, i) => {
      const id = linkSessionId(sessionId, i + 1);
      const writer = TranscriptWriter.open(this.o.transcriptDir, 'broker', id);
      const ch = new SessionChannel(memberChannelIdentity(this.o.identity, m.signingKey), id, writer, this.o.observer);
      writer.appendPolicy({ kind: 'federated', member: m.name, memberIndex: i + 1, ...policy, keyFingerprints: { broker: keyidOf(this.o.identity.key.publicKey), advertiser: keyidOf(m.signingKey) } }, this.o.identity.key);
      links.set(i + 1, ch);
    });
    this.sessions.set(sessionId, s);
    this.armTimer(s);
    this.o.log.info({ sessionId, members: names.length, threshold: policy.threshold, rounds: policy.rounds }, 'federated session declared');
    return { sessionId, done };
  }

  handlers(): Record<FederatedMethod, Handler> {
    const h = (step: FederatedRound): Handler => (caller, envs) => this.federate(step, caller, envs);
    return { FederatedJoin: h('FED_JOIN'), FederatedKeys: h('FED_KEYS'), FederatedShares: h('FED_SHARES'), FederatedMasked: h('FED_MASKED'), FederatedUnmask: h('FED_UNMASK') };
  }

  result(sessionId: string): FederatedBrokerResult | undefined {
    const s = this.sessions.get(sessionId);
    if (!s) return undefined;
    const m: Model = s.agg.model;
    return {
      sessionId, status: s.status, error: s.error, policy: s.agg.policy, rounds: s.agg.history,
      model: { weights: Array.from(m.weights), bias: m.bias },
      transcripts: [...s.links.keys()].map((i) => linkSessionId(sessionId, i)),
    };
  }

  private async federate(called: FederatedRound, caller: Party, envs: Envelope[]): Promise<Envelope[]> {
    if (caller !== 'advertiser') throw new ProtocolError('PERMISSION_DENIED', `Broker.${STEPS[called].method} may be called by federation members (advertiser), not by ${caller}`);
    if (envs.length !== 1) throw new ProtocolError('INVALID_ARGUMENT', `expected one envelope, got ${envs.length}`);
    const env = envs[0]!;
    const linkId = peekSessionId(env.statement);
    const where = parseLinkSessionId(linkId);
    const s = where ? this.sessions.get(where.sessionId) : undefined;
    const ch = where ? s?.links.get(where.index) : undefined;
    if (!s || !where || !ch) throw new ProtocolError('NOT_FOUND', `no federated session link ${linkId}`);
    if (s.status !== 'running') throw new ProtocolError('FAILED_PRECONDITION', `federated session ${s.id} has ended (${s.status}${s.error ? `: ${s.error}` : ''})`);
    const step = s.step;
    if (called !== step) throw new ProtocolError('FAILED_PRECONDITION', `Broker.${STEPS[called].method} (${called}) called while session ${s.id} is at ${step}`);
    const { value } = ch.open(env, 'advertiser', [step], STEPS[step].request as Codec<unknown>);
    const index = where.index;
    this.collect(s, step, index, value);
    const reply = new Promise<Reply>((resolve, reject) => s.waiting.set(index, { resolve, reject }));
    const heard = s.agg.heard;
    if ([...s.agg.expected].every((i) => heard.has(i))) this.closeStep(s);
    const r = await reply;
    return [ch.seal('advertiser', step, r.codec, r.value)];
  }

  private collect(s: Session, step: FederatedRound, index: number, value: unknown): void {
    const a = s.agg;
    switch (step) {
      case 'FED_JOIN': {
        const j = value as Parameters<FederatedAggregator['join']>[1];
        const key = this.o.roster[index - 1]!.signingKey;
        if (Buffer.compare(Buffer.from(j.signingKey), Buffer.from(key)) !== 0) throw new ProtocolError('PERMISSION_DENIED', `JoinFederation on link ${index} echoes another key than the roster pins`);
        s.accepted.set(index, a.join(index, j));
        return;
      }
      case 'FED_KEYS': return a.collectKeys(index, value as Parameters<FederatedAggregator['collectKeys']>[1]);
      case 'FED_SHARES': return a.collectShares(index, value as Parameters<FederatedAggregator['collectShares']>[1]);
      case 'FED_MASKED': return a.collectMasked(index, value as Parameters<FederatedAggregator['collectMasked']>[1]);
      case 'FED_UNMASK': return a.collectUnmask(index, value as Parameters<FederatedAggregator['collectUnmask']>[1]);
    }
  }

  /** Closes the current step: computes each waiting member's reply and opens the next step. */
  private closeStep(s: Session): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    const step = s.step;
    const waiting = new Map(s.waiting);
    s.waiting.clear();
    const codec = STEPS[step].reply as Codec<unknown>;
    let replies: Map<number, unknown>;
    try {
      switch (step) {
        case 'FED_JOIN':
          s.agg.start();
          replies = s.accepted;
          s.step = 'FED_KEYS';
          break;
        case 'FED_KEYS': {
          const r = s.agg.closeKeys();
          replies = new Map([...waiting.keys()].map((i) => [i, r]));
          s.step = 'FED_SHARES';
          break;
        }
        case 'FED_SHARES':
          replies = s.agg.closeShares();
          s.step = 'FED_MASKED';
          break;
        case 'FED_MASKED': {
          const r = s.agg.closeMasked();
          replies = new Map([...waiting.keys()].map((i) => [i, r]));
          s.step = 'FED_UNMASK';
          break;
        }
        case 'FED_UNMASK': {
          const r = s.agg.closeUnmask();
          replies = new Map([...waiting.keys()].map((i) => [i, r]));
          const f = s.agg.history.at(-1);
          this.o.log.info({ sessionId: s.id, round: r.round, loss: r.loss, contributors: r.contributors, dropped: f?.dropped ?? [] }, 'federated round aggregated');
          s.step = 'FED_KEYS';
          if (r.done) this.end(s, 'completed', undefined);
          break;
        }
      }
    } catch (err) {
      const e = err instanceof ProtocolError ? err : new ProtocolError('INTERNAL', (err as Error).message);
      this.end(s, 'failed', `${e.code}: ${e.message}`);
      for (const w of waiting.values()) w.reject(e);
      return;
    }
    for (const [i, w] of waiting) {
      const v = replies.get(i);
      if (v === undefined) w.reject(new ProtocolError('FAILED_PRECONDITION', `${step}: member ${i} is not in the next step`));
      else w.resolve({ codec, value: v });
    }
    if (s.status === 'running') this.armTimer(s);
  }

  private armTimer(s: Session): void {
    s.timer = setTimeout(() => {
      const missing = [...s.agg.expected].filter((i) => !s.agg.heard.has(i));
      this.o.log.warn({ sessionId: s.id, step: s.step, missing }, 'federated step timed out; closing without the silent members');
      this.closeStep(s);
    }, this.o.stepTimeoutMs);
    s.timer.unref();
  }

  private end(s: Session, status: 'completed' | 'failed', error: string | undefined): void {
    s.status = status;
    s.error = error;
    if (status === 'failed') s.agg.fail(error ?? 'failed');
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    // The replies of the closing step are sealed after this; close the transcripts once they are.
    setImmediate(() => {
      for (const ch of s.links.values()) ch.close();
      s.finish();
    });
    this.o.log.info({ sessionId: s.id, status, error }, 'federated session ended');
  }

  close(): void {
    for (const s of this.sessions.values()) {
      if (s.status === 'running') {
        this.end(s, 'failed', 'UNAVAILABLE: the broker is shutting down');
        for (const w of s.waiting.values()) w.reject(new ProtocolError('UNAVAILABLE', 'the broker is shutting down'));
      }
    }
  }
}

/** The federated methods of a broker without a federation roster: each refuses, naming the setting. */
export function federationOff(): Record<FederatedMethod, Handler> {
  const off: Handler = async () => {
    throw new ProtocolError('FAILED_PRECONDITION', 'this broker runs no federated sessions (no federation roster: CLEANROOM_FEDERATION)');
  };
  return { FederatedJoin: off, FederatedKeys: off, FederatedShares: off, FederatedMasked: off, FederatedUnmask: off };
}

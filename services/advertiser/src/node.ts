/**
 * The advertiser node: runs the advertiser's side of a session against the broker.
 *
 * It owns the CRM rows, picks the seed cohort (consented purchasers by default), drives
 * the AdvertiserRole through OPEN → BLIND → TOKENS → LOOKALIKE over a Peer, and keeps each
 * session's status and result for the admin API. Network-agnostic: the Peer may be gRPC
 * or in-memory.
 *
 * Phases (the session view's `metrics.phases`, what `make bench` sets against floors): `blind`
 * from hashing and blinding the seeds until media's evaluations are back; `tokens` for
 * unblinding, finalising and sending the tokens; then the round whose answer A awaits —
 * `lookalike` (the outcome of every look-alike-family kind) or `lookup` (the label boxes) —
 * while the broker and media work, until A has opened that answer. Waiting is never charged
 * to the phase of A's own token work, and never hidden: its wall and CPU are that phase's.
 */
import { DEFAULT_SESSION_DEADLINE_MS } from '@cleanroom/shared/service/config.ts';
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AdvertiserRole } from '@cleanroom/shared/protocol/advertiser.ts';
import { TOKEN_SLICE } from '@cleanroom/shared/protocol/token-rounds.ts';
import { LookupAdvertiserRole } from '@cleanroom/shared/protocol/lookup.ts';
import { lookupCsv } from '@cleanroom/shared/report/lookup-csv.ts';
import type { SessionKind } from '@cleanroom/shared/common/names.ts';
import { compileAdvertiserPredicate, compileMediaPredicate, tagReader } from '@cleanroom/shared/protocol/predicate-schemas.ts';
import type { IdType, SessionAccepted, SessionResult, TokenBytes } from '@cleanroom/shared/protocol/messages.ts';
import { EnvelopeError } from '@cleanroom/shared/transcript/statement.ts';
import {
  AbortCodec, BATCH_BYTES, BATCH_ITEMS, BlindedBatchCodec, joinBatches, LabelBatchCodec, OpenSessionCodec, SessionAcceptedCodec, SessionResultCodec, splitBatches, TokenBatchCodec,
} from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import type { Handlers } from '@cleanroom/shared/rpc/grpc.ts';
import type { Peer } from '@cleanroom/shared/rpc/peer.ts';
import { TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';
import type { CrmRow, RejectedLine } from '@cleanroom/shared/data/files.ts';
import type { NodeCommonOptions } from '@cleanroom/shared/service/identity.ts';
import type { SessionStore } from '@cleanroom/shared/service/sessions.ts';
import { describeError, paddedCallDeadlineMs, SessionRegistry, type SessionRecord } from '@cleanroom/shared/service/sessions.ts';
import type { SignedTree } from '@cleanroom/shared/transcript/checkpoint.ts';
import { abortHandler, cosignHandler } from '@cleanroom/shared/rpc/session-control.ts';
import { ProtocolError, type Party } from '@cleanroom/shared/protocol/messages.ts';
import type { Envelope } from '@cleanroom/shared/transcript/statement.ts';

/** Which CRM rows a session's seed IDs come from. */
export type SeedCohort = 'purchasers' | 'all';

/** What every kind's request may set. */
interface CommonRequest {
  idType?: IdType;
  decoyRatio?: number;
  minCohort?: number;
}

/** A look-alike session (the default kind). */
export interface LookalikeRequest extends CommonRequest {
  kind?: 'lookalike';
  audienceSize?: number;
  /** Which CRM rows are the seed cohort (the admin API's field `seed`): consented purchasers, or all consented rows. */
  seed?: SeedCohort;
}

/** profile / retargeting: A's selection is a predicate over its first-party tags (evaluated here, never sent). */
export interface SelectionRequest extends CommonRequest {
  kind: 'profile' | 'retargeting';
  predicate: unknown;
}

/** joint-count: A's predicate (here) and media's predicate (evaluated by media only). */
export interface JointCountRequest extends CommonRequest {
  kind: 'joint-count';
  predicate: unknown;
  mediaPredicate: unknown;
}

/** joint-activate: A's explicit confirmation of a finished joint-count session (same selection). */
export interface JointActivateRequest {
  kind: 'joint-activate';
  countSession: string;
}

export type StartSessionRequest = LookalikeRequest | SelectionRequest | JointCountRequest | JointActivateRequest | StartLookupRequest;

/** A lookup (kind 'lookup'): which of A's IDs to look up. */
export interface StartLookupRequest {
  kind: 'lookup';
  idType?: IdType;
  /** Explicit raw IDs; default: the CRM rows selected by `seed` that consented (consent_ads). */
  ids?: string[];
  seed?: 'purchasers' | 'all';
  decoyRatio?: number;
}

/** What a finished lookup reports (the labels themselves are in the CSV: lookupCsv). */
export interface LookupResultView {
  sessionId: string;
  kind: 'lookup';
  outcome: 'COMPLETED';
  ids: { rows: number; valid: number; rejected: number; duplicates: number; notConsented: number };
  paddedSize: number;
  /** IDs that received a label (media users who consented to data sharing). */
  labelled: number;
  transcripts: string;
}

/** What a session of either kind leaves in the registry. */
export type AdvertiserSessionResult = AdvertiserResult | LookupResultView;

export interface AdvertiserResult {
  sessionId: string;
  kind: SessionKind;
  /** profile / retargeting / joint kinds: A's predicate over its tags (A's own record; never sent). */
  predicate?: unknown;
  /** joint kinds: media's predicate (sent to media). */
  mediaPredicate?: unknown;
  /** joint-count: noised counts (joint from media's decryption of the broker's masked sum; advertiserOnly = A's noised matches). */
  counts?: { joint: number; advertiserOnly: number; mediaOnly: number } | null;
  /** retargeting / joint-activate: the media audience created (handle and noised size), or null below the minimum. */
  audience?: { audienceId: string; size: number } | null;
  outcome: SessionResult['outcome'];
  reason: string;
  seeds: {
    rows: number; valid: number; rejected: number; duplicates: number; notConsented: number;
    /** CRM lines the CSV reader rejected (never rows, so not in `rows`), and the first reasons (file:line: why; no ID values). */
    csvRejected: number; csvRejectedReasons: string[];
  };
  /**
   * paddedSize: the bucket media evaluated; real: A's real matches, noised by policy. Null
   * when nothing was released (a refusal reveals nothing but its reason).
   */
  matches: { paddedSize: number; real: number } | null;
  /** What was asked and what the broker settled (it may raise, never lower); `raised` names what changed. */
  policy: { asked: { decoyRatio: number; minCohort: number }; effective: { decoyRatio: number; minCohort: number; epsilonProfile: number; privacyBudget: number }; raised: string[] } | null;
  /** The broker's privacy ledger for this advertiser, media and epoch, after this session. */
  privacy: { epsilonCharged: number; epsilonSpent: number; epsilonRemaining: number; budget: number } | null;
  lookalike: { audienceId: string; audienceSize: number; quality: number } | null;
  insight: { name: string; total: number; share: number; universeShare: number }[];
  cohortSize: number;
  transcripts: string;
}

/** A validated request: the selected CRM rows and the kind's parameters. */
interface Plan {
  kind: SessionKind;
  idType: IdType;
  rows: readonly CrmRow[];
  audienceSize: number;
  decoyRatio: number | undefined;
  minCohort: number | undefined;
  predicate?: unknown;
  mediaPredicate?: unknown;
  countSession?: string;
}

interface State {
  plan: Plan | undefined;
  role: AdvertiserRole | LookupAdvertiserRole | undefined;
  channel: SessionChannel | undefined;
  /** The last checkpoint tree this node co-signed. */
  lastSigned: SignedTree | undefined;
}

export interface AdvertiserNodeOptions extends NodeCommonOptions {
  broker: Peer<'Broker'>;
  crm: readonly CrmRow[];
  /** Persists sessions (ids unique forever, outcomes across restarts); optional in tests. */
  store?: SessionStore;
  /** The CRM lines readCrm rejected, reported in every session's seed report. */
  crmRejected?: readonly RejectedLine[];
}

/** How many CSV rejection reasons a seed report lists (all are counted). */
const CSV_REASONS_SHOWN = 20;

export class AdvertiserNode {
  readonly sessions: SessionRegistry<State, AdvertiserSessionResult>;
  private readonly o: AdvertiserNodeOptions;

  constructor(o: AdvertiserNodeOptions) {
    this.o = o;
    this.sessions = new SessionRegistry<State, AdvertiserSessionResult>(o.deadlineMs * 2, (rec) => this.failSession(rec, `no progress for ${o.deadlineMs * 2} ms`));
    if (o.store) this.sessions.persist(o.store, 'advertiser', (err) => o.log.error({ err: (err as Error).message }, 'could not persist a session outcome'));
  }

  /** Validates a request and starts a session in the background; returns its id. */
  start(req: StartSessionRequest): { sessionId: string; done: Promise<SessionRecord<State, AdvertiserSessionResult>> } {
    if (req.kind === 'lookup') return this.startLookup(req);
    const plan = this.plan(req);
    const idType = plan.idType;
    const consented = plan.rows.filter((r) => r.consent);
    const raw = consented.map((r) => (idType === 'email' ? r.email : idType === 'phone' ? r.phone : ''));
    if (plan.kind !== 'lookalike' && raw.length === 0) {
      throw new ProtocolError('INVALID_ARGUMENT', `the predicate selects no consented CRM row (${plan.rows.length} selected, none with consent_ads): nothing was started`);
    }
    // Constructing the role validates everything (audience size, at least one valid seed).
    const role = new AdvertiserRole({
      idType,
      seeds: raw,
      audienceSize: plan.audienceSize,
      decoyRatio: plan.decoyRatio ?? 9,
      minCohort: plan.minCohort ?? 50,
      signingPublicKey: this.o.identity.key.publicKey,
      kind: plan.kind,
      mediaPredicate: plan.mediaPredicate === undefined ? '' : JSON.stringify(plan.mediaPredicate),
      countSession: plan.countSession ?? '',
    });
    const sessionId = randomUUID();
    const rec = this.sessions.create(sessionId, { role, channel: undefined, lastSigned: undefined, plan }, 'new');
    rec.progress = { seedRows: plan.rows.length, notConsented: plan.rows.length - consented.length, validSeeds: role.report.valid };
    // run() records every failure on the session itself; this catch is the backstop that keeps
    // a bug in it from becoming an unhandled rejection (which would end the process).
    // The advertiser drives the session: it is always computing or waiting on the broker (each
    // call under its RPC deadline), so its idle timer stays suspended while run() is going.
    const done = this.sessions.hold(rec, () => this.run(rec, role, plan.rows.length - consented.length))
      .catch((err) => this.failSession(rec, describeError(err)))
      .then(() => rec);
    return { sessionId, done };
  }

  /**
   * What a request selects, validated here (where A's predicate is evaluated): the CRM rows,
   * the kind's parameters. A bad predicate names the unknown tag; a joint-activate must
   * confirm a completed joint-count session of this node.
   */
  private plan(req: Exclude<StartSessionRequest, StartLookupRequest>): Plan {
    if (req.kind === 'joint-activate') {
      const count = this.sessions.get(req.countSession);
      const view = count?.result as AdvertiserResult | undefined;
      if (!count || count.state.plan?.kind !== 'joint-count') throw new ProtocolError('NOT_FOUND', `no joint-count session ${req.countSession} on this node to confirm`);
      if (count.status !== 'completed' || !view?.counts) throw new ProtocolError('FAILED_PRECONDITION', `joint-count session ${req.countSession} did not complete (${count.status}): there is no count to confirm`);
      return { ...count.state.plan, kind: 'joint-activate', countSession: req.countSession };
    }
    if (req.kind !== 'profile' && req.kind !== 'retargeting' && req.kind !== 'joint-count') {
      const l = req as LookalikeRequest;
      const seedRows = this.o.crm.filter((r) => (l.seed ?? 'purchasers') === 'all' || r.purchaser);
      return { kind: 'lookalike', idType: l.idType ?? 'phone', rows: seedRows, audienceSize: l.audienceSize ?? 10_000, decoyRatio: l.decoyRatio, minCohort: l.minCohort };
    }
    const a = compileAdvertiserPredicate(req.predicate);
    const rows = this.o.crm.filter((r) => a.test(tagReader(r.tags)));
    const mediaPredicate = req.kind === 'joint-count' ? req.mediaPredicate : undefined;
    // Media validates its predicate where it evaluates it; a look here only catches a malformed one early.
    if (mediaPredicate !== undefined) compileMediaPredicate(mediaPredicate);
    return { kind: req.kind, idType: req.idType ?? 'phone', rows, audienceSize: 1, decoyRatio: req.decoyRatio, minCohort: req.minCohort, predicate: req.predicate, mediaPredicate };
  }

  private async run(rec: SessionRecord<State, AdvertiserSessionResult>, role: AdvertiserRole, notConsented: number): Promise<void> {
    const log = this.o.log.child({ sessionId: rec.sessionId });
    const b = this.o.broker;
    let ch: SessionChannel | undefined;
    try {
      // Inside the try: a transcript that cannot be created (ENOTDIR, EACCES, ALREADY_EXISTS)
      // fails this session, never the process.
      ch = new SessionChannel(this.o.identity, rec.sessionId, TranscriptWriter.open(this.o.transcriptDir, 'advertiser', rec.sessionId), this.o.observer);
      const c = ch;
      rec.state.channel = c;
      rec.bytes = () => c.bytes;
      await this.sessions.reserveId(rec.sessionId, 'open', { created: true });
      this.sessions.touch(rec, 'open');
      log.info({ phase: 'open', seeds: role.report.valid, rejected: role.report.rejected.length, duplicates: role.report.duplicates }, 'session opening');
      const [acc] = await b.call('OpenSession', [ch.seal('broker', 'OPEN', OpenSessionCodec, role.open())]);
      let accepted: SessionAccepted;
      try {
        accepted = ch.open(acc!, 'broker', ['OPEN'], SessionAcceptedCodec).value;
      } catch (err) {
        if (!(err instanceof EnvelopeError && err.failure === 'wrong-type')) throw err;
        // Refused at OPEN: the broker's answer is the session's result.
        const result = role.acceptRefusal(ch.open(acc!, 'broker', ['OPEN'], SessionResultCodec).value);
        this.sessions.finish(rec, 'refused', this.view(rec.sessionId, role, result, notConsented), result.reason);
        log.info({ phase: 'done', outcome: result.outcome }, 'session refused at OPEN');
        return;
      }
      ch.recordPolicy({ ...accepted.policy, paddedCount: accepted.paddedCount, universeEpoch: accepted.universeEpoch, kind: role.kind });

      const tokens = await this.tokenRounds(rec, role, ch, accepted, log);
      const submitted = b.call('SubmitTokens', ch.sealChunks('broker', 'TOKENS', TokenBatchCodec, splitBatches(tokens, BATCH_ITEMS, BATCH_BYTES)), this.o.sessionDeadlineMs ?? DEFAULT_SESSION_DEADLINE_MS);
      // The tokens are out: the rest is the broker's and media's rounds, whose outcome A awaits
      // (and then opens) as phase `lookalike`, the round of the message it waits for.
      this.sessions.touch(rec, 'lookalike');
      log.info({ phase: 'tokens', tokens: tokens.length }, 'tokens sent; waiting for the outcome');
      const [resEnv] = await submitted;
      const result = role.finish(ch.open(resEnv!, 'broker', ['LOOKALIKE'], SessionResultCodec).value);
      const view = this.view(rec.sessionId, role, result, notConsented);
      const status = result.outcome === 'COMPLETED' ? 'completed' : result.outcome === 'COHORT_TOO_SMALL' ? 'cohort-too-small' : result.outcome === 'FAILED' ? 'failed' : 'refused';
      this.sessions.finish(rec, status, view, result.reason || undefined);
      log.info({ phase: 'done', outcome: result.outcome, realMatches: result.realMatches }, 'session finished');
    } catch (err) {
      await this.abortAndFail(rec, ch, err, log, 'session failed');
    } finally {
      closeQuietly(ch, log);
    }
  }

  /** Validates a lookup request and starts it in the background (kind 'lookup'). */
  startLookup(req: StartLookupRequest): { sessionId: string; done: Promise<SessionRecord<State, AdvertiserSessionResult>> } {
    const idType = req.idType ?? 'phone';
    let raw: string[];
    let notConsented = 0;
    if (req.ids) {
      raw = req.ids;
    } else {
      const rows = this.o.crm.filter((r) => (req.seed ?? 'all') === 'all' || r.purchaser);
      const consented = rows.filter((r) => r.consent);
      notConsented = rows.length - consented.length;
      raw = consented.map((r) => (idType === 'email' ? r.email : idType === 'phone' ? r.phone : ''));
    }
    const role = new LookupAdvertiserRole({ idType, ids: raw, decoyRatio: req.decoyRatio ?? 9, signingPublicKey: this.o.identity.key.publicKey });
    const sessionId = randomUUID();
    const rec = this.sessions.create(sessionId, { plan: undefined, role, channel: undefined, lastSigned: undefined }, 'new');
    rec.progress = { idRows: raw.length, notConsented, validIds: role.report.valid };
    const done = this.sessions.hold(rec, () => this.runLookup(rec, role, notConsented))
      .catch((err) => this.failSession(rec, describeError(err)))
      .then(() => rec);
    return { sessionId, done };
  }

  /** The lookup's result as CSV (A's own IDs and their labels), once it completed. */
  lookupCsv(sessionId: string): string | undefined {
    const role = this.sessions.get(sessionId)?.state.role;
    return role instanceof LookupAdvertiserRole && role.rows ? lookupCsv(role.rows) : undefined;
  }

  private async runLookup(rec: SessionRecord<State, AdvertiserSessionResult>, role: LookupAdvertiserRole, notConsented: number): Promise<void> {
    const log = this.o.log.child({ sessionId: rec.sessionId, kind: 'lookup' });
    const b = this.o.broker;
    let ch: SessionChannel | undefined;
    try {
      ch = new SessionChannel(this.o.identity, rec.sessionId, TranscriptWriter.open(this.o.transcriptDir, 'advertiser', rec.sessionId), this.o.observer);
      const c = ch;
      rec.state.channel = c;
      rec.bytes = () => c.bytes;
      await this.sessions.reserveId(rec.sessionId, 'open', { created: true });
      this.sessions.touch(rec, 'open');
      const [acc] = await b.call('OpenSession', [ch.seal('broker', 'OPEN', OpenSessionCodec, role.open())]);
      const accepted = ch.open(acc!, 'broker', ['OPEN'], SessionAcceptedCodec).value;
      ch.recordPolicy({ ...accepted.policy, paddedCount: accepted.paddedCount, universeEpoch: accepted.universeEpoch, kind: 'lookup' });
      const tokens = await this.tokenRounds(rec, role, ch, accepted, log);
      const looked = b.call('Lookup', ch.sealChunks('broker', 'TOKENS', TokenBatchCodec, splitBatches(tokens, BATCH_ITEMS, BATCH_BYTES)));
      // Tokens out; the label boxes are awaited and opened as phase `lookup` (their round).
      this.sessions.touch(rec, 'lookup');
      const boxEnvs = await looked;
      const rows = role.finish(joinBatches(ch.openChunks(boxEnvs, 'broker', ['LOOKUP'], LabelBatchCodec), 'label boxes'));
      const view: LookupResultView = {
        sessionId: rec.sessionId, kind: 'lookup', outcome: 'COMPLETED',
        ids: { rows: role.report.rows + notConsented, valid: role.report.valid, rejected: role.report.rejected.length, duplicates: role.report.duplicates, notConsented },
        paddedSize: accepted.paddedCount, labelled: rows.filter((r) => r.label).length, transcripts: `${this.o.transcriptDir}/${rec.sessionId}`,
      };
      this.sessions.finish(rec, 'completed', view);
      log.info({ phase: 'done', ids: rows.length, labelled: view.labelled }, 'lookup finished');
    } catch (err) {
      await this.abortAndFail(rec, ch, err, log, 'lookup failed');
    } finally {
      closeQuietly(ch, log);
    }
  }

  /**
   * Rounds BLIND and TOKENS, the same for every kind (the role's shell: protocol/token-rounds.ts):
   * phase `blind` blinds the IDs in turns, sends them and awaits media's evaluations (relayed by
   * the broker); phase `tokens` unblinds and finalises them in turns. Returns the tokens, for the
   * caller to send in its kind's round.
   */
  private async tokenRounds(rec: SessionRecord<State, AdvertiserSessionResult>, role: AdvertiserRole | LookupAdvertiserRole, ch: SessionChannel, accepted: SessionAccepted, log: NodeCommonOptions['log']): Promise<TokenBytes[]> {
    this.sessions.touch(rec, 'blind');
    role.beginBlind(accepted);
    const blinded = await inTurns((max) => role.blindSome(max));
    log.info({ phase: 'blind', elements: blinded.length, paddedCount: accepted.paddedCount }, 'blinded IDs sent');
    const evalEnvs = await this.o.broker.call('Blind', ch.sealChunks('broker', 'BLIND', BlindedBatchCodec, splitBatches(blinded, BATCH_ITEMS, BATCH_BYTES)), paddedCallDeadlineMs(this.o.deadlineMs, accepted.paddedCount));
    const evaluated = joinBatches(ch.openChunks(evalEnvs, 'broker', ['BLIND'], BlindedBatchCodec), 'evaluated elements');
    this.sessions.touch(rec, 'tokens');
    role.beginUnblind(evaluated);
    return inTurns((max) => role.unblindSome(max));
  }

  private view(sessionId: string, role: AdvertiserRole, r: SessionResult, notConsented: number): AdvertiserResult {
    const plan = this.sessions.get(sessionId)?.state.plan;
    const done = r.outcome === 'COMPLETED';
    return {
      sessionId,
      kind: role.kind,
      ...(plan?.predicate !== undefined ? { predicate: plan.predicate } : {}),
      ...(plan?.mediaPredicate !== undefined ? { mediaPredicate: plan.mediaPredicate } : {}),
      ...(role.kind === 'joint-count' ? { counts: done && role.jointCounts ? { joint: role.jointCounts.joint, advertiserOnly: r.realMatches, mediaOnly: role.jointCounts.mediaOnly } : null } : {}),
      ...(role.kind === 'retargeting' || role.kind === 'joint-activate'
        ? { audience: done && r.lookalike?.audienceId ? { audienceId: r.lookalike.audienceId, size: r.lookalike.audienceSize } : null } : {}),
      outcome: r.outcome,
      reason: r.reason,
      seeds: {
        rows: role.report.rows + notConsented, valid: role.report.valid, rejected: role.report.rejected.length, duplicates: role.report.duplicates, notConsented,
        csvRejected: this.o.crmRejected?.length ?? 0, csvRejectedReasons: (this.o.crmRejected ?? []).slice(0, CSV_REASONS_SHOWN).map((r) => r.reason),
      },
      matches: r.outcome === 'COMPLETED' ? { paddedSize: r.paddedCount, real: r.realMatches } : null,
      policy: this.policyView(role),
      privacy: r.privacy ?? null,
      lookalike: r.lookalike && r.outcome === 'COMPLETED' && role.kind === 'lookalike'
        ? { audienceId: r.lookalike.audienceId, audienceSize: r.lookalike.audienceSize, quality: r.lookalike.quality }
        : null,
      insight: role.insight?.totals ?? [],
      cohortSize: role.insight?.cohortSize ?? 0,
      transcripts: `${this.o.transcriptDir}/${sessionId}`,
    };
  }

  private policyView(role: AdvertiserRole): AdvertiserResult['policy'] {
    const eff = role.acceptedPolicy;
    if (!eff) return null;
    const asked = { decoyRatio: role.asked.decoyRatio, minCohort: role.asked.minCohort };
    const raised = (['decoyRatio', 'minCohort'] as const).filter((k) => eff[k] !== asked[k]);
    return { asked, effective: { decoyRatio: eff.decoyRatio, minCohort: eff.minCohort, epsilonProfile: eff.epsilonProfile, privacyBudget: eff.privacyBudget }, raised };
  }

  /** The running session a broker's call belongs to (its signature checked). */
  private session(caller: Party, env: Envelope | undefined): SessionRecord<State, AdvertiserSessionResult> {
    return this.sessions.forEnvelope(env, caller, 'advertiser', this.o.identity.peerKey(caller));
  }

  /**
   * The one failure path of a running session (look-alike family and lookup alike): logs the
   * reason, tells the broker (ABORT, signed into the transcript, 5 s at most: the broker may be
   * why it failed) unless the session already ended or never opened its channel, and records
   * the session as failed with that reason.
   */
  private async abortAndFail(rec: SessionRecord<State, AdvertiserSessionResult>, ch: SessionChannel | undefined, err: unknown, log: NodeCommonOptions['log'], what: string): Promise<void> {
    const msg = describeError(err);
    log.error({ phase: rec.phase, err: msg }, what);
    if (rec.status === 'running' && ch) {
      try {
        await this.o.broker.call('Abort', [ch.seal('broker', 'ABORT', AbortCodec, { reason: msg })], 5000);
      } catch {
        // the broker may be the reason we failed; the failure is recorded below all the same
      }
    }
    this.failSession(rec, msg);
  }

  private failSession(rec: SessionRecord<State, AdvertiserSessionResult>, reason: string): void {
    if (rec.status !== 'running') return;
    rec.state.role?.fail(reason);
    this.sessions.finish(rec, 'failed', undefined, reason);
  }

  /** gRPC handlers the advertiser serves (broker → advertiser). */
  handlers(): Handlers<'Advertiser'> {
    return {
      Cosign: cosignHandler({
        session: (caller, env) => this.session(caller, env),
        channelOf: (rec) => channelOf(rec),
        lastSigned: { get: (rec) => rec.state.lastSigned, set: (rec, tree) => (rec.state.lastSigned = tree) },
      }),
      Abort: abortHandler({
        session: (caller, env) => this.session(caller, env),
        channelOf: (rec) => channelOf(rec),
        onAbort: (rec, caller, reason) => this.failSession(rec, `aborted by ${caller}: ${reason}`),
      }),
    };
  }

  close(): void {
    this.sessions.close();
  }
}

/** A session's channel, for the broker's calls; none before the session has opened it. */
/**
 * Runs a role's sliced round (blindSome, unblindSome) to its end, TOKEN_SLICE IDs per step and
 * one event-loop turn between steps: a CRM of 10^5–10^6 seeds never stops this node's admin API
 * or its answers to the broker's keepalive pings for more than one slice.
 */
async function inTurns<T>(some: (max: number) => T | undefined): Promise<T> {
  for (;;) {
    const done = some(TOKEN_SLICE);
    if (done !== undefined) return done;
    await nextTurn();
  }
}

function channelOf(rec: SessionRecord<State, AdvertiserSessionResult>): { sessionId: string; channel: SessionChannel } {
  const channel = rec.state.channel;
  if (!channel) throw new ProtocolError('FAILED_PRECONDITION', `session ${rec.sessionId} has not opened yet`);
  return { sessionId: rec.sessionId, channel };
}

/** Closes a session's channel (fsync + close of its transcript); a failure is logged, not thrown. */
function closeQuietly(ch: SessionChannel | undefined, log: NodeCommonOptions['log']): void {
  ch?.close();
  if (ch?.closeError) log.error({ err: ch.closeError.message }, 'closing the session transcript failed');
}

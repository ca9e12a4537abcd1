/**
 * SessionRegistry: a node's sessions, their phase/status as the admin API reports them,
 * and an idle reaper that tells a silent peer from a busy one, so that a dead broker or a
 * cut network never leaves a session "running" forever, while concurrent sessions never
 * time each other out:
 *   - a session with work in progress at this node — a call being served, or this node
 *     waiting on a peer's reply for it (`step`, `hold`) — is never idle;
 *   - otherwise it waits for a peer's next call. The peers count as silent only when this
 *     node has heard from none of them (a message on any session) for the idle limit; while
 *     they talk to us about other sessions they are busy, not silent;
 *   - the limit is fair-shared: with N sessions running here, a peer serving all of them may
 *     take N × `idleMs` to come back to one (hard cap: N × `idleMs` since the session's own
 *     last message, even while the peers talk about others);
 *   - a stalled event loop at this node (the reaper woke up late) is this node's own
 *     busyness and counts as hearing from the peers;
 *   - a session whose next message waits on work of the peers that grows with the session
 *     (A blinding its seeds and C drawing its dummies before media's Evaluate: a minute of
 *     one core at 2·10^6 padded elements) gets that much more (`expectPeerWork`) until it
 *     enters its next phase (a checkpoint exchanged meanwhile does not end the wait).
 * Failing a session drops its secrets (the caller's onExpire). Clock and timers are
 * injectable for tests.
 */
import { ProtocolError, type Party } from '../protocol/messages.ts';
import type { SessionRound } from '../common/names.ts';
import { openEnvelope, type Envelope } from '../transcript/statement.ts';
import { nodeMetrics } from './metrics.ts';
import { endSessionTrace, phaseTrace, startSessionTrace, type SessionTrace } from '../common/tracing.ts';
import { primitiveDelta, primitiveSnapshot, type Primitive } from '../common/op-counts.ts';

/**
 * What a node allows, per padded element of a session, for its peers' work before the
 * session's next message (expectPeerWork), on top of the idle limit: between OPEN and BLIND,
 * A hashes and blinds its n ≤ P/2 seeds (≈ 0.09 ms each on one core: hash to group + X25519)
 * and C draws P − n dummies (≈ 0.016 ms each) — at most ≈ 0.05 ms per padded element on a
 * quiet core. 0.25 ms is five times that: 500 s more at P = 2·10^6, 12.5 s at 5·10^4.
 */
export const PEER_WORK_MS_PER_ELEMENT = 0.25;

/**
 * The deadline of a call whose answer waits on O(P) work of the peers — the BLIND round: A's
 * Blind to the broker, the broker's Evaluate to media, answered once media has evaluated all P
 * elements (≈ 0.034 ms each on one core): the per-call deadline plus P × PEER_WORK_MS_PER_ELEMENT
 * (620 s at P = 2·10^6 with the default 120 s). A dead peer still ends the call at once, through
 * the connection's keepalive.
 */
export function paddedCallDeadlineMs(deadlineMs: number, paddedCount: number): number {
  return deadlineMs + Math.max(0, paddedCount) * PEER_WORK_MS_PER_ELEMENT;
}

/** "CODE: message" for a ProtocolError, "INTERNAL: message" for anything else. */
export function describeError(err: unknown): string {
  return err instanceof ProtocolError ? `${err.code}: ${err.message}` : `INTERNAL: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * A session's phase, as the admin API, logs and metrics name it: the round it is in (its
 * name in lower case, names.ts), `new` before it opens, `match` between TOKENS and AGGREGATE
 * at the broker, and `done` or `failed` once it ended. A node waiting for another party's
 * round is in that round's phase (the advertiser, its tokens sent, in `lookalike` or `lookup`).
 */
export type SessionPhase = 'new' | Lowercase<SessionRound> | 'match' | 'done' | 'failed';

/** 'refused': ended by the privacy controls (budget exhausted, differencing) with nothing released. */
export type SessionStatus = 'running' | 'completed' | 'cohort-too-small' | 'refused' | 'failed';

/** Where a registry persists its sessions (service/store): ids unique forever, outcomes kept across restarts. */
export interface SessionStore {
  createSession(party: string, sessionId: string, phase: string, now: string): Promise<void>;
  updateSession(party: string, sessionId: string, patch: { status: string; phase: string; error?: string | null; result?: unknown; now: string }): Promise<void>;
}

export interface SessionRecord<S, R = unknown> {
  sessionId: string;
  /** Session kind (metrics label); 'lookalike' unless the node says otherwise. */
  kind: string;
  state: S;
  phase: SessionPhase;
  status: SessionStatus;
  startedAt: string;
  updatedAt: string;
  progress: Record<string, number>;
  error: string | undefined;
  /** What the session ended with (the node's own view of its outcome), once it ended. */
  result: R | undefined;
  /**
   * Per phase: wall and CPU milliseconds of this process (all threads) while in it, the CPU of
   * its main (event-loop) thread alone — the rest is V8's background threads (concurrent GC,
   * optimising compilers) and worker threads — and the cryptographic primitives counted meanwhile (process-wide tallies, so exact when one
   * session runs at a time, as in `make bench`; the floor of the phase, bench/floors.ts).
   */
  metrics: Record<string, { wallMs: number; cpuMs: number; mainThreadCpuMs: number; ops: Partial<Record<Primitive, number>> }>;
  /** Bytes this node sent / received for the session, by round (set by the node). */
  bytes?: () => { sent: Record<string, number>; received: Record<string, number> };
  /** Where the current phase started (wall ms, process and main-thread CPU µs, primitive tallies). */
  mark: { wall: number; cpu: number; mainCpu: number; ops: Record<Primitive, number> };
  /** OpenTelemetry spans of the session and its phase (tracing on only). */
  trace?: SessionTrace | undefined;
  /** Calls in progress for this session at this node (served, or waiting on a peer). */
  inFlight: number;
}

/** What the admin API reads of a node's sessions. */
export interface SessionList {
  list(): SessionRecord<unknown>[];
  get(sessionId: string): SessionRecord<unknown> | undefined;
  /** Resolves when the session next changes phase (or ends), or after `timeoutMs`, whichever is first. */
  changed(sessionId: string, timeoutMs: number): Promise<void>;
}

export interface RegistryOptions {
  /** Clock (ms since the epoch); tests inject one. */
  now?: () => number;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** CPU µs of the calling (main) thread alone. */
function mainThreadCpuMicros(): number {
  const u = process.threadCpuUsage();
  return u.user + u.system;
}

export class SessionRegistry<S, R = unknown> {
  private readonly sessions = new Map<string, SessionRecord<S, R>>();
  private readonly timer: NodeJS.Timeout;
  private readonly onExpire: (rec: SessionRecord<S, R>) => void;
  private readonly idleMs: number;
  private persistTo: { store: SessionStore; party: string; onError: (err: unknown) => void } | undefined;
  private readonly interval: number;
  private readonly now: () => number;
  /** When this node last heard from any peer (or was itself stalled). */
  private heardAt: number;
  private lastReap: number;
  private readonly lastOwnMessage = new Map<string, number>();
  /** Sessions whose next message waits on their peers' work (expectPeerWork): its allowance, ms. */
  private readonly peerWork = new Map<string, number>();
  /** Who waits for a session's next phase change (admin long-polls: `changed`). */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(idleMs: number, onExpire: (rec: SessionRecord<S, R>) => void, options: RegistryOptions = {}) {
    if (!Number.isSafeInteger(idleMs) || idleMs <= 0) throw new Error(`expected idleMs to be a positive integer, got ${idleMs}`);
    this.idleMs = idleMs;
    this.onExpire = onExpire;
    this.now = options.now ?? Date.now;
    this.heardAt = this.now();
    this.lastReap = this.now();
    this.interval = Math.min(5000, Math.max(250, idleMs / 4));
    this.timer = setInterval(() => this.reap(), this.interval);
    this.timer.unref();
  }

  /** Persists every session of this registry from now on (reserve with `reserveId`, outcomes on finish). */
  persist(store: SessionStore, party: string, onError: (err: unknown) => void): void {
    this.persistTo = { store, party, onError };
  }

  /**
   * Claims `sessionId` in the store before anything else happens (`created`: the caller
   * already holds the in-memory record, as the advertiser does for the ids it draws): a session id this party
   * ever accepted — even before a restart — is refused with ALREADY_EXISTS.
   */
  async reserveId(sessionId: string, phase: SessionPhase, opts: { created?: boolean } = {}): Promise<void> {
    if (!opts.created && this.sessions.has(sessionId)) throw new ProtocolError('ALREADY_EXISTS', `session ${sessionId} already exists`);
    await this.persistTo?.store.createSession(this.persistTo.party, sessionId, phase, new Date().toISOString());
  }

  /**
   * The session's next round waits on ≈ `ms` of its peers' work (beyond message handling):
   * until the session enters another phase (touch with a new phase, finish), its idle limits
   * are `ms` longer.
   */
  expectPeerWork(rec: SessionRecord<S, R>, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`expected a non-negative allowance in ms, got ${ms}`);
    this.peerWork.set(rec.sessionId, ms);
  }

  /** Records that `party` was heard from (any session): it is alive, maybe busy, not silent. */
  heard(_party: Party): void {
    this.heardAt = this.now();
  }

  create(sessionId: string, state: S, phase: SessionPhase, kind = 'lookalike'): SessionRecord<S, R> {
    const now = new Date().toISOString();
    const rec: SessionRecord<S, R> = {
      sessionId, kind, state, phase, status: 'running', startedAt: now, updatedAt: now, progress: {}, error: undefined, result: undefined,
      metrics: {}, mark: { wall: performance.now(), cpu: cpuMicros(), mainCpu: mainThreadCpuMicros(), ops: primitiveSnapshot() }, inFlight: 0,
    };
    this.sessions.set(sessionId, rec);
    this.lastOwnMessage.set(sessionId, this.now());
    nodeMetrics.sessionStarted(kind);
    rec.trace = startSessionTrace(sessionId, kind, phase);
    return rec;
  }

  get(sessionId: string): SessionRecord<S, R> | undefined {
    return this.sessions.get(sessionId);
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  touch(rec: SessionRecord<S, R>, phase?: SessionPhase): void {
    if (phase && phase !== rec.phase) {
      this.peerWork.delete(rec.sessionId); // the awaited round came
      this.closePhase(rec);
      rec.phase = phase;
      phaseTrace(rec.trace, phase);
      this.notify(rec.sessionId);
    }
    rec.updatedAt = new Date(this.now()).toISOString();
    this.lastOwnMessage.set(rec.sessionId, this.now());
  }

  private closePhase(rec: SessionRecord<S, R>): void {
    const wall = performance.now();
    const cpu = cpuMicros();
    const mainCpu = mainThreadCpuMicros();
    const m = (rec.metrics[rec.phase] ??= { wallMs: 0, cpuMs: 0, mainThreadCpuMs: 0, ops: {} });
    m.wallMs += wall - rec.mark.wall;
    m.cpuMs += (cpu - rec.mark.cpu) / 1000;
    m.mainThreadCpuMs += (mainCpu - rec.mark.mainCpu) / 1000;
    for (const [k, n] of Object.entries(primitiveDelta(rec.mark.ops)) as [Primitive, number][]) m.ops[k] = (m.ops[k] ?? 0) + n;
    if (rec.phase !== 'done' && rec.phase !== 'failed') nodeMetrics.phaseEnded(rec.phase, wall - rec.mark.wall);
    rec.mark = { wall, cpu, mainCpu, ops: primitiveSnapshot() };
  }

  finish(rec: SessionRecord<S, R>, status: Exclude<SessionStatus, 'running'>, result?: R, error?: string): void {
    if (rec.status === 'running') nodeMetrics.sessionEnded(rec.kind, status);
    rec.status = status;
    rec.result = result;
    rec.error = error;
    this.peerWork.delete(rec.sessionId);
    this.touch(rec, status === 'failed' ? 'failed' : 'done');
    this.closePhase(rec);
    endSessionTrace(rec.trace, status, error);
    rec.trace = undefined;
    const p = this.persistTo;
    p?.store.updateSession(p.party, rec.sessionId, { status, phase: rec.phase, error: error ?? null, result, now: rec.updatedAt }).catch(p.onError);
  }

  /**
   * The session an incoming envelope belongs to: its signature is checked against the
   * caller's pinned key before the session id is read. Unknown → NOT_FOUND; not running
   * (unless `allowFinished` and it ended well) → FAILED_PRECONDITION.
   */
  forEnvelope(env: Envelope | undefined, caller: Party, me: Party, callerKey: Uint8Array, allowFinished = false): SessionRecord<S, R> {
    if (!env) throw new ProtocolError('INVALID_ARGUMENT', 'expected at least one message');
    const s = openEnvelope(env, callerKey, { sender: caller, receiver: me });
    this.heard(caller); // signed by the caller: it is alive, whatever the session's state
    const rec = this.sessions.get(s.sessionId);
    if (!rec) throw new ProtocolError('NOT_FOUND', `unknown session ${s.sessionId}`);
    const endedWell = allowFinished && (rec.status === 'completed' || rec.status === 'cohort-too-small' || rec.status === 'refused');
    if (rec.status !== 'running' && !endedWell) {
      throw new ProtocolError('FAILED_PRECONDITION', `session ${s.sessionId} is ${rec.status}${rec.error ? `: ${rec.error}` : ''}`);
    }
    return rec;
  }

  changed(sessionId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(sessionId);
      if (!set) this.waiters.set(sessionId, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(sessionId) === set) this.waiters.delete(sessionId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      set.add(done);
    });
  }

  private notify(sessionId: string): void {
    const set = this.waiters.get(sessionId);
    if (set) for (const done of [...set]) done();
  }

  /** Runs one phase's work; on failure calls `fail` with the reason and rethrows (the caller gets the status). */
  async step<T>(rec: SessionRecord<S, R>, phase: SessionPhase, work: () => Promise<T>, fail: (reason: string) => void): Promise<T> {
    this.touch(rec, phase);
    try {
      const out = await this.hold(rec, work);
      return out;
    } catch (err) {
      fail(describeError(err));
      throw err;
    }
  }

  /** Runs `work` with the session marked in progress here: its idle timer is suspended meanwhile. */
  async hold<T>(rec: SessionRecord<S, R>, work: () => Promise<T>): Promise<T> {
    rec.inFlight++;
    try {
      return await work();
    } finally {
      rec.inFlight--;
      this.touch(rec);
    }
  }

  list(): SessionRecord<S, R>[] {
    return [...this.sessions.values()];
  }

  /** Expires the sessions whose peers are silent (see the header). Called by the timer; tests call it. */
  reap(): void {
    const now = this.now();
    // Woken up late: this node itself was busy (a long computation); nobody was silent.
    if (now - this.lastReap > 2 * this.interval) this.heardAt = now;
    this.lastReap = now;
    const running = this.list().filter((r) => r.status === 'running');
    const limit = this.idleMs * Math.max(1, running.length);
    for (const rec of running) {
      if (rec.inFlight > 0) continue;
      const own = now - (this.lastOwnMessage.get(rec.sessionId) ?? now);
      const silent = now - Math.max(this.heardAt, this.lastOwnMessage.get(rec.sessionId) ?? now);
      const extra = this.peerWork.get(rec.sessionId) ?? 0;
      if (silent > this.idleMs + extra || own > limit + extra) this.onExpire(rec);
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const id of [...this.waiters.keys()]) this.notify(id);
  }
}

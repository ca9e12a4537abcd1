/**
 * SessionRegistry: a node's sessions, their phase/status as the admin API reports them,
 * and an idle reaper: a session that hears nothing from its peers for `idleMs` is marked
 * failed ("peer went silent") so a dead broker or a cut network never leaves a session
 * "running" forever. Releases nothing: failing a session drops its secrets.
 */
import { ProtocolError, type Party } from '../protocol/messages.ts';
import { openEnvelope, type Envelope } from '../transcript/statement.ts';
import { nodeMetrics } from './metrics.ts';
import { endSessionTrace, phaseTrace, startSessionTrace, type SessionTrace } from '../common/tracing.ts';

/** "CODE: message" for a ProtocolError, "INTERNAL: message" for anything else. */
export function describeError(err: unknown): string {
  return err instanceof ProtocolError ? `${err.code}: ${err.message}` : `INTERNAL: ${(err as Error)?.message ?? String(err)}`;
}

/** 'refused': ended by the privacy controls (budget exhausted, differencing) with nothing released. */
export type SessionStatus = 'running' | 'completed' | 'cohort-too-small' | 'refused' | 'failed';

/** Where a registry persists its sessions (service/store): ids unique forever, outcomes kept across restarts. */
export interface SessionStore {
  createSession(party: string, sessionId: string, phase: string, now: string): Promise<void>;
  updateSession(party: string, sessionId: string, patch: { status: string; phase: string; error?: string | null; result?: unknown; now: string }): Promise<void>;
}

export interface SessionRecord<S> {
  sessionId: string;
  /** Session kind (metrics label); 'lookalike' unless the node says otherwise. */
  kind: string;
  state: S;
  phase: string;
  status: SessionStatus;
  startedAt: string;
  updatedAt: string;
  progress: Record<string, number>;
  error: string | undefined;
  result: unknown;
  /** Per phase: wall and CPU milliseconds of this process (all threads) while in it. */
  metrics: Record<string, { wallMs: number; cpuMs: number }>;
  /** Bytes this node sent / received for the session, by round (set by the node). */
  bytes?: () => { sent: Record<string, number>; received: Record<string, number> };
  /** Where the current phase started (wall ms, CPU µs). */
  mark: { wall: number; cpu: number };
  /** OpenTelemetry spans of the session and its phase (tracing on only). */
  trace?: SessionTrace | undefined;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export class SessionRegistry<S> {
  private readonly sessions = new Map<string, SessionRecord<S>>();
  private readonly timer: NodeJS.Timeout;
  private readonly onExpire: (rec: SessionRecord<S>) => void;
  private readonly idleMs: number;
  private persistTo: { store: SessionStore; party: string; onError: (err: unknown) => void } | undefined;

  constructor(idleMs: number, onExpire: (rec: SessionRecord<S>) => void) {
    this.idleMs = idleMs;
    this.onExpire = onExpire;
    this.timer = setInterval(() => this.reap(), Math.min(5000, Math.max(250, idleMs / 4)));
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
  async reserveId(sessionId: string, phase: string, opts: { created?: boolean } = {}): Promise<void> {
    if (!opts.created && this.sessions.has(sessionId)) throw new ProtocolError('ALREADY_EXISTS', `session ${sessionId} already exists`);
    await this.persistTo?.store.createSession(this.persistTo.party, sessionId, phase, new Date().toISOString());
  }

  create(sessionId: string, state: S, phase: string, kind = 'lookalike'): SessionRecord<S> {
    const now = new Date().toISOString();
    const rec: SessionRecord<S> = {
      sessionId, kind, state, phase, status: 'running', startedAt: now, updatedAt: now, progress: {}, error: undefined, result: undefined,
      metrics: {}, mark: { wall: performance.now(), cpu: cpuMicros() },
    };
    this.sessions.set(sessionId, rec);
    nodeMetrics.sessionStarted(kind);
    rec.trace = startSessionTrace(sessionId, kind, phase);
    return rec;
  }

  get(sessionId: string): SessionRecord<S> | undefined {
    return this.sessions.get(sessionId);
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  touch(rec: SessionRecord<S>, phase?: string): void {
    if (phase && phase !== rec.phase) {
      this.closePhase(rec);
      rec.phase = phase;
      phaseTrace(rec.trace, phase);
    }
    rec.updatedAt = new Date().toISOString();
  }

  private closePhase(rec: SessionRecord<S>): void {
    const wall = performance.now();
    const cpu = cpuMicros();
    const m = (rec.metrics[rec.phase] ??= { wallMs: 0, cpuMs: 0 });
    m.wallMs += wall - rec.mark.wall;
    m.cpuMs += (cpu - rec.mark.cpu) / 1000;
    if (rec.phase !== 'done' && rec.phase !== 'failed') nodeMetrics.phaseEnded(rec.phase, wall - rec.mark.wall);
    rec.mark = { wall, cpu };
  }

  finish(rec: SessionRecord<S>, status: Exclude<SessionStatus, 'running'>, result?: unknown, error?: string): void {
    if (rec.status === 'running') nodeMetrics.sessionEnded(rec.kind, status);
    rec.status = status;
    rec.result = result;
    rec.error = error;
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
  forEnvelope(env: Envelope | undefined, caller: Party, me: Party, callerKey: Uint8Array, allowFinished = false): SessionRecord<S> {
    if (!env) throw new ProtocolError('INVALID_ARGUMENT', 'expected at least one message');
    const s = openEnvelope(env, callerKey, { sender: caller, receiver: me });
    const rec = this.sessions.get(s.sessionId);
    if (!rec) throw new ProtocolError('NOT_FOUND', `unknown session ${s.sessionId}`);
    const endedWell = allowFinished && (rec.status === 'completed' || rec.status === 'cohort-too-small' || rec.status === 'refused');
    if (rec.status !== 'running' && !endedWell) {
      throw new ProtocolError('FAILED_PRECONDITION', `session ${s.sessionId} is ${rec.status}${rec.error ? `: ${rec.error}` : ''}`);
    }
    return rec;
  }

  /** Runs one phase's work; on failure calls `fail` with the reason and rethrows (the caller gets the status). */
  async step<T>(rec: SessionRecord<S>, phase: string, work: () => Promise<T>, fail: (reason: string) => void): Promise<T> {
    this.touch(rec, phase);
    try {
      const out = await work();
      this.touch(rec);
      return out;
    } catch (err) {
      fail(describeError(err));
      throw err;
    }
  }

  list(): SessionRecord<S>[] {
    return [...this.sessions.values()];
  }

  private reap(): void {
    const now = Date.now();
    for (const rec of this.sessions.values()) {
      if (rec.status === 'running' && now - Date.parse(rec.updatedAt) > this.idleMs) {
        this.onExpire(rec);
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** The public view of a session (admin API). */
export function sessionView(rec: SessionRecord<unknown>): object {
  return {
    sessionId: rec.sessionId, phase: rec.phase, status: rec.status, startedAt: rec.startedAt,
    updatedAt: rec.updatedAt, progress: rec.progress, ...(rec.error ? { error: rec.error } : {}),
    metrics: {
      phases: Object.fromEntries(Object.entries(rec.metrics).map(([k, v]) => [k, { wallMs: Math.round(v.wallMs), cpuMs: Math.round(v.cpuMs) }])),
      bytes: rec.bytes?.() ?? { sent: {}, received: {} },
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    },
  };
}

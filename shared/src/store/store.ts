/**
 * The node's durable state behind one interface, on a real database: the embedded SQLite
 * of Node's own `node:sqlite` by default (a file in the state directory, so `make demo`
 * needs nothing else) or PostgreSQL (`CLEANROOM_DATABASE_URL=postgres://…`) in production.
 * Both run the same migrations (migrations.ts) and pass the same test suite.
 *
 * What lives here, and the guarantee each gives across `kill -9` and restarts:
 *   - sessions: every session id a party ever accepted — unique forever per party (a
 *     second create fails ALREADY_EXISTS) — with its final status, error and result;
 *     sessions found `running` at start-up are marked failed ("node restarted").
 *   - the privacy ledger: one row per session charged, per (advertiser, media, epoch).
 *     `reserve` checks the budget and inserts the charge in ONE transaction (two sessions
 *     can never both take the last ε), keyed by session id (a charge is never taken twice);
 *     `settle` lowers it to what the session actually released. A charge committed before
 *     a crash stays (never lost): a crashed session costs its whole reservation.
 *   - released cohorts: a compact sketch of each released cohort, for the differencing rule.
 *   - quota usage: OPRF evaluations per (scope, subject) with timestamps, counted over a
 *     rolling window; `takeQuota` checks and records in one transaction.
 *
 * Writes are committed before the call returns (SQLite: WAL, synchronous=FULL).
 */
import { ProtocolError } from '../protocol/messages.ts';

export type StoreKind = 'sqlite' | 'postgres';

export interface StoredSession {
  party: string;
  sessionId: string;
  status: string;
  phase: string;
  startedAt: string;
  updatedAt: string;
  error: string | null;
  result: unknown;
}

export interface LedgerKey {
  advertiser: string;
  media: string;
  epoch: string;
}

export interface LedgerEntry extends LedgerKey {
  sessionId: string;
  /** ε reserved at OPEN, and ε finally charged (null until settled: the reservation counts). */
  reserved: number;
  charged: number | null;
  budget: number;
  atMs: number;
}

export type ReserveResult =
  | { ok: true; spentBefore: number }
  | { ok: false; spent: number; retryAtMs: number | null };

export type QuotaResult =
  | { ok: true; used: number }
  | { ok: false; used: number; retryAfterMs: number };

export interface Store {
  readonly kind: StoreKind;

  /** Records a new session; ALREADY_EXISTS if this party ever had one with that id. */
  createSession(party: string, sessionId: string, phase: string, now: string): Promise<void>;
  updateSession(party: string, sessionId: string, patch: { status: string; phase: string; error?: string | null; result?: unknown; now: string }): Promise<void>;
  getSession(party: string, sessionId: string): Promise<StoredSession | undefined>;
  listSessions(party: string, limit: number): Promise<StoredSession[]>;
  /** Marks this party's sessions still `running` as failed; returns how many. */
  failRunning(party: string, reason: string, now: string): Promise<number>;

  /** ε spent under `key` (charges older than `refreshMs` do not count when refreshMs > 0). */
  spent(party: string, key: LedgerKey, nowMs: number, refreshMs: number): Promise<number>;
  /** Atomically: refuse if spent + epsilon > budget, else record the reservation. */
  reserve(party: string, e: LedgerKey & { sessionId: string; epsilon: number; budget: number; nowMs: number; refreshMs: number }): Promise<ReserveResult>;
  /** Sets the final charge of a reservation (never above it). */
  settle(party: string, sessionId: string, charged: number, nowMs: number): Promise<void>;
  ledger(party: string, key?: Partial<LedgerKey>): Promise<LedgerEntry[]>;

  recordRelease(party: string, r: { sessionId: string; advertiser: string; epoch: string; sketch: Uint8Array; size: number; nowMs: number }): Promise<void>;
  releases(party: string, advertiser: string, epoch: string): Promise<{ sessionId: string; sketch: Uint8Array; size: number }[]>;

  /** Atomically: refuse if the window's usage + amount > limit, else record it. */
  takeQuota(party: string, q: { scope: string; subject: string; sessionId: string; amount: number; limit: number; windowMs: number; nowMs: number }): Promise<QuotaResult>;

  close(): Promise<void>;
}

/**
 * When a refused quota request would fit: the window's usage rows (oldest first) age out
 * one by one; the answer is when enough of them have. Shared by both back ends.
 */
export function quotaRetryAfterMs(rows: readonly { amount: number; atMs: number }[], used: number, q: { amount: number; limit: number; windowMs: number; nowMs: number }): number {
  let left = used + q.amount - q.limit;
  for (const r of rows) {
    left -= r.amount;
    if (left <= 0) return Math.max(1, r.atMs + q.windowMs - q.nowMs);
  }
  return q.windowMs; // the request alone exceeds the limit: it never fits
}

/** A privacy_ledger row as both back ends read it, filtered by the key parts given. */
export function ledgerEntries(rows: readonly Record<string, unknown>[], key: Partial<LedgerKey>): LedgerEntry[] {
  return rows
    .map((r) => ({
      sessionId: String(r.session_id), advertiser: String(r.advertiser), media: String(r.media), epoch: String(r.epoch),
      reserved: Number(r.reserved), charged: r.charged === null ? null : Number(r.charged), budget: Number(r.budget), atMs: Number(r.at_ms),
    }))
    .filter((e) => (key.advertiser === undefined || e.advertiser === key.advertiser) && (key.media === undefined || e.media === key.media) && (key.epoch === undefined || e.epoch === key.epoch));
}

/** A sessions row as both back ends read it. */
export function storedSession(r: Record<string, unknown>): StoredSession {
  return {
    party: String(r.party), sessionId: String(r.session_id), status: String(r.status), phase: String(r.phase),
    startedAt: String(r.started_at), updatedAt: String(r.updated_at), error: (r.error as string | null) ?? null,
    result: r.result === null || r.result === undefined ? null : JSON.parse(String(r.result)),
  };
}

export function alreadyExists(party: string, sessionId: string): ProtocolError {
  return new ProtocolError('ALREADY_EXISTS', `session ${sessionId} already exists at the ${party} (session ids are never reused)`);
}

/** Opens the configured store: PostgreSQL when `databaseUrl` is set, else SQLite at `sqlitePath`. */
export async function openStore(o: { databaseUrl?: string | undefined; sqlitePath: string }): Promise<Store> {
  if (o.databaseUrl) {
    const { PostgresStore } = await import('./postgres.ts');
    return PostgresStore.open(o.databaseUrl);
  }
  const { SqliteStore } = await import('./sqlite.ts');
  return SqliteStore.open(o.sqlitePath);
}

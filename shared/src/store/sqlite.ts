/**
 * Store on the embedded SQLite of `node:sqlite` (no dependency, no server): one file in the
 * node's state directory, WAL journal, synchronous=FULL, so every committed write survives
 * `kill -9`. Checks-and-writes run in BEGIN IMMEDIATE transactions (one writer at a time).
 * node:sqlite is synchronous; calls return settled promises to match the Store interface.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { MIGRATIONS, migrationSql } from './migrations.ts';
import {
  alreadyExists, ledgerEntries, quotaRetryAfterMs, storedSession as sessionFrom,
  type LedgerEntry, type LedgerKey, type QuotaResult, type ReserveResult, type Store, type StoredSession,
} from './store.ts';

type Row = Record<string, unknown>;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: DatabaseSync;
  /** Each query's statement, prepared once (node:sqlite statements are reusable; preparing one costs a parse per call). */
  private readonly statements = new Map<string, StatementSync>();

  private constructor(db: DatabaseSync) {
    this.db = db;
  }

  private prepare(sql: string): StatementSync {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  static open(path: string): SqliteStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const have = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => Number(r.version)));
    for (const m of MIGRATIONS) {
      if (have.has(m.version)) continue;
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const sql of m.sql) db.exec(migrationSql('sqlite', sql));
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
        db.exec('COMMIT');
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
    }
    return new SqliteStore(db);
  }

  private tx<T>(work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = work();
      this.db.exec('COMMIT');
      return out;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  async createSession(party: string, sessionId: string, phase: string, now: string): Promise<void> {
    try {
      this.prepare('INSERT INTO sessions (party, session_id, status, phase, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)').run(party, sessionId, 'running', phase, now, now);
    } catch (e) {
      if (/UNIQUE constraint failed/.test((e as Error).message)) throw alreadyExists(party, sessionId);
      throw e;
    }
  }

  async updateSession(party: string, sessionId: string, p: { status: string; phase: string; error?: string | null; result?: unknown; now: string }): Promise<void> {
    this.prepare('UPDATE sessions SET status = ?, phase = ?, error = ?, result = ?, updated_at = ? WHERE party = ? AND session_id = ?')
      .run(p.status, p.phase, p.error ?? null, p.result === undefined ? null : JSON.stringify(p.result), p.now, party, sessionId);
  }

  async getSession(party: string, sessionId: string): Promise<StoredSession | undefined> {
    const r = this.prepare('SELECT * FROM sessions WHERE party = ? AND session_id = ?').get(party, sessionId) as Row | undefined;
    return r ? sessionFrom(r) : undefined;
  }

  async listSessions(party: string, limit: number): Promise<StoredSession[]> {
    return (this.prepare('SELECT * FROM sessions WHERE party = ? ORDER BY started_at DESC LIMIT ?').all(party, limit) as Row[]).map(sessionFrom);
  }

  async failRunning(party: string, reason: string, now: string): Promise<number> {
    const r = this.prepare("UPDATE sessions SET status = 'failed', phase = 'failed', error = ?, updated_at = ? WHERE party = ? AND status = 'running'").run(reason, now, party);
    return Number(r.changes);
  }

  private spentNow(party: string, k: LedgerKey, nowMs: number, refreshMs: number): number {
    const since = refreshMs > 0 ? nowMs - refreshMs : -1;
    const r = this.prepare('SELECT COALESCE(SUM(COALESCE(charged, reserved)), 0) AS s FROM privacy_ledger WHERE party = ? AND advertiser = ? AND media = ? AND epoch = ? AND at_ms > ?')
      .get(party, k.advertiser, k.media, k.epoch, since) as Row;
    return Number(r.s);
  }

  async spent(party: string, k: LedgerKey, nowMs: number, refreshMs: number): Promise<number> {
    return this.spentNow(party, k, nowMs, refreshMs);
  }

  async reserve(party: string, e: LedgerKey & { sessionId: string; epsilon: number; budget: number; nowMs: number; refreshMs: number }): Promise<ReserveResult> {
    return this.tx(() => {
      const spent = this.spentNow(party, e, e.nowMs, e.refreshMs);
      if (spent + e.epsilon > e.budget + 1e-9) {
        let retryAtMs: number | null = null;
        if (e.refreshMs > 0) {
          const oldest = this.prepare('SELECT MIN(at_ms) AS m FROM privacy_ledger WHERE party = ? AND advertiser = ? AND media = ? AND epoch = ? AND at_ms > ?')
            .get(party, e.advertiser, e.media, e.epoch, e.nowMs - e.refreshMs) as Row;
          retryAtMs = oldest.m === null ? null : Number(oldest.m) + e.refreshMs;
        }
        return { ok: false, spent, retryAtMs } as ReserveResult;
      }
      try {
        this.prepare('INSERT INTO privacy_ledger (party, session_id, advertiser, media, epoch, reserved, budget, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(party, e.sessionId, e.advertiser, e.media, e.epoch, e.epsilon, e.budget, e.nowMs);
      } catch (err) {
        if (/UNIQUE constraint failed/.test((err as Error).message)) throw alreadyExists(party, e.sessionId);
        throw err;
      }
      return { ok: true, spentBefore: spent } as ReserveResult;
    });
  }

  async settle(party: string, sessionId: string, charged: number, nowMs: number): Promise<void> {
    this.prepare('UPDATE privacy_ledger SET charged = MIN(reserved, ?), settled_at_ms = ? WHERE party = ? AND session_id = ?').run(charged, nowMs, party, sessionId);
  }

  async ledger(party: string, key: Partial<LedgerKey> = {}): Promise<LedgerEntry[]> {
    return ledgerEntries(this.prepare('SELECT * FROM privacy_ledger WHERE party = ? ORDER BY at_ms, session_id').all(party) as Row[], key);
  }

  async recordRelease(party: string, r: { sessionId: string; advertiser: string; epoch: string; sketch: Uint8Array; size: number; nowMs: number }): Promise<void> {
    this.prepare('INSERT INTO released_cohorts (party, session_id, advertiser, epoch, sketch, size, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(party, r.sessionId, r.advertiser, r.epoch, r.sketch, r.size, r.nowMs);
  }

  async releases(party: string, advertiser: string, epoch: string): Promise<{ sessionId: string; sketch: Uint8Array; size: number }[]> {
    return (this.prepare('SELECT session_id, sketch, size FROM released_cohorts WHERE party = ? AND advertiser = ? AND epoch = ? ORDER BY at_ms').all(party, advertiser, epoch) as Row[])
      .map((r) => ({ sessionId: String(r.session_id), sketch: new Uint8Array(r.sketch as Uint8Array), size: Number(r.size) }));
  }

  async takeQuota(party: string, q: { scope: string; subject: string; sessionId: string; amount: number; limit: number; windowMs: number; nowMs: number }): Promise<QuotaResult> {
    return this.tx(() => {
      const since = q.nowMs - q.windowMs;
      const rows = (this.prepare('SELECT amount, at_ms FROM quota_usage WHERE party = ? AND scope = ? AND subject = ? AND at_ms > ? ORDER BY at_ms').all(party, q.scope, q.subject, since) as Row[])
        .map((r) => ({ amount: Number(r.amount), atMs: Number(r.at_ms) }));
      const used = rows.reduce((a, r) => a + r.amount, 0);
      if (used + q.amount > q.limit) return { ok: false, used, retryAfterMs: quotaRetryAfterMs(rows, used, q) } as QuotaResult;
      this.prepare('INSERT INTO quota_usage (party, scope, subject, session_id, amount, at_ms) VALUES (?, ?, ?, ?, ?, ?)').run(party, q.scope, q.subject, q.sessionId, q.amount, q.nowMs);
      return { ok: true, used: used + q.amount } as QuotaResult;
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

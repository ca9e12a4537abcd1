/**
 * Store on PostgreSQL (the `pg` client, a pool of connections): for production, where a
 * node's state should live in a managed database with backups. Same migrations and the
 * same guarantees as the SQLite store; checks-and-writes take a transaction-scoped
 * advisory lock on their key, so concurrent sessions (and several replicas sharing the
 * database) can never both take the last ε or the last quota.
 */
import pg from 'pg';
import { MIGRATIONS, migrationSql } from './migrations.ts';
import {
  alreadyExists, ledgerEntries, quotaRetryAfterMs, storedSession as sessionFrom,
  type LedgerEntry, type LedgerKey, type QuotaResult, type ReserveResult, type Store, type StoredSession,
} from './store.ts';

type Row = Record<string, unknown>;

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string })?.code === '23505';
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  static async open(url: string): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined); // an idle client's error surfaces on the next query instead
    const s = new PostgresStore(pool);
    try {
      await s.migrate();
    } catch (e) {
      await pool.end();
      throw e;
    }
    return s;
  }

  private async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(727001)');
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const have = new Set((await c.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => Number(r.version)));
      for (const m of MIGRATIONS) {
        if (have.has(m.version)) continue;
        for (const sql of m.sql) await c.query(migrationSql('postgres', sql));
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
      }
    });
  }

  private async tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await work(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  private lock(c: pg.PoolClient, key: string): Promise<unknown> {
    return c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
  }

  async createSession(party: string, sessionId: string, phase: string, now: string): Promise<void> {
    try {
      await this.pool.query('INSERT INTO sessions (party, session_id, status, phase, started_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)', [party, sessionId, 'running', phase, now, now]);
    } catch (e) {
      if (isUniqueViolation(e)) throw alreadyExists(party, sessionId);
      throw e;
    }
  }

  async updateSession(party: string, sessionId: string, p: { status: string; phase: string; error?: string | null; result?: unknown; now: string }): Promise<void> {
    await this.pool.query('UPDATE sessions SET status = $1, phase = $2, error = $3, result = $4, updated_at = $5 WHERE party = $6 AND session_id = $7',
      [p.status, p.phase, p.error ?? null, p.result === undefined ? null : JSON.stringify(p.result), p.now, party, sessionId]);
  }

  async getSession(party: string, sessionId: string): Promise<StoredSession | undefined> {
    const r = await this.pool.query('SELECT * FROM sessions WHERE party = $1 AND session_id = $2', [party, sessionId]);
    return r.rows[0] ? sessionFrom(r.rows[0] as Row) : undefined;
  }

  async listSessions(party: string, limit: number): Promise<StoredSession[]> {
    const r = await this.pool.query('SELECT * FROM sessions WHERE party = $1 ORDER BY started_at DESC LIMIT $2', [party, limit]);
    return r.rows.map((x: Row) => sessionFrom(x));
  }

  async failRunning(party: string, reason: string, now: string): Promise<number> {
    const r = await this.pool.query("UPDATE sessions SET status = 'failed', phase = 'failed', error = $1, updated_at = $2 WHERE party = $3 AND status = 'running'", [reason, now, party]);
    return r.rowCount ?? 0;
  }

  private async spentWith(c: pg.PoolClient | pg.Pool, party: string, k: LedgerKey, nowMs: number, refreshMs: number): Promise<number> {
    const since = refreshMs > 0 ? nowMs - refreshMs : -1;
    const r = await c.query('SELECT COALESCE(SUM(COALESCE(charged, reserved)), 0) AS s FROM privacy_ledger WHERE party = $1 AND advertiser = $2 AND media = $3 AND epoch = $4 AND at_ms > $5',
      [party, k.advertiser, k.media, k.epoch, since]);
    return Number((r.rows[0] as Row).s);
  }

  async spent(party: string, k: LedgerKey, nowMs: number, refreshMs: number): Promise<number> {
    return this.spentWith(this.pool, party, k, nowMs, refreshMs);
  }

  async reserve(party: string, e: LedgerKey & { sessionId: string; epsilon: number; budget: number; nowMs: number; refreshMs: number }): Promise<ReserveResult> {
    return this.tx(async (c) => {
      await this.lock(c, `ledger|${party}|${e.advertiser}|${e.media}|${e.epoch}`);
      const spent = await this.spentWith(c, party, e, e.nowMs, e.refreshMs);
      if (spent + e.epsilon > e.budget + 1e-9) {
        let retryAtMs: number | null = null;
        if (e.refreshMs > 0) {
          const o = await c.query('SELECT MIN(at_ms) AS m FROM privacy_ledger WHERE party = $1 AND advertiser = $2 AND media = $3 AND epoch = $4 AND at_ms > $5',
            [party, e.advertiser, e.media, e.epoch, e.nowMs - e.refreshMs]);
          const m = (o.rows[0] as Row).m;
          retryAtMs = m === null ? null : Number(m) + e.refreshMs;
        }
        return { ok: false, spent, retryAtMs } as ReserveResult;
      }
      try {
        await c.query('INSERT INTO privacy_ledger (party, session_id, advertiser, media, epoch, reserved, budget, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [party, e.sessionId, e.advertiser, e.media, e.epoch, e.epsilon, e.budget, e.nowMs]);
      } catch (err) {
        if (isUniqueViolation(err)) throw alreadyExists(party, e.sessionId);
        throw err;
      }
      return { ok: true, spentBefore: spent } as ReserveResult;
    });
  }

  async settle(party: string, sessionId: string, charged: number, nowMs: number): Promise<void> {
    await this.pool.query('UPDATE privacy_ledger SET charged = LEAST(reserved, $1), settled_at_ms = $2 WHERE party = $3 AND session_id = $4', [charged, nowMs, party, sessionId]);
  }

  async ledger(party: string, key: Partial<LedgerKey> = {}): Promise<LedgerEntry[]> {
    const r = await this.pool.query('SELECT * FROM privacy_ledger WHERE party = $1 ORDER BY at_ms, session_id', [party]);
    return ledgerEntries(r.rows as Row[], key);
  }

  async recordRelease(party: string, r: { sessionId: string; advertiser: string; epoch: string; sketch: Uint8Array; size: number; nowMs: number }): Promise<void> {
    await this.pool.query('INSERT INTO released_cohorts (party, session_id, advertiser, epoch, sketch, size, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [party, r.sessionId, r.advertiser, r.epoch, Buffer.from(r.sketch), r.size, r.nowMs]);
  }

  async releases(party: string, advertiser: string, epoch: string): Promise<{ sessionId: string; sketch: Uint8Array; size: number }[]> {
    const r = await this.pool.query('SELECT session_id, sketch, size FROM released_cohorts WHERE party = $1 AND advertiser = $2 AND epoch = $3 ORDER BY at_ms', [party, advertiser, epoch]);
    return r.rows.map((x: Row) => ({ sessionId: String(x.session_id), sketch: new Uint8Array(x.sketch as Buffer), size: Number(x.size) }));
  }

  async takeQuota(party: string, q: { scope: string; subject: string; sessionId: string; amount: number; limit: number; windowMs: number; nowMs: number }): Promise<QuotaResult> {
    return this.tx(async (c) => {
      await this.lock(c, `quota|${party}|${q.scope}|${q.subject}`);
      const since = q.nowMs - q.windowMs;
      const rows = ((await c.query('SELECT amount, at_ms FROM quota_usage WHERE party = $1 AND scope = $2 AND subject = $3 AND at_ms > $4 ORDER BY at_ms', [party, q.scope, q.subject, since])).rows as Row[])
        .map((r) => ({ amount: Number(r.amount), atMs: Number(r.at_ms) }));
      const used = rows.reduce((a, r) => a + r.amount, 0);
      if (used + q.amount > q.limit) return { ok: false, used, retryAfterMs: quotaRetryAfterMs(rows, used, q) } as QuotaResult;
      await c.query('INSERT INTO quota_usage (party, scope, subject, session_id, amount, at_ms) VALUES ($1, $2, $3, $4, $5, $6)', [party, q.scope, q.subject, q.sessionId, q.amount, q.nowMs]);
      return { ok: true, used: used + q.amount } as QuotaResult;
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

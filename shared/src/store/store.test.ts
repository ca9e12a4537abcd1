// One suite, run against both stores: the embedded SQLite (node:sqlite) and a real
// PostgreSQL server started for the test (shared/src/testing/postgres.ts). The PostgreSQL
// half skips with one line only where no server binaries exist; CI installs them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SqliteStore } from './sqlite.ts';
import { PostgresStore } from './postgres.ts';
import type { Store } from './store.ts';
import { ProtocolError } from '../protocol/messages.ts';
import { startPostgres, type TestPostgres } from '../testing/postgres.ts';

const key = { advertiser: 'adv-1', media: 'med-1', epoch: 'e1' };

function suite(name: string, open: () => Promise<Store>, reopen?: () => Promise<Store>, after?: () => void): void {
  describe(name, () => {
    let s: Store;
    beforeAll(async () => {
      s = await open();
    });
    afterAll(async () => {
      await s?.close();
      after?.();
    });

    it('a session id is accepted once, forever, per party', async () => {
      const id = randomUUID();
      await s.createSession('broker', id, 'open', new Date().toISOString());
      const again = await s.createSession('broker', id, 'open', new Date().toISOString()).then(() => undefined, (e: unknown) => e);
      expect(again).toBeInstanceOf(ProtocolError);
      expect((again as ProtocolError).code).toBe('ALREADY_EXISTS');
      await s.createSession('media', id, 'open', new Date().toISOString()); // another party may hold the same id
      await s.updateSession('broker', id, { status: 'completed', phase: 'done', result: { outcome: 'COMPLETED', n: 3 }, now: new Date().toISOString() });
      expect(await s.getSession('broker', id)).toMatchObject({ status: 'completed', phase: 'done', result: { outcome: 'COMPLETED', n: 3 } });
    });

    it('running sessions are failed at start-up', async () => {
      const id = randomUUID();
      await s.createSession('advertiser', id, 'blind', new Date().toISOString());
      expect(await s.failRunning('advertiser', 'node restarted', new Date().toISOString())).toBeGreaterThanOrEqual(1);
      expect(await s.getSession('advertiser', id)).toMatchObject({ status: 'failed', error: 'node restarted' });
    });

    it('the ledger refuses what would exceed the budget, charges once per session, and settles down only', async () => {
      const k = { ...key, advertiser: `adv-${randomUUID()}` };
      const now = 1_000_000;
      expect(await s.reserve('broker', { ...k, sessionId: 'a', epsilon: 1.2, budget: 3, nowMs: now, refreshMs: 0 })).toEqual({ ok: true, spentBefore: 0 });
      expect(await s.reserve('broker', { ...k, sessionId: 'b', epsilon: 1.2, budget: 3, nowMs: now, refreshMs: 0 })).toEqual({ ok: true, spentBefore: 1.2 });
      expect(await s.reserve('broker', { ...k, sessionId: 'c', epsilon: 1.2, budget: 3, nowMs: now, refreshMs: 0 })).toMatchObject({ ok: false, spent: 2.4 });
      const dup = await s.reserve('broker', { ...k, sessionId: 'a', epsilon: 0.1, budget: 3, nowMs: now, refreshMs: 0 }).then(() => undefined, (e: unknown) => e);
      expect((dup as ProtocolError).code).toBe('ALREADY_EXISTS');
      await s.settle('broker', 'b', 0.1, now);
      await s.settle('broker', 'a', 99, now); // never above the reservation
      expect(await s.spent('broker', k, now, 0)).toBeCloseTo(1.3, 9);
      expect(await s.reserve('broker', { ...k, sessionId: 'c', epsilon: 1.2, budget: 3, nowMs: now, refreshMs: 0 })).toEqual({ ok: true, spentBefore: 1.3 });
      expect((await s.ledger('broker', k)).map((e) => e.sessionId)).toEqual(['a', 'b', 'c']);
    });

    it('concurrent reservations never both take the last epsilon', async () => {
      const k = { ...key, advertiser: `adv-${randomUUID()}` };
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.reserve('broker', { ...k, sessionId: `s${i}`, epsilon: 1, budget: 3, nowMs: 5, refreshMs: 0 })));
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      expect(await s.spent('broker', k, 5, 0)).toBe(3);
    });

    it('with a refresh period, charges older than it stop counting and a refusal says when to retry', async () => {
      const k = { ...key, advertiser: `adv-${randomUUID()}` };
      await s.reserve('broker', { ...k, sessionId: 'x', epsilon: 2, budget: 2, nowMs: 1000, refreshMs: 500 });
      expect(await s.reserve('broker', { ...k, sessionId: 'y', epsilon: 2, budget: 2, nowMs: 1200, refreshMs: 500 })).toEqual({ ok: false, spent: 2, retryAtMs: 1500 });
      expect(await s.reserve('broker', { ...k, sessionId: 'y', epsilon: 2, budget: 2, nowMs: 1501, refreshMs: 500 })).toEqual({ ok: true, spentBefore: 0 });
    });

    it('quota over a rolling window: refuses with a retry time, recovers after it', async () => {
      const subject = `adv-${randomUUID()}`;
      const q = { scope: 'evaluations:advertiser', subject, limit: 100, windowMs: 1000 };
      expect(await s.takeQuota('media', { ...q, sessionId: '1', amount: 60, nowMs: 10_000 })).toEqual({ ok: true, used: 60 });
      expect(await s.takeQuota('media', { ...q, sessionId: '2', amount: 30, nowMs: 10_400 })).toEqual({ ok: true, used: 90 });
      expect(await s.takeQuota('media', { ...q, sessionId: '3', amount: 50, nowMs: 10_500 })).toEqual({ ok: false, used: 90, retryAfterMs: 500 });
      expect(await s.takeQuota('media', { ...q, sessionId: '3', amount: 50, nowMs: 11_001 })).toEqual({ ok: true, used: 80 });
    });

    it('released cohort sketches round-trip', async () => {
      const adv = `adv-${randomUUID()}`;
      await s.recordRelease('broker', { sessionId: 'r1', advertiser: adv, epoch: 'e1', sketch: new Uint8Array([1, 2, 3, 250]), size: 1, nowMs: 1 });
      expect(await s.releases('broker', adv, 'e1')).toEqual([{ sessionId: 'r1', sketch: new Uint8Array([1, 2, 3, 250]), size: 1 }]);
      expect(await s.releases('broker', adv, 'e2')).toEqual([]);
    });

    if (reopen) {
      it('everything committed survives closing and reopening (migrations run once)', async () => {
        const k = { ...key, advertiser: `adv-${randomUUID()}` };
        await s.reserve('broker', { ...k, sessionId: 'p', epsilon: 1, budget: 5, nowMs: 1, refreshMs: 0 });
        await s.close();
        s = await reopen();
        expect(await s.spent('broker', k, 2, 0)).toBe(1);
      });
    }
  });
}

const sqliteDir = mkdtempSync(join(tmpdir(), 'cleanroom-store-'));
suite('SqliteStore (node:sqlite)', async () => SqliteStore.open(join(sqliteDir, 'state.db')), async () => SqliteStore.open(join(sqliteDir, 'state.db')));

let pgServer: TestPostgres | { unavailable: string } | undefined;
suite('PostgresStore (a real server)', async () => {
  pgServer = await startPostgres();
  if ('unavailable' in pgServer) {
    console.log(`PostgreSQL store tests cannot run: ${pgServer.unavailable}`);
    throw new Error(pgServer.unavailable);
  }
  return PostgresStore.open(pgServer.url);
}, async () => PostgresStore.open((pgServer as TestPostgres).url), () => {
  if (pgServer && 'stop' in pgServer) pgServer.stop();
});

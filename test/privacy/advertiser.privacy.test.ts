/**
 * Privacy controls, proven by attack: the advertiser (and a broker certificate holder) as
 * adversaries against the threshold, across sessions, and against the enumeration quotas;
 * the privacy budget persisted in a real database (SQLite and PostgreSQL).
 *   - threshold: asking for a minimum cohort above the floor is refused (no bisection); the
 *     floor itself is compared with a noisy count, so adding one customer who is a media
 *     user changes the release probability by at most e^ε_count (measured on the broker's
 *     own role, 3,000 sessions each way);
 *   - differencing: 12 sessions with and 12 without one customer: one cohort is released,
 *     every other is refused — nothing to difference;
 *   - budget: sessions stop at the budget, refused at OPEN before media evaluates anything;
 *   - quotas: beyond the window's evaluations, RESOURCE_EXHAUSTED with a retry time, and
 *     the window recovers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { makeWorld, type World } from '../unit/world.ts';
import { cluster, tempStore } from '../unit/nodes.ts';
import { runSession } from './harness.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { BrokerRole, tokenPositionsInMemory, type BrokerUniverse } from '@cleanroom/shared/protocol/broker.ts';
import { BrokerBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { randomElement } from '@cleanroom/shared/crypto/group.ts';
import { TOKEN_BYTES, TokenTable } from '@cleanroom/shared/common/token-set.ts';
import { arraySource } from '@cleanroom/shared/protocol/publication.ts';
import { DEFAULT_BROKER_POLICY } from '@cleanroom/shared/protocol/policy.ts';
import { DEFAULT_PRIVACY } from '@cleanroom/shared/protocol/privacy.ts';
import { PostgresStore } from '@cleanroom/shared/store/postgres.ts';
import type { Store } from '@cleanroom/shared/store/store.ts';
import { startPostgres, type TestPostgres } from '@cleanroom/shared/testing/postgres.ts';
import { mulberry32 } from '@cleanroom/shared/testing/rng.ts';

let w: World;
beforeAll(async () => {
  w = await makeWorld({ seed: 'controls-world', universeSize: 6_000, crmSize: 1_500 });
});

describe('threshold without an oracle', () => {
  it('a minimum cohort above the floor is refused: the advertiser cannot bisect its match count', async () => {
    const c = cluster(w);
    await c.broker.syncUniverse();
    const { done } = c.advertiser.start({ minCohort: 51 });
    const rec = await done;
    expect(rec.status).toBe('failed');
    expect(rec.error).toMatch(/INVALID_ARGUMENT: expected a minimum cohort ≤ the policy floor 50, got 51/);
  });

  it('adding one customer who is a media user moves the release probability by at most e^ε (3,000 sessions each way)', async () => {
    // The broker's own role on a 200-token table; cohorts of exactly the floor (with the
    // customer) and one below it (without): an exact threshold would answer 1 and 0.
    const tokens = Array.from({ length: 200 }, () => new Uint8Array(randomBytes(TOKEN_BYTES)));
    const table = TokenTable.fromList(tokens);
    const bfv = await BrokerBfv.fromPublicMaterial(w.publication.material, 64);
    const universe: BrokerUniverse = {
      epoch: 'e', version: 'v', users: 200, tables: new Map([['phone', tokenPositionsInMemory(table, Uint32Array.from(tokens.map((_, i) => i)))]]),
      ciphertexts: arraySource([]), bfv,
    };
    const floor = 50;
    const config = { ...DEFAULT_BROKER_POLICY, minDecoyRatio: 1, sizeBuckets: [100], minCohort: floor };
    const uniform = mulberry32(20261130); // fixed seed: the same 6,000 draws every run
    const released = (members: number) => {
      const role = new BrokerRole({ config, universe, advertiser: 'a', uniform });
      role.open({ idType: 'phone', seedCount: floor, audienceSize: 10, decoyRatio: 1, minCohort: floor, advertiserKey: new Uint8Array(32), resultKey: new Uint8Array(32), kind: 'lookalike', mediaPredicate: '', countSession: '' });
      role.ready({ universeEpoch: 'e', universeVersion: 'v', universeSizeClass: '', outcome: 'COMPLETED', reason: '' }, { epsilonCharged: 0, epsilonSpent: 0, epsilonRemaining: 0, budget: 0 });
      role.unpad(role.pad(Array.from({ length: floor }, () => randomElement())));
      const seeds = [...tokens.slice(0, members), ...Array.from({ length: floor - members }, () => new Uint8Array(randomBytes(TOKEN_BYTES)))];
      return role.match(seeds, []) === 'release';
    };
    const trials = 3000;
    let withT = 0;
    let withoutT = 0;
    for (let i = 0; i < trials; i++) {
      if (released(floor)) withT++;
      if (released(floor - 1)) withoutT++;
    }
    bfv.dispose();
    const ratio = withT / withoutT;
    const bound = Math.exp(DEFAULT_PRIVACY.epsilonCount);
    console.log(`release probability with the customer ${(withT / trials).toFixed(3)}, without ${(withoutT / trials).toFixed(3)}: ratio ${ratio.toFixed(3)} (e^ε = ${bound.toFixed(3)})`);
    // e^ε plus three standard errors of the measured ratio
    const se = ratio * Math.sqrt((1 - withT / trials) / withT + (1 - withoutT / trials) / withoutT);
    expect(ratio).toBeLessThanOrEqual(bound + 3 * se);
    expect(ratio).toBeGreaterThanOrEqual(1 / bound - 3 * se);
  });
});

describe('differencing refused', () => {
  it('12 sessions with and 12 without one customer: one cohort is released, the other 23 are refused', async () => {
    const byPhone = new Set(w.users.filter((u) => u.consent).map((u) => normalizeId('phone', u.phone)).filter((n) => n.ok).map((n) => (n as { value: string }).value));
    const target = w.crm.find((r) => {
      const n = normalizeId('phone', r.phone);
      return r.purchaser && r.consent && n.ok && byPhone.has(n.value);
    })!;
    const without = w.crm.filter((r) => r !== target);
    const c = cluster(w, { uniform: mulberry32(7) });
    await c.broker.syncUniverse();
    const outcomes: string[] = [];
    const insights: { with: boolean; totals: number[] }[] = [];
    for (let i = 0; i < 12; i++) {
      for (const withTarget of [false, true]) {
        c.useCrm(withTarget ? w.crm : without);
        const s = await runSession(c);
        outcomes.push(s.outcome);
        if (s.outcome === 'COMPLETED') insights.push({ with: withTarget, totals: s.result.insight.map((t) => t.total) });
      }
    }
    console.log(`24 sessions: ${outcomes.filter((o) => o === 'COMPLETED').length} released, ${outcomes.filter((o) => o === 'DIFFERENCING_REFUSED').length} refused by the differencing rule`);
    expect(outcomes.filter((o) => o === 'COMPLETED')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'DIFFERENCING_REFUSED')).toHaveLength(23);
    // The advertiser's differencing attack needs a released profile on both sides.
    expect(insights.some((x) => x.with) && insights.some((x) => !x.with)).toBe(false);
  });
});

function budgetSuite(name: string, open: () => Promise<{ broker: Store; media: Store }>, after?: () => void): void {
  describe(`privacy budget (${name})`, () => {
    afterAll(() => after?.());
    it('runs out, refused at OPEN before media evaluates anything, and stays out when the broker restarts on the same database', async () => {
      const stores = await open();
      // budget 2.5: a first release costs 1.1 ε (no history to check), a second 1.35; a third needs 1.35 more
      // seeded noise: whether a noised cohort clears the floor is not left to chance here
      const c = cluster(w, { privacy: { budget: 2.5 }, stores, uniform: mulberry32(25) });
      await c.broker.syncUniverse();
      const s1 = await runSession(c, { seed: 'purchasers' });
      const s2 = await runSession(c, { seed: 'all' });
      expect([s1.outcome, s2.outcome]).toEqual(['COMPLETED', 'COMPLETED']);
      const r2 = s2.result as unknown as { privacy: { epsilonCharged: number; epsilonSpent: number; epsilonRemaining: number } };
      expect(r2.privacy).toMatchObject({ epsilonCharged: 1.35, epsilonSpent: 2.45, epsilonRemaining: 0.05 });
      const s3 = await runSession(c, { seed: 'purchasers' });
      expect(s3.outcome).toBe('BUDGET_EXHAUSTED');
      expect(c.received.media.get(s3.sessionId)).toBeUndefined(); // media never heard of it
      // A new broker process on the same database (the kill -9 of a real process is in privacy.grpc.test.ts).
      c.broker.close();
      const again = cluster(w, { privacy: { budget: 2.5 }, stores: { broker: stores.broker }, uniform: mulberry32(26) });
      await again.broker.syncUniverse();
      const s4 = await runSession(again, { seed: 'all' });
      expect(s4.outcome).toBe('BUDGET_EXHAUSTED');
      expect((await stores.broker.ledger('broker')).map((e) => e.charged)).toEqual([1.1, 1.35]);
      await stores.broker.close();
      await stores.media.close();
    });
  });
}

budgetSuite('SQLite', async () => ({ broker: tempStore(), media: tempStore() }));
let pg: TestPostgres | { unavailable: string } | undefined;
budgetSuite('PostgreSQL, a real server', async () => {
  pg = await startPostgres();
  if ('unavailable' in pg) throw new Error(pg.unavailable);
  return { broker: await PostgresStore.open(pg.url), media: await PostgresStore.open(pg.url) };
}, () => {
  if (pg && 'stop' in pg) pg.stop();
});

describe('enumeration quotas across sessions', () => {
  for (const who of ['broker', 'media'] as const) {
    it(`${who}: beyond the window's evaluations RESOURCE_EXHAUSTED with a retry time; after the window, accepted again`, async () => {
      // The quotas' clock is the test's: a loaded machine cannot let the window pass mid-test.
      const windowMs = 3_600_000;
      let clock = Date.now();
      // one session's padded set (5,000 here) fits, a second does not
      const c = cluster(w, { quota: { [who]: 5000, windowMs, now: () => clock }, uniform: mulberry32(27) });
      await c.broker.syncUniverse();
      const s1 = await runSession(c);
      expect(s1.outcome).toBe('COMPLETED');
      const { done } = c.advertiser.start({ audienceSize: 500 });
      const refused = await done;
      expect(refused.status).toBe('failed');
      expect(refused.error).toMatch(new RegExp(`RESOURCE_EXHAUSTED: .*${who === 'media' ? "media's evaluation quota per advertiser" : 'evaluation quota: this advertiser may have 5000'}.*retry in \\d+ s`));
      clock += windowMs + 1;
      const s3 = await runSession(c);
      // the quota recovered; the same cohort again is then refused by the differencing rule, not the quota
      expect(s3.outcome).toBe('DIFFERENCING_REFUSED');
    });
  }
});

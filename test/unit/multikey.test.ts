/**
 * Multi-key universes (issue 9, item 11): media prepared for phone AND e-mail publishes
 * both token tables (each token with its user's one position); the broker syncs every
 * type, so an e-mail session matches exactly the e-mail cohort. A session on an ID type the
 * publication lacks is refused at OPEN with a clear error — never a silent empty match.
 * (Before the publication, media synced only the first configured type's tokens.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { PreparedUniverse, type UniverseRecord } from '@cleanroom/shared/protocol/universe.ts';
import { testPublication } from '@cleanroom/shared/testing/publication.ts';
import { makeWorld, type World } from './world.ts';
import { cluster } from './nodes.ts';

describe('a universe prepared for phone and e-mail', () => {
  let w: World;
  let base: World;
  beforeAll(async () => {
    base = await makeWorld({ universeSize: 5000, crmSize: 1500 });
    const records: UniverseRecord[] = base.users.filter((u) => u.consent).map((u) => {
      const phone = normalizeId('phone', u.phone);
      const email = normalizeId('email', u.email);
      return { userId: u.userId, ids: { ...(phone.ok ? { phone: phone.value } : {}), ...(email.ok ? { email: email.value } : {}) }, vector: u.vector };
    });
    const { universe } = PreparedUniverse.prepare(records, OprfKey.generate(), 'e-multi', ['phone', 'email']);
    w = { ...base, universe, publication: await testPublication(universe) };
  });

  it('an e-mail session matches the e-mail cohort; both types are synced', async () => {
    const c = cluster(w, { policy: { noiseScale: 0 } });
    const held = await c.broker.syncUniverse();
    expect([...held.tables.keys()].sort()).toEqual(['email', 'phone']);
    const emails = new Set(w.users.filter((u) => u.consent).map((u) => normalizeId('email', u.email)).filter((n) => n.ok).map((n) => (n as { value: string }).value));
    const expected = new Set(w.crm.filter((r) => r.purchaser && r.consent).map((r) => normalizeId('email', r.email)).filter((n) => n.ok && emails.has(n.value)).map((n) => (n as { value: string }).value)).size;
    expect(expected).toBeGreaterThan(50);
    const rec = await c.advertiser.start({ idType: 'email', audienceSize: 100 }).done;
    expect(rec.error).toBeUndefined();
    expect(rec.status).toBe('completed');
    expect((rec.result as { matches: { real: number } }).matches.real).toBe(expected);
  });

  it('a session on a type the publication lacks is refused at OPEN, naming the types it has', async () => {
    const c = cluster(base); // prepared for phone only
    await c.broker.syncUniverse();
    const rec = await c.advertiser.start({ idType: 'email', audienceSize: 100 }).done;
    expect(rec.status).toBe('failed');
    expect(rec.error).toMatch(/FAILED_PRECONDITION: media's published universe has no 'email' tokens \(it has: phone\)/);
  });
});

/**
 * The application kinds' "never sees" rows (docs/protocol.md, one leakage row per party per
 * kind), proven by attack. Each party plays an adversary with everything it received (and
 * its own secrets); each attack is also run against the unprotected variant of the code it
 * guards (the protection switched off in the test) to show it would catch the leak.
 *
 *  - retargeting, media: learns the audience (A's matched users who consented to ads), never
 *    A's other matched users: media tries every published position against every element
 *    list it received, with its own PSI scalar. Unprotected: the broker sends H(x) unkeyed.
 *  - retargeting, broker: never learns which matched users consented: the broker tries every
 *    position against media's PSI set. Unprotected: media sends H(y) unkeyed.
 *  - joint-count, media: decrypts only the total, never per-position membership: media reads
 *    the slots of the masked sum. Unprotected: the zero-sum mask off (uniform source = 0).
 *  - every kind, media and broker: never receive A's tags, predicate or customer ids.
 *    Unprotected: an advertiser that ships its predicate beside media's.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { prototypePatcher } from '@cleanroom/shared/testing/patch.ts';
import { randomBytes } from 'node:crypto';
import { makeWorld, expectedSelection, type World } from '../unit/world.ts';
import { cluster, type Cluster } from '../unit/nodes.ts';
import { BlindedBatchCodec } from '@cleanroom/shared/rpc/codec.ts';
import { BrokerRole } from '@cleanroom/shared/protocol/broker.ts';
import { MediaRole } from '@cleanroom/shared/protocol/media.ts';
import { AdvertiserRole } from '@cleanroom/shared/protocol/advertiser.ts';
import { hashPositions, elementKey } from '@cleanroom/shared/crypto/dh-psi.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { PackedList } from '@cleanroom/shared/common/packed-list.ts';
import { BrokerBfv, MediaBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { CRM_TAG_FIELDS } from '@cleanroom/shared/data/format.ts';

const SEGMENT = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };
const B_PRED = { attr: 'gender', eq: 'female' };

/** Prototype methods replaced for one test, put back after it. */
const patches = prototypePatcher();
const { patch } = patches;
afterEach(() => patches.restoreAll());

/** The elements of every BlindedBatch `party` received in the AGGREGATE round of a session. */
function aggregateElements(c: Cluster, party: 'media' | 'broker', sessionId: string): Uint8Array[] {
  return (c.received[party].get(sessionId) ?? []).filter((r) => r.round === 'AGGREGATE' && r.payloadType === 'cleanroom.v1.BlindedBatch')
    .flatMap((r) => BlindedBatchCodec.decode(r.payload).items);
}

describe('application kinds: each party as an adversary', () => {
  let w: World;
  let rowOfUser: Map<string, number>;
  beforeAll(async () => {
    w = await makeWorld({ seed: 'kinds-privacy', universeSize: 6_000, crmSize: 1_500 });
    rowOfUser = new Map(w.universe.userIds.map((id, r) => [id, r]));
  });

  /** Runs a retargeting session, keeping media's PSI scalar (media knows it). */
  async function retarget(mustComplete = true): Promise<{ c: Cluster; sessionId: string; mediaKey: OprfKey; audience: Set<string> }> {
    let mediaKey: OprfKey | undefined;
    const offer = MediaRole.prototype.psiOfferPage;
    patch(MediaRole.prototype, 'psiOfferPage', function (this: MediaRole, offset: number, maxItems: number) {
      const out = offer.call(this, offset, maxItems);
      mediaKey = (this as unknown as { phase_: { psi: { key: OprfKey } } }).phase_.psi.key;
      return out;
    });
    const c = cluster(w, { policy: { minCohort: 10, noiseScale: 0 } });
    await c.broker.syncUniverse();
    const rec = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 10 }).done;
    if ((mustComplete && rec.status !== 'completed') || !mediaKey) throw new Error(`retargeting ended ${rec.status}: ${rec.error}`);
    return { c, sessionId: rec.sessionId, mediaKey, audience: expectedSelection(w, SEGMENT, (u) => u.consentAds).userIds };
  }

  /** Media's attack: every position it can place in the broker's set, with everything it has. */
  function mediaIdentifies(c: Cluster, sessionId: string, b: OprfKey): Set<string> {
    const received = aggregateElements(c, 'media', sessionId);
    const pub = w.publication;
    const positions = Array.from({ length: pub.users }, (_, p) => p);
    const hashed = hashPositions(pub.version, positions);
    const underB = b.evaluateBatch(hashed);
    const lists = new Set([...received, ...b.evaluateBatch(received)].map(elementKey));
    const found = new Set<string>();
    positions.forEach((p) => {
      if (lists.has(elementKey(hashed[p]!)) || lists.has(elementKey(underB[p]!))) found.add(w.universe.userIds[pub.order[p]!]!);
    });
    // …and, as the protocol intends, its offered positions whose doubly-keyed value is in b·(broker's set).
    return found;
  }

  it('retargeting, media: nothing beyond the audience is identifiable (A\'s matched users without ad consent stay hidden)', async () => {
    const { c, sessionId, mediaKey, audience } = await retarget();
    const matched = expectedSelection(w, SEGMENT).userIds;
    const hiddenOnes = [...matched].filter((u) => !audience.has(u));
    expect(hiddenOnes.length).toBeGreaterThan(0);
    const found = mediaIdentifies(c, sessionId, mediaKey);
    expect([...found].filter((u) => !audience.has(u))).toEqual([]);
  });

  it('(the attack on the unprotected variant: a broker sending H(x) unkeyed exposes every matched user)', async () => {
    const padded = BrokerRole.prototype.psiPadded;
    patch(BrokerRole.prototype, 'psiPadded', async function (this: BrokerRole) {
      const positions = (this as unknown as { phase_: { positions: number[] } }).phase_.positions.slice();
      const out = await padded.call(this);
      // the broker's set unkeyed: H(x) of A's matches where H(x)^a was
      return PackedList.from([...hashPositions(w.publication.version, positions), ...out.toArray().slice(positions.length)], out.width);
    });
    // (the protocol no longer works — media's b·H(x) never meets H(y)^{ba} — but what media received is what counts)
    const { c, sessionId, mediaKey, audience } = await retarget(false);
    const matched = expectedSelection(w, SEGMENT).userIds;
    const beyond = [...mediaIdentifies(c, sessionId, mediaKey)].filter((u) => !audience.has(u));
    expect(beyond.length).toBeGreaterThan(0);
    expect(beyond.every((u) => matched.has(u))).toBe(true);
  });

  /** The broker's attack: every position it can place in media's PSI set (consented to ads). */
  function brokerIdentifies(c: Cluster, sessionId: string): number {
    const offer = new Set(aggregateElements(c, 'broker', sessionId).map(elementKey));
    const hashed = hashPositions(w.publication.version, Array.from({ length: w.publication.users }, (_, p) => p));
    return hashed.filter((h) => offer.has(elementKey(h))).length;
  }

  it('retargeting, broker: media\'s consenting positions are not identifiable; (unprotected: media sending H(y) unkeyed exposes them all)', async () => {
    const protectedRun = await retarget();
    expect(brokerIdentifies(protectedRun.c, protectedRun.sessionId)).toBe(0);
    patches.restoreLast(); // the psiOfferPage spy of that run
    const offer = MediaRole.prototype.psiOfferPage;
    const evaluate = OprfKey.prototype.evaluateBatch;
    patch(MediaRole.prototype, 'psiOfferPage', async function (this: MediaRole, offset: number, maxItems: number) {
      // unprotected: media's scalar is the identity — its set goes out as H(y)
      OprfKey.prototype.evaluateBatch = function (es: readonly Uint8Array[]) {
        return es.slice();
      };
      try {
        return await offer.call(this, offset, maxItems);
      } finally {
        OprfKey.prototype.evaluateBatch = evaluate;
      }
    });
    const c = cluster(w, { policy: { minCohort: 10, noiseScale: 0 } });
    await c.broker.syncUniverse();
    const rec = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 10 }).done;
    const consenting = w.users.filter((u) => u.consent && u.consentAds && rowOfUser.has(u.userId)).length;
    expect(brokerIdentifies(c, rec.sessionId)).toBe(consenting);
  });

  it('joint-count, media: the masked sum reveals the total only — no slot equals its unmasked value; (unprotected: mask off, every slot does)', async () => {
    const media = await MediaBfv.create(ATTRIBUTE_COUNT);
    const broker = await BrokerBfv.fromPublicMaterial(media.publicMaterial(), ATTRIBUTE_COUNT);
    try {
      const users = 8192;
      const bits = new Uint8Array(users).map((_, i) => (i % 2));
      const cts = media.encryptIndicators(bits);
      const matched = Array.from({ length: 64 }, (_, i) => i).filter((i) => i % 3 !== 0);
      const truth = Array.from({ length: 64 }, (_, i) => (matched.includes(i) ? bits[i]! : 0));
      const crypto = (t: bigint) => BigInt(`0x${randomBytes(8).toString('hex')}`) % t;
      // media reads slots 0..63 of what it decrypts (decryptProfile exposes the first block)
      const slotsOf = (ct: Uint8Array) => media.decryptProfile(ct).totals;
      const masked = broker.sumIndicators(cts, matched, 0, crypto);
      expect(media.decryptSlotSum(masked)).toBe(matched.filter((i) => bits[i] === 1).length);
      expect(slotsOf(masked).filter((v, i) => v === truth[i]).length).toBeLessThanOrEqual(1);
      const unmasked = broker.sumIndicators(cts, matched, 0, () => 0n);
      expect(slotsOf(unmasked)).toEqual(truth);
    } finally {
      media.dispose();
      broker.dispose();
    }
  });

  /** Every tag name, the predicate text and every customer id, searched in what `party` received. */
  function leaks(c: Cluster, party: 'media' | 'broker', sessionId: string, predicate: unknown): string[] {
    const text = (c.received[party].get(sessionId) ?? []).map((r) => Buffer.from(r.payload).toString('latin1')).join('\n');
    const needles = [...Object.keys(CRM_TAG_FIELDS).filter((t) => t !== 'rfm'), JSON.stringify(predicate), ...w.crm.map((r) => r.customerId)];
    return needles.filter((n) => text.includes(n));
  }

  it('every kind: neither media nor the broker receives a tag, A\'s predicate or a customer id; (unprotected: an advertiser shipping its predicate is caught)', async () => {
    const c = cluster(w, { policy: { minCohort: 10, noiseScale: 0 }, privacy: { differencingMin: 0 } });
    await c.broker.syncUniverse();
    const A = { all: [{ tag: 'orders_12m', gte: 1 }, { tag: 'member_tier', in: ['silver', 'gold'] }] };
    for (const req of [
      { kind: 'profile' as const, predicate: A, minCohort: 10 },
      { kind: 'joint-count' as const, predicate: A, mediaPredicate: B_PRED, minCohort: 10 },
      { kind: 'retargeting' as const, predicate: A, minCohort: 10 },
    ]) {
      const rec = await c.advertiser.start(req).done;
      expect(rec.status, `${req.kind}: ${rec.error}`).toBe('completed');
      expect(leaks(c, 'media', rec.sessionId, A)).toEqual([]);
      expect(leaks(c, 'broker', rec.sessionId, A)).toEqual([]);
    }
    const open = AdvertiserRole.prototype.open;
    patch(AdvertiserRole.prototype, 'open', function (this: AdvertiserRole) {
      const m = open.call(this);
      return { ...m, mediaPredicate: JSON.stringify({ ...JSON.parse(m.mediaPredicate), advertiser: A }) };
    });
    const bad = await c.advertiser.start({ kind: 'joint-count', predicate: A, mediaPredicate: B_PRED, minCohort: 10 }).done;
    // media refuses the malformed predicate, but the broker and media have received it: the scan catches the leak
    expect(bad.status).toBe('failed');
    expect(leaks(c, 'broker', bad.sessionId, A)).toContain('orders_12m');
    expect(leaks(c, 'media', bad.sessionId, A)).toContain('orders_12m');
  });
});

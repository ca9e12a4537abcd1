/**
 * The paged DH-PSI holds O(page + padded size) at both roles, whatever the universe
 * (docs/operations.md "Sizing"): asserted on structure, over three nodes in memory, with pages
 * small enough to split media's set several times.
 *
 *  - media never produces more than one page of its set at a time: every psiOfferPage call
 *    returns at most the page asked, and the next is refused until the broker answered it
 *    (kinds.pages.test.ts); its PSI state holds the offer's order as 4-byte positions, the
 *    broker's set (P elements) and the rows found — no buffer or list of the offer's elements;
 *  - the broker answers one page at a time and keeps nothing of media's set: its PSI state is
 *    its scalar and a counter;
 *  - a media node that breaks the paging (a page larger than asked, an invalid element) fails
 *    that session at the broker with a precise reason; the next session completes;
 *  - what the broker sees of media's set — its page sizes — is a function of the set's padded
 *    size and the page size alone (every page full but the last), not of how many of media's
 *    users are in the set: media pads its set to a power of two before paging;
 *  - nor is the work of a page: with the node's position-hash file, a padding element is read
 *    and raised to b like a position's hash — one X25519 per element, nothing else counted —
 *    so a broker timing media's pages cannot tell how much of them is padding.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { prototypePatcher } from '@cleanroom/shared/testing/patch.ts';
import { BrokerRole } from '@cleanroom/shared/protocol/broker.ts';
import { MediaRole } from '@cleanroom/shared/protocol/media.ts';
import { ElementTable } from '@cleanroom/shared/crypto/dh-psi.ts';
import { ELEMENT_BYTES } from '@cleanroom/shared/crypto/group.ts';
import { PackedList } from '@cleanroom/shared/common/packed-list.ts';
import { primitiveDelta, primitiveSnapshot } from '@cleanroom/shared/common/op-counts.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PositionHashFile } from '../../services/media/src/psi-positions.ts';
import { makeWorld, type World } from './world.ts';
import { cluster } from './nodes.ts';

const SEGMENT = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };
const PAGE = 1000;

/** Prototype methods replaced for one test, put back after it. */
const patches = prototypePatcher();
const { patch } = patches;
afterEach(() => patches.restoreAll());

/** Bytes of element data a value holds: typed arrays of bytes, element tables, arrays of them (one level). */
function elementBytes(v: unknown): number {
  if (v instanceof Uint8Array) return v.byteLength;
  if (v instanceof ElementTable) return (v as unknown as { bytes: Uint8Array }).bytes.byteLength;
  if (Array.isArray(v)) return v.reduce((a: number, x) => a + (x instanceof Uint8Array ? x.byteLength : 0), 0);
  return 0;
}

describe('paged DH-PSI: each role holds a page of media\'s set at most', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld({ seed: 'psi-pages', universeSize: 6000, crmSize: 900 });
  });

  it('media: pages of at most the size asked, one at a time; its state holds no element of its set (4-byte positions, the broker\'s P elements); the broker: one page, nothing kept', async () => {
    const offerPages: number[] = [];
    const mediaHeld: { elementBytes: number; offered: number; padded: number; pendingOrTable: boolean }[] = [];
    const offerPage = MediaRole.prototype.psiOfferPage;
    patch(MediaRole.prototype, 'psiOfferPage', async function (this: MediaRole, offset: number, maxItems: number) {
      const out = await offerPage.call(this, offset, maxItems);
      offerPages.push(out.length);
      const phase = (this as unknown as { phase_: { psi: Record<string, unknown>; request: { paddedCount: number } } }).phase_;
      const held = Object.values(phase.psi).reduce((a: number, v) => a + elementBytes(v), 0);
      mediaHeld.push({ elementBytes: held, offered: (phase.psi.offered as Int32Array).length, padded: phase.request.paddedCount, pendingOrTable: phase.psi.brokerSet instanceof ElementTable });
      return out;
    });
    const brokerPages: number[] = [];
    const brokerState: string[][] = [];
    const replyPage = BrokerRole.prototype.psiReplyPage;
    patch(BrokerRole.prototype, 'psiReplyPage', async function (this: BrokerRole, offset: number, page: PackedList, maxItems?: number) {
      brokerPages.push(page.length);
      const out = await replyPage.call(this, offset, page, maxItems);
      brokerState.push(Object.keys((this as unknown as { phase_: { psi: object } }).phase_.psi).sort());
      return out;
    });
    const c = cluster(w, { policy: { minCohort: 5, noiseScale: 0 }, privacy: { differencingMin: 0 } });
    await c.broker.syncUniverse();
    c.broker['o'].psiPageItems = PAGE;
    const rec = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 5 }).done;
    expect(rec.error).toBeUndefined();
    expect(rec.status).toBe('completed');

    const n = mediaHeld[0]!.offered;
    expect(n).toBeGreaterThan(3 * PAGE); // the set really was paged
    // every page full but the last: the sizes follow from n and the page alone
    const full = Math.floor(n / PAGE);
    expect(offerPages).toEqual([...Array<number>(full).fill(PAGE), ...(n % PAGE ? [n % PAGE] : [])]);
    expect(brokerPages).toEqual(offerPages);
    for (const h of mediaHeld) {
      expect(h.pendingOrTable).toBe(true);
      // media's element data: the broker's set under b (P elements) and nothing of its own set
      expect(h.elementBytes).toBe(h.padded * ELEMENT_BYTES);
      expect(h.elementBytes).toBeLessThan(n * ELEMENT_BYTES);
    }
    for (const keys of brokerState) expect(keys).toEqual(['answered', 'key']);
  });

  it('the page sizes the broker sees do not depend on how many of media\'s users are in its set (same padded size, different counts)', async () => {
    const sizes = async (consent: (row: number) => boolean) => {
      const pages: number[] = [];
      const replyPage = BrokerRole.prototype.psiReplyPage;
      patch(BrokerRole.prototype, 'psiReplyPage', async function (this: BrokerRole, offset: number, page: PackedList, maxItems?: number) {
        pages.push(page.length);
        return replyPage.call(this, offset, page, maxItems);
      });
      const c = cluster(w, { policy: { minCohort: 5, noiseScale: 0 }, privacy: { differencingMin: 0 } });
      await c.broker.syncUniverse();
      c.broker['o'].psiPageItems = PAGE;
      const ads = c.media['o'].purposes!.ads;
      for (let r = 0; r < ads.length; r++) ads[r] = consent(r) ? 1 : 0;
      await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 5 }).done;
      patches.restoreLast();
      return pages;
    };
    // 2^12 < both counts ≤ 2^13 for a 6,000-user universe: 4,500 and 6,000 consenting users
    const some = await sizes((r) => r % 4 !== 0);
    const all = await sizes(() => true);
    expect(some.length).toBeGreaterThan(1);
    expect(some).toEqual(all);
  });

  it('with the position-hash file every element of a page costs the same (one read, one X25519 under b), whatever share of it is padding; the audience is the same as without the file', async () => {
    const run = async (withFile: boolean) => {
      const perPage: { length: number; ops: Record<string, number> }[] = [];
      const offerPage = MediaRole.prototype.psiOfferPage;
      patch(MediaRole.prototype, 'psiOfferPage', async function (this: MediaRole, offset: number, maxItems: number) {
        const before = primitiveSnapshot();
        const out = await offerPage.call(this, offset, maxItems);
        perPage.push({ length: out.length, ops: primitiveDelta(before) as Record<string, number> });
        return out;
      });
      const pub = w.publication as typeof w.publication & { positionHashes?: (ps: ArrayLike<number>) => Uint8Array | undefined };
      const file = new PositionHashFile(mkdtempSync(join(tmpdir(), 'cleanroom-psipad-')), pub.users);
      if (withFile) {
        await file.warm(pub.version);
        pub.positionHashes = (ps) => file.read(ps);
      }
      try {
        const c = cluster(w, { policy: { minCohort: 5, noiseScale: 0 }, privacy: { differencingMin: 0 } });
        await c.broker.syncUniverse();
        c.broker['o'].psiPageItems = PAGE;
        const ads = c.media['o'].purposes!.ads;
        for (let r = 0; r < ads.length; r++) ads[r] = r % 3 !== 0 ? 1 : 0; // ≈ 4,000 of 6,000 in media's set, padded to 4,096
        const rec = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 5 }).done;
        expect(rec.error).toBeUndefined();
        return { perPage, audience: c.media.sessions.get(rec.sessionId)?.result };
      } finally {
        delete pub.positionHashes;
        file.close();
        patches.restoreLast();
      }
    };
    const withFile = await run(true);
    expect(withFile.perPage.length).toBeGreaterThan(3);
    for (const p of withFile.perPage) expect(p.ops).toEqual({ x25519: p.length });
    const without = await run(false);
    // the fallback while the file warms hashes positions and draws padding: not equal work
    expect(without.perPage.some((p) => (p.ops.x25519Base ?? 0) > 0)).toBe(true);
    const size = (r: unknown) => (r as { audienceSize?: number } | undefined)?.audienceSize;
    expect(size(withFile.audience)).toBeGreaterThan(0);
    expect(size(withFile.audience)).toBe(size(without.audience));
  });

  it('a media page larger than asked, or with an invalid element, fails that session at the broker with the reason; the next one completes', async () => {
    const c = cluster(w, { policy: { minCohort: 5, noiseScale: 0 }, privacy: { differencingMin: 0 } });
    await c.broker.syncUniverse();
    c.broker['o'].psiPageItems = PAGE;
    const offerPage = MediaRole.prototype.psiOfferPage;
    for (const [bad, reason] of [
      [(page: PackedList) => PackedList.from([...page.toArray(), page.at(0)], ELEMENT_BYTES), new RegExp(`media's PSI set page at element 0: expected at most ${PAGE} elements, got ${PAGE + 1}`)],
      [(page: PackedList) => PackedList.from([page.at(0), new Uint8Array(ELEMENT_BYTES), ...page.toArray().slice(2)], ELEMENT_BYTES), /element 1: .*low-order|element 1: .*expected/],
    ] as const) {
      patch(MediaRole.prototype, 'psiOfferPage', async function (this: MediaRole, offset: number, maxItems: number) {
        return bad(await offerPage.call(this, offset, maxItems));
      });
      const rec = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 5 }).done;
      expect(rec.status).toBe('failed');
      expect(rec.error).toMatch(reason);
      expect(c.broker.sessions.get(rec.sessionId)?.status).toBe('failed');
      patches.restoreLast();
    }
    const next = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 5 }).done;
    expect(next.error).toBeUndefined();
    expect(next.status).toBe('completed');
  });
});

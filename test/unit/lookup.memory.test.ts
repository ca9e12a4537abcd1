/**
 * The lookup kind over the in-memory transport: three nodes, real OPRF, real label boxes,
 * real SQLite stores. The labels A receives equal the plaintext ground truth (labels.csv:
 * media users with data-sharing consent); nothing for the others (non-consenting media users
 * included); A gets nothing beyond its quota or below the minimum batch; malformed IDs and a
 * wrong caller get their documented answers. The attacks of media and the broker are in
 * test/privacy/lookup.privacy.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { inMemoryPeer } from '@cleanroom/shared/rpc/peer.ts';
import { expectedLabels } from '@cleanroom/shared/testing/labels.ts';
import type { LookupResultView } from '../../services/advertiser/src/node.ts';
import { lookupCluster, makeLookupWorld, type LookupWorld } from './world.ts';
import { join } from 'node:path';
import { formatReport, verifyPaths } from '@cleanroom/shared/transcript/verify.ts';

describe('lookup kind, three nodes in memory', () => {
  let lw: LookupWorld;
  beforeAll(async () => {
    lw = await makeLookupWorld();
  }, 120_000);

  it('returns exactly the ground-truth label for each of A\'s IDs that is a consenting media user, nothing for the others', async () => {
    const { w, rows } = lw;
    const c = await lookupCluster(lw);
    const { sessionId, done } = c.advertiser.startLookup({ kind: 'lookup', ids: lw.crmPhones });
    const rec = await done;
    expect(rec.error).toBeUndefined();
    expect(rec.status).toBe('completed');
    const view = rec.result as LookupResultView;
    const csv = c.advertiser.lookupCsv(sessionId)!;
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('id,labelled,leads_score,tier,last_active,tenure');
    const truth = expectedLabels(w.users, rows);
    let labelled = 0;
    let mediaUsersWithoutConsent = 0;
    const mediaPhones = new Set(w.users.filter((u) => u.consent).map((u) => normalizeId('phone', u.phone)).flatMap((n) => (n.ok ? [n.value] : [])));
    for (const line of lines.slice(1)) {
      const [id, got, score, tier, last, tenure] = line.split(',');
      const want = truth.get(id!);
      if (want) {
        labelled++;
        expect(got).toBe('1');
        expect({ leadsScore: Number(score), tier, lastActive: last, tenure }).toEqual(want);
      } else {
        expect(got, `no label for ${id}`).toBe('0');
        expect([score, tier, last, tenure]).toEqual(['', '', '', '']);
        if (mediaPhones.has(id!)) mediaUsersWithoutConsent++;
      }
    }
    expect(view.labelled).toBe(labelled);
    expect(labelled).toBeGreaterThan(100);
    // the world has media users among A's IDs who did not consent to sharing: they got nothing
    expect(mediaUsersWithoutConsent).toBeGreaterThan(10);
    expect(lines.length - 1).toBe(view.ids.valid);
    // the broker knows the real matches (consenting or not), A only the labelled ones
    const b = c.broker.sessions.get(sessionId)!;
    expect((b.result as { counts: { realMatches: number } }).counts.realMatches).toBe(labelled + mediaUsersWithoutConsent);
    // every message signed into the three transcripts; the auditor verifies the lookup's flow
    const reports = verifyPaths([join(c.transcriptDir, sessionId)], w.identities.media.trust);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.checks.filter((x) => !x.ok), formatReport(reports[0]!)).toEqual([]);
    expect(reports[0]!.kind ?? 'session').toBeDefined();
  }, 120_000);

  it('refuses a batch below the minimum and a lookup beyond the advertiser\'s quota, before any OPRF work', async () => {
    const c = await lookupCluster(lw, { minBatch: 300, idsPerAdvertiser: 700 });
    const ids = lw.crmPhones;
    const small = await c.advertiser.startLookup({ kind: 'lookup', ids: ids.slice(0, 200) }).done;
    expect(small.status).toBe('failed');
    expect(small.error).toMatch(/lookup batch too small: \d+ IDs, the minimum batch is 300/);
    const first = await c.advertiser.startLookup({ kind: 'lookup', ids: ids.slice(0, 400) }).done;
    expect(first.status).toBe('completed');
    const second = await c.advertiser.startLookup({ kind: 'lookup', ids: ids.slice(400, 800) }).done;
    expect(second.status).toBe('failed');
    expect(second.error).toMatch(/RESOURCE_EXHAUSTED|lookup quota: this advertiser may look up 700 IDs/);
    // refused at OPEN: media never evaluated anything for these sessions
    for (const rec of [small, second]) {
      const m = c.received.media.get(rec.sessionId) ?? [];
      expect(m.filter((r) => r.round === 'BLIND')).toEqual([]);
    }
  }, 120_000);

  it('malformed IDs are rejected one by one and counted; none valid is a clear error; media cannot call Lookup', async () => {
    const c = await lookupCluster(lw);
    const ids = [...lw.crmPhones.slice(0, 300), 'not-a-phone', '12', '+86 138 0000'];
    const rec = await c.advertiser.startLookup({ kind: 'lookup', ids }).done;
    expect(rec.status).toBe('completed');
    const view = rec.result as LookupResultView;
    expect(view.ids.rejected).toBeGreaterThanOrEqual(3);
    expect(() => c.advertiser.startLookup({ kind: 'lookup', ids: ['x', 'y'] })).toThrow(/expected at least one valid phone ID, got none of 2 rows/);
    const asMedia = inMemoryPeer('Broker', 'media', () => c.broker.handlers());
    await expect(asMedia.call('Lookup', [])).rejects.toThrow(ProtocolError);
    await expect(asMedia.call('Lookup', [])).rejects.toThrow(/Broker.Lookup may be called by advertiser, not by media/);
  }, 120_000);
});

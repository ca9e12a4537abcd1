/**
 * The lookup kind over the in-memory transport: three nodes, real OPRF, real label boxes,
 * real SQLite stores. The labels A receives equal the plaintext ground truth (labels.csv:
 * media users with data-sharing consent); nothing for others. Attacks: media's capture
 * carries nothing that depends on which users were looked up; the broker, with everything
 * it holds, opens no label; A gets nothing beyond its quota or below the minimum batch.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { LABEL_BOX_BYTES, LABEL_KEY_BYTES, labelAd, openLabel } from '@cleanroom/shared/crypto/label-box.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { LabelBatchCodec, TokenBatchCodec, BlindedBatchCodec } from '@cleanroom/shared/rpc/codec.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { inMemoryPeer } from '@cleanroom/shared/rpc/peer.ts';
import { expectedLabels, testLabels } from '@cleanroom/shared/testing/labels.ts';
import type { LabelPublication } from '@cleanroom/shared/protocol/label-publication.ts';
import type { LabelRow } from '@cleanroom/shared/data/labels.ts';
import type { LookupResultView } from '../../services/advertiser/src/node.ts';
import { makeWorld, type World } from './world.ts';
import { cluster } from './nodes.ts';
import { join } from 'node:path';
import { formatReport, verifyPaths } from '@cleanroom/shared/transcript/verify.ts';

const LIMITS = { minBatch: 100, idsPerAdvertiser: 1_000_000 };

describe('lookup kind, three nodes in memory', () => {
  let w: World;
  let labels: LabelPublication;
  let rows: Map<string, LabelRow>;
  beforeAll(async () => {
    w = await makeWorld();
    ({ labels, rows } = await testLabels(w));
  }, 120_000);

  /** A's IDs: every consented CRM phone (media users and not). */
  const crmPhones = () => w.crm.filter((r) => r.consent).map((r) => r.phone);

  it('returns exactly the ground-truth label for each of A\'s IDs that is a consenting media user, nothing for the others', async () => {
    const c = cluster(w, { labels, lookup: LIMITS });
    await c.broker.syncUniverse();
    const { sessionId, done } = c.advertiser.startLookup({ ids: crmPhones() });
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

  it('media\'s capture does not depend on which users were looked up (two disjoint batches of different sizes, same bucket: the same view)', async () => {
    const c = cluster(w, { labels, lookup: LIMITS });
    await c.broker.syncUniverse();
    const all = crmPhones();
    const views = [];
    for (const ids of [all.slice(0, 300), all.slice(300, 750)]) {
      const { sessionId, done } = c.advertiser.startLookup({ ids });
      expect((await done).status).toBe('completed');
      const got = c.received.media.get(sessionId)!;
      views.push(got.map((r) => `${r.round} ${r.payloadType} ${r.round === 'CHECKPOINT' ? '' : r.payload.length}`));
      // nothing media receives contains a token it published, or a box
      const pubTokens = new Set<string>();
      const t = w.publication.tokens.get('phone')!;
      for (let i = 0; i < t.positions.length; i++) pubTokens.add(Buffer.from(t.tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES)).toString('hex'));
      for (const r of got) {
        const hex = Buffer.from(r.payload).toString('hex');
        for (let k = 0; k + 32 <= hex.length; k += 2) expect(pubTokens.has(hex.slice(k, k + 32))).toBe(false);
      }
      expect(got.map((r) => r.payloadType)).not.toContain('cleanroom.v1.TokenBatch');
      expect(got.map((r) => r.payloadType)).not.toContain('cleanroom.v1.LabelBatch');
    }
    expect(views[1]).toEqual(views[0]);
    // media's round trip ends with BLIND and the final co-signed checkpoint
    expect(new Set(views[0]!.map((v) => v.split(' ')[0]))).toEqual(new Set(['OPEN', 'BLIND', 'CHECKPOINT']));
  }, 180_000);

  it('the broker, with everything it holds and receives, opens no label', async () => {
    const c = cluster(w, { labels, lookup: LIMITS });
    await c.broker.syncUniverse();
    const { sessionId, done } = c.advertiser.startLookup({ ids: crmPhones() });
    expect((await done).status).toBe('completed');
    const held = c.broker.universe!;
    const boxes = held.labels!.boxes.get('phone')!;
    const { table } = held.tables.get('phone')!;
    const received = c.received.broker.get(sessionId)!;
    const tokens = received.filter((r) => r.payloadType === 'cleanroom.v1.TokenBatch').flatMap((r) => TokenBatchCodec.decode(r.payload).items);
    const elements = received.filter((r) => r.payloadType === 'cleanroom.v1.BlindedBatch').flatMap((r) => BlindedBatchCodec.decode(r.payload).items);
    expect(tokens.length).toBeGreaterThan(100);
    // candidate keys from everything the broker has: each token hashed under the label domain
    // (as an unprotected design would derive it), raw, and every element it saw in BLIND
    const dom = new TextEncoder().encode('cleanroom/v1/label-key');
    const candidates = (token: Uint8Array): Uint8Array[] => [
      createHash('sha512').update(dom).update(token).digest().subarray(0, LABEL_KEY_BYTES),
      createHash('sha256').update(token).digest(),
      Buffer.concat([token, token]),
      ...elements.slice(0, 8),
    ];
    let opened = 0;
    let tried = 0;
    for (const token of tokens) {
      const row = table.lookup(token);
      if (row < 0) continue;
      const box = boxes.subarray(row * LABEL_BOX_BYTES, (row + 1) * LABEL_BOX_BYTES);
      for (const key of candidates(token)) {
        tried++;
        if (openLabel(key, box, labelAd(held.epoch, 'phone', token))) opened++;
      }
    }
    expect(tried).toBeGreaterThan(500);
    expect(opened).toBe(0);
    // the broker received no label in the clear: every LabelBatch it sent is boxes only
    expect(received.map((r) => r.payloadType)).not.toContain('cleanroom.v1.LabelBatch');
  }, 120_000);

  it('refuses a batch below the minimum and a lookup beyond the advertiser\'s quota, before any OPRF work', async () => {
    const c = cluster(w, { labels, lookup: { minBatch: 300, idsPerAdvertiser: 700 } });
    await c.broker.syncUniverse();
    const ids = crmPhones();
    const small = await c.advertiser.startLookup({ ids: ids.slice(0, 200) }).done;
    expect(small.status).toBe('failed');
    expect(small.error).toMatch(/lookup batch too small: \d+ IDs, the minimum batch is 300/);
    const first = await c.advertiser.startLookup({ ids: ids.slice(0, 400) }).done;
    expect(first.status).toBe('completed');
    const second = await c.advertiser.startLookup({ ids: ids.slice(400, 800) }).done;
    expect(second.status).toBe('failed');
    expect(second.error).toMatch(/RESOURCE_EXHAUSTED|lookup quota: this advertiser may look up 700 IDs/);
    // refused at OPEN: media never evaluated anything for these sessions
    for (const rec of [small, second]) {
      const m = c.received.media.get(rec.sessionId) ?? [];
      expect(m.filter((r) => r.round === 'BLIND')).toEqual([]);
    }
  }, 120_000);

  it('malformed IDs are rejected one by one and counted; none valid is a clear error; media cannot call Lookup', async () => {
    const c = cluster(w, { labels, lookup: LIMITS });
    await c.broker.syncUniverse();
    const ids = [...crmPhones().slice(0, 300), 'not-a-phone', '12', '+86 138 0000'];
    const rec = await c.advertiser.startLookup({ ids }).done;
    expect(rec.status).toBe('completed');
    const view = rec.result as LookupResultView;
    expect(view.ids.rejected).toBeGreaterThanOrEqual(3);
    expect(() => c.advertiser.startLookup({ ids: ['x', 'y'] })).toThrow(/expected at least one valid phone ID, got none of 2 rows/);
    const asMedia = inMemoryPeer('Broker', 'media', () => c.broker.handlers());
    await expect(asMedia.call('Lookup', [])).rejects.toThrow(ProtocolError);
    await expect(asMedia.call('Lookup', [])).rejects.toThrow(/Broker.Lookup may be called by advertiser, not by media/);
  }, 120_000);

  it('the broker\'s reply has one fixed-size box per token in A\'s order, whatever matched', async () => {
    const c = cluster(w, { labels, lookup: LIMITS });
    await c.broker.syncUniverse();
    const valid = (list: string[]) => [...new Set(list.map((p) => normalizeId('phone', p)).flatMap((n) => (n.ok ? [n.value] : [])))];
    const inMedia = new Set(w.users.map((u) => normalizeId('phone', u.phone)).flatMap((n) => (n.ok ? [n.value] : [])));
    const outside = valid(Array.from({ length: 600 }, (_, i) => `+86139${String(10_000_000 + i * 7919).slice(0, 8)}`)).filter((p) => !inMedia.has(p)).slice(0, 300);
    const customers = valid(crmPhones()).filter((p) => inMedia.has(p)).slice(0, 300);
    expect(customers.length).toBe(outside.length);
    expect(outside.length).toBeGreaterThan(200);
    const sizes = [];
    for (const ids of [customers, outside]) {
      const { sessionId, done } = c.advertiser.startLookup({ ids });
      const rec = await done;
      expect(rec.status).toBe('completed');
      const got = (c.received.advertiser.get(sessionId) ?? []).filter((r) => r.payloadType === 'cleanroom.v1.LabelBatch');
      const boxes = got.flatMap((r) => LabelBatchCodec.decode(r.payload).items);
      expect(boxes.length).toBe((rec.result as LookupResultView).ids.valid);
      expect(boxes.every((b) => b.length === LABEL_BOX_BYTES)).toBe(true);
      sizes.push(got.reduce((a, r) => a + r.payload.length, 0));
    }
    // A's customers who are media users (all match) and numbers outside media (none): the same bytes
    expect(sizes[1]).toBe(sizes[0]);
  }, 120_000);
});

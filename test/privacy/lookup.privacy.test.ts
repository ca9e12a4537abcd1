/**
 * The lookup kind's leakage rows (docs/protocol.md §8), played by attack over the in-memory
 * transport (three nodes, real OPRF, real label boxes): media, with everything it receives,
 * sees nothing that depends on which users were looked up; the broker, with everything it
 * holds and receives, opens no label; the broker's reply to A has the same size and shape
 * whatever matched. Each attack was shown failing on unprotected code (docs/protocol.md §8).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { LABEL_BOX_BYTES, LABEL_KEY_BYTES, labelAd, openLabel } from '@cleanroom/shared/crypto/label-box.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { LabelBatchCodec, TokenBatchCodec, BlindedBatchCodec } from '@cleanroom/shared/rpc/codec.ts';
import type { LookupResultView } from '../../services/advertiser/src/node.ts';
import { lookupCluster, makeLookupWorld, type LookupWorld } from '../unit/world.ts';

describe('lookup kind: media and the broker as adversaries', () => {
  let lw: LookupWorld;
  beforeAll(async () => {
    lw = await makeLookupWorld();
  }, 120_000);

  it('media\'s capture does not depend on which users were looked up (two disjoint batches of different sizes, same bucket: the same view)', async () => {
    const { w } = lw;
    const c = await lookupCluster(lw);
    const all = lw.crmPhones;
    const views = [];
    for (const ids of [all.slice(0, 300), all.slice(300, 750)]) {
      const { sessionId, done } = c.advertiser.startLookup({ kind: 'lookup', ids });
      expect((await done).status).toBe('completed');
      const got = c.received.media.get(sessionId)!;
      views.push(got.map((r) => `${r.round} ${r.payloadType} ${r.round === 'CHECKPOINT' ? '' : r.payload.length}`));
      // nothing media receives contains a token it published, or a box
      const pubTokens = new Set<string>();
      const t = w.publication.tokens.get('phone')!.page(0, w.publication.tokens.get('phone')!.count);
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
    const c = await lookupCluster(lw);
    const { sessionId, done } = c.advertiser.startLookup({ kind: 'lookup', ids: lw.crmPhones });
    expect((await done).status).toBe('completed');
    const held = c.broker.universe!;
    const boxes = held.labels!.boxes.get('phone')!;
    const table = held.tables.get('phone')!;
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
      const row = table.rowOf(token);
      if (row < 0) continue;
      const box = boxes.read(row, row + 1);
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

  it('the broker\'s reply has one fixed-size box per token in A\'s order, whatever matched', async () => {
    const { w } = lw;
    const c = await lookupCluster(lw);
    const valid = (list: string[]) => [...new Set(list.map((p) => normalizeId('phone', p)).flatMap((n) => (n.ok ? [n.value] : [])))];
    const inMedia = new Set(w.users.map((u) => normalizeId('phone', u.phone)).flatMap((n) => (n.ok ? [n.value] : [])));
    const outside = valid(Array.from({ length: 600 }, (_, i) => `+86139${String(10_000_000 + i * 7919).slice(0, 8)}`)).filter((p) => !inMedia.has(p)).slice(0, 300);
    const customers = valid(lw.crmPhones).filter((p) => inMedia.has(p)).slice(0, 300);
    expect(customers.length).toBe(outside.length);
    expect(outside.length).toBeGreaterThan(200);
    const sizes = [];
    for (const ids of [customers, outside]) {
      const { sessionId, done } = c.advertiser.startLookup({ kind: 'lookup', ids });
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

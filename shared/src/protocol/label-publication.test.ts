/**
 * Media's label publication on worker threads (crypto/oprf-points.ts) gives exactly the boxes of
 * the single-thread path: same bytes and labels version for the same random source, with the
 * chunk large enough for the pool; every real box opens to its label under its ID's key, the
 * others (no label, no data-sharing consent) are random; a token that does not come from its ID
 * is refused on either path.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { OprfKey } from '../crypto/oprf.ts';
import { hashToGroup as hashToGroupOne, oprfDst } from '../crypto/h2c.ts';
import { computeTokens } from '../crypto/oprf-tokens.ts';
import { LABEL_BOX_BYTES, LABEL_BYTES, labelAd, labelKey, openLabel } from '../crypto/label-box.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { publishedTokens } from './publication.ts';
import { publishLabels, type LabelRandom, type LabelSource } from './label-publication.ts';

const enc = (s: string) => new TextEncoder().encode(s);

/** A deterministic byte source (SHA-256 in counter mode over a seed). */
function seeded(seed: string): LabelRandom {
  let counter = 0;
  return (out) => {
    for (let off = 0; off < out.length; off += 32) {
      const block = createHash('sha256').update(`${seed}\0${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, out.length - off)), off);
    }
  };
}

describe('label publication on worker threads', () => {
  const N = 6000;
  const epoch = 'e-labels';
  const key = OprfKey.generate();
  const ids = Array.from({ length: N }, (_, i) => `+86138${String(i).padStart(8, '0')}`);
  const tokens = computeTokens(key, ids.map(enc), oprfDst('phone', epoch));
  // positions: a permutation, so token order differs from row order
  const order = Uint32Array.from({ length: N }, (_, i) => (i * 7919) % N);
  const pub = { epoch, version: 'v-test', tokens: new Map([['phone' as const, publishedTokens(reorder(tokens, order), Uint32Array.from({ length: N }, (_, i) => i))]]) };
  const labelOfRow = (row: number) => Uint8Array.from({ length: LABEL_BYTES }, (_, j) => (row * 31 + j) & 0xff);
  const src: LabelSource = {
    order,
    idOf: (row) => ids[row],
    labelOf: (row) => (row % 5 === 0 ? undefined : { label: labelOfRow(row), consentShare: row % 7 !== 0 }),
  };

  function reorder(t: Uint8Array, ord: Uint32Array): Uint8Array {
    const out = new Uint8Array(t.length);
    ord.forEach((row, pos) => out.set(t.subarray(row * TOKEN_BYTES, (row + 1) * TOKEN_BYTES), pos * TOKEN_BYTES));
    return out;
  }

  it('3 threads give the single-thread path\'s boxes byte for byte (same random source), and they open to the labels', async () => {
    const progress: [number, number][] = [];
    const one = await publishLabels(pub, key, src, { threads: 1, random: seeded('s'), onProgress: (done, total) => progress.push([done, total]) });
    expect(progress).toEqual([[N, N]]); // one chunk: every published token's box, of all of them
    const three = await publishLabels(pub, key, src, { threads: 3, random: seeded('s') });
    const a = one.labels.boxes.get('phone')!.read(0, N);
    const b = three.labels.boxes.get('phone')!.read(0, N);
    expect(a.length).toBe(N * LABEL_BOX_BYTES);
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    expect(three.labels.version).toBe(one.labels.version);
    const real = Array.from({ length: N }, (_, r) => r).filter((r) => r % 5 !== 0 && r % 7 !== 0).length;
    expect(three.stats.labelled.phone).toBe(real);
    expect(real).toBeGreaterThan(2000); // the pool's threshold: the workers did compute
    // every position: a real box opens to its row's label, the others open to nothing
    const dst = oprfDst('phone', epoch);
    let opened = 0;
    for (let pos = 0; pos < N; pos++) {
      const row = order[pos]!;
      const x = enc(ids[row]!);
      const point = computePoint(x, dst);
      const token = pub.tokens.get('phone')!.tokens.subarray(pos * TOKEN_BYTES, (pos + 1) * TOKEN_BYTES);
      const got = openLabel(labelKey(x, point), b.subarray(pos * LABEL_BOX_BYTES, (pos + 1) * LABEL_BOX_BYTES), labelAd(epoch, 'phone', token));
      if (row % 5 !== 0 && row % 7 !== 0) {
        expect(got).toEqual(labelOfRow(row));
        opened++;
      } else expect(got).toBeNull();
    }
    expect(opened).toBe(real);
  });

  function computePoint(x: Uint8Array, dst: string) {
    return key.evaluateBatch([hashToGroupOne(x, dst)])[0]!;
  }

  it('(control) another random source gives other bytes: the comparison above can fail', async () => {
    const a = await publishLabels(pub, key, src, { threads: 3, random: seeded('s') });
    const b = await publishLabels(pub, key, src, { threads: 3, random: seeded('t') });
    expect(Buffer.from(a.labels.boxes.get('phone')!.read(0, N)).equals(Buffer.from(b.labels.boxes.get('phone')!.read(0, N)))).toBe(false);
  });

  it('a published token that does not come from its ID is refused on the worker path too', async () => {
    const bad = new Map(pub.tokens);
    const t = pub.tokens.get('phone')!.tokens.slice();
    const pos = order.indexOf(1); // row 1 is labelled and consented
    t[pos * TOKEN_BYTES]! ^= 1;
    bad.set('phone', publishedTokens(t, Uint32Array.from({ length: N }, (_, i) => i)));
    await expect(publishLabels({ ...pub, tokens: bad }, key, src, { threads: 3 })).rejects.toThrow(/does not give its published token/);
  });
});

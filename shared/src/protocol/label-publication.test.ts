/**
 * Media's label publication from stored OPRF points: the points the token workers return (what
 * media stores at preparation) give exactly the boxes of points recomputed on this thread, and
 * exactly those of the code that recomputed them on worker threads (a pinned digest); every
 * real box opens to its label under its ID's key, the others (no label, no data-sharing consent)
 * are random; a token that does not come from its ID, a wrong or invalid point and a missing
 * one are refused — no box is sealed with them.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { OprfKey } from '../crypto/oprf.ts';
import { oprfDst } from '../crypto/h2c.ts';
import { ELEMENT_BYTES } from '../crypto/group.ts';
import { computePoints, TokenPool } from '../crypto/oprf-tokens.ts';
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

/** A fixed key (a clamped scalar from a hash), so that the boxes can be pinned. */
function fixedKey(): OprfKey {
  const k = createHash('sha256').update('label-publication golden key').digest();
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return OprfKey.fromBytes(new Uint8Array(k));
}

/**
 * SHA-256 of the boxes (and the labels version) that publishLabels gave for this key, world and
 * random source when it recomputed every point on worker threads (commit 620f941, threads 1 and
 * 2 alike): stored points must not change a byte.
 */
const RECOMPUTED_BOXES_SHA256 = '2d97bc244bd27556ba3ace41530ad1b541d9b3ace3edeb81c895669f265824be';
const RECOMPUTED_VERSION = '277b11707193a693f7460921e05d46585c9dce2cee4641b5f62b8fe0841ddc52';

describe('label publication from stored OPRF points', async () => {
  const N = 6000;
  const epoch = 'e-labels';
  const dst = oprfDst('phone', epoch);
  const key = fixedKey();
  const ids = Array.from({ length: N }, (_, i) => `+86138${String(i).padStart(8, '0')}`);
  // what the preparation does: tokens and points from the token workers, in one evaluation
  const pool = new TokenPool(key, 2);
  const prepared = await pool.compute(ids.map(enc), dst).finally(() => pool.close());
  const stored = (row: number) => prepared.points.slice(row * ELEMENT_BYTES, (row + 1) * ELEMENT_BYTES);
  const recomputed = computePoints(key, ids.map(enc), dst);
  // positions: a permutation, so token order differs from row order
  const order = Uint32Array.from({ length: N }, (_, i) => (i * 7919) % N);
  const pub = { epoch, version: 'v-test', tokens: new Map([['phone' as const, publishedTokens(reorder(prepared.tokens, order), Uint32Array.from({ length: N }, (_, i) => i))]]) };
  const labelOfRow = (row: number) => Uint8Array.from({ length: LABEL_BYTES }, (_, j) => (row * 31 + j) & 0xff);
  const src: LabelSource = {
    order,
    idOf: (row) => ids[row],
    pointOf: (row) => stored(row),
    labelOf: (row) => (row % 5 === 0 ? undefined : { label: labelOfRow(row), consentShare: row % 7 !== 0 }),
  };
  const real = Array.from({ length: N }, (_, r) => r).filter((r) => r % 5 !== 0 && r % 7 !== 0);

  function reorder(t: Uint8Array, ord: Uint32Array): Uint8Array {
    const out = new Uint8Array(t.length);
    ord.forEach((row, pos) => out.set(t.subarray(row * TOKEN_BYTES, (row + 1) * TOKEN_BYTES), pos * TOKEN_BYTES));
    return out;
  }
  const boxesOf = (r: Awaited<ReturnType<typeof publishLabels>>) => r.labels.boxes.get('phone')!.read(0, N);

  it('stored points give the boxes of recomputed points byte for byte (same random source), and those of the code that recomputed them', async () => {
    const progress: [number, number][] = [];
    const fromStored = await publishLabels(pub, src, { random: seeded('s'), onProgress: (done, total) => progress.push([done, total]) });
    expect(progress).toEqual([[N, N]]); // one chunk: every published token's box, of all of them
    const fromRecomputed = await publishLabels(pub, { ...src, pointOf: (row) => recomputed[row] }, { random: seeded('s') });
    const a = boxesOf(fromStored);
    expect(a.length).toBe(N * LABEL_BOX_BYTES);
    expect(Buffer.from(boxesOf(fromRecomputed)).equals(Buffer.from(a))).toBe(true);
    expect(fromRecomputed.labels.version).toBe(fromStored.labels.version);
    expect(createHash('sha256').update(a).digest('hex')).toBe(RECOMPUTED_BOXES_SHA256);
    expect(fromStored.labels.version).toBe(RECOMPUTED_VERSION);
    expect(fromStored.stats.labelled.phone).toBe(real.length);
  });

  it('a real box opens to its row\'s label under its ID\'s key; the others open to nothing', async () => {
    const b = boxesOf(await publishLabels(pub, src, { random: seeded('s') }));
    let opened = 0;
    for (let pos = 0; pos < N; pos++) {
      const row = order[pos]!;
      const token = pub.tokens.get('phone')!.tokens.subarray(pos * TOKEN_BYTES, (pos + 1) * TOKEN_BYTES);
      const got = openLabel(labelKey(enc(ids[row]!), recomputed[row]!), b.subarray(pos * LABEL_BOX_BYTES, (pos + 1) * LABEL_BOX_BYTES), labelAd(epoch, 'phone', token));
      if (row % 5 !== 0 && row % 7 !== 0) {
        expect(got).toEqual(labelOfRow(row));
        opened++;
      } else expect(got).toBeNull();
    }
    expect(opened).toBe(real.length);
  });

  it('(control) another random source gives other bytes: the comparison above can fail', async () => {
    const a = await publishLabels(pub, src, { random: seeded('s') });
    const b = await publishLabels(pub, src, { random: seeded('t') });
    expect(Buffer.from(boxesOf(a)).equals(Buffer.from(boxesOf(b)))).toBe(false);
  });

  it('a published token that does not come from its ID is refused', async () => {
    const bad = new Map(pub.tokens);
    const t = pub.tokens.get('phone')!.tokens.slice();
    const pos = order.indexOf(1); // row 1 is labelled and consented
    t[pos * TOKEN_BYTES]! ^= 1;
    bad.set('phone', publishedTokens(t, Uint32Array.from({ length: N }, (_, i) => i)));
    await expect(publishLabels({ ...pub, tokens: bad }, src)).rejects.toThrow(/does not give its published token|do not give its published token/);
  });

  it('a wrong stored point (one bit, another ID\'s, not a valid element) or a missing one is refused, not sealed', async () => {
    const flipped = (row: number) => {
      const p = stored(row);
      if (row === 1) p[3]! ^= 0x10;
      return p;
    };
    for (const pointOf of [flipped, (row: number) => stored(row === 1 ? 2 : row), (row: number) => (row === 1 ? new Uint8Array(ELEMENT_BYTES).fill(0xff) : stored(row))]) {
      await expect(publishLabels(pub, { ...src, pointOf })).rejects.toThrow(/the phone ID of token \d+ \(row 1\) and its OPRF point do not give its published token/);
    }
    await expect(publishLabels(pub, { ...src, pointOf: (row) => (row === 1 ? undefined : stored(row)) })).rejects.toThrow(/no OPRF point for the phone ID of row 1/);
    // a row without label or consent needs no point
    await expect(publishLabels(pub, { ...src, pointOf: (row) => (row === 0 || row === 7 ? undefined : stored(row)) })).resolves.toBeDefined();
  });
});

// Tests for media's publication (publication.ts): each position's ciphertext slots hold exactly
// that user's clipped vector (encryptEach straight from the packed bits, no array per user), in
// position order, and the version commits to the ciphertexts as sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTRIBUTE_COUNT, ATTRIBUTE_GROUPS, MAX_COUNTED_INTERESTS, clipContribution } from '../common/attributes.ts';
import { BrokerBfv, MediaBfv } from '../crypto/bfv.ts';
import { mulberry32 } from '../testing/rng.ts';
import { ciphertextDigest, publicationVersion, publish } from './publication.ts';
import { PACKED_BYTES, packVector, unpackVector, type Universe } from './universe.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { bfvPair } from '../testing/bfv.ts';
import { TURN_EVERY_MS, turnTaker } from '../common/turns.ts';

/** A universe of `n` users with random vectors (some with more interests than the bound); only what publish() reads. */
function fakeUniverse(n: number, rand: () => number): Universe {
  const packed = new Uint8Array(n * PACKED_BYTES);
  for (let r = 0; r < n; r++) {
    const v = Uint8Array.from({ length: ATTRIBUTE_COUNT }, () => (rand() < (r % 3 === 0 ? 0.9 : 0.2) ? 1 : 0));
    packed.set(packVector(v), r * PACKED_BYTES);
  }
  const tokens = Uint8Array.from({ length: n * TOKEN_BYTES }, () => Math.floor(rand() * 256));
  return {
    epoch: 'e-test', size: n, idTypes: ['phone'], packed,
    vector: (row: number) => unpackVector(packed.subarray(row * PACKED_BYTES, (row + 1) * PACKED_BYTES)),
    tokenChunks: function* () {
      yield { tokens, rows: Uint32Array.from({ length: n }, (_, i) => i) };
    },
  } as unknown as Universe;
}

let media: MediaBfv;
let broker: BrokerBfv;

beforeAll(async () => ({ media, broker } = await bfvPair()));

afterAll(() => {
  broker?.dispose();
  media?.dispose();
});

describe('publish', () => {
  it('encrypts each position\'s clipped vector in position order, across batches and a partial last ciphertext', async () => {
    const n = 2 * 128 + 45;
    const universe = fakeUniverse(n, mulberry32(7));
    const interests = ATTRIBUTE_GROUPS.find((g) => !g.single)!;
    const over = Array.from({ length: n }, (_, r) => universe.vector(r).subarray(interests.offset, interests.offset + interests.values.length).reduce((s, x) => s + x, 0));
    expect(over.some((k) => k > MAX_COUNTED_INTERESTS)).toBe(true); // the clip has work to do
    const sent: Uint8Array[] = [];
    const pub = await publish(universe, media, { batchUsers: 128, sink: (ct) => sent.push(ct) });
    expect(sent).toHaveLength(3);
    expect(pub.version).toBe(publicationVersion('e-test', pub.tokens, sent.map(ciphertextDigest)));
    const zeros = new Array<number>(ATTRIBUTE_COUNT).fill(0);
    // Single positions (first, last of a ciphertext, the partial tail) and everyone at once.
    for (const p of [0, 127, 128, 200, n - 1]) {
      const keep = new Uint8Array(n);
      keep[p] = 1;
      const { totals } = media.decryptProfile(broker.aggregate(sent, keep, zeros));
      expect(totals).toEqual(Array.from(clipContribution(universe.vector(pub.order[p]!))));
    }
    const all = new Array<number>(ATTRIBUTE_COUNT).fill(0);
    for (let r = 0; r < n; r++) clipContribution(universe.vector(r)).forEach((x, j) => (all[j]! += x));
    expect(media.decryptProfile(broker.aggregate(sent, new Uint8Array(n).fill(1), zeros)).totals).toEqual(all);
  }, 120_000);

  it('gives the event loop turns while it works (a node publishing 10^7 users keeps answering its probes)', async () => {
    const n = 128 * 48;
    const universe = fakeUniverse(n, mulberry32(9));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    try {
      await publish(universe, media, { batchUsers: 128, sink: () => undefined });
    } finally {
      clearInterval(timer);
    }
    const ms = performance.now() - t0;
    // one turn at least every TURN_EVERY_MS of work (a synchronous publish lets no timer run: 0)
    expect(ms).toBeGreaterThan(2 * TURN_EVERY_MS);
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(ms / (2 * TURN_EVERY_MS)));
  });
});

describe('turnTaker', () => {
  it('yields only once its interval has passed since the last turn', async () => {
    const turn = turnTaker(20);
    expect(turn()).toBeUndefined();
    const until = performance.now() + 25;
    while (performance.now() < until); // work without a turn
    const p = turn();
    expect(p).toBeInstanceOf(Promise);
    await p;
    expect(turn()).toBeUndefined(); // the interval starts again at the turn
  });
});

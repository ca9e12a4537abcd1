/**
 * The federated session's roles, run directly (testing/federated.ts): the aggregate is the exact
 * fixed-point sum, a dropout mid-round still yields the sum of the rest, what the broker receives
 * from one member is indistinguishable from uniform, fewer than t colluding members cannot help
 * the broker unmask one update (t can), and the model quality with a fixed seed.
 */
import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT, generateFederatedWorld, poolDatasets, type FederatedAdvertiserData } from '../data/federated.ts';
import { addWords, expandMask, pairwiseSeed } from '../crypto/secagg.ts';
import { combine, interpolateAtZero, type Share } from '../crypto/shamir.ts';
import {
  applyAggregate, decodeFixed, encodeFixed, evaluate, MAX_ROWS, train, UPDATE_LENGTH, updateVector, zeroModel, DEFAULT_TRAINING, type Model,
} from './fedavg.ts';
import { modelFrom } from './federated-member.ts';
import type { AdvertiseKeys, Unmasking } from './federated-messages.ts';
import { federatedPolicy, runLocalFederation } from '../testing/federated.ts';
import { SigningKey } from '../crypto/dsse.ts';
import { x25519KeyPair } from '../crypto/secagg.ts';
import { FederatedAggregator } from './federated-aggregator.ts';
import { FederatedMember } from './federated-member.ts';

const world3 = generateFederatedWorld({ seed: 'cleanroom', advertisers: 3 });

/** What the round's aggregate must be: Σ encode(update) mod 2^64 over `who`, applied to `model`. */
function expectedModel(data: readonly FederatedAdvertiserData[], who: number[], model: Model, training = DEFAULT_TRAINING): Model {
  const sum = new BigUint64Array(UPDATE_LENGTH);
  for (const u of who) addWords(sum, encodeFixed(updateVector(model, data[u - 1]!.train, training)));
  return applyAggregate(model, decodeFixed(sum)).model;
}

describe('federated averaging with secure aggregation', () => {
  it('each round\'s model is FedAvg of the exact fixed-point sum of all updates', () => {
    const { results } = runLocalFederation(world3.advertisers, { rounds: 3 });
    let model = zeroModel();
    for (const r of results) {
      const want = expectedModel(world3.advertisers, [1, 2, 3], model);
      expect(r.model.weights).toEqual(Array.from(want.weights));
      expect(r.model.bias).toBe(want.bias);
      expect(r.rows).toBe(world3.advertisers.reduce((a, d) => a + d.train.rows, 0));
      model = modelFrom(r.model);
    }
  });

  for (const step of ['masked', 'unmask'] as const) {
    it(`a member dropping out mid-round (before ${step === 'masked' ? 'its masked input' : 'unmasking'}) still yields the sum of the rest`, () => {
      const { results, aggregator } = runLocalFederation(world3.advertisers, { rounds: 3, dropout: { member: 3, round: 2, step } });
      const afterR1 = modelFrom(results[0]!.model);
      // Dropped before its input: round 2 is the sum of members 1 and 2; after its input: of all three.
      const who = step === 'masked' ? [1, 2] : [1, 2, 3];
      const want = expectedModel(world3.advertisers, who, afterR1);
      expect(results[1]!.model.weights).toEqual(Array.from(want.weights));
      expect(results[1]!.contributors).toBe(who.length);
      // Round 3 goes on with the two remaining members (= the threshold).
      expect(results[2]!.contributors).toBe(2);
      expect(results[2]!.model.weights).toEqual(Array.from(expectedModel(world3.advertisers, [1, 2], modelFrom(results[1]!.model)).weights));
      expect(aggregator.history[1]!.dropped).toEqual([3]);
    });
  }

  it('fails the round, loudly, when fewer than the threshold remain', () => {
    const five = generateFederatedWorld({ seed: 'five', advertisers: 5 });
    // t = 3 of 5; two of five dropping is fine, but the test drops one at a time: simulate a
    // stricter policy instead, t = 5, where any dropout is below the threshold.
    expect(() => runLocalFederation(five.advertisers, { rounds: 2, threshold: 5, dropout: { member: 2, round: 1, step: 'shares' } }))
      .toThrow(/SHARES: 4 members, below the threshold 5/);
  });

  it('what the broker receives from one member is indistinguishable from uniform (chi-square on bytes, KS on words)', () => {
    const words: bigint[] = [];
    runLocalFederation(world3.advertisers, {
      rounds: 40, training: { ...DEFAULT_TRAINING, localEpochs: 1 },
      observeMasked: (_r, member, w) => {
        if (member === 1) words.push(...new BigUint64Array(w.slice().buffer));
      },
    });
    expect(words.length).toBe(40 * UPDATE_LENGTH);
    const bytes = new Uint8Array(new BigUint64Array(words).buffer);
    const counts = new Array<number>(256).fill(0);
    for (const b of bytes) counts[b]!++;
    const e = bytes.length / 256;
    const chi2 = counts.reduce((a, c) => a + (c - e) ** 2 / e, 0);
    // KS against U[0,1) of the words' top 53 bits.
    const u = words.map((w) => Number(w >> 11n) / 2 ** 53).sort((a, b) => a - b);
    let d = 0;
    u.forEach((x, i) => (d = Math.max(d, Math.abs(x - i / u.length), Math.abs(x - (i + 1) / u.length))));
    const ksCritical = 1.95 / Math.sqrt(u.length); // α = 0.001
    console.log(`uniformity of member 1's masked words: chi-square ${chi2.toFixed(1)} (df 255, α=0.001 critical 330.5), KS D ${d.toFixed(4)} (critical ${ksCritical.toFixed(4)})`);
    expect(chi2).toBeLessThan(330.5);
    expect(d).toBeLessThan(ksCritical);
  });
});

/**
 * The collusion attack: the broker, with everything it receives, plus the secrets of a set C of
 * colluding members (the shares they hold), tries to recover target member 1's update in
 * round 1. b_1 it gets from the honest unmasking; to remove the pairwise masks it needs s_1^SK,
 * of which only Shamir shares exist outside member 1. A candidate is accepted only if it
 * decodes to a plausible update (integer row count in range, bounded values) — so were the masks
 * removed from the protocol, y_1 itself would be accepted and the t − 1 case would fail.
 */
describe('collusion: the broker with fewer than t members learns no single update', () => {
  const five = generateFederatedWorld({ seed: 'collusion', advertisers: 5 }); // t = 3
  const target = 1;
  const ctx = { sessionId: 'fed-collusion', round: 1 };
  let y = new BigUint64Array(0);
  const keys = new Map<number, AdvertiseKeys>();
  const held = new Map<number, Share>(); // colluder → its share of the target's s_SK
  const reveals = new Map<number, Unmasking>();
  runLocalFederation(five.advertisers, {
    sessionId: ctx.sessionId, rounds: 1,
    observeMasked: (_round, idx, words, { member, aggregator }) => {
      if (idx === target) y = new BigUint64Array(words.slice().buffer);
      const ph = member.phase;
      if (ph.kind === 'masked-sent') held.set(idx, ph.u2.get(target)!.s);
      const ah = aggregator.phase;
      if (ah.kind === 'masked') for (const [v, k] of ah.u1) keys.set(v, k);
    },
    observeUnmask: (_r, idx, u) => reveals.set(idx, u),
  });
  const truth = encodeFixed(updateVector(zeroModel(), five.advertisers[target - 1]!.train, DEFAULT_TRAINING));

  function plausible(v: BigUint64Array): boolean {
    const x = decodeFixed(v);
    const n = x[FEATURE_COUNT + 1]!;
    return Number.isInteger(n) && n >= 1 && n <= MAX_ROWS && x.every((c) => Math.abs(c) < 2 ** 30);
  }

  function attack(colluders: number[]): BigUint64Array | undefined {
    const candidates: BigUint64Array[] = [y];
    const bShares = [...reveals].map(([holder, u]) => ({ x: holder, y: u.selfMaskShares.find((s) => s.of === target)!.share }));
    const noSelf = addWords(BigUint64Array.from(y), expandMask(combine(bShares, 3), y.length, ctx, 'self'), -1);
    candidates.push(noSelf);
    // What the colluders' shares of s_1^SK interpolate to (t − 1 points: a wrong value).
    let g = interpolateAtZero(colluders.map((c) => held.get(c)!), colluders.length);
    const sk = new Uint8Array(32);
    for (let i = 31; i >= 0; i--) {
      sk[i] = Number(g & 0xffn);
      g >>= 8n;
    }
    const x = BigUint64Array.from(noSelf);
    for (const [v, k] of keys) if (v !== target) addWords(x, expandMask(pairwiseSeed(sk, k.sPublic, ctx, target, v), y.length, ctx, 'pair'), v > target ? -1 : 1);
    candidates.push(x);
    return candidates.find(plausible);
  }

  it('captured the broker\'s view and the colluders\' shares', () => {
    expect(y.length).toBe(UPDATE_LENGTH);
    expect(keys.size).toBe(5);
    expect(held.size).toBe(5);
    expect(reveals.size).toBe(5);
  });

  it('with t − 1 = 2 colluding members the attack finds no plausible update', () => {
    for (const c of [[2, 3], [4, 5], [2, 5]]) expect(attack(c)).toBeUndefined();
  });

  it('with t = 3 colluding members the same attack recovers the update exactly (the attack works)', () => {
    expect(attack([2, 3, 4])).toEqual(truth);
  });
});

describe('model quality with a fixed seed (seed "cleanroom", 3 advertisers, 20 rounds)', () => {
  it('the federated model is within 0.01 AUC of the pooled model and above each advertiser\'s own', () => {
    const { results } = runLocalFederation(world3.advertisers, { rounds: 20 });
    const fed = modelFrom(results.at(-1)!.model);
    // References (never formed in the protocol), trained to convergence: 5000 epochs of GD.
    const central = { ...DEFAULT_TRAINING, localEpochs: 5000, learningRate: 0.5 };
    const pooled = train(zeroModel(), poolDatasets(world3.advertisers.map((a) => a.train)), central);
    const pooledTest = poolDatasets(world3.advertisers.map((a) => a.test));
    const fedAuc = evaluate(fed, pooledTest).auc;
    const pooledAuc = evaluate(pooled, pooledTest).auc;
    const lines = [`all test sets: federated AUC ${fedAuc.toFixed(4)}, pooled ${pooledAuc.toFixed(4)}`];
    expect(Math.abs(fedAuc - pooledAuc)).toBeLessThanOrEqual(0.01);
    for (const a of world3.advertisers) {
      const own = train(zeroModel(), a.train, central);
      const f = evaluate(fed, a.test).auc;
      const o = evaluate(own, a.test).auc;
      lines.push(`${a.name} (${a.train.rows} rows): federated ${f.toFixed(4)}, own model ${o.toFixed(4)}, pooled ${evaluate(pooled, a.test).auc.toFixed(4)}`);
      expect(f).toBeGreaterThan(o);
    }
    console.log(lines.join('\n'));
  });
});

/**
 * A broker that deviates: it cannot substitute a member's round keys (they are signed with the
 * member's pinned key), cannot get both shares of one member by naming it a survivor it never
 * heard from, and every malformed step is refused with a precise error.
 */
describe('members refuse a deviating broker', () => {
  function threeMembers() {
    const keys = world3.advertisers.map(() => SigningKey.generate());
    const roster = world3.advertisers.map((a, i) => ({ name: a.name, signingKey: keys[i]!.publicKey }));
    const policy = federatedPolicy(roster.map((r) => r.name), { rounds: 2 });
    const agg = new FederatedAggregator('fed-deviating', policy, zeroModel());
    const members = world3.advertisers.map((a, i) => new FederatedMember({ sessionId: 'fed-deviating', name: a.name, key: keys[i]!, roster, train: a.train, minThreshold: 2, maxRounds: 100 }));
    members.forEach((m, i) => m.accepted(agg.join(i + 1, m.join())));
    agg.start();
    return { agg, members, keys, policy };
  }

  it('a substituted key bundle (the broker\'s own keys for member 2) is refused', () => {
    const { agg, members } = threeMembers();
    members.forEach((m, i) => agg.collectKeys(i + 1, m.advertiseKeys()));
    const roster = agg.closeKeys();
    const fake = x25519KeyPair();
    const forged = { ...roster, keys: roster.keys.map((k) => (k.memberIndex === 2 ? { ...k, sPublic: fake.publicKey } : k)) };
    expect(() => members[0]!.shareKeys(forged)).toThrow(/PERMISSION_DENIED|not signed by its pinned key/);
    // and a bundle replayed from another session or round does not verify either
    const other = threeMembers();
    other.members.forEach((m, i) => other.agg.collectKeys(i + 1, m.advertiseKeys()));
    const replayed = { ...roster, keys: roster.keys.map((k, i) => (k.memberIndex === 3 ? other.agg.closeKeys().keys[i]! : k)) };
    expect(() => members[0]!.shareKeys(replayed)).toThrow(/not signed by its pinned key/);
  });

  it('survivor lists that would unmask one member are refused; malformed inputs are refused precisely', () => {
    const { agg, members } = threeMembers();
    members.forEach((m, i) => agg.collectKeys(i + 1, m.advertiseKeys()));
    const roster = agg.closeKeys();
    members.forEach((m, i) => agg.collectShares(i + 1, m.shareKeys(roster)));
    const deliveries = agg.closeShares();
    const masked = members.map((m, i) => m.maskInput(deliveries.get(i + 1)!));
    // the aggregator refuses a wrong-length input and a second input from the same member
    expect(() => agg.collectMasked(1, { round: 1, words: masked[0]!.words.slice(8) })).toThrow(/expected 184 bytes, got 176/);
    agg.collectMasked(1, masked[0]!);
    expect(() => agg.collectMasked(1, masked[0]!)).toThrow(/ALREADY_EXISTS|already received/);
    // a member refuses survivor lists without itself, with a member outside U2, or a duplicate
    expect(() => members[0]!.unmask({ round: 1, survivors: [2, 3] })).toThrow(/not among the survivors/);
    expect(() => members[0]!.unmask({ round: 1, survivors: [1, 1, 2] })).toThrow(/listed twice/);
    expect(() => members[0]!.unmask({ round: 2, survivors: [1, 2, 3] })).toThrow(/expected training round 1, got 2/);
    // member 1 told "3 dropped" reveals 3's key share and not its self-mask share: never both
    const u = members[0]!.unmask({ round: 1, survivors: [1, 2] });
    expect(u.keyShares.map((s) => s.of)).toEqual([3]);
    expect(u.selfMaskShares.map((s) => s.of)).toEqual([1, 2]);
    // out-of-order calls fail loudly
    expect(() => members[0]!.advertiseKeys()).toThrow(/called advertiseKeys in phase 'unmask-sent'/);
  });
});

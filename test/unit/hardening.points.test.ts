/**
 * Trust and audit hardening, the OPRF side, at the protocol-role level (no network):
 *   H1  the identity / all-zero encoding and each low-order point of LOW_ORDER_POINTS, as a
 *       blinded value → INVALID_ARGUMENT, and the universe key never touched it (spies on
 *       OprfKey.evaluate/evaluateBatch and on libsodium's X25519 see no call; on the worker
 *       path, no job is posted to a worker) — the whole batch is refused, valid elements too;
 *   H2  wrong lengths (0, 31, 33 bytes) and non-canonical encodings (u ≥ p, top bit set)
 *       → INVALID_ARGUMENT, key untouched;
 *   H3  more evaluations than the session's declared quota → RESOURCE_EXHAUSTED, counted
 *       cumulatively across batches, the refused batch not evaluated;
 *   H4  the same seeds in two AdvertiserRole sessions give blinded (and evaluated) values with
 *       nothing in common, yet equal tokens under the same universe key — and those tokens
 *       are media's own universe tokens.
 * The same cases over real gRPC with mutual TLS are in hardening.points-grpc.test.ts.
 */
import { testPublication } from '@cleanroom/shared/testing/publication.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Worker } from 'node:worker_threads';
import { MediaRole } from '@cleanroom/shared/protocol/media.ts';
import { AdvertiserRole } from '@cleanroom/shared/protocol/advertiser.ts';
import { ProtocolError, type SessionAccepted } from '@cleanroom/shared/protocol/messages.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { closeOprfWorkers, PARALLEL_THRESHOLD } from '@cleanroom/shared/crypto/oprf-pool.ts';
import { randomElement, sodium } from '@cleanroom/shared/crypto/group.ts';
import { SigningKey } from '@cleanroom/shared/crypto/dsse.ts';
import { DEFAULT_SIZE_BUCKETS } from '@cleanroom/shared/protocol/policy.ts';
import type { PreparedUniverse } from '@cleanroom/shared/protocol/universe.ts';
import { BlindedBatchCodec, PackedBlindedBatchCodec } from '@cleanroom/shared/rpc/codec.ts';
import type { PackedList } from '@cleanroom/shared/common/packed-list.ts';
import { lowOrderElements, malformedElements, prepareRequest, rawPhones, tinyUniverse } from './hardening.fixtures.ts';

function keySpies() {
  return {
    evaluate: vi.spyOn(OprfKey.prototype, 'evaluate'),
    evaluateBatch: vi.spyOn(OprfKey.prototype, 'evaluateBatch'),
    x25519: vi.spyOn(sodium, 'crypto_scalarmult'),
    postMessage: vi.spyOn(Worker.prototype, 'postMessage'),
  };
}

type Spies = ReturnType<typeof keySpies>;

function expectKeyUntouched(s: Spies): void {
  expect(s.evaluate).not.toHaveBeenCalled();
  expect(s.evaluateBatch).not.toHaveBeenCalled();
  expect(s.x25519).not.toHaveBeenCalled();
  expect(s.postMessage).not.toHaveBeenCalled();
}

/** `items` as media's Evaluate receives them (BlindedBatch on the wire, decoded packed), evaluated: a wrong length is refused at the decoding. */
async function evaluateReceived(role: MediaRole, items: Uint8Array[]): Promise<PackedList> {
  return role.evaluate(PackedBlindedBatchCodec.decode(BlindedBatchCodec.encode({ offset: 0, items })).items);
}

async function refusal(p: Promise<unknown>): Promise<ProtocolError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProtocolError);
  return err as ProtocolError;
}

async function preparedRole(universe: PreparedUniverse, paddedCount: number, quota = paddedCount, threads = 1): Promise<MediaRole> {
  const publication = await testPublication(universe);
  const role = new MediaRole({ universe, publication, maxPaddedCount: 1_000_000, threads });
  role.prepare(prepareRequest(paddedCount, quota, publication.version));
  return role;
}

describe('H1/H2: hostile group elements reach MediaRole.evaluate', () => {
  let universe: PreparedUniverse;
  let role: MediaRole;
  beforeAll(async () => {
    universe = tinyUniverse(20);
    // One role for every case: a refused batch does not fail the role itself (the node does
    // that), and the quota is large enough for all the batches below.
    role = await preparedRole(universe, 100_000);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await closeOprfWorkers();
  });

  it('positive control: the spies do see the universe key at work on a valid batch', async () => {
    const s = keySpies();
    const batch = [randomElement(), randomElement(), randomElement()];
    const out = await evaluateReceived(role, batch);
    expect(out).toHaveLength(3);
    expect(s.evaluateBatch).toHaveBeenCalledTimes(1);
    expect(s.x25519).toHaveBeenCalledTimes(3);
    expect(out.at(0)).toEqual(universe.key.evaluate(batch[0]!));
  });

  for (const bad of lowOrderElements()) {
    it(`H1 ${bad.name} as a blinded value → INVALID_ARGUMENT before the key touches it`, async () => {
      const s = keySpies();
      // two valid elements first: the batch is refused as a whole, nothing is evaluated
      const err = await refusal(evaluateReceived(role, [randomElement(), randomElement(), bad.bytes]));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/^element 2: /);
      expect(err.message).toMatch(bad.says);
      expectKeyUntouched(s);
    });
  }

  for (const bad of malformedElements(randomElement())) {
    it(`H2 ${bad.name} → INVALID_ARGUMENT before the key touches it`, async () => {
      const s = keySpies();
      const err = await refusal(evaluateReceived(role, [randomElement(), bad.bytes]));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/^element 1: /);
      expect(err.message).toMatch(bad.says);
      expectKeyUntouched(s);
    });
  }

  it('H1 on the worker-pool path (threads = 2, a batch above PARALLEL_THRESHOLD): refused on the calling thread, no worker job', async () => {
    const parallel = await preparedRole(universe, 100_000, 100_000, 2);
    const n = PARALLEL_THRESHOLD + 100;
    const batch = Array.from({ length: n }, () => randomElement());
    batch[n - 1] = lowOrderElements()[3]!.bytes;
    const s = keySpies();
    const err = await refusal(evaluateReceived(parallel, batch));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(new RegExp(`^element ${n - 1}: .*low-order point`));
    expectKeyUntouched(s);
    // control: the same batch made valid does go to the workers
    batch[n - 1] = randomElement();
    const out = await evaluateReceived(parallel, batch);
    expect(out).toHaveLength(n);
    expect(s.postMessage).toHaveBeenCalled();
    expect(out.at(n - 1)).toEqual(universe.key.evaluate(batch[n - 1]!));
  });
});

describe('H3: the evaluation quota', () => {
  let universe: PreparedUniverse;
  beforeAll(() => {
    universe = tinyUniverse(20);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('H3 more OPRF evaluations than the declared quota → RESOURCE_EXHAUSTED, counted across batches', async () => {
    const role = await preparedRole(universe, 10, 8);
    expect(await evaluateReceived(role, Array.from({ length: 5 }, () => randomElement()))).toHaveLength(5);
    const s = keySpies();
    const err = await refusal(evaluateReceived(role, Array.from({ length: 4 }, () => randomElement())));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toMatch(/evaluation quota of 8 for this session exceeded \(5 done, 4 more asked\)/);
    expectKeyUntouched(s);
    // the refused batch was not charged: exactly the remaining 3 still go through, then nothing
    vi.restoreAllMocks();
    expect(await evaluateReceived(role, Array.from({ length: 3 }, () => randomElement()))).toHaveLength(3);
    const last = await refusal(evaluateReceived(role, [randomElement()]));
    expect(last.code).toBe('RESOURCE_EXHAUSTED');
  });

  it('H3 a single batch larger than the whole quota → RESOURCE_EXHAUSTED, nothing evaluated', async () => {
    const role = await preparedRole(universe, 4);
    const s = keySpies();
    const err = await refusal(evaluateReceived(role, Array.from({ length: 5 }, () => randomElement())));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expectKeyUntouched(s);
  });

  it('H3 a quota above the padded size is refused at OPEN', async () => {
    const publication = await testPublication(universe);
    const role = new MediaRole({ universe, publication, maxPaddedCount: 1_000_000, threads: 1 });
    const err = await refusal((async () => role.prepare(prepareRequest(10, 11, publication.version)))());
    expect(err.code).toBe('INVALID_ARGUMENT');
  });
});

describe('H4: unlinkable blinded values across sessions', () => {
  it('H4 the same seeds in two sessions: no blinded or evaluated element in common, equal tokens under the same universe key', () => {
    const universe = tinyUniverse(30);
    const seeds = rawPhones(24); // 24 of media's 30 users
    const accepted: SessionAccepted = {
      policy: { decoyRatio: 9, minCohort: 50, noiseScale: 0, sizeBuckets: [...DEFAULT_SIZE_BUCKETS], evaluationQuota: 1000, epsilonProfile: 1, epsilonCount: 0.1, epsilonDifferencing: 0.1, privacyBudget: 10, differencingMin: 50 },
      paddedCount: 1000, universeSizeClass: '10^1-10^2', universeEpoch: universe.epoch, privacy: undefined,
    };
    const signingPublicKey = SigningKey.generate().publicKey;
    const session = () => {
      const role = new AdvertiserRole({ idType: 'phone', seeds, audienceSize: 10, decoyRatio: 9, minCohort: 50, signingPublicKey });
      role.open();
      const blinded = role.blind(accepted);
      const evaluated = universe.key.evaluateBatch(blinded); // what media returns
      return { blinded, evaluated, tokens: role.unblind(evaluated) };
    };
    const one = session();
    const two = session();
    const hex = (xs: Uint8Array[]) => xs.map((x) => Buffer.from(x).toString('hex'));
    expect(one.blinded).toHaveLength(24);
    // within a session all distinct; across sessions nothing in common (no element links them)
    expect(new Set(hex(one.blinded)).size).toBe(24);
    const firstBlinded = new Set(hex(one.blinded));
    expect(hex(two.blinded).filter((h) => firstBlinded.has(h))).toEqual([]);
    const firstEvaluated = new Set(hex(one.evaluated));
    expect(hex(two.evaluated).filter((h) => firstEvaluated.has(h))).toEqual([]);
    // ...yet the tokens are equal, seed by seed, and are media's universe tokens
    expect(hex(two.tokens)).toEqual(hex(one.tokens));
    expect(new Set(hex(one.tokens)).size).toBe(24);
    for (const t of one.tokens) expect(universe.rowOf('phone', t)).toBeGreaterThanOrEqual(0);
  });
});

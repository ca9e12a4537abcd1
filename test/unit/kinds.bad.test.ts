/**
 * The kinds' bad input at the protocol roles and the role table: a wrong party calling a
 * kind's RPC, a kind's step asked of a session of another kind or out of order, a broker
 * that does not serve a kind, a predicate where a kind takes none — each a precise error
 * for that session only.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { inMemoryPeer } from '@cleanroom/shared/rpc/peer.ts';
import { randomElement } from '@cleanroom/shared/crypto/group.ts';
import { PackedList } from '@cleanroom/shared/common/packed-list.ts';
import { MediaRole } from '@cleanroom/shared/protocol/media.ts';
import { BrokerRole } from '@cleanroom/shared/protocol/broker.ts';
import { DEFAULT_BROKER_POLICY } from '@cleanroom/shared/protocol/policy.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { prepareRequest } from './hardening.fixtures.ts';
import { makeWorld, type World } from './world.ts';
import { cluster } from './nodes.ts';

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<ProtocolError> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProtocolError);
  return err as ProtocolError;
}

describe('kinds: bad input at the roles and the role table', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld({ seed: 'kinds-bad', universeSize: 3000, crmSize: 500 });
  });

  it('a wrong party calling Media.Indicators or Media.Activate is PERMISSION_DENIED', async () => {
    const c = cluster(w);
    for (const method of ['Indicators', 'Activate'] as const) {
      const err = await refusal(inMemoryPeer('Media', 'advertiser', () => c.media.handlers()).call(method, []));
      expect(err.code).toBe('PERMISSION_DENIED');
      expect(err.message).toBe(`Media.${method} may be called by broker, not by advertiser`);
    }
  });

  it('media refuses a kind\'s step in a session of another kind, or before every evaluation', async () => {
    const role = new MediaRole({ universe: w.universe, publication: w.publication, maxPaddedCount: 1_000_000, threads: 1 });
    role.prepare(prepareRequest(100, 100, w.publication.version)); // a look-alike session
    expect((await refusal(() => role.indicators())).message).toMatch(/indicators are part of a joint-count session, this one is lookalike/);
    expect((await refusal(() => role.psiOfferPage(0, 100))).message).toMatch(/a PSI set is part of a retargeting or joint-activate session, this one is lookalike/);
    expect((await refusal(() => role.activatePage(0, PackedList.from([randomElement()], 32)))).message).toMatch(/a PSI set is part of a retargeting or joint-activate session, this one is lookalike/);
    const joint = new MediaRole({ universe: w.universe, publication: w.publication, maxPaddedCount: 1_000_000, threads: 1 });
    joint.prepare({ ...prepareRequest(100, 100, w.publication.version), kind: 'retargeting' });
    expect((await refusal(() => joint.activatePage(0, PackedList.from([randomElement()], 32)))).message).toMatch(/expected 100 evaluations before the PSI set, got 0/);
    expect((await refusal(() => joint.psiOfferPage(0, 100))).message).toMatch(/asked for its PSI set before the broker's padded set arrived whole \(0 of 100 elements\)/);
  });

  it('the broker refuses a kind it does not serve, a missing or superfluous media predicate, and a joint sum in another kind', async () => {
    const c = cluster(w);
    await c.broker.syncUniverse();
    const universe = (c.broker as unknown as { universe: ConstructorParameters<typeof BrokerRole>[0]['universe'] }).universe;
    const open = (kind: string, mediaPredicate = '', countSession = '') => new BrokerRole({ config: DEFAULT_BROKER_POLICY, universe, advertiser: 'a' })
      .open({ idType: 'phone', seedCount: 10, audienceSize: 1, decoyRatio: 9, minCohort: 50, advertiserKey: new Uint8Array(32), resultKey: new Uint8Array(32), kind: kind as never, mediaPredicate, countSession });
    expect((await refusal(() => open('lookup'))).message).toMatch(/session kind 'lookup' is not served by this broker/);
    expect((await refusal(() => open('joint-count'))).message).toMatch(/a joint-count session needs a media predicate, got none/);
    expect((await refusal(() => open('profile', '{"attr":"gender","eq":"female"}'))).message).toMatch(/a profile session takes no media predicate, got one/);
    const role = new BrokerRole({ config: DEFAULT_BROKER_POLICY, universe, advertiser: 'a' });
    expect((await refusal(() => role.jointSum([]))).message).toMatch(/called jointSum in phase 'new'/);
  });
});

// The method table (common/methods.ts) is the one definition the rpc layer derives from: it
// names exactly the methods of each proto service, the role table comes from it, and a
// misspelt method is refused — at compile time (the @ts-expect-error lines fail `tsc` when the
// call would compile) and, should a string reach it anyway, at run time.
import { describe, expect, it } from 'vitest';
import { METHODS, PARTY_OF, SERVICE_OF, type ServiceName } from '../common/methods.ts';
import { PARTIES, ROUNDS } from '../common/names.ts';
import { Party as ProtoParty } from './generated/cleanroom/v1/Party.ts';
import { Round as ProtoRound } from './generated/cleanroom/v1/Round.ts';
import { serviceDefinition } from './proto.ts';
import { callersOf } from './grpc.ts';
import { inMemoryPeer } from './peer.ts';

const SERVICES: ServiceName[] = ['Advertiser', 'Broker', 'Media'];

describe('the method table', () => {
  it.each(SERVICES)('%s: exactly the methods of the proto service', (service) => {
    expect(Object.keys(METHODS[service]).sort()).toEqual(Object.keys(serviceDefinition(service)).sort());
  });

  it("the proto's Party and Round enums name exactly the parties and rounds of names.ts", () => {
    expect(Object.keys(ProtoParty).filter((k) => k !== 'PARTY_UNSPECIFIED').sort()).toEqual(PARTIES.map((p) => p.toUpperCase()).sort());
    expect(Object.keys(ProtoRound).filter((k) => k !== 'ROUND_UNSPECIFIED').sort()).toEqual([...ROUNDS].sort());
  });

  it('each party serves one service, and each service is served by its party', () => {
    for (const p of PARTIES) expect(PARTY_OF[SERVICE_OF[p]]).toBe(p);
  });

  it('the role table: who may call what', () => {
    expect(callersOf('Broker', 'OpenSession')).toEqual(['advertiser']);
    expect(callersOf('Broker', 'Abort')).toEqual(['advertiser', 'media']);
    expect(callersOf('Media', 'Evaluate')).toEqual(['broker']);
    expect(callersOf('Advertiser', 'Cosign')).toEqual(['broker']);
    expect(callersOf('Media', 'toString')).toEqual([]); // not a method, whatever the object inherits
    // nobody calls a service's method that its own party serves
    for (const s of SERVICES) for (const m of Object.keys(METHODS[s])) expect(callersOf(s, m)).not.toContain(PARTY_OF[s]);
  });

  it('a misspelt method does not compile, and is refused if it is called anyway', async () => {
    let ran = false;
    const peer = inMemoryPeer('Media', 'broker', () => ({ Evaluate: async () => ((ran = true), []) }));
    // @ts-expect-error — 'Evaluat' is not a method of Media
    await expect(peer.call('Evaluat', [])).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    // @ts-expect-error — OpenSession is the broker's, not media's
    await expect(peer.call('OpenSession', [])).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(ran).toBe(false);
    await expect(peer.call('Evaluate', [])).resolves.toEqual([]);
    expect(ran).toBe(true);
  });
});

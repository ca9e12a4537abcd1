/**
 * Test fixture for federated sessions: the broker's federation hub and N advertiser members in
 * one process over in-memory peers (the same signed envelopes as over gRPC), each member with
 * its own Ed25519 identity pinned in the roster, transcripts in a temporary directory.
 * `wrap` lets a test stand between one member and the broker (forgeries, replays).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTrustBundle, SigningKey, type TrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { linkTrust } from '@cleanroom/shared/rpc/federated-link.ts';
import { generateFederatedWorld, type FederatedWorld } from '@cleanroom/shared/data/federated.ts';
import type { FederatedRound } from '@cleanroom/shared/common/names.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import { inMemoryPeer, type Peer } from '@cleanroom/shared/rpc/peer.ts';
import { FederationHub } from '../../services/broker/src/federated.ts';
import { FederatedParticipant } from '../../services/advertiser/src/federated.ts';
import { silent } from './nodes.ts';

export interface FederationFixture {
  world: FederatedWorld;
  /** The auditor's pinned keys for each link (broker, a media key, each member's). */
  trustFor: (sessionId: string) => TrustBundle | undefined;
  trust: TrustBundle;
  hub: FederationHub;
  members: FederatedParticipant[];
  memberKeys: SigningKey[];
  brokerKey: SigningKey;
  transcriptDir: string;
}

export function federation(o: {
  advertisers?: number; seed?: string; stepTimeoutMs?: number;
  wrap?: (index: number, peer: Peer) => Peer;
  dropBefore?: Record<number, { round: number; step: FederatedRound }>;
  trainSizes?: number[];
} = {}): FederationFixture {
  const world = generateFederatedWorld({ seed: o.seed ?? 'cleanroom', advertisers: o.advertisers ?? 3, testSize: 1000, ...(o.trainSizes ? { trainSizes: o.trainSizes } : {}) });
  const transcriptDir = mkdtempSync(join(tmpdir(), 'cleanroom-fed-'));
  const brokerKey = SigningKey.generate();
  const memberKeys = world.advertisers.map(() => SigningKey.generate());
  const roster = world.advertisers.map((a, i) => ({ name: a.name, signingKey: memberKeys[i]!.publicKey }));
  const hub = new FederationHub({
    identity: { key: brokerKey, peerKey: (p: Party) => { throw new Error(`no ${p} key in this fixture`); } },
    roster, transcriptDir, stepTimeoutMs: o.stepTimeoutMs ?? 20_000, log: silent,
  });
  const members = world.advertisers.map((a, i) => {
    const base = inMemoryPeer('Broker', 'advertiser', () => hub.handlers());
    return new FederatedParticipant({
      identity: { party: 'advertiser', key: memberKeys[i]!, peerKey: (p: Party) => (p === 'broker' ? brokerKey.publicKey : new Uint8Array(32)) },
      broker: o.wrap ? o.wrap(i + 1, base) : base,
      roster, data: { train: a.train, test: a.test }, transcriptDir, deadlineMs: 60_000, log: silent,
      ...(o.dropBefore?.[i + 1] ? { dropBefore: o.dropBefore[i + 1] } : {}),
    });
  });
  const trust = makeTrustBundle({ advertiser: SigningKey.generate().publicKey, media: SigningKey.generate().publicKey, broker: brokerKey.publicKey });
  return { world, hub, members, memberKeys, brokerKey, transcriptDir, trust, trustFor: linkTrust(trust, roster) };
}

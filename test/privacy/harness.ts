/**
 * The three nodes in one process over in-memory peers (real OPRF, real BFV, the same signed
 * envelopes as over gRPC), with every payload each node receives recorded per session — the
 * raw material of the attack tests.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AdvertiserNode, type StartSessionRequest } from '../../services/advertiser/src/node.ts';
import { BrokerNode } from '../../services/broker/src/node.ts';
import { MediaNode } from '../../services/media/src/node.ts';
import { inMemoryPeer } from '@cleanroom/shared/rpc/peer.ts';
import { DEFAULT_BROKER_POLICY, type BrokerPolicyConfig } from '@cleanroom/shared/protocol/policy.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import type { CrmRow } from '@cleanroom/shared/data/files.ts';
import type { Statement } from '@cleanroom/shared/transcript/statement.ts';
import type { World } from '../unit/world.ts';
import type { Received } from './attack.ts';

const log = pino({ level: 'silent' });

export interface Cluster {
  media: MediaNode;
  broker: BrokerNode;
  advertiser: AdvertiserNode;
  /** Everything each party received, by session id. */
  received: Record<Party, Map<string, Received[]>>;
  stateDir: string;
  transcriptDir: string;
}

export function cluster(w: World, opts: { crm?: readonly CrmRow[]; policy?: Partial<BrokerPolicyConfig> } = {}): Cluster {
  const received: Cluster['received'] = { advertiser: new Map(), media: new Map(), broker: new Map() };
  const observer = (me: Party, s: Statement, payload: Uint8Array) => {
    const list = received[me].get(s.sessionId) ?? [];
    list.push({ round: s.round, payloadType: s.payloadType, payload: payload.slice() });
    received[me].set(s.sessionId, list);
  };
  const transcriptDir = mkdtempSync(join(tmpdir(), 'cleanroom-tx-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'cleanroom-state-'));
  let broker!: BrokerNode;
  let advertiser!: AdvertiserNode;
  const media = new MediaNode({
    identity: w.identities.media, universe: w.universe, publication: w.publication, stateDir: join(stateDir, 'media'), transcriptDir, deadlineMs: 120_000,
    maxPaddedCount: 1_000_000, evalThreads: 1, log, observer,
  });
  broker = new BrokerNode({
    identity: w.identities.broker, media: inMemoryPeer('Media', 'broker', () => media.handlers()),
    advertiser: inMemoryPeer('Advertiser', 'broker', () => advertiser.handlers()),
    policy: { ...DEFAULT_BROKER_POLICY, ...opts.policy },
    transcriptDir, stateDir: join(stateDir, 'broker'), deadlineMs: 120_000, log, observer,
  });
  advertiser = new AdvertiserNode({
    identity: w.identities.advertiser, broker: inMemoryPeer('Broker', 'advertiser', () => broker.handlers()),
    crm: opts.crm ?? w.crm, transcriptDir, deadlineMs: 120_000, log, observer,
  });
  return { media, broker, advertiser, received, stateDir, transcriptDir };
}

export interface SessionOutcome {
  sessionId: string;
  status: string;
  result: { cohortSize: number; insight: { name: string; total: number }[] };
  /** What media received in this session (its universe sync excluded). */
  mediaReceived: Received[];
}

export async function runSession(c: Cluster, req: StartSessionRequest = {}): Promise<SessionOutcome> {
  const { sessionId, done } = c.advertiser.start({ audienceSize: 500, ...req });
  const rec = await done;
  if (rec.status !== 'completed') throw new Error(`session ${sessionId} ended ${rec.status}: ${rec.error ?? ''}`);
  return { sessionId, status: rec.status, result: rec.result as SessionOutcome['result'], mediaReceived: c.received.media.get(sessionId) ?? [] };
}

/**
 * Test fixture: the three nodes in one process over in-memory peers (the same signed
 * envelopes as over gRPC), each with its own transcript directory or a shared one, and
 * helpers to "restart" broker and media (new node objects over the same directories).
 * Tests only.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AdvertiserNode } from '../../services/advertiser/src/node.ts';
import { BrokerNode } from '../../services/broker/src/node.ts';
import { MediaNode } from '../../services/media/src/node.ts';
import { inMemoryPeer, type Peer } from '@cleanroom/shared/rpc/peer.ts';
import { DEFAULT_BROKER_POLICY } from '@cleanroom/shared/protocol/policy.ts';
import type { World } from './world.ts';
import type { RejectedLine } from '@cleanroom/shared/data/files.ts';
import { DEFAULT_PRIVACY } from '@cleanroom/shared/protocol/privacy.ts';
import { SqliteStore } from '@cleanroom/shared/store/sqlite.ts';
import { mediaDefaults } from './nodes.ts';

export const silentLog = pino({ level: 'silent' });

export interface MemoryCluster {
  media: MediaNode;
  broker: BrokerNode;
  advertiser: AdvertiserNode;
  transcriptDir: string;
  stateDir: string;
  /** The broker as the advertiser reaches it (for hand-made calls). */
  brokerPeer: Peer;
  /** Media as the broker reaches it (for hand-made calls). */
  mediaPeer: Peer;
  close(): void;
}

export interface ClusterOptions {
  transcriptDir?: string;
  /** The advertiser's transcript directory, when it differs from the others'. */
  advertiserTranscriptDir?: string;
  stateDir?: string;
  deadlineMs?: number;
  minCohort?: number;
  /** CRM lines the CSV reader rejected (for the seed report). */
  crmRejected?: RejectedLine[];
  /** Wraps each in-memory peer (tests insert delays or faults). */
  wrap?: (name: 'media' | 'advertiser' | 'broker', peer: Peer) => Peer;
  /** The broker's hook around each universe sync (BrokerNodeOptions.syncGcPolicy); none by default. */
  syncGcPolicy?: () => () => void;
}

export function memoryCluster(w: World, o: ClusterOptions = {}): MemoryCluster {
  const transcriptDir = o.transcriptDir ?? mkdtempSync(join(tmpdir(), 'cleanroom-tx-'));
  const stateDir = o.stateDir ?? mkdtempSync(join(tmpdir(), 'cleanroom-state-'));
  const deadlineMs = o.deadlineMs ?? 60_000;
  const wrap = o.wrap ?? ((_n, p) => p);
  let broker!: BrokerNode;
  let advertiser!: AdvertiserNode;
  // One SQLite store per party under the state directory: a "restarted" node (a new cluster
  // over the same state directory) finds its sessions, ledger and quotas again.
  const store = (party: string) => SqliteStore.open(join(stateDir, party, 'cleanroom.db'));
  const media = new MediaNode({
    identity: w.identities.media, universe: w.universe, publication: w.publication, stateDir: join(stateDir, 'media'), transcriptDir, deadlineMs,
    maxPaddedCount: 1_000_000, evalThreads: 1, log: silentLog, ...mediaDefaults({ store: store('media') }),
  });
  const mediaPeer = wrap('media', inMemoryPeer('Media', 'broker', () => media.handlers()));
  broker = new BrokerNode({
    identity: w.identities.broker, media: mediaPeer,
    advertiser: wrap('advertiser', inMemoryPeer('Advertiser', 'broker', () => advertiser.handlers())),
    // noise and the differencing rule off: exact values, and the same cohort may run again
    policy: { ...DEFAULT_BROKER_POLICY, minCohort: o.minCohort ?? 50, noiseScale: 0, privacy: { ...DEFAULT_PRIVACY, budget: 1e9, differencingMin: 0 } },
    store: store('broker'), quota: { evaluationsPerAdvertiser: 1e12, windowMs: 86_400_000 },
    transcriptDir, stateDir: join(stateDir, 'broker'), deadlineMs, log: silentLog, syncGcPolicy: o.syncGcPolicy,
  });
  const brokerPeer = wrap('broker', inMemoryPeer('Broker', 'advertiser', () => broker.handlers()));
  advertiser = new AdvertiserNode({
    identity: w.identities.advertiser, broker: brokerPeer, crm: w.crm, crmRejected: o.crmRejected, store: store('advertiser'), transcriptDir: o.advertiserTranscriptDir ?? transcriptDir, deadlineMs, log: silentLog,
  });
  return {
    media, broker, advertiser, transcriptDir, stateDir, brokerPeer, mediaPeer,
    close() {
      media.close();
      broker.close();
      advertiser.close();
    },
  };
}

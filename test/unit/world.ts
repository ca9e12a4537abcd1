/**
 * Test fixture: a small generated world (deterministic), the three parties' keys, media's
 * prepared universe, and the plaintext ground truth the assertions compare against.
 * Tests only — nodes never see `truth`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld, type GenOptions } from '@cleanroom/shared/data/generate.ts';
import { collectUniverse, readCrm, type CrmRow, type UniverseRow } from '@cleanroom/shared/data/files.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { SigningKey, makeTrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { PreparedUniverse, type UniverseRecord } from '@cleanroom/shared/protocol/universe.ts';
import { identityFromKeys, type NodeIdentity } from '@cleanroom/shared/service/identity.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import type { Publication } from '@cleanroom/shared/protocol/publication.ts';
import type { MediaBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { testPublication } from '@cleanroom/shared/testing/publication.ts';
import { clipContribution } from '@cleanroom/shared/common/attributes.ts';
import { compileAdvertiserPredicate, tagReader } from '@cleanroom/shared/protocol/predicate-schemas.ts';
import { testLabels } from '@cleanroom/shared/testing/labels.ts';
import type { LabelPublication } from '@cleanroom/shared/protocol/label-publication.ts';
import type { LabelRow } from '@cleanroom/shared/data/labels.ts';
import type { LookupLimits } from '@cleanroom/shared/protocol/lookup.ts';
import { cluster, type Cluster } from './nodes.ts';

export interface World {
  dir: string;
  crm: CrmRow[];
  users: UniverseRow[];
  universe: PreparedUniverse;
  /** Media's publication of the universe (what the broker syncs). */
  publication: Publication & { bfv: MediaBfv };
  identities: Record<Party, NodeIdentity>;
}

/**
 * The world for `opts`, made once per process: a test file's describes that ask for the same
 * world share it (worlds are read-only to the tests; each file runs in its own process).
 */
export function makeWorld(opts: GenOptions = {}): Promise<World> {
  const key = JSON.stringify(opts);
  let w = worlds.get(key);
  if (!w) {
    w = buildWorld(opts);
    worlds.set(key, w);
    w.catch(() => worlds.delete(key));
  }
  return w;
}

const worlds = new Map<string, Promise<World>>();

async function buildWorld(opts: GenOptions): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'cleanroom-world-'));
  await generateWorld(dir, { seed: 'test-world', universeSize: 20_000, crmSize: 1500, ...opts });
  const crm = (await readCrm(join(dir, 'advertiser/crm.csv'))).rows;
  const { rows: users } = await collectUniverse(join(dir, 'media/universe.csv'));
  const records: UniverseRecord[] = users.filter((u) => u.consent).map((u) => {
    const n = normalizeId('phone', u.phone);
    return { userId: u.userId, ids: n.ok ? { phone: n.value } : {}, vector: u.vector };
  });
  const { universe } = PreparedUniverse.prepare(records, OprfKey.generate(), 'e-test', ['phone']);
  const keys = { advertiser: SigningKey.generate(), media: SigningKey.generate(), broker: SigningKey.generate() };
  const trust = makeTrustBundle({ advertiser: keys.advertiser.publicKey, media: keys.media.publicKey, broker: keys.broker.publicKey });
  const identities = Object.fromEntries((['advertiser', 'media', 'broker'] as const).map((p) => [p, identityFromKeys(p, keys[p], trust, { kind: 'plaintext' })])) as Record<Party, NodeIdentity>;
  return { dir, crm, users, universe, publication: await testPublication(universe), identities };
}

/** Totals over A's consented purchasers who are consented media users (the cohort media must see), each user's contribution clipped as media publishes it. */
export function expectedTotals(w: World): { totals: number[]; cohort: number; realUserIds: Set<string> } {
  const byPhone = new Map<string, UniverseRow>();
  for (const u of w.users) {
    const n = normalizeId('phone', u.phone);
    if (n.ok && u.consent) byPhone.set(n.value, u);
  }
  const seen = new Set<string>();
  const totals = new Array(64).fill(0);
  for (const r of w.crm) {
    if (!r.purchaser || !r.consent) continue;
    const n = normalizeId('phone', r.phone);
    if (!n.ok) continue;
    const u = byPhone.get(n.value);
    if (!u || seen.has(u.userId)) continue;
    seen.add(u.userId);
    clipContribution(u.vector).forEach((v, j) => (totals[j] += v));
  }
  return { totals, cohort: seen.size, realUserIds: seen };
}

/**
 * Ground truth of a selection kind: A's consented CRM rows whose tags satisfy `predicate`,
 * matched by phone to consented (published) media users — distinct users, their clipped totals.
 */
export function expectedSelection(w: World, predicate: unknown, alsoUser: (u: UniverseRow) => boolean = () => true): { totals: number[]; cohort: number; userIds: Set<string> } {
  const a = compileAdvertiserPredicate(predicate);
  const byPhone = new Map<string, UniverseRow>();
  for (const u of w.users) {
    const n = normalizeId('phone', u.phone);
    if (n.ok && u.consent) byPhone.set(n.value, u);
  }
  const userIds = new Set<string>();
  const totals = new Array(64).fill(0);
  for (const r of w.crm) {
    if (!r.consent || !a.test(tagReader(r.tags))) continue;
    const n = normalizeId('phone', r.phone);
    if (!n.ok) continue;
    const u = byPhone.get(n.value);
    if (!u || userIds.has(u.userId) || !alsoUser(u)) continue;
    userIds.add(u.userId);
    clipContribution(u.vector).forEach((v, j) => (totals[j] += v));
  }
  return { totals, cohort: userIds.size, userIds };
}

/** The broker's lookup limits in the lookup tests: batches of 100 IDs or more, no quota to speak of. */
export const LOOKUP_LIMITS = { minBatch: 100, idsPerAdvertiser: 1_000_000 };

/** The lookup kind's test world: makeWorld()'s world, media's label publication of it and the label rows. */
export interface LookupWorld {
  w: World;
  labels: LabelPublication;
  rows: Map<string, LabelRow>;
  /** A's IDs: every consented CRM phone (media users and not). */
  crmPhones: string[];
}

/** One fixture for the lookup tests and the lookup attacks (test/privacy/lookup.privacy.test.ts). */
export async function makeLookupWorld(opts: GenOptions = {}): Promise<LookupWorld> {
  const w = await makeWorld(opts);
  const { labels, rows } = await testLabels(w);
  return { w, labels, rows, crmPhones: w.crm.filter((r) => r.consent).map((r) => r.phone) };
}

/** Three nodes in memory serving the lookup kind with `limits`, the broker's universe (tokens and label boxes) synced. */
export async function lookupCluster(lw: LookupWorld, limits: LookupLimits & { idsPerAdvertiser: number } = LOOKUP_LIMITS): Promise<Cluster> {
  const c = cluster(lw.w, { labels: lw.labels, lookup: limits });
  await c.broker.syncUniverse();
  return c;
}

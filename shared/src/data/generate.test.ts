// Tests for the world generator: determinism, counts against the summary and the truth,
// ID validity and uniqueness, malformed and duplicate CRM rows, and a learnable propensity
// (a naive-Bayes look-alike built from the purchasers' attribute totals finds it).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import { normalizeId, normalizeRows } from '../common/ids.ts';
import { collectUniverse, readCrm, readPropensity, readTruth } from './files.ts';
import type { CrmRow, UniverseRow } from './files.ts';
import { FeistelPermutation, Sfc32, generateWorld, streamRng } from './generate.ts';
import type { GenOptions, GenSummary, WorldTruth } from './generate.ts';
import { measureLift } from './lift.ts';

const FILES = ['media/universe.csv', 'advertiser/crm.csv', 'truth/truth.json', 'truth/propensity.txt'];
const SMALL: GenOptions = { seed: 'test-small', universeSize: 5000, crmSize: 1000, malformedRows: 18, duplicateRows: 10 };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cleanroom-gen-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('randomness', () => {
  it('sfc32 streams are deterministic and independent per name', () => {
    const a = streamRng('s', 'x');
    const b = streamRng('s', 'x');
    const c = streamRng('s', 'y');
    const xs = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(xs);
    expect(() => new Sfc32(new Uint8Array(8))).toThrow('expected a seed of at least 16 bytes, got 8');
  });

  it('int(n) stays in range and covers it', () => {
    const r = streamRng('s', 'int');
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = r.int(10);
      expect(x >= 0 && x < 10 && Number.isInteger(x)).toBe(true);
      seen.add(x);
    }
    expect(seen.size).toBe(10);
  });

  it('the Feistel permutation is a bijection of [0, size)', () => {
    for (const size of [1, 2, 3, 1000, 4097]) {
      const p = new FeistelPermutation(size, streamRng('s', `perm${size}`));
      const out = new Set<number>();
      for (let i = 0; i < size; i++) out.add(p.apply(i));
      expect(out.size).toBe(size);
      expect(Math.min(...out)).toBe(0);
      expect(Math.max(...out)).toBe(size - 1);
    }
    expect(() => new FeistelPermutation(0, streamRng('s', 'p'))).toThrow('expected a permutation size in [1, 2^32], got 0');
  });
});

describe('generateWorld', () => {
  let dir: string;
  let summary: GenSummary;
  let truth: WorldTruth;
  let universe: UniverseRow[];
  let crm: { rows: CrmRow[]; rejected: { line: number; reason: string }[] };

  beforeAll(async () => {
    dir = join(root, 'small-a');
    summary = await generateWorld(dir, SMALL);
    truth = readTruth(dir);
    const u = await collectUniverse(join(dir, 'media', 'universe.csv'));
    expect(u.rejectedCount).toBe(0);
    universe = u.rows;
    crm = await readCrm(join(dir, 'advertiser', 'crm.csv'));
  });

  it('is byte-identical for the same seed', async () => {
    const again = join(root, 'small-b');
    const s2 = await generateWorld(again, SMALL);
    for (const f of FILES) expect((await readFile(join(again, f))).equals(await readFile(join(dir, f))), f).toBe(true);
    expect({ ...s2, files: [], seconds: 0 }).toEqual({ ...summary, files: [], seconds: 0 });
  });

  it('differs for another seed', async () => {
    const other = join(root, 'small-c');
    await generateWorld(other, { ...SMALL, seed: 'test-other' });
    for (const f of ['media/universe.csv', 'advertiser/crm.csv', 'truth/propensity.txt']) {
      expect((await readFile(join(other, f))).equals(await readFile(join(dir, f))), f).toBe(false);
    }
  });

  it('reports the files it wrote and its counts', () => {
    expect(summary.files).toEqual(FILES.map((f) => join(dir, f)));
    expect(summary.seconds).toBeGreaterThan(0);
    expect(summary).toMatchObject({
      seed: 'test-small',
      universe: 5000,
      crm: 1000,
      crmRows: 1028,
      crmMediaUsers: 600,
      purchasers: 300,
      purchasersInMedia: 180,
      malformed: 18,
      duplicates: 10,
      propensity: 250,
    });
    expect(summary.purchasersFromPropensity).toBe(144);
    const { seconds: _s, files: _f, ...rest } = summary;
    expect(truth.summary).toEqual({ ...rest, files: FILES });
    expect(truth.options).toMatchObject({ ...SMALL, purchaserShare: 0.3, overlap: 0.6, consentShare: 0.97 });
  });

  it('universe counts, consent and IDs match the summary; IDs are canonical and unique', () => {
    expect(universe).toHaveLength(summary.universe);
    expect(universe.filter((r) => r.consent)).toHaveLength(summary.consentingUsers);
    expect(summary.consentingUsers / summary.universe).toBeGreaterThan(0.95);
    expect(summary.consentingUsers).toBeLessThan(summary.universe);
    for (const type of ['phone', 'email', 'device'] as const) {
      const raw = universe.map((r) => (type === 'phone' ? r.phone : type === 'email' ? r.email : r.deviceId));
      const n = normalizeRows(type, raw);
      expect(n.rejected, type).toEqual([]);
      expect(n.duplicates, type).toBe(0);
      expect(n.valid, type).toEqual(raw);
    }
    expect(new Set(universe.map((r) => r.userId)).size).toBe(summary.universe);
    for (const r of universe) expect(r.vector).toHaveLength(ATTRIBUTE_COUNT);
  });

  it('media users carry purpose-level consent and CRM rows first-party tags, purchasers tagged as such', () => {
    const share = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;
    expect(share(universe.map((r) => r.consentAds))).toBeGreaterThan(0.85);
    expect(share(universe.map((r) => r.consentAds))).toBeLessThan(0.95);
    expect(share(universe.map((r) => r.consentShare))).toBeGreaterThan(0.75);
    expect(share(universe.map((r) => r.consentShare))).toBeLessThan(0.85);
    const tags = crm.rows.filter((r) => !(r.customerId in truth.malformed)).map((r) => r.tags!);
    expect(tags.every((t) => t !== undefined)).toBe(true);
    const buyers = tags.filter((t) => t.purchaser);
    const others = tags.filter((t) => !t.purchaser);
    expect(buyers.every((t) => t.orders_12m >= 1) && others.every((t) => t.orders_12m === 0 && !t.purchased_90d)).toBe(true);
    expect(share(buyers.map((t) => t.visited_90d))).toBeGreaterThan(share(others.map((t) => t.visited_90d)));
    expect(new Set(tags.map((t) => t.member_tier))).toEqual(new Set(['none', 'silver', 'gold']));
    expect(tags.some((t) => t.cart_abandoned)).toBe(true);
  });

  it('writes the propensity users to propensity.txt', () => {
    const prop = readPropensity(dir);
    expect(prop.size).toBe(summary.propensity);
    expect(truth.propensityCount).toBe(summary.propensity);
    const ids = new Set(universe.map((r) => r.userId));
    for (const id of prop) expect(ids.has(id)).toBe(true);
  });

  it('CRM: customers, media users, purchasers and duplicates match the truth and the summary', () => {
    expect(crm.rows.length + crm.rejected.length).toBe(summary.crmRows);
    const real = crm.rows.filter((r) => !(r.customerId in truth.malformed) && !(r.customerId in truth.duplicateOf));
    expect(real).toHaveLength(summary.crm);
    expect(real.filter((r) => r.purchaser)).toHaveLength(summary.purchasers);
    expect(real.filter((r) => r.customerId in truth.crmMediaUserIds)).toHaveLength(summary.crmMediaUsers);
    expect(real.filter((r) => r.purchaser && r.customerId in truth.crmMediaUserIds)).toHaveLength(summary.purchasersInMedia);
    const prop = readPropensity(dir);
    expect(real.filter((r) => r.purchaser && prop.has(truth.crmMediaUserIds[r.customerId] ?? ''))).toHaveLength(summary.purchasersFromPropensity);
    expect(Object.keys(truth.duplicateOf)).toHaveLength(summary.duplicates);
    expect(Object.keys(truth.crmMediaUserIds)).toHaveLength(summary.crmMediaUsers + summary.duplicates);
    expect(Object.keys(truth.malformed)).toHaveLength(summary.malformed);
  });

  it('CRM phones are spelled in assorted human ways and normalise to the media phone of the same person', () => {
    const phoneOf = new Map(universe.map((r) => [r.userId, r.phone]));
    const universePhones = new Set(universe.map((r) => r.phone));
    const styles = new Set<string>();
    for (const r of crm.rows) {
      if (r.customerId in truth.malformed) continue;
      const n = normalizeId('phone', r.phone);
      expect(n.ok, r.phone).toBe(true);
      if (!n.ok) continue;
      const user = truth.crmMediaUserIds[r.customerId];
      if (user === undefined) expect(universePhones.has(n.value)).toBe(false);
      else expect(n.value).toBe(phoneOf.get(user));
      styles.add(r.phone.replace(/\d/g, '9'));
    }
    const expected = ['13812345678', '138 1234 5678', '138-1234-5678', '+8613812345678', '+86 138 1234 5678', '008613812345678', '8613812345678', '(+86) 138-1234-5678'];
    for (const s of expected.map((x) => x.replace(/\d/g, '9'))) expect(styles.has(s), s).toBe(true);
    expect(crm.rows.some((r) => r.email !== r.email.trim())).toBe(true);
    expect(crm.rows.some((r) => r.email !== r.email.toLowerCase())).toBe(true);
  });

  it('duplicates are the same person spelled differently: dedupe after normalisation finds exactly them', () => {
    const byId = new Map(crm.rows.map((r) => [r.customerId, r]));
    for (const [dup, orig] of Object.entries(truth.duplicateOf)) {
      const a = byId.get(dup)!;
      const b = byId.get(orig)!;
      expect(a.phone).not.toBe(b.phone);
      expect(normalizeId('phone', a.phone)).toEqual(normalizeId('phone', b.phone));
      expect(truth.crmMediaUserIds[dup]).toBe(truth.crmMediaUserIds[orig]);
      expect(dup > orig).toBe(true);
    }
    const n = normalizeRows('phone', crm.rows.map((r) => r.phone));
    expect(n.duplicates).toBe(summary.duplicates);
    expect(n.valid).toHaveLength(summary.crm);
  });

  it('every malformed row is rejected by readCrm or has no ID normalizeId accepts', () => {
    const present = crm.rows.filter((r) => r.customerId in truth.malformed);
    expect(present.length + crm.rejected.length).toBe(summary.malformed);
    expect(crm.rejected.length).toBeGreaterThan(0);
    expect(present.length).toBeGreaterThan(0);
    for (const r of present) {
      expect(normalizeId('phone', r.phone).ok, r.phone).toBe(false);
      expect(r.email === '' || !normalizeId('email', r.email).ok, r.email).toBe(true);
    }
    for (const rej of crm.rejected) expect(rej.reason).toMatch(/crm\.csv:\d+: expected /);
    expect(new Set(Object.values(truth.malformed)).size).toBe(9);
    // the non-malformed rows are all there, so readCrm rejected only malformed rows
    const kept = new Set(crm.rows.map((r) => r.customerId));
    expect(crm.rows.length - present.length).toBe(summary.crm + summary.duplicates);
    for (const id of Object.keys(truth.crmMediaUserIds)) expect(kept.has(id)).toBe(true);
  });

  it('validates its options', async () => {
    const d = join(root, 'never');
    await expect(generateWorld(d, { universeSize: 0 })).rejects.toThrow('expected universeSize to be an integer in [1, 1000000000], got 0');
    await expect(generateWorld(d, { overlap: 1.5 })).rejects.toThrow('expected overlap to be a share in [0, 1], got 1.5');
    await expect(generateWorld(d, { universeSize: 100, crmSize: 1000 })).rejects.toThrow('expected crmSize × overlap ≤ universeSize, got 600 > 100');
    await expect(generateWorld(d, { seed: '' })).rejects.toThrow('expected seed to be a non-empty string, got ""');
    await expect(generateWorld(d, { universSize: 5 } as GenOptions)).rejects.toThrow("got 'universSize'");
    await expect(generateWorld('', {})).rejects.toThrow('expected outDir to be a non-empty path, got ""');
  });
});

describe('the planted propensity is learnable', () => {
  it('a naive-Bayes look-alike from the purchasers’ attribute totals reaches lift > 1.5', async () => {
    const dir = join(root, 'lift');
    const s = await generateWorld(dir, { seed: 'test-lift', universeSize: 20_000, crmSize: 1_000 });
    const { rows } = await collectUniverse(join(dir, 'media', 'universe.csv'));
    const { rows: customers } = await readCrm(join(dir, 'advertiser', 'crm.csv'));
    // The advertiser's seed cohort: purchasers, matched to media users by normalised phone.
    const byPhone = new Map(rows.map((r, i) => [r.phone, i]));
    const cohort = new Set<number>();
    for (const c of customers) {
      if (!c.purchaser) continue;
      const n = normalizeId('phone', c.phone);
      const i = n.ok ? byPhone.get(n.value) : undefined;
      if (i !== undefined) cohort.add(i);
    }
    expect(cohort.size).toBe(s.purchasersInMedia);
    // What media sees after decryption: only the cohort's attribute totals.
    const D = ATTRIBUTE_COUNT;
    const totals = new Float64Array(D);
    const base = new Float64Array(D);
    for (const i of cohort) for (let j = 0; j < D; j++) totals[j]! += rows[i]!.vector[j]!;
    for (const r of rows) for (let j = 0; j < D; j++) base[j]! += r.vector[j]!;
    const w1 = new Float64Array(D);
    const w0 = new Float64Array(D);
    for (let j = 0; j < D; j++) {
      const p = (totals[j]! + 1) / (cohort.size + 2);
      const q = (base[j]! + 1) / (rows.length + 2);
      w1[j] = Math.log(p / q);
      w0[j] = Math.log((1 - p) / (1 - q));
    }
    const scored = rows
      .map((r, i) => {
        let score = 0;
        for (let j = 0; j < D; j++) score += r.vector[j] ? w1[j]! : w0[j]!;
        return { i, score };
      })
      .filter((x) => !cohort.has(x.i))
      .sort((a, b) => b.score - a.score || a.i - b.i);
    const audience = scored.slice(0, s.propensity).map((x) => rows[x.i]!.userId);
    const lift = measureLift(audience, readPropensity(dir), rows.length);
    expect(lift).toBeGreaterThan(1.5);
    // and a random audience of the same size does not
    const random = rows.filter((_, i) => i % 20 === 7).map((r) => r.userId);
    expect(measureLift(random, readPropensity(dir), rows.length)).toBeLessThan(1.5);
  });
});

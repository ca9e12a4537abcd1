/**
 * Generator of the federated-learning world (issue 14): several car makers, each with its own
 * first-party behaviour data, none with enough buyers alone.
 *
 * Every advertiser gets a private training set and a held-out test set over the same
 * FEDERATED_FEATURES schema (20 features, each already on a scale of about 0..3) and a label
 * "bought within 90 days". Labels come from ONE common ground-truth logistic model
 * (GROUND_TRUTH), so pooling is meaningful; the advertisers differ in size and feature mix
 * (covariate shift: each has its own propensity for every behaviour), so that one advertiser
 * alone learns a worse model than all of them together.
 *
 * Guarantees: deterministic from the seed (sfc32 streams seeded from SHA-256 of the seed and
 * the advertiser's index, as the world generator does); no clock, no Math.random. The CSV
 * form (`writeFederatedWorld` / `readFederatedCsv`) is what advertiser nodes load: a header
 * line `label,<feature names>` and one row per person, no identifiers at all.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { streamRng, type Sfc32 } from './generate.ts';

/** The shared feature schema, in column order. */
export const FEDERATED_FEATURES = [
  'model_pages_viewed', 'finance_calculator_used', 'test_drive_booked', 'store_visit', 'days_since_first_visit',
  'sessions_30d', 'configurator_used', 'brochure_downloaded', 'price_page_views', 'trade_in_valuation',
  'newsletter_signup', 'dealer_locator_used', 'video_views', 'comparison_tool_used', 'loan_preapproval',
  'app_installed', 'weekend_visitor', 'mobile_share', 'returning_visitor', 'days_since_last_visit',
] as const;
export const FEATURE_COUNT = FEDERATED_FEATURES.length;

/** Kind of each feature: a flag (0/1), a count (log1p-scaled) or a fraction/period (continuous). */
const KIND: readonly ('flag' | 'count' | 'cont')[] = [
  'count', 'flag', 'flag', 'flag', 'cont', 'count', 'flag', 'flag', 'count', 'flag',
  'flag', 'flag', 'count', 'flag', 'flag', 'flag', 'cont', 'cont', 'flag', 'cont',
];
/** Base propensity of each behaviour (flag: probability; count: mean count; cont: mean). */
const BASE: readonly number[] = [
  4, 0.2, 0.08, 0.12, 0.8, 6, 0.25, 0.3, 3, 0.1,
  0.35, 0.2, 2, 0.15, 0.05, 0.3, 0.4, 0.6, 0.45, 0.7,
];

/** The common ground truth: P(bought within 90 days | x) = σ(bias + w·x). */
export const GROUND_TRUTH: Readonly<{ bias: number; weights: readonly number[] }> = Object.freeze({
  bias: -3.2,
  weights: Object.freeze([
    0.35, 0.9, 1.6, 1.1, -0.4, 0.15, 0.45, 0.2, 0.3, 0.8,
    0.05, 0.5, 0.1, 0.35, 1.3, 0.25, 0.1, -0.3, 0.4, -0.6,
  ]),
});

/** Rows in one flat array: row i is x[i*FEATURE_COUNT … (i+1)*FEATURE_COUNT). */
export interface FederatedDataset {
  x: Float64Array;
  y: Uint8Array;
  rows: number;
}

export interface FederatedAdvertiserData {
  /** `advertiser-<i>`, 1-based. */
  name: string;
  train: FederatedDataset;
  test: FederatedDataset;
}

export interface FederatedWorld {
  seed: string;
  advertisers: FederatedAdvertiserData[];
}

export interface FederatedWorldOptions {
  seed: string;
  advertisers: number;
  /** Training rows per advertiser (cycled when shorter than `advertisers`); default DEFAULT_TRAIN_SIZES. */
  trainSizes?: readonly number[];
  /** Held-out test rows per advertiser. */
  testSize?: number;
}

/** Small and unequal, as the source says: none of them has enough buyers alone. */
export const DEFAULT_TRAIN_SIZES: readonly number[] = [260, 420, 700, 340, 520, 900, 300, 600];
export const DEFAULT_TEST_SIZE = 4000;

export function generateFederatedWorld(o: FederatedWorldOptions): FederatedWorld {
  if (typeof o.seed !== 'string' || o.seed === '') throw new TypeError(`expected seed to be a non-empty string, got ${JSON.stringify(o.seed)}`);
  if (!Number.isSafeInteger(o.advertisers) || o.advertisers < 1 || o.advertisers > 64) throw new RangeError(`expected 1 ≤ advertisers ≤ 64, got ${o.advertisers}`);
  const sizes = o.trainSizes ?? DEFAULT_TRAIN_SIZES;
  if (sizes.length === 0 || sizes.some((s) => !Number.isSafeInteger(s) || s < 10)) throw new RangeError(`expected train sizes ≥ 10, got ${JSON.stringify(sizes)}`);
  const testSize = o.testSize ?? DEFAULT_TEST_SIZE;
  if (!Number.isSafeInteger(testSize) || testSize < 10) throw new RangeError(`expected testSize ≥ 10, got ${testSize}`);
  const advertisers: FederatedAdvertiserData[] = [];
  for (let a = 0; a < o.advertisers; a++) {
    const mixRng = streamRng(o.seed, `federated/${a}/mix`);
    // Each advertiser's feature mix: every propensity scaled by a factor in [0.3, 1.9].
    const mix = BASE.map((b) => b * (0.3 + 1.6 * mixRng.float()));
    advertisers.push({
      name: `advertiser-${a + 1}`,
      train: drawDataset(streamRng(o.seed, `federated/${a}/train`), mix, sizes[a % sizes.length]!),
      test: drawDataset(streamRng(o.seed, `federated/${a}/test`), mix, testSize),
    });
  }
  return { seed: o.seed, advertisers };
}

function drawDataset(rng: Sfc32, mix: readonly number[], rows: number): FederatedDataset {
  const x = new Float64Array(rows * FEATURE_COUNT);
  const y = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    // A latent "intent" couples the behaviours, as real funnels do.
    const intent = rng.float();
    let z = GROUND_TRUTH.bias;
    for (let j = 0; j < FEATURE_COUNT; j++) {
      const m = mix[j]!;
      let v: number;
      if (KIND[j] === 'flag') v = rng.float() < Math.min(0.95, m * (0.5 + intent)) ? 1 : 0;
      else if (KIND[j] === 'count') v = Math.log1p(poisson(rng, m * (0.5 + intent)));
      else v = Math.min(3, -Math.log(1 - rng.float()) * m);
      x[i * FEATURE_COUNT + j] = round4(v);
      z += GROUND_TRUTH.weights[j]! * x[i * FEATURE_COUNT + j]!;
    }
    y[i] = rng.float() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { x, y, rows };
}

function poisson(rng: Sfc32, mean: number): number {
  const l = Math.exp(-mean);
  let k = 0;
  let p = rng.float();
  while (p > l && k < 200) {
    k++;
    p *= rng.float();
  }
  return k;
}

function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

/** Concatenation of datasets (the pooled reference model; never formed in the protocol). */
export function poolDatasets(sets: readonly FederatedDataset[]): FederatedDataset {
  const rows = sets.reduce((a, s) => a + s.rows, 0);
  const x = new Float64Array(rows * FEATURE_COUNT);
  const y = new Uint8Array(rows);
  let at = 0;
  for (const s of sets) {
    x.set(s.x, at * FEATURE_COUNT);
    y.set(s.y, at);
    at += s.rows;
  }
  return { x, y, rows };
}

const HEADER = ['label', ...FEDERATED_FEATURES].join(',');

export function datasetToCsv(d: FederatedDataset): string {
  const lines = [HEADER];
  for (let i = 0; i < d.rows; i++) {
    const row = [String(d.y[i])];
    for (let j = 0; j < FEATURE_COUNT; j++) row.push(String(d.x[i * FEATURE_COUNT + j]));
    lines.push(row.join(','));
  }
  return lines.join('\n') + '\n';
}

/** Parses the CSV form; every malformed line is an error naming the line (a dataset is all or nothing). */
export function readFederatedCsv(text: string, source = 'dataset'): FederatedDataset {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines[0] !== HEADER) throw new Error(`${source}: expected header ${HEADER}, got ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const rows = lines.length - 1;
  const x = new Float64Array(rows * FEATURE_COUNT);
  const y = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const cells = lines[i + 1]!.split(',');
    if (cells.length !== FEATURE_COUNT + 1) throw new Error(`${source}:${i + 2}: expected ${FEATURE_COUNT + 1} columns, got ${cells.length}`);
    if (cells[0] !== '0' && cells[0] !== '1') throw new Error(`${source}:${i + 2}: expected label 0 or 1, got ${JSON.stringify(cells[0])}`);
    y[i] = cells[0] === '1' ? 1 : 0;
    for (let j = 0; j < FEATURE_COUNT; j++) {
      const v = Number(cells[j + 1]);
      if (!Number.isFinite(v) || cells[j + 1] === '') throw new Error(`${source}:${i + 2}: expected a number for ${FEDERATED_FEATURES[j]}, got ${JSON.stringify(cells[j + 1])}`);
      x[i * FEATURE_COUNT + j] = v;
    }
  }
  if (rows === 0) throw new Error(`${source}: expected at least one row, got none`);
  return { x, y, rows };
}

/** Writes `<dir>/<advertiser-i>/{train,test}.csv`; returns the directories. */
export function writeFederatedWorld(dir: string, w: FederatedWorld): string[] {
  return w.advertisers.map((a) => {
    const d = join(dir, a.name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'train.csv'), datasetToCsv(a.train));
    writeFileSync(join(d, 'test.csv'), datasetToCsv(a.test));
    return d;
  });
}

export function readFederatedDir(d: string): { train: FederatedDataset; test: FederatedDataset } {
  return {
    train: readFederatedCsv(readFileSync(join(d, 'train.csv'), 'utf8'), join(d, 'train.csv')),
    test: readFederatedCsv(readFileSync(join(d, 'test.csv'), 'utf8'), join(d, 'test.csv')),
  };
}

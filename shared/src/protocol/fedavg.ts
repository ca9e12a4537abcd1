/**
 * Federated averaging of a logistic-regression model, in plain TypeScript (no ML dependency),
 * and the fixed-point form in which updates cross the secure aggregation.
 *
 * Model: P(y=1 | x) = σ(b + w·x), d = FEATURE_COUNT weights and a bias.
 * Local step (`localUpdate`): starting from the global model, E epochs of full-batch gradient
 * descent on the mean log-loss + (λ/2)·|w|² with learning rate η; deterministic.
 * Update vector (`updateVector`), what one member feeds into the secure sum, d + 3 reals:
 *   [ n·Δw_1 … n·Δw_d, n·Δb, n, n·loss ]
 * where Δ = local − global (each coordinate clipped to ±MAX_DELTA), n the member's row count and
 * loss the mean log-loss of the GLOBAL model on the member's rows (so the summed last two
 * coordinates give the federation's training loss of the round, and nothing per member).
 * Aggregation (`applyAggregate`): w ← w + Σ n·Δw / Σ n — the weighted FedAvg of McMahan et al.
 *
 * Fixed-point encoding (`encodeFixed` / `decodeFixed`): a real v becomes the 64-bit word
 * round(v · 2^FRAC_BITS) mod 2^64 (two's complement), FRAC_BITS = 20, so the resolution is
 * 2^-20 ≈ 9.5·10^-7 and sums of words mod 2^64 are sums of the reals. A sum decodes exactly
 * while its true value lies in (−2^43, 2^43). Inputs are bounded so that it always does:
 * n ≤ MAX_ROWS = 2^20, |Δ| ≤ MAX_DELTA = 8 and per-row loss ≤ MAX_ROW_LOSS = 30, so any one
 * coordinate of one member is below 2^25 in magnitude, and of a sum of at most
 * MAX_MEMBERS = 64 members below 2^31 ≪ 2^43. `encodeFixed` refuses anything outside ±2^43.
 */
import { FEATURE_COUNT, type FederatedDataset } from '../data/federated.ts';

export const FRAC_BITS = 20;
export const MAX_ROWS = 1 << 20;
export const MAX_DELTA = 8;
export const MAX_ROW_LOSS = 30;
export const MAX_MEMBERS = 64;
/** Decodable range of a word: |v| < 2^43. */
export const FIXED_LIMIT = 2 ** 43;
/** Length of an update vector: d weights, the bias, n and n·loss. */
export const UPDATE_LENGTH = FEATURE_COUNT + 3;

export interface Model {
  weights: Float64Array;
  bias: number;
}

export interface TrainingParams {
  /** Local epochs of full-batch gradient descent per round. */
  localEpochs: number;
  learningRate: number;
  /** L2 penalty on the weights (not the bias). */
  l2: number;
}

export const DEFAULT_TRAINING: Readonly<TrainingParams> = Object.freeze({ localEpochs: 20, learningRate: 1, l2: 1e-3 });

export function zeroModel(): Model {
  return { weights: new Float64Array(FEATURE_COUNT), bias: 0 };
}

export function validateTraining(p: TrainingParams): TrainingParams {
  if (!Number.isSafeInteger(p.localEpochs) || p.localEpochs < 1 || p.localEpochs > 1000) throw new RangeError(`expected 1 ≤ localEpochs ≤ 1000, got ${p.localEpochs}`);
  if (!(p.learningRate > 0 && p.learningRate <= 10)) throw new RangeError(`expected 0 < learningRate ≤ 10, got ${p.learningRate}`);
  if (!(p.l2 >= 0 && p.l2 <= 10)) throw new RangeError(`expected 0 ≤ l2 ≤ 10, got ${p.l2}`);
  return p;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function predict(m: Model, d: FederatedDataset): Float64Array {
  const out = new Float64Array(d.rows);
  for (let i = 0; i < d.rows; i++) {
    let z = m.bias;
    for (let j = 0; j < FEATURE_COUNT; j++) z += m.weights[j]! * d.x[i * FEATURE_COUNT + j]!;
    out[i] = sigmoid(z);
  }
  return out;
}

/** Mean log-loss (each row's loss capped at MAX_ROW_LOSS). */
export function logLoss(m: Model, d: FederatedDataset): number {
  const p = predict(m, d);
  let s = 0;
  for (let i = 0; i < d.rows; i++) {
    const q = d.y[i] ? p[i]! : 1 - p[i]!;
    s += Math.min(MAX_ROW_LOSS, -Math.log(Math.max(q, 1e-300)));
  }
  return s / d.rows;
}

/** E epochs of full-batch gradient descent from `start`. */
export function train(start: Model, d: FederatedDataset, p: TrainingParams): Model {
  const w = Float64Array.from(start.weights);
  let b = start.bias;
  const g = new Float64Array(FEATURE_COUNT);
  for (let e = 0; e < p.localEpochs; e++) {
    g.fill(0);
    let gb = 0;
    for (let i = 0; i < d.rows; i++) {
      let z = b;
      const row = i * FEATURE_COUNT;
      for (let j = 0; j < FEATURE_COUNT; j++) z += w[j]! * d.x[row + j]!;
      const r = sigmoid(z) - d.y[i]!;
      for (let j = 0; j < FEATURE_COUNT; j++) g[j] = g[j]! + r * d.x[row + j]!;
      gb += r;
    }
    for (let j = 0; j < FEATURE_COUNT; j++) w[j] = w[j]! - p.learningRate * (g[j]! / d.rows + p.l2 * w[j]!);
    b -= p.learningRate * (gb / d.rows);
  }
  return { weights: w, bias: b };
}

/** A member's round: trains locally from the global model and returns its update vector (reals). */
export function updateVector(global: Model, d: FederatedDataset, p: TrainingParams): Float64Array {
  if (d.rows < 1 || d.rows > MAX_ROWS) throw new RangeError(`expected 1 ≤ rows ≤ ${MAX_ROWS}, got ${d.rows}`);
  const loss = logLoss(global, d);
  const local = train(global, d, p);
  const clip = (v: number) => Math.max(-MAX_DELTA, Math.min(MAX_DELTA, v));
  const u = new Float64Array(UPDATE_LENGTH);
  for (let j = 0; j < FEATURE_COUNT; j++) u[j] = d.rows * clip(local.weights[j]! - global.weights[j]!);
  u[FEATURE_COUNT] = d.rows * clip(local.bias - global.bias);
  u[FEATURE_COUNT + 1] = d.rows;
  u[FEATURE_COUNT + 2] = d.rows * loss;
  return u;
}

/** The broker's step: the new global model and the round's training loss, from the decoded sum. */
export function applyAggregate(global: Model, sum: Float64Array): { model: Model; rows: number; loss: number } {
  if (sum.length !== UPDATE_LENGTH) throw new RangeError(`expected an aggregate of ${UPDATE_LENGTH} values, got ${sum.length}`);
  const n = Math.round(sum[FEATURE_COUNT + 1]!);
  if (!(n >= 1)) throw new RangeError(`expected a positive total row count in the aggregate, got ${sum[FEATURE_COUNT + 1]}`);
  const weights = new Float64Array(FEATURE_COUNT);
  for (let j = 0; j < FEATURE_COUNT; j++) weights[j] = global.weights[j]! + sum[j]! / n;
  return { model: { weights, bias: global.bias + sum[FEATURE_COUNT]! / n }, rows: n, loss: sum[FEATURE_COUNT + 2]! / n };
}

const SCALE = 2 ** FRAC_BITS;
const MOD = 1n << 64n;

/** Reals → 64-bit words (see the header for the range). */
export function encodeFixed(v: Float64Array): BigUint64Array {
  const out = new BigUint64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x) || Math.abs(x) >= FIXED_LIMIT) throw new RangeError(`expected |value| < 2^43 at index ${i}, got ${x}`);
    const q = BigInt(Math.round(x * SCALE));
    out[i] = ((q % MOD) + MOD) % MOD;
  }
  return out;
}

/** 64-bit words (a sum mod 2^64) → reals, reading each word as two's complement. */
export function decodeFixed(w: BigUint64Array): Float64Array {
  const out = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = Number(BigInt.asIntN(64, w[i]!)) / SCALE;
  return out;
}

/** Area under the ROC curve (Mann–Whitney, ties counted half). */
export function auc(scores: Float64Array, labels: Uint8Array): number {
  const idx = Array.from(scores.keys()).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  for (const l of labels) pos += l;
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  let rankSum = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]!]) rankSum += rank;
    i = j + 1;
  }
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function evaluate(m: Model, d: FederatedDataset): { auc: number; logLoss: number; rows: number; positives: number } {
  let positives = 0;
  for (const l of d.y) positives += l;
  return { auc: auc(predict(m, d), d.y), logLoss: logLoss(m, d), rows: d.rows, positives };
}

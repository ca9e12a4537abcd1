/**
 * The adversarial media operator, as code: everything media receives in a session is handed
 * to these functions, which try to tell the advertiser's real customers apart from media's
 * other users.
 *
 * - perUserSignals: searches every byte window of every payload media received for any of
 *   its own OPRF tokens (every ID type). A per-user list of any form (real + decoy matches,
 *   shuffled or not) shows up here; the count per user across sessions is what an
 *   intersection attack uses.
 * - profileScores: media's own naive-Bayes ranking of its universe by the cohort profile
 *   it decrypted (the look-alike model itself).
 * - membershipAuc: the AUC of what media received per user, for A's real matches against
 *   every other consented media user, within strata of the profile score. The profile is
 *   the aggregate media is allowed to learn, and it ranks "people like A's customers"
 *   whether or not they are A's customers (that is the look-alike; profileAuc reports it);
 *   what must not exist is anything that separates A's customers from media users the
 *   profile ranks alike. AUC 0.5 = chance.
 * - listedAuc: the brief's original measure — among the users media received a per-user
 *   signal for, the AUC of the profile score for real matches against the rest (NaN when
 *   media received no per-user list at all).
 */
import type { PreparedUniverse } from '@cleanroom/shared/protocol/universe.ts';
import { PACKED_BYTES } from '@cleanroom/shared/protocol/universe.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';

export interface Received {
  round: string;
  payloadType: string;
  payload: Uint8Array;
}

/** user row → number of payloads (sessions) in which one of the user's tokens appeared. */
export function perUserSignals(universe: PreparedUniverse, sessions: readonly (readonly Received[])[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const received of sessions) {
    const rows = new Set<number>();
    for (const r of received) {
      const p = r.payload;
      for (let off = 0; off + TOKEN_BYTES <= p.length; off++) {
        const window = p.subarray(off, off + TOKEN_BYTES);
        for (const [type] of universe.index) {
          const row = universe.rowOf(type, window);
          if (row >= 0) rows.add(row);
        }
      }
    }
    for (const row of rows) counts.set(row, (counts.get(row) ?? 0) + 1);
  }
  return counts;
}

/** Naive-Bayes log-likelihood ratio of every universe user under the cohort profile. */
export function profileScores(universe: PreparedUniverse, totals: readonly number[], cohortSize: number): Float64Array {
  const eps = 1 / (2 * (cohortSize + 1));
  const clamp = (v: number) => Math.min(1 - eps, Math.max(eps, v));
  const p = totals.map((t) => clamp(Math.max(0, t) / Math.max(1, cohortSize)));
  const q = Array.from(universe.shares, clamp);
  const w1 = p.map((pj, j) => Math.log(pj / q[j]!));
  const w0 = p.map((pj, j) => Math.log((1 - pj) / (1 - q[j]!)));
  const out = new Float64Array(universe.size);
  for (let u = 0; u < universe.size; u++) {
    let s = 0;
    for (let j = 0; j < ATTRIBUTE_COUNT; j++) {
      const bit = (universe.packed[u * PACKED_BYTES + (j >> 3)]! >> (j & 7)) & 1;
      s += bit ? w1[j]! : w0[j]!;
    }
    out[u] = s;
  }
  return out;
}

/** AUC of `score` for positives vs negatives (ties count one half). */
export function auc(pos: readonly number[], neg: readonly number[]): number {
  if (pos.length === 0 || neg.length === 0) return Number.NaN;
  const all = [...pos.map((s) => ({ s, p: 1 })), ...neg.map((s) => ({ s, p: 0 }))].sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const avg = (i + j + 1) / 2; // ranks i+1..j
    for (let k = i; k < j; k++) if (all[k]!.p) rankSum += avg;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

/**
 * What media knows about each user beyond the profile, as a classifier: its per-user
 * signal count (how many sessions listed the user in any form), for `real` user rows
 * against every other user, with AUC computed within `bins` quantile strata of the profile
 * score (users the profile ranks alike) and weighted by real users per stratum. With
 * nothing received per user, every pair ties and the AUC is exactly 0.5.
 */
export function membershipAuc(profile: Float64Array, signals: ReadonlyMap<number, number>, real: ReadonlySet<number>, bins = 20): number {
  const n = profile.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => profile[a]! - profile[b]!);
  const bin = new Int32Array(n);
  order.forEach((u, rank) => (bin[u] = Math.min(bins - 1, Math.floor((rank * bins) / n))));
  let weighted = 0;
  let weight = 0;
  for (let b = 0; b < bins; b++) {
    const pos: number[] = [];
    const neg: number[] = [];
    for (let u = 0; u < n; u++) if (bin[u] === b) (real.has(u) ? pos : neg).push(signals.get(u) ?? 0);
    if (pos.length === 0 || neg.length === 0) continue;
    weighted += auc(pos, neg) * pos.length;
    weight += pos.length;
  }
  return weighted / weight;
}

/** The profile alone as a classifier of real users against all others (what a look-alike is allowed to know). */
export function profileAuc(profile: Float64Array, real: ReadonlySet<number>): number {
  const pos: number[] = [];
  const neg: number[] = [];
  profile.forEach((s, u) => (real.has(u) ? pos : neg).push(s));
  return auc(pos, neg);
}

/** The payload types media may receive in a look-alike session: none of them carries a per-user value. */
export const MEDIA_SESSION_PAYLOADS: readonly string[] = [
  'cleanroom.v1.PrepareSession', 'cleanroom.v1.BlindedBatch', 'cleanroom.v1.CohortProfile', 'cleanroom.v1.Checkpoint', 'cleanroom.v1.Abort',
];

/** Among users media received a per-user signal for: AUC of the profile score, real vs the rest. */
export function listedAuc(profile: Float64Array, signals: ReadonlyMap<number, number>, real: ReadonlySet<number>): number {
  const pos: number[] = [];
  const neg: number[] = [];
  for (const [u] of signals) (real.has(u) ? pos : neg).push(profile[u]!);
  return auc(pos, neg);
}

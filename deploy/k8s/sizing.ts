/**
 * Sizing of the nodes by universe size — memory and state volume — the source of the
 * resource requests and volume sizes in the generated Kubernetes manifests and of the sizing
 * tables in docs/operations.md (a test keeps them equal). Nothing here is measured at run time.
 *
 * Media's and the broker's peak memory is modelled as two measured parts, because a node's
 * memory follows two different things — its universe and its largest session:
 *   - UNIVERSE_RUNS: `node bench/memory.ts --universe U --crm C` at two universe sizes: each
 *     node's peak resident memory (process maxRSS: universe preparation, publication, the
 *     broker's sync; at 1,000,000 a session of padded size 100,000 too) and state directory.
 *     The slope between them is the per-user bytes; larger universes are extrapolated on it,
 *     smaller ones take the smaller run's figure.
 *   - SESSION_RUNS: the memory a session at CLEANROOM_MAX_PADDED (2,000,000 by default) adds,
 *     from `node --expose-gc bench/session-memory.ts --side broker|media --layout packed`: the
 *     padded list's structures through the real codecs and padding, without the X25519 (a
 *     full-cluster session of that size did not complete on the loaded build machine).
 *   - WORKER_RUNS: the memory each worker thread of the offline work adds while it runs (media's
 *     publication encryption, the broker's sync: a V8 isolate and a SEAL instance each), from
 *     `node --expose-gc bench/worker-memory.ts` and `make bench`, times CLEANROOM_EVAL_THREADS (2 in the manifests):
 *     the universe runs above were measured before those workers existed.
 * Peak = universe figure + the workers' allowance + the increment of a session at the largest
 * padded size — an upper bound (each increment is added even when another stage set the
 * process's maxRSS), for one such session at a time: concurrent sessions add theirs.
 * The advertiser's memory follows its CRM, not the universe: it keeps the N/10-CRM runs of
 * MEASURED (the manifests size it for 10 × its `crmRows`); the state volumes take MEASURED and
 * the universe runs together.
 * Memory request = estimated peak + 25 %, rounded up to 64 MiB; limit = 1.5 × request.
 * State volume = estimated state × 2 (a re-preparation writes the new set before it removes
 * the old one), rounded up to whole GiB, at least 1 GiB.
 */

import type { Party } from '../../shared/src/common/names.ts';

export type SizedParty = Party;

export interface Measurement {
  universe: number;
  peakMiB: Record<SizedParty, number>;
  stateMiB: Record<SizedParty, number>;
}

/** Runs with a CRM of N/10 rows (bench/memory.ts before --crm): the advertiser's memory, and state sizes. */
export const MEASURED: readonly Measurement[] = [
  { universe: 50_000, peakMiB: { advertiser: 213, media: 460, broker: 304 }, stateMiB: { advertiser: 0, media: 85, broker: 152 } },
  { universe: 200_000, peakMiB: { advertiser: 209, media: 547, broker: 342 }, stateMiB: { advertiser: 0, media: 322, broker: 591 } },
  { universe: 1_000_000, peakMiB: { advertiser: 289, media: 642, broker: 563 }, stateMiB: { advertiser: 0, media: 1588, broker: 2933 } },
];

/** Nodes whose memory the universe and session runs model. */
export type ModelledParty = 'media' | 'broker';

/**
 * Universe runs, ascending (MiB): 400,000 users (`--crm 600000`: the start-up peaks, before its
 * session; the smaller of two runs, 481/516 and 398/405, so the slope is the larger),
 * 1,000,000 (`--crm 20000`: a padded size of 100,000 included) and 10,000,000 (`--crm 100000`,
 * the whole cluster, a padded size of 500,000 included; docs/operations.md "The whole cluster at
 * 10^7 users"): media 740 — its publication's peak; the label publication's 859 in that run fell
 * to 679 re-run with the reused buffers that run led to — and the broker 467 — its session's
 * peak; the sync's 866 fell to 383 re-synced with them.
 */
export const UNIVERSE_RUNS: readonly { universe: number; peakMiB: Record<ModelledParty, number>; stateMiB: Record<ModelledParty, number> }[] = [
  { universe: 400_000, peakMiB: { media: 481, broker: 398 }, stateMiB: { media: 639, broker: 1177 } },
  { universe: 1_000_000, peakMiB: { media: 492, broker: 406 }, stateMiB: { media: 1588, broker: 2933 } },
  { universe: 10_000_000, peakMiB: { media: 740, broker: 467 }, stateMiB: { media: 16094, broker: 29281 } },
];

/** CLEANROOM_MAX_PADDED's default: the largest session media evaluates, what the sizing allows for. */
export const SIZED_PADDED = 2_000_000;

/** MiB a session adds by padded size (bench/session-memory.ts, packed: the broker's resident peak added; media's heap and ArrayBuffers added). */
export const SESSION_RUNS: readonly { paddedCount: number; addedMiB: Record<ModelledParty, number> }[] = [
  { paddedCount: 2_000_000, addedMiB: { media: 190, broker: 475 } },
];

/** CLEANROOM_EVAL_THREADS the manifests run media and the broker with (its default). */
export const SIZED_THREADS = 2;

/**
 * MiB each offline worker thread adds: media's publication workers, the broker's sync workers
 * (transient: they end with the publication or the sync). The larger of two measurements, per
 * worker: `node --expose-gc bench/worker-memory.ts` (1, 2 and 4 workers alone: publication
 * 103 / 71 / 45, sync 84 / 67 / 78 MiB each) and `make bench` at 10^6 with 2 workers (peak RSS
 * media 966 MiB against 725–782 without them, ≈ 92 each; the broker 592 against 381, ≈ 105 each),
 * rounded up.
 */
export const WORKER_RUNS: Record<ModelledParty, number> = { media: 110, broker: 110 };

/** The measured increment of a session at SIZED_PADDED (MiB). */
export function sessionAllowanceMiB(party: ModelledParty): number {
  const r = SESSION_RUNS.find((x) => x.paddedCount === SIZED_PADDED);
  if (!r) throw new Error(`expected a session run at the sized padded size ${SIZED_PADDED}`);
  return r.addedMiB[party];
}

/** The universe runs' peak of `party` on the line through the two largest (beyond the largest), between runs on the segment joining them, below the smallest as the smallest. */
function universePartMiB(party: ModelledParty, users: number): number {
  const runs = UNIVERSE_RUNS;
  const first = runs[0]!;
  if (users <= first.universe) return first.peakMiB[party];
  const i = runs.findIndex((r) => r.universe >= users);
  const [a, b] = i === -1 ? [runs.at(-2)!, runs.at(-1)!] : [runs[i - 1]!, runs[i]!];
  return b.peakMiB[party] + ((users - b.universe) * bytesPerUser(party, a, b)) / 2 ** 20;
}

/** Bytes each user adds to `party`'s peak between two universe runs (the largest two by default; ≥ 0). */
export function bytesPerUser(party: ModelledParty, a = UNIVERSE_RUNS.at(-2)!, b = UNIVERSE_RUNS.at(-1)!): number {
  return Math.max(0, ((b.peakMiB[party] - a.peakMiB[party]) * 2 ** 20) / (b.universe - a.universe));
}

type Figure = 'peakMiB' | 'stateMiB';

const modelled = (p: SizedParty): p is ModelledParty => p === 'media' || p === 'broker';

/** Estimated figure (MiB) of `party` for a universe of `users` users, and whether it was measured (for media and the broker: the universe part). */
export function estimate(figure: Figure, party: SizedParty, users: number): { mib: number; measured: boolean } {
  if (!Number.isSafeInteger(users) || users < 1) throw new RangeError(`expected a universe size ≥ 1, got ${String(users)}`);
  if (figure === 'peakMiB' && modelled(party)) {
    const run = UNIVERSE_RUNS.find((x) => x.universe === users);
    const universePart = run ? run.peakMiB[party] : universePartMiB(party, users);
    return { mib: Math.round(universePart + SIZED_THREADS * WORKER_RUNS[party] + sessionAllowanceMiB(party)), measured: run !== undefined };
  }
  // state: the measured sizes of both sets of runs, on the line through the two largest
  const points = [...MEASURED.map((m) => ({ universe: m.universe, mib: m[figure][party] })),
    ...(figure === 'stateMiB' && modelled(party) ? UNIVERSE_RUNS.map((r) => ({ universe: r.universe, mib: r.stateMiB[party] })) : [])]
    .sort((x, y) => x.universe - y.universe)
    .filter((x, i, all) => i === 0 || all[i - 1]!.universe !== x.universe); // the same size in both sets: measured alike (1,000,000)
  const m = points.find((x) => x.universe === users);
  if (m) return { mib: m.mib, measured: true };
  const [a, b] = points.slice(-2) as [(typeof points)[number], (typeof points)[number]];
  const slope = Math.max(0, (b.mib - a.mib) / (b.universe - a.universe));
  const mib = Math.max(a.mib, b.mib + slope * (users - b.universe));
  return { mib: Math.round(mib), measured: false };
}

/** Estimated peak memory (MiB). */
export function estimatePeakMiB(party: SizedParty, users: number): { mib: number; measured: boolean } {
  return estimate('peakMiB', party, users);
}

/** Memory request and limit (Kubernetes quantities) for `party` at `users`. */
export function memoryFor(party: SizedParty, users: number): { request: string; limit: string } {
  const { mib } = estimatePeakMiB(party, users);
  const request = Math.ceil((mib * 1.25) / 64) * 64;
  const limit = Math.ceil((request * 1.5) / 64) * 64;
  return { request: `${request}Mi`, limit: `${limit}Mi` };
}

/** State volume size (Kubernetes quantity) for `party` at `users`. */
export function stateVolumeFor(party: SizedParty, users: number): string {
  const { mib } = estimate('stateMiB', party, users);
  return `${Math.max(1, Math.ceil((mib * 2) / 1024))}Gi`;
}

/** CPU requests (no CPU limits: a throttled node misses deadlines; see docs/operations.md). */
export const CPU_REQUEST: Record<SizedParty, string> = { advertiser: '500m', media: '2', broker: '1' };

export const TABLE_SIZES = [50_000, 200_000, 1_000_000, 10_000_000, 100_000_000] as const;

const PARTIES_SHOWN = ['media', 'broker', 'advertiser'] as const;
const tag = (measured: boolean) => (measured ? '(measured)' : '(extrapolated)');

/** A memory cell: media and the broker show their universe part (how it was obtained) and the session allowance. */
function peakCell(p: SizedParty, users: number): string {
  const e = estimatePeakMiB(p, users);
  if (!modelled(p)) return `${e.mib} MiB ${tag(e.measured)}`;
  const session = sessionAllowanceMiB(p);
  const workers = SIZED_THREADS * WORKER_RUNS[p];
  const how = e.measured ? 'measured' : users < (UNIVERSE_RUNS[0]?.universe ?? 0) ? `as at ${(UNIVERSE_RUNS[0]?.universe ?? 0).toLocaleString('en')}`
    : users < (UNIVERSE_RUNS.at(-1)?.universe ?? 0) ? 'interpolated' : 'extrapolated';
  return `${e.mib} MiB (${e.mib - session - workers} ${how} + ${workers} workers + ${session} session)`;
}

/** The Markdown sizing tables of docs/operations.md: memory, then state volume. */
export function sizingTable(): string {
  const memory = TABLE_SIZES.map((u) => `| ${u.toLocaleString('en')} | ${PARTIES_SHOWN.map((p) => {
    const m = memoryFor(p, u);
    return `${peakCell(p, u)} → ${m.request} / ${m.limit}`;
  }).join(' | ')} |`);
  const state = TABLE_SIZES.map((u) => `| ${u.toLocaleString('en')} | ${PARTIES_SHOWN.map((p) => {
    const e = estimate('stateMiB', p, u);
    return `${e.mib} MiB ${tag(e.measured)} → ${stateVolumeFor(p, u)}`;
  }).join(' | ')} |`);
  return [
    `Memory (peak → request / limit; media and broker: universe part + ${SIZED_THREADS} offline worker threads + a ${SIZED_PADDED.toLocaleString('en')}-element session):`,
    '',
    '| universe users | media | broker | advertiser (CRM rows = users / 10) |',
    '| --- | --- | --- | --- |',
    ...memory,
    '',
    'State volume (state directory → volume size):',
    '',
    '| universe users | media | broker | advertiser |',
    '| --- | --- | --- | --- |',
    ...state,
  ].join('\n');
}

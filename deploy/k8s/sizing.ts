/**
 * Memory sizing of the nodes by universe size — the source of the resource requests in the
 * generated Kubernetes manifests and of the sizing table in docs/operations.md (a test keeps
 * the two equal).
 *
 * MEASURED holds peak resident memory (process maxRSS, universe preparation and one session
 * included) measured on the project's 2-core build machine; every other size is a straight
 * line through the two largest measurements, extrapolated beyond them and marked so.
 * Requests are the estimated peak plus 25 % headroom, rounded up to 64 MiB; limits 1.5 ×
 * the request. Nothing here is measured at run time.
 */

export type SizedParty = 'advertiser' | 'media' | 'broker';

export interface Measurement {
  universe: number;
  peakMiB: Record<SizedParty, number>;
  source: string;
}

/** Measured peaks (MiB). */
export const MEASURED: readonly Measurement[] = [
  { universe: 50_000, peakMiB: { advertiser: 185, media: 584, broker: 311 }, source: 'node bench/memory.ts --universe 50000' },
  { universe: 200_000, peakMiB: { advertiser: 219, media: 807, broker: 528 }, source: 'node bench/memory.ts --universe 200000' },
  { universe: 1_000_000, peakMiB: { advertiser: 168, media: 1413, broker: 599 }, source: 'make bench (bench/results.json, P = 50,000)' },
];

const MiB = 64;

/** Estimated peak memory (MiB) of `party` for a universe of `users` users, and whether it was measured. */
export function estimatePeakMiB(party: SizedParty, users: number): { mib: number; measured: boolean } {
  if (!Number.isSafeInteger(users) || users < 1) throw new RangeError(`expected a universe size ≥ 1, got ${String(users)}`);
  const m = MEASURED.find((x) => x.universe === users && x.peakMiB[party] > 0);
  if (m) return { mib: m.peakMiB[party], measured: true };
  const pts = MEASURED.filter((x) => x.peakMiB[party] > 0).slice(-2);
  const [a, b] = [pts[0]!, pts[1]!];
  const slope = Math.max(0, (b.peakMiB[party] - a.peakMiB[party]) / (b.universe - a.universe));
  const mib = Math.max(a.peakMiB[party], b.peakMiB[party] + slope * (users - b.universe));
  return { mib: Math.round(mib), measured: false };
}

/** Memory request and limit (Kubernetes quantities) for `party` at `users`. */
export function memoryFor(party: SizedParty, users: number): { request: string; limit: string } {
  const { mib } = estimatePeakMiB(party, users);
  const request = Math.ceil((mib * 1.25) / MiB) * MiB;
  const limit = Math.ceil((request * 1.5) / MiB) * MiB;
  return { request: `${request}Mi`, limit: `${limit}Mi` };
}

/** CPU requests (no CPU limits: a throttled node misses deadlines; see docs/operations.md). */
export const CPU_REQUEST: Record<SizedParty, string> = { advertiser: '500m', media: '2', broker: '1' };

export const TABLE_SIZES = [50_000, 200_000, 1_000_000, 10_000_000, 100_000_000] as const;

/** The Markdown sizing table of docs/operations.md. */
export function sizingTable(): string {
  const rows = TABLE_SIZES.map((u) => {
    const cells = (['media', 'broker', 'advertiser'] as const).map((p) => {
      const e = estimatePeakMiB(p, u);
      const m = memoryFor(p, u);
      return `${e.mib} MiB ${e.measured ? '(measured)' : '(extrapolated)'} → ${m.request} / ${m.limit}`;
    });
    return `| ${u.toLocaleString('en')} | ${cells.join(' | ')} |`;
  });
  return [
    '| universe users | media: peak → request / limit | broker: peak → request / limit | advertiser: peak → request / limit |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/**
 * Sizing of the nodes by universe size — memory and state volume — the source of the
 * resource requests and volume sizes in the generated Kubernetes manifests and of the sizing
 * tables in docs/operations.md (a test keeps them equal).
 *
 * MEASURED holds, per universe size, each node's peak resident memory (process maxRSS:
 * universe preparation, publication and one session included) and the size of its state
 * directory (media: prepared universe + publication; broker: its copy of the publication),
 * measured with `node bench/memory.ts --universe N` on the project's 2-core build machine.
 * Every other size is a straight line through the two largest measurements, extrapolated
 * beyond them and marked so. The advertiser was measured with a CRM of N/10 rows, and its
 * memory follows the CRM: the manifests size it for 10 × its `crmRows`.
 * Memory request = estimated peak + 25 %, rounded up to 64 MiB; limit = 1.5 × request.
 * State volume = estimated state × 2 (a re-preparation writes the new set before it removes
 * the old one), rounded up to whole GiB, at least 1 GiB. Nothing here is measured at run time.
 */

import type { Party } from '../../shared/src/common/names.ts';

export type SizedParty = Party;

export interface Measurement {
  universe: number;
  peakMiB: Record<SizedParty, number>;
  stateMiB: Record<SizedParty, number>;
}

/** Measured figures (MiB), protocol with media's publication (bench/memory.ts). */
export const MEASURED: readonly Measurement[] = [
  { universe: 50_000, peakMiB: { advertiser: 213, media: 460, broker: 304 }, stateMiB: { advertiser: 0, media: 85, broker: 152 } },
  { universe: 200_000, peakMiB: { advertiser: 209, media: 547, broker: 342 }, stateMiB: { advertiser: 0, media: 322, broker: 591 } },
  { universe: 1_000_000, peakMiB: { advertiser: 289, media: 642, broker: 563 }, stateMiB: { advertiser: 0, media: 1588, broker: 2933 } },
];

type Figure = 'peakMiB' | 'stateMiB';

/** Estimated figure (MiB) of `party` for a universe of `users` users, and whether it was measured. */
export function estimate(figure: Figure, party: SizedParty, users: number): { mib: number; measured: boolean } {
  if (!Number.isSafeInteger(users) || users < 1) throw new RangeError(`expected a universe size ≥ 1, got ${String(users)}`);
  const m = MEASURED.find((x) => x.universe === users);
  if (m) return { mib: m[figure][party], measured: true };
  const [a, b] = MEASURED.slice(-2) as [Measurement, Measurement];
  const slope = Math.max(0, (b[figure][party] - a[figure][party]) / (b.universe - a.universe));
  const mib = Math.max(a[figure][party], b[figure][party] + slope * (users - b.universe));
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

/** The Markdown sizing tables of docs/operations.md: memory, then state volume. */
export function sizingTable(): string {
  const memory = TABLE_SIZES.map((u) => `| ${u.toLocaleString('en')} | ${PARTIES_SHOWN.map((p) => {
    const e = estimatePeakMiB(p, u);
    const m = memoryFor(p, u);
    return `${e.mib} MiB ${tag(e.measured)} → ${m.request} / ${m.limit}`;
  }).join(' | ')} |`);
  const state = TABLE_SIZES.map((u) => `| ${u.toLocaleString('en')} | ${PARTIES_SHOWN.map((p) => {
    const e = estimate('stateMiB', p, u);
    return `${e.mib} MiB ${tag(e.measured)} → ${stateVolumeFor(p, u)}`;
  }).join(' | ')} |`);
  return [
    'Memory (peak → request / limit):',
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

/**
 * Bench figures of the application kinds (issue 11): one session each of profile,
 * joint-count, joint-activate (confirming that count) and retargeting on the running bench
 * cluster, through the advertiser's admin API. Each selection is a different slice of the
 * bench CRM (all purchasers), so the differencing rule does not refuse one as a repeat of the
 * W1 cohort. Hooked from bench.ts with one line (APP_KIND_BENCHES spread into KIND_BENCHES);
 * bench.ts adds every party's per-phase metrics and floors under results.kinds.
 */
import type { KindBench, KindBenchContext } from './kinds.ts';
import { DEMO_MEDIA_PREDICATE } from '../cli/src/kinds.ts';

const REQUESTS: Record<string, Record<string, unknown>> = {
  profile: { kind: 'profile', predicate: { tag: 'visited_90d', eq: true } },
  'joint-count': { kind: 'joint-count', predicate: { tag: 'purchased_90d', eq: true }, mediaPredicate: DEMO_MEDIA_PREDICATE },
  retargeting: { kind: 'retargeting', predicate: { tag: 'cart_abandoned', eq: true } },
};

/** The joint-count session the joint-activate bench confirms (joint-count runs first). */
let countSession = '';

function bench(kind: string): KindBench {
  return async ({ cluster, say }: KindBenchContext) => {
    const a = cluster.nodes.advertiser.admin;
    const body = kind === 'joint-activate' ? { kind, countSession } : REQUESTS[kind]!;
    const t0 = performance.now();
    const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', body);
    const status = await a.waitSession(sessionId, 3_600_000);
    const seconds = (performance.now() - t0) / 1000;
    // A failed kind is a figure too (with its reason); it never stops the W1 bench.
    if (status.status === 'failed') {
      say(`  ${kind}: FAILED in ${seconds.toFixed(2)} s — ${status.error ?? ''}`);
      return { sessionId, seconds: Number(seconds.toFixed(2)), figures: { outcome: 'FAILED', error: status.error ?? '' } };
    }
    const r = await a.request<Record<string, any>>('GET', `/v1/sessions/${sessionId}/result`);
    if (kind === 'joint-count') countSession = sessionId;
    const figures = {
      outcome: r.outcome, seeds: r.seeds?.valid, paddedSize: r.matches?.paddedSize, matchesNoised: r.matches?.real,
      ...(r.counts ? { counts: r.counts } : {}), ...(r.audience ? { audienceSize: r.audience.size } : {}), ...(kind === 'profile' ? { cohortSize: r.cohortSize } : {}),
    };
    say(`  ${kind}: ${r.outcome} in ${seconds.toFixed(2)} s — ${JSON.stringify(figures)}`);
    return { sessionId, seconds: Number(seconds.toFixed(2)), figures };
  };
}

export const APP_KIND_BENCHES: Record<string, () => Promise<{ default: KindBench }>> = Object.fromEntries(
  ['profile', 'joint-count', 'joint-activate', 'retargeting'].map((k) => [k, async () => ({ default: bench(k) })]),
);

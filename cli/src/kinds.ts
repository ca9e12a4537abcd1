/**
 * The session kinds as the CLI runs them: the demo request of each kind (`simulate --kind`,
 * `make demo`) and a short summary of its result. Requests go through the advertiser's
 * admin API like any operator's; predicates are the documented JSON (docs/protocol.md).
 */
import type { SessionKind } from '@cleanroom/shared/common/names.ts';

/**
 * The demo selections, each a different slice of the CRM (the differencing rule refuses a
 * cohort too close to one released before — the look-alike's purchasers included):
 * retargeting: visitors of the last 90 days who did not buy in that time;
 * profile: every visitor of the last 90 days; joint-count: buyers of the last 90 days.
 */
export const DEMO_PREDICATE = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };
export const DEMO_PROFILE_PREDICATE = { tag: 'visited_90d', eq: true };
export const DEMO_JOINT_PREDICATE = { tag: 'purchased_90d', eq: true };
/** The demo media predicate: women aged 25–39 in tier-1 or new-tier-1 cities. */
export const DEMO_MEDIA_PREDICATE = { all: [{ attr: 'gender', eq: 'female' }, { attr: 'age', in: ['25-29', '30-34', '35-39'] }, { attr: 'city', in: ['tier1', 'new-tier1'] }] };

/** The kinds `simulate --kind all` runs, in order (the look-alike first). */
export const SIMULATED_KINDS: readonly SessionKind[] = ['lookalike', 'profile', 'joint-count', 'joint-activate', 'retargeting', 'lookup'];

export interface KindOptions {
  audience: number;
  decoyRatio: number;
  minCohort: number;
  /** joint-activate: the joint-count session it confirms. */
  countSession?: string;
}

/** The admin API body of a demo session of `kind`. */
export function demoRequest(kind: SessionKind, o: KindOptions): Record<string, unknown> {
  const common = { idType: 'phone', decoyRatio: o.decoyRatio, minCohort: o.minCohort };
  switch (kind) {
    case 'lookalike': return { kind, ...common, audienceSize: o.audience };
    case 'profile': return { kind, ...common, predicate: DEMO_PROFILE_PREDICATE };
    case 'retargeting': return { kind, ...common, predicate: DEMO_PREDICATE };
    case 'joint-count': return { kind, ...common, predicate: DEMO_JOINT_PREDICATE, mediaPredicate: DEMO_MEDIA_PREDICATE };
    case 'joint-activate': return { kind, countSession: o.countSession ?? '' };
    // lookup: the advertiser's consented customers (all of them), their labels as CSV
    case 'lookup': return { kind, idType: 'phone', decoyRatio: o.decoyRatio };
    default: return { kind };
  }
}

/** One line on what a finished session of `kind` produced. */
export function summaryLine(kind: SessionKind, r: Record<string, any>): string {
  if (r.outcome !== 'COMPLETED') return `${r.outcome}: ${r.reason ?? ''}`;
  switch (kind) {
    case 'profile': {
      const top = [...(r.insight as any[])].sort((x, y) => y.share / Math.max(1e-9, y.universeShare) - x.share / Math.max(1e-9, x.universeShare)).slice(0, 3);
      return `cohort of ${r.cohortSize} (noised); over-indexed: ${top.map((t) => `${t.name} ${(100 * t.share).toFixed(0)}% (vs ${(100 * t.universeShare).toFixed(0)}%)`).join(', ')}`;
    }
    case 'joint-count': return `joint ${r.counts?.joint}, advertiser side alone ${r.counts?.advertiserOnly}, media side alone ${r.counts?.mediaOnly} (all noised)`;
    case 'retargeting':
    case 'joint-activate': return r.audience ? `audience ${r.audience.audienceId}: ${r.audience.size} users (noised size)` : 'no audience';
    case 'lookup': return `${r.labelled} of ${r.ids?.valid} IDs labelled (consenting media users; nothing for the others), padded set ${r.paddedSize}${r.csv ? `, labels in ${r.csv}` : ''}`;
    default: return `${r.outcome}`;
  }
}

/**
 * The attack tests' view of a session: what media received in it, and its result. The
 * nodes come from the shared in-memory cluster (test/unit/nodes.ts).
 */
import type { LookalikeRequest } from '../../services/advertiser/src/node.ts';
import type { Cluster } from '../unit/nodes.ts';
import type { Received } from './attack.ts';

export { cluster } from '../unit/nodes.ts';

export interface SessionOutcome {
  sessionId: string;
  status: string;
  outcome: string;
  result: { cohortSize: number; insight: { name: string; total: number }[] };
  /** What media received in this session (its universe sync excluded). */
  mediaReceived: Received[];
}

/** Runs one session; throws if it failed (a refusal by the privacy controls is an outcome, not a failure). */
export async function runSession(c: Cluster, req: LookalikeRequest = {}): Promise<SessionOutcome> {
  const { sessionId, done } = c.advertiser.start({ audienceSize: 500, ...req });
  const rec = await done;
  if (rec.status === 'failed' || rec.status === 'running') throw new Error(`session ${sessionId} ended ${rec.status}: ${rec.error ?? ''}`);
  const result = rec.result as SessionOutcome['result'] & { outcome: string };
  return { sessionId, status: rec.status, outcome: result.outcome, result, mediaReceived: c.received.media.get(sessionId) ?? [] };
}

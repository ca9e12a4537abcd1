/**
 * The auditor's budget check over a directory of sessions: every privacy charge the broker
 * signed into its transcripts, added up per (advertiser, media, epoch), never exceeds the
 * budget it declared.
 *
 * What the broker signs (rpc/channel.ts): at OPEN, with its policy, `ledger` = {advertiser,
 * media, epoch, budget, refreshMs, reserved, spentBefore}; at the end `ledgerSettlement` =
 * {charged, spentAfter, budget}. A session with no settlement (it failed, or the broker
 * died) counts its whole reservation, as the ledger does. Checks, per key, in the order the
 * sessions opened:
 *   - reserved + spentBefore ≤ budget (the broker refused what would exceed it);
 *   - the charges of the sessions present, added up (within the refresh period when there
 *     is one), never exceed the budget — whatever spentBefore the broker claimed;
 *   - spentBefore is never less than the charges of the earlier sessions present (a broker
 *     that "forgets" charges is caught; sessions missing from the directory only make the
 *     broker's figure larger).
 * Only entries whose signature verifies under the broker's pinned key count.
 */
import { basename, dirname } from 'node:path';
import { keyFor, verifySignature, type TrustBundle } from '../crypto/dsse.ts';
import { POLICY_TYPE, policySigningBody, readTranscript, signatureBytes } from './writer.ts';

export interface BudgetSession {
  sessionId: string;
  openedAt: string;
  key: string;
  budget: number;
  refreshMs: number;
  reserved: number;
  spentBefore: number;
  charged: number;
  settled: boolean;
}

export interface BudgetReport {
  ok: boolean;
  sessions: BudgetSession[];
  keys: { key: string; budget: number; sessions: number; charged: number }[];
  problems: string[];
}

const EPS = 1e-9;

export function verifyBudget(groups: ReadonlyMap<string, readonly string[]>, trust: TrustBundle): BudgetReport {
  const sessions: BudgetSession[] = [];
  const problems: string[] = [];
  for (const [sid, files] of groups) {
    const file = files.find((f) => basename(f) === 'broker.jsonl');
    if (!file) continue;
    const read = readTranscript(file);
    let open: Record<string, unknown> | undefined;
    let settlement: Record<string, unknown> | undefined;
    let openedAt = '';
    for (const { entry } of read.entries) {
      if (entry.kind === undefined && !openedAt) openedAt = String((entry.statement as { sentAt?: string }).sentAt ?? '');
      if (entry.kind !== 'policy') continue;
      const ok = entry.party === 'broker' && safeVerify(trust, entry.sessionId, entry.policy, entry.signature.sig);
      if (!ok) continue;
      const p = entry.policy as Record<string, unknown>;
      if (isObject(p.ledger)) open = p.ledger;
      if (isObject(p.ledgerSettlement)) settlement = p.ledgerSettlement;
    }
    if (!open) continue;
    const key = `${String(open.advertiser)}|${String(open.media)}|${String(open.epoch)}`;
    const reserved = Number(open.reserved);
    sessions.push({
      sessionId: basename(dirname(file)) || sid, openedAt, key, budget: Number(open.budget), refreshMs: Number(open.refreshMs ?? 0),
      reserved, spentBefore: Number(open.spentBefore), charged: settlement ? Math.min(reserved, Number(settlement.charged)) : reserved, settled: settlement !== undefined,
    });
  }
  sessions.sort((a, b) => a.openedAt.localeCompare(b.openedAt) || a.sessionId.localeCompare(b.sessionId));
  const keys = new Map<string, { budget: number; charged: number; sessions: number }>();
  const seen: BudgetSession[] = [];
  for (const s of sessions) {
    if (s.reserved > 0 && s.spentBefore + s.reserved > s.budget + EPS) {
      problems.push(`${s.sessionId}: reserved ${s.reserved} ε on top of ${s.spentBefore} spent, above the budget ${s.budget}`);
    }
    const t = Date.parse(s.openedAt);
    const earlier = seen.filter((x) => x.key === s.key && (s.refreshMs <= 0 || Date.parse(x.openedAt) > t - s.refreshMs));
    const before = earlier.reduce((a, x) => a + x.charged, 0);
    if (s.spentBefore + EPS < before) {
      problems.push(`${s.sessionId}: the broker declared ${s.spentBefore} ε spent before it, but the earlier sessions here were charged ${round6(before)}`);
    }
    if (before + s.charged > s.budget + EPS) {
      problems.push(`${s.sessionId}: charges add up to ${round6(before + s.charged)} ε, above the budget ${s.budget}`);
    }
    seen.push(s);
    const k = keys.get(s.key) ?? { budget: s.budget, charged: 0, sessions: 0 };
    k.charged = round6(k.charged + s.charged);
    k.sessions++;
    k.budget = s.budget;
    keys.set(s.key, k);
  }
  return { ok: problems.length === 0, sessions, keys: [...keys].map(([key, v]) => ({ key, ...v })), problems };
}

export function formatBudget(r: BudgetReport): string {
  const lines = [`privacy budget: ${r.ok ? 'OK' : 'FAILED'} — ${r.sessions.length} charged session(s)`];
  for (const k of r.keys) lines.push(`  ${k.key}: ${k.charged} of ${k.budget} ε over ${k.sessions} session(s)`);
  for (const p of r.problems) lines.push(`  FAIL ${p}`);
  return lines.join('\n');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function safeVerify(trust: TrustBundle, sessionId: string, policy: object, sigB64: string): boolean {
  try {
    return verifySignature(keyFor(trust, 'broker'), POLICY_TYPE, policySigningBody('broker', sessionId, policy), signatureBytes({ keyid: '', sig: sigB64 }));
  } catch {
    return false;
  }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

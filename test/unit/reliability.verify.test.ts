/**
 * Issue 9, items 4 and 5, on transcripts the nodes write themselves (three nodes in memory):
 * every transcript in the directory verifies by its own rules (sessions and universe syncs);
 * the verifier states each session's outcome, reports a missing final message (the
 * advertiser's last line deleted) and a killed session as incomplete, and an aborted one as
 * aborted, naming who aborted during which round.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { formatReport, verifyPaths, type AuditReport } from '@cleanroom/shared/transcript/verify.ts';
import type { TrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { makeWorld, type World } from './world.ts';
import { memoryCluster } from './memory-cluster.ts';

const failed = (r: AuditReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);

describe('the auditor sees what happened (issue 9, items 4-5)', () => {
  let w: World;
  let trust: TrustBundle;
  let dir: string;
  let sessionId: string;
  beforeAll(async () => {
    w = await makeWorld({ universeSize: 4000, crmSize: 600 });
    trust = w.identities.media.trust;
    const c = memoryCluster(w, { minCohort: 10 });
    await c.broker.syncUniverse();
    await c.broker.syncUniverse(); // two universe syncs, each its own transcript pair
    const s = c.advertiser.start({ audienceSize: 200, minCohort: 10 });
    sessionId = s.sessionId;
    expect((await s.done).status).toBe('completed');
    c.close();
    dir = c.transcriptDir;
  });

  /** A fresh copy of one session's directory. */
  const copy = (sid: string): string => {
    const to = join(mkdtempSync(join(tmpdir(), 'cleanroom-audit-')), sid);
    cpSync(join(dir, sid), to, { recursive: true });
    return to;
  };
  const lines = (path: string) => readFileSync(path, 'utf8').split('\n').slice(0, -1);
  const writeLines = (path: string, ls: string[]) => writeFileSync(path, ls.map((l) => `${l}\n`).join(''));

  it('item 5: every transcript the nodes wrote verifies — the session and both universe syncs, each by its own rules', () => {
    const reports = verifyPaths([dir], trust);
    expect(reports).toHaveLength(3);
    for (const r of reports) expect(r.ok, formatReport(r)).toBe(true);
    const universe = reports.filter((r) => r.kind === 'universe');
    expect(universe).toHaveLength(2);
    for (const r of universe) {
      expect(r.sessionId).toMatch(/^universe-/);
      expect(r.outcome.state).toBe('completed');
      expect(r.checks.find((c) => c.name === 'policy')!.detail).toMatch(/no policy required/);
    }
    const session = reports.find((r) => r.sessionId === sessionId)!;
    expect(session.kind).toBe('session');
    expect(session.outcome.state).toBe('completed');
    expect(formatReport(session)).toMatch(/^session .*: OK, COMPLETED/);
  });

  it('items 4-5 at the command line: `audit verify DIR/*` passes on what the nodes wrote, and exits 1 naming INCOMPLETE on a cut transcript', async () => {
    const bundle = join(mkdtempSync(join(tmpdir(), 'cleanroom-trust-')), 'trust-bundle.json');
    writeFileSync(bundle, JSON.stringify(trust));
    const audit = (paths: string[]) => new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [join(import.meta.dirname, '../../cli/src/main.ts'), 'audit', 'verify', '--trust', bundle, ...paths], (err, stdout) => {
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, out: stdout });
      });
    });
    const all = await audit(readdirSync(dir).map((d) => join(dir, d)));
    expect(all.code, all.out).toBe(0);
    expect(all.out).toMatch(/^universe sync universe-\S+: OK, COMPLETED/m);
    expect(all.out).toMatch(/^3 of 3 session\(s\) verified$/m);
    const d = copy(sessionId);
    writeLines(join(d, 'advertiser.jsonl'), lines(join(d, 'advertiser.jsonl')).slice(0, -1));
    const cut = await audit([d]);
    expect(cut.code).toBe(1);
    expect(cut.out).toMatch(/^session \S+: INCOMPLETE \(incomplete: final message broker->advertiser LOOKALIKE/m);
  });

  it('item 5: a look-alike session\'s transcript slipped into a universe sync fails', () => {
    const sid = readdirSync(dir).find((d) => d.startsWith('universe-'))!;
    const d = copy(sid);
    // a look-alike session's media transcript presented as a universe sync: wrong rounds, and a policy
    writeFileSync(join(d, 'media.jsonl'), readFileSync(join(dir, sessionId, 'media.jsonl')));
    const r = verifyPaths([d], trust)[0]!;
    expect(r.ok).toBe(false);
    expect(failed(r)).toContain('session');
  });

  it('item 4: the advertiser\'s last line (the received SessionResult) deleted → not OK, the missing final message named', () => {
    const d = copy(sessionId);
    const adv = join(d, 'advertiser.jsonl');
    const ls = lines(adv);
    expect(JSON.parse(ls.at(-1)!).statement).toMatchObject({ round: 'LOOKALIKE', sender: 'broker', receiver: 'advertiser' });
    writeLines(adv, ls.slice(0, -1));
    const r = verifyPaths([d], trust)[0]!;
    expect(r.ok).toBe(false);
    expect(r.outcome.state).toBe('incomplete');
    expect(failed(r)).toEqual(['completion']);
    expect(r.firstFailure).toMatchObject({ file: adv, line: ls.length - 1 });
    expect(r.firstFailure!.reason).toMatch(/advertiser\.jsonl does not record the final message broker->advertiser LOOKALIKE SessionResult seq \d+ as received/);
    expect(formatReport(r)).toMatch(/: INCOMPLETE \(incomplete: final message/);
  });

  it('item 4: a killed session (every transcript ends before TOKENS, no ABORT) → incomplete, not OK', () => {
    const d = copy(sessionId);
    for (const p of ['advertiser', 'media', 'broker']) {
      const ls = lines(join(d, `${p}.jsonl`));
      const cut = ls.findIndex((l) => ['TOKENS', 'AGGREGATE'].includes(JSON.parse(l).statement?.round)); // media sees no TOKENS: its first message after BLIND is the profile
      writeLines(join(d, `${p}.jsonl`), ls.slice(0, cut));
    }
    const r = verifyPaths([d], trust)[0]!;
    expect(r.ok).toBe(false);
    expect(r.outcome.state).toBe('incomplete');
    expect(failed(r)).toEqual(['completion']);
    expect(r.outcome.detail).toMatch(/no final message; last recorded: .*BLIND/);
  });

  it('item 4: an aborted session → verifies, and says aborted, by whom, during which round', async () => {
    const c = memoryCluster(w, {
      minCohort: 10,
      wrap: (name, peer) => name !== 'media' ? peer : {
        call: async (method, req, ms) => {
          if (method === 'Evaluate') throw new ProtocolError('UNAVAILABLE', 'media went away during BLIND (test)');
          return peer.call(method, req, ms);
        },
      },
    });
    await c.broker.syncUniverse();
    const s = c.advertiser.start({ audienceSize: 200, minCohort: 10 });
    expect((await s.done).status).toBe('failed');
    c.close();
    const r = verifyPaths([join(c.transcriptDir, s.sessionId)], trust)[0]!;
    expect(r.ok, formatReport(r)).toBe(true);
    expect(r.outcome.state).toBe('aborted');
    expect(r.outcome.detail).toMatch(/^aborted by broker \(ABORT to media during BLIND, broker\.jsonl:\d+; then advertiser->broker\)/);
    expect(formatReport(r)).toMatch(/: OK, ABORTED \(aborted: aborted by broker/);
  });
});

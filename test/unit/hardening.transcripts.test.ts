/**
 * Trust and audit hardening, the auditor's side: transcripts of a REAL session (the three
 * nodes in one process over in-memory peers, as session.memory.test.ts runs them), copied and
 * tampered, then verified with verifySession and the pinned trust bundle.
 *   H7  an entry altered (a signed field; an unsigned field; a signed field with the hash chain
 *       re-computed by the forger), two entries reordered (raw; re-chained), an entry deleted,
 *       the file cut mid-entry, the file's last entries cut off → the verifier fails, and
 *       `firstFailure` names the exact file and line;
 *   H8  media's transcript shows a statement for a broker→media slot that the broker re-signed
 *       with its real key, different from what the broker's own transcript says it sent →
 *       'equivocation' reported with both signed statements as evidence; the same edit without
 *       the broker's key is a 'conflict' plus a bad signature, not an equivocation.
 * The untampered copies verify, so every failure is the tampering's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import { canonicalBytes, canonicalize, parseStrict } from '@cleanroom/shared/crypto/jcs.ts';
import { STATEMENT_TYPE, SigningKey, toBase64, type TrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { sha256Hex, ZERO_HASH } from '@cleanroom/shared/transcript/writer.ts';
import type { Statement } from '@cleanroom/shared/transcript/statement.ts';
import { verifySession, type AuditReport } from '@cleanroom/shared/transcript/verify.ts';
import { makeWorld, type World } from './world.ts';
import { tempDir } from './hardening.fixtures.ts';
import { cluster } from './nodes.ts';

const PARTIES: readonly Party[] = ['advertiser', 'broker', 'media'];

type Entry = Record<string, unknown> & { index: number; prev: string; direction?: string; statement?: Statement; signature?: { keyid: string; sig: string } };

/** Runs one session to completion; returns its transcript directory. */
async function runSession(w: World): Promise<{ dir: string; sessionId: string }> {
  const { media, broker, advertiser, transcriptDir } = cluster(w, { policy: { minCohort: 10, noiseScale: 0 } });
  try {
    await broker.syncUniverse();
    // decoy ratio 49: a padded set above 16,384 elements, so media's BLIND reply is chunked
    const { sessionId, done } = advertiser.start({ audienceSize: 100, minCohort: 10, decoyRatio: 49 });
    const rec = await done;
    if (rec.status !== 'completed') throw new Error(`expected the fixture session to complete, got ${rec.status}: ${rec.error}`);
    return { dir: join(transcriptDir, sessionId), sessionId };
  } finally {
    media.close();
    broker.close();
    advertiser.close();
  }
}

describe('tampered transcripts of a real session', () => {
  let w: World;
  let trust: TrustBundle;
  let source: { dir: string; sessionId: string };
  beforeAll(async () => {
    w = await makeWorld({ universeSize: 3000, crmSize: 800 });
    trust = w.identities.media.trust;
    source = await runSession(w);
  });

  /** Fresh copies of the three transcripts in `<tmp>/<sessionId>/<party>.jsonl`. */
  function copies(): Record<Party, string> {
    const dir = join(tempDir('audit'), source.sessionId);
    mkdirSync(dir);
    const out = {} as Record<Party, string>;
    for (const p of PARTIES) {
      out[p] = join(dir, `${p}.jsonl`);
      copyFileSync(join(source.dir, `${p}.jsonl`), out[p]);
    }
    return out;
  }
  const lines = (path: string): string[] => readFileSync(path, 'utf8').split('\n').slice(0, -1);
  const writeLines = (path: string, ls: string[]): void => writeFileSync(path, ls.map((l) => l + '\n').join(''));
  const entries = (path: string): Entry[] => lines(path).map((l) => parseStrict(l) as Entry);
  /** Writes entries canonically, re-computing `index` and the `prev` chain as a forger would. */
  const writeRechained = (path: string, es: Entry[]): void => {
    let prev = ZERO_HASH;
    writeLines(path, es.map((e, i) => {
      const line = canonicalize({ ...e, index: i, prev });
      prev = sha256Hex(new TextEncoder().encode(line));
      return line;
    }));
  };
  const verify = (f: Record<Party, string>): AuditReport => verifySession(PARTIES.map((p) => f[p]), trust);
  /** 1-based line of the first message entry of `path` matching the predicate. */
  const lineOf = (path: string, pred: (e: Entry) => boolean): number => {
    const i = entries(path).findIndex((e) => e.statement !== undefined && pred(e));
    expect(i).toBeGreaterThanOrEqual(0);
    return i + 1;
  };
  const mediaReceivedBlind = (e: Entry) => e.direction === 'received' && e.statement!.round === 'BLIND';
  const failedChecks = (r: AuditReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);

  it('control: the untampered copies verify', () => {
    const f = copies();
    const r = verify(f);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.sessionId).toBe(source.sessionId);
    expect(entries(f.media).length).toBeGreaterThan(8);
  });

  it('H7 a signed field of one entry altered → fails at that entry (bad signature)', () => {
    const f = copies();
    const L = lineOf(f.media, mediaReceivedBlind);
    const ls = lines(f.media);
    const e = parseStrict(ls[L - 1]!) as Entry;
    e.statement = { ...e.statement!, payloadSize: e.statement!.payloadSize + 32 };
    ls[L - 1] = canonicalize(e);
    writeLines(f.media, ls);
    const r = verify(f);
    expect(r.ok).toBe(false);
    expect(r.firstFailure).toMatchObject({ file: f.media, line: L });
    expect(r.firstFailure!.reason).toMatch(/^signatures: bad signature: statement broker->media BLIND/);
  });

  it('H7 a signed field altered and the whole hash chain re-computed by the forger → still fails at that entry', () => {
    const f = copies();
    const L = lineOf(f.media, mediaReceivedBlind);
    const es = entries(f.media);
    es[L - 1]!.statement = { ...es[L - 1]!.statement!, payloadSha256: sha256Hex(new TextEncoder().encode('other payload')) };
    writeRechained(f.media, es);
    const r = verify(f);
    expect(failedChecks(r)).not.toContain('chain');
    expect(r.firstFailure).toMatchObject({ file: f.media, line: L });
    expect(r.firstFailure!.reason).toMatch(/^signatures: bad signature/);
  });

  it('H7 an unsigned field (recordedAt) altered → the chain fails at the next entry, naming the altered one', () => {
    const f = copies();
    const L = lineOf(f.broker, (e) => e.direction === 'sent' && e.statement!.round === 'BLIND');
    const ls = lines(f.broker);
    const e = parseStrict(ls[L - 1]!) as Entry;
    e.recordedAt = '2001-01-01T00:00:00.000Z';
    ls[L - 1] = canonicalize(e);
    writeLines(f.broker, ls);
    const r = verify(f);
    expect(r.firstFailure).toMatchObject({ file: f.broker, line: L + 1 });
    expect(r.firstFailure!.reason).toContain(`(SHA-256 of line ${L})`);
    expect(r.firstFailure!.reason).toContain(`line ${L} was altered`);
  });

  it('H7 two entries reordered → fails at the first of them', () => {
    const f = copies();
    const L = lineOf(f.media, mediaReceivedBlind);
    const ls = lines(f.media);
    [ls[L - 1], ls[L]] = [ls[L]!, ls[L - 1]!];
    writeLines(f.media, ls);
    const r = verify(f);
    expect(r.firstFailure).toMatchObject({ file: f.media, line: L });
    expect(r.firstFailure!.reason).toMatch(/^chain: expected index .*reordered/);
  });

  it('H7 two chunks of one message reordered and re-chained → the sequence check fails at the first moved entry', () => {
    const f = copies();
    // media's evaluated BLIND batch: several chunks, sent in a row
    const L = lineOf(f.media, (e) => e.direction === 'sent' && e.statement!.round === 'BLIND' && e.statement!.chunk === 0);
    const es = entries(f.media);
    expect(es[L]!.statement!.chunk).toBe(1);
    [es[L - 1], es[L]] = [es[L]!, es[L - 1]!];
    writeRechained(f.media, es);
    const r = verify(f);
    expect(failedChecks(r)).toEqual(['sequence']);
    expect(r.firstFailure).toMatchObject({ file: f.media, line: L });
    expect(r.firstFailure!.reason).toMatch(/^sequence: expected seq \d+ on media->broker \(sent\), got \d+: a gap/);
  });

  it('H7 an entry deleted → fails at its position', () => {
    const f = copies();
    const L = lineOf(f.advertiser, (e) => e.direction === 'received' && e.statement!.round === 'BLIND');
    const ls = lines(f.advertiser);
    ls.splice(L - 1, 1);
    writeLines(f.advertiser, ls);
    const r = verify(f);
    expect(r.firstFailure).toMatchObject({ file: f.advertiser, line: L });
    expect(r.firstFailure!.reason).toMatch(new RegExp(`^chain: expected index ${L - 1}, got ${L}: lines were deleted`));
  });

  it('H7 the file cut in the middle of an entry → fails at that entry', () => {
    const f = copies();
    const L = lineOf(f.media, mediaReceivedBlind);
    const ls = lines(f.media).slice(0, L);
    const cut = ls.slice(0, L - 1).map((l) => l + '\n').join('') + ls[L - 1]!.slice(0, Math.floor(ls[L - 1]!.length / 2));
    writeFileSync(f.media, cut);
    const r = verify(f);
    expect(r.firstFailure).toMatchObject({ file: f.media, line: L });
    expect(r.firstFailure!.reason).toMatch(/^format: truncated/);
  });

  it("H7 the file's last entries cut off at a line boundary → the peer's record of the first lost message is named", () => {
    const f = copies();
    const ls = lines(f.media);
    const keep = ls.length - 2; // media's last exchange (the final checkpoint proposal and its co-signature) is lost
    const lost = entries(f.media).slice(keep).filter((e) => e.direction === 'sent').map((e) => canonicalize(e.statement!));
    expect(lost).toHaveLength(1);
    writeLines(f.media, ls.slice(0, keep));
    // where the broker recorded receiving it
    const expected = lineOf(f.broker, (e) => e.direction === 'received' && lost.includes(canonicalize(e.statement!)));
    const r = verify(f);
    expect(r.ok).toBe(false);
    expect(r.firstFailure).toMatchObject({ file: f.broker, line: expected });
    expect(r.firstFailure!.reason).toMatch(/^equivocation: broker recorded a statement from media .* never recorded as sent/);
  });

  /** Media's transcript now shows a different statement for the broker's PrepareSession slot. */
  function substitutePrepareSession(f: Record<Party, string>, signer: SigningKey): { L: number; original: Statement; forged: Statement } {
    const es = entries(f.media);
    const L = lineOf(f.media, (e) => e.direction === 'received' && e.statement!.round === 'OPEN');
    const original = es[L - 1]!.statement!;
    const forged: Statement = { ...original, payloadSha256: sha256Hex(new TextEncoder().encode('a different PrepareSession')), payloadSize: original.payloadSize + 7 };
    const { keyid, sig } = signer.sign(STATEMENT_TYPE, canonicalBytes(forged));
    es[L - 1] = { ...es[L - 1]!, statement: forged, signature: { keyid, sig: toBase64(sig) } };
    writeRechained(f.media, es);
    return { L, original, forged };
  }

  it("H8 the broker told media something else than its own transcript records (re-signed with the broker's real key) → equivocation with both statements", () => {
    const f = copies();
    const { L, original, forged } = substitutePrepareSession(f, w.identities.broker.key);
    const r = verify(f);
    expect(r.ok).toBe(false);
    expect(failedChecks(r)).toEqual(['equivocation']); // every signature is genuine, every file intact
    expect(r.firstFailure).toMatchObject({ file: f.media, line: L });
    expect(r.firstFailure!.reason).toMatch(/^equivocation: EQUIVOCATION: broker signed 2 different statements for slot .*broker->media\|OPEN\|seq 0\|chunk 0/);
    const ev = (r.evidence ?? []) as { kind: string; statements?: { statement: Statement; signatureValid: boolean; statementSha256: string; recordedBy: { file: string; party: string; direction: string }[] }[] }[];
    const eq = ev.filter((e) => e.kind === 'equivocation');
    expect(eq).toHaveLength(1);
    const stmts = eq[0]!.statements!;
    expect(stmts).toHaveLength(2);
    expect(stmts.every((s) => s.signatureValid)).toBe(true);
    const byParty = Object.fromEntries(stmts.map((s) => [`${s.recordedBy[0]!.party}/${s.recordedBy[0]!.direction}`, s]));
    expect(byParty['broker/sent']!.statement).toEqual(original);
    expect(byParty['media/received']!.statement).toEqual(forged);
    expect(byParty['media/received']!.statementSha256).toBe(sha256Hex(canonicalBytes(forged)));
  });

  it('H8 contrast: the same substitution signed by a key other than the broker\'s → bad signature and a conflict, not an equivocation', () => {
    const f = copies();
    const { L } = substitutePrepareSession(f, SigningKey.generate());
    const r = verify(f);
    expect(r.firstFailure).toMatchObject({ file: f.media, line: L });
    expect(r.firstFailure!.reason).toMatch(/^signatures: bad signature/);
    const kinds = ((r.evidence ?? []) as { kind: string }[]).map((e) => e.kind);
    expect(kinds).toContain('conflict');
    expect(kinds).not.toContain('equivocation');
  });
});

// Transcript audit: a small fake session written by TranscriptWriter with real Ed25519
// keys, then every kind of tampering the verifier promises to catch — each failing at the
// exact file and line — and equivocation reported with both signed statements as evidence.
import { beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, statSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { canonicalBytes, canonicalize, parseStrict } from '../crypto/jcs.ts';
import { STATEMENT_TYPE, SigningKey, makeTrustBundle, type PartyName, type TrustBundle } from '../crypto/dsse.ts';
import { merkleRoot } from '../crypto/merkle.ts';
import { TranscriptWriter, readTranscript, type RoundName } from './writer.ts';
import { CHECKPOINT_TYPE, checkpointSigningBody } from './checkpoint.ts';
import { formatReport, timeline, verifyPaths, verifySession, type AuditReport } from './verify.ts';

const SESSION = 's-0001';
const PARTY_LIST: PartyName[] = ['advertiser', 'media', 'broker'];

interface Harness {
  dir: string;
  keys: Record<PartyName, SigningKey>;
  trust: TrustBundle;
  writers: Record<PartyName, TranscriptWriter>;
  seq: Map<string, number>;
  clock: number;
}

function sha(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

function harness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'transcripts-'));
  const keys = { advertiser: SigningKey.generate(), media: SigningKey.generate(), broker: SigningKey.generate() };
  const trust = makeTrustBundle({ advertiser: keys.advertiser.publicKey, media: keys.media.publicKey, broker: keys.broker.publicKey });
  const h = { dir, keys, trust, seq: new Map<string, number>(), clock: Date.parse('2026-01-01T00:00:00Z') } as Harness;
  const now = () => new Date((h.clock += 1000));
  h.writers = {
    advertiser: TranscriptWriter.open(dir, 'advertiser', SESSION, { now }),
    media: TranscriptWriter.open(dir, 'media', SESSION, { now }),
    broker: TranscriptWriter.open(dir, 'broker', SESSION, { now }),
  };
  return h;
}

interface SendOptions {
  chunk?: number;
  last?: boolean;
  signWith?: SigningKey; // a wrong or unknown key
  keyidHint?: string;
  /** what the sender records instead of what it sends (equivocation) */
  senderRecords?: Uint8Array;
  senderRecordsNothing?: boolean;
}

function statementBytes(h: Harness, from: PartyName, to: PartyName, round: RoundName, type: string, payload: string, seq: number, o: SendOptions = {}): Uint8Array {
  return canonicalBytes({
    v: 1, sessionId: SESSION, round, sender: from, receiver: to, seq, chunk: o.chunk ?? 0, last: o.last ?? true,
    payloadType: `cleanroom.v1.${type}`, payloadSha256: sha(payload), payloadSize: payload.length,
    sentAt: new Date(h.clock).toISOString(),
  });
}

function send(h: Harness, from: PartyName, to: PartyName, round: RoundName, type: string, payload: string, o: SendOptions = {}): void {
  const link = `${from}->${to}`;
  const seq = h.seq.get(link) ?? 0;
  h.seq.set(link, seq + 1);
  h.clock += 500;
  const bytes = statementBytes(h, from, to, round, type, payload, seq, o);
  const key = o.signWith ?? h.keys[from];
  const signature = key.sign(STATEMENT_TYPE, bytes);
  if (o.keyidHint) signature.keyid = o.keyidHint;
  if (!o.senderRecordsNothing) {
    const recorded = o.senderRecords ?? bytes;
    h.writers[from].appendMessage('sent', recorded, o.senderRecords ? key.sign(STATEMENT_TYPE, recorded) : signature);
  }
  h.writers[to].appendMessage('received', bytes, signature);
}

const POLICY = { decoyRatio: 9, minCohort: 50, noiseScale: 1.5, sizeBuckets: [1000, 10000, 100000], evaluationQuota: 200000 };

/** The happy path of one look-alike session; `tweak` may replace single messages. */
function runSession(h: Harness, tweak: (step: string) => SendOptions | undefined = () => undefined, policies: Partial<Record<PartyName, object>> = {}): string[] {
  for (const p of PARTY_LIST) {
    h.writers[p].appendPolicy({ ...POLICY, keyFingerprints: { advertiser: h.keys.advertiser.keyid, media: h.keys.media.keyid, broker: h.keys.broker.keyid }, ...policies[p] }, h.keys[p]);
  }
  const step = (name: string, from: PartyName, to: PartyName, round: RoundName, type: string, payload: string, base: SendOptions = {}) =>
    send(h, from, to, round, type, payload, { ...base, ...tweak(name) });
  step('open', 'advertiser', 'broker', 'OPEN', 'OpenSession', 'open');
  step('prepare', 'broker', 'media', 'OPEN', 'PrepareSession', 'prepare');
  step('ready', 'media', 'broker', 'OPEN', 'SessionReady', 'ready');
  step('accepted', 'broker', 'advertiser', 'OPEN', 'SessionAccepted', 'accepted');
  step('blind', 'advertiser', 'broker', 'BLIND', 'BlindedBatch', 'blinded');
  step('padded', 'broker', 'media', 'BLIND', 'BlindedBatch', 'padded');
  step('evaluated0', 'media', 'broker', 'BLIND', 'BlindedBatch', 'evaluated-part-0', { chunk: 0, last: false });
  step('evaluated1', 'media', 'broker', 'BLIND', 'BlindedBatch', 'evaluated-part-1', { chunk: 1, last: true });
  step('evaluated-a', 'broker', 'advertiser', 'BLIND', 'BlindedBatch', 'evaluated-a');
  step('tokens', 'advertiser', 'broker', 'TOKENS', 'TokenBatch', 'tokens');
  step('aggregate', 'broker', 'media', 'AGGREGATE', 'CohortProfile', 'profile');
  step('lookalike', 'media', 'broker', 'LOOKALIKE', 'LookalikeResult', 'audience');
  step('relay', 'broker', 'advertiser', 'LOOKALIKE', 'SessionResult', 'audience-a');
  // every party checkpoints its own view; the broker's checkpoint is co-signed by all three
  for (const p of PARTY_LIST) {
    const w = h.writers[p];
    const leaves = w.leaves();
    const root = Buffer.from(merkleRoot(leaves)).toString('hex');
    const body = checkpointSigningBody({ sessionId: SESSION, treeSize: leaves.length, root, afterRound: 'LOOKALIKE' });
    const signers = p === 'broker' ? PARTY_LIST : [p];
    w.appendCheckpoint({
      treeSize: leaves.length, root, afterRound: 'LOOKALIKE',
      cosignatures: signers.map((s) => ({ party: s, ...h.keys[s].sign(CHECKPOINT_TYPE, body) })),
    });
  }
  for (const p of PARTY_LIST) h.writers[p].close();
  return PARTY_LIST.map((p) => join(h.dir, SESSION, `${p}.jsonl`));
}

function fileOf(h: Harness, p: PartyName): string {
  return join(h.dir, SESSION, `${p}.jsonl`);
}

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').slice(0, -1);
}

function writeLines(path: string, ls: string[]): void {
  writeFileSync(path, ls.map((l) => l + '\n').join(''));
}

/** Edit entries and re-chain (index, prev) so only the semantic check under test fails. */
function editAndRechain(path: string, edit: (entries: Record<string, unknown>[]) => Record<string, unknown>[]): void {
  const entries = edit(lines(path).map((l) => parseStrict(l) as Record<string, unknown>));
  let prev = '0'.repeat(64);
  const out = entries.map((e, i) => {
    const line = canonicalize({ ...e, index: i, prev });
    prev = sha(line);
    return line;
  });
  writeLines(path, out);
}

function failed(r: AuditReport): string[] {
  return r.checks.filter((c) => !c.ok).map((c) => c.name);
}

describe('a valid session', () => {
  let h: Harness;
  let files: string[];
  beforeEach(() => {
    h = harness();
    files = runSession(h);
  });

  it('verifies: every check ok', () => {
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.sessionId).toBe(SESSION);
    expect(r.firstFailure).toBeUndefined();
    expect(formatReport(r)).toMatch(/^session s-0001: OK/);
  });

  it('writes canonical, chained lines in <dir>/<session>/<party>.jsonl', () => {
    // policy + messages this party sent or received + checkpoint
    expect(lines(fileOf(h, 'broker'))).toHaveLength(1 + 13 + 1);
    expect(lines(fileOf(h, 'advertiser'))).toHaveLength(1 + 6 + 1);
    expect(lines(fileOf(h, 'media'))).toHaveLength(1 + 7 + 1);
    let prev = '0'.repeat(64);
    lines(fileOf(h, 'media')).forEach((l, i) => {
      const e = parseStrict(l) as { index: number; prev: string };
      expect(canonicalize(e)).toBe(l);
      expect(e.index).toBe(i);
      expect(e.prev).toBe(prev);
      prev = sha(l);
    });
  });

  it('verifyPaths finds sessions under a transcript directory and a session directory', () => {
    const h2 = harness();
    runSession(h2);
    expect(verifyPaths([h.dir], h.trust).map((r) => [r.sessionId, r.ok])).toEqual([[SESSION, true]]);
    expect(verifyPaths([join(h.dir, SESSION)], h.trust)[0]!.ok).toBe(true);
    // the same session verified against another trust bundle fails on signatures
    expect(failed(verifyPaths([join(h.dir, SESSION)], h2.trust)[0]!)).toContain('signatures');
  });

  it('timeline lists each message once, in time order, with who recorded it', () => {
    const t = timeline(files);
    expect(t).toMatch(/advertiser → broker\s+OPEN\s+OpenSession\s+4 B {2}seq 0 {2}\[a:s b:r\]/);
    expect(t).toMatch(/media → broker\s+BLIND\s+BlindedBatch\s+16 B {2}seq 2 chunk 1 \(last\)/);
    expect(t.split('\n').filter((l) => l.includes('→'))).toHaveLength(13);
    expect(t).toMatch(/broker\s+checkpoint after LOOKALIKE: 13 messages, root [0-9a-f]{16}…, co-signed by advertiser, media, broker/);
  });

  it('readTranscript reports no problems; the writer never re-opens a finished transcript (ALREADY_EXISTS), the file is untouched', () => {
    const before = readFileSync(fileOf(h, 'media'));
    const r = readTranscript(fileOf(h, 'media'));
    expect(r.problems).toEqual([]);
    expect(() => TranscriptWriter.open(h.dir, 'media', SESSION)).toThrow(expect.objectContaining({ code: 'ALREADY_EXISTS', message: expect.stringMatching(/never reused/) }));
    expect(readFileSync(fileOf(h, 'media')).equals(before)).toBe(true);
  });
});

describe('tampering fails at the exact entry', () => {
  let h: Harness;
  let files: string[];
  beforeEach(() => {
    h = harness();
    files = runSession(h);
  });

  it('one character of one entry changed (statement field) -> bad signature on that line', () => {
    const path = fileOf(h, 'media');
    const ls = lines(path);
    const i = ls.findIndex((l) => l.includes('cleanroom.v1.PrepareSession'));
    expect(ls[i]).toContain('"payloadSize":7');
    ls[i] = ls[i]!.replace('"payloadSize":7', '"payloadSize":8');
    writeLines(path, ls);
    const r = verifySession(files, h.trust);
    expect(r.ok).toBe(false);
    expect(r.firstFailure).toMatchObject({ file: path, line: i + 1 });
    expect(r.firstFailure!.reason).toMatch(/signatures: bad signature/);
    expect(failed(r)).toEqual(expect.arrayContaining(['signatures', 'chain']));
  });

  it('one character changed so the line is no longer JSON -> format failure on that line', () => {
    const path = fileOf(h, 'broker');
    const ls = lines(path);
    ls[5] = ls[5]!.replace('{', '[');
    writeLines(path, ls);
    const r = verifySession(files, h.trust);
    expect(r.firstFailure).toMatchObject({ file: path, line: 6 });
    expect(r.firstFailure!.reason).toMatch(/^format: not strict JSON/);
  });

  it('an unsigned field (recordedAt) changed -> the chain breaks at the next line, naming the altered one', () => {
    const path = fileOf(h, 'advertiser');
    const ls = lines(path);
    ls[2] = ls[2]!.replace(/"recordedAt":"2026/, '"recordedAt":"2027');
    writeLines(path, ls);
    const r = verifySession(files, h.trust);
    expect(r.firstFailure).toMatchObject({ file: path, line: 4 });
    expect(r.firstFailure!.reason).toMatch(/SHA-256 of line 3\), got [0-9a-f]+: line 3 was altered/);
  });

  it('two lines swapped -> fails at the first of them', () => {
    const path = fileOf(h, 'broker');
    const ls = lines(path);
    [ls[4], ls[5]] = [ls[5]!, ls[4]!];
    writeLines(path, ls);
    const r = verifySession(files, h.trust);
    expect(r.firstFailure).toMatchObject({ file: path, line: 5 });
    expect(r.firstFailure!.reason).toMatch(/chain: expected index 4, got 5/);
  });

  it('a line deleted -> fails at that position', () => {
    const path = fileOf(h, 'broker');
    const ls = lines(path);
    ls.splice(7, 1);
    writeLines(path, ls);
    const r = verifySession(files, h.trust);
    expect(r.firstFailure).toMatchObject({ file: path, line: 8 });
    expect(r.firstFailure!.reason).toMatch(/expected index 7, got 8: lines were deleted/);
  });

  it('the last lines deleted -> caught by comparing with the peer transcripts', () => {
    const path = fileOf(h, 'media');
    // drop media's checkpoint, its LOOKALIKE "sent" and its AGGREGATE "received": the chain of
    // the shortened file is intact, but the broker recorded receiving LOOKALIKE from media
    writeLines(path, lines(path).slice(0, -3));
    const r = verifySession(files, h.trust);
    expect(r.ok).toBe(false);
    expect(failed(r)).toEqual(['equivocation', 'completion']);
    expect(r.firstFailure!.reason).toMatch(/media's transcript never recorded as sent/);
  });

  it('file truncated mid-line -> fails at that line', () => {
    const path = fileOf(h, 'advertiser');
    const text = readFileSync(path, 'utf8');
    const ls = text.split('\n');
    const cut = ls.slice(0, 4).join('\n').length + 1 + Math.floor(ls[4]!.length / 2);
    writeFileSync(path, text.slice(0, cut));
    expect(statSync(path).size).toBe(Buffer.byteLength(text.slice(0, cut)));
    const r = verifySession(files, h.trust);
    expect(r.firstFailure).toMatchObject({ file: path, line: 5 });
    expect(r.firstFailure!.reason).toMatch(/format: truncated/);
  });

  it('an inserted line -> fails at it', () => {
    const path = fileOf(h, 'media');
    const ls = lines(path);
    ls.splice(2, 0, ls[2]!);
    writeLines(path, ls);
    const r = verifySession(files, h.trust);
    expect(r.firstFailure).toMatchObject({ file: path, line: 4 });
  });
});

describe('signatures', () => {
  it('a statement signed by an unknown key fails, on both the sender and receiver lines', () => {
    const h = harness();
    const rogue = SigningKey.generate();
    const files = runSession(h, (s) => (s === 'padded' ? { signWith: rogue } : undefined));
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual(['signatures']);
    const d = r.checks.find((c) => c.name === 'signatures')!.detail;
    expect(d).toMatch(/advertiser|broker\.jsonl:\d+: bad signature: statement broker->media BLIND seq 1/);
    expect(d).toMatch(new RegExp(`keyid ${rogue.keyid} is not broker's pinned ${h.keys.broker.keyid}`));
    expect(d).toMatch(/media\.jsonl:\d+: bad signature/);
  });

  it("a signature by another party's key with the right keyid hint fails", () => {
    const h = harness();
    const files = runSession(h, (s) => (s === 'tokens' ? { signWith: h.keys.media, keyidHint: h.keys.advertiser.keyid } : undefined));
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual(['signatures']);
    expect(r.checks.find((c) => c.name === 'signatures')!.detail).toMatch(/keyid [0-9a-f]{16} is advertiser's/);
  });

  it('a correct signature with an unknown keyid hint still verifies (keyid is only a hint)', () => {
    const h = harness();
    const files = runSession(h, (s) => (s === 'tokens' ? { keyidHint: 'ffffffffffffffff' } : undefined));
    const r = verifySession(files, h.trust);
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.name === 'signatures')!.detail).toMatch(/keyid hint ffffffffffffffff, verified under advertiser's pinned key/);
  });

  it('a forged policy signature fails', () => {
    const h = harness();
    const files = runSession(h);
    editAndRechain(fileOf(h, 'media'), (es) => es.map((e) => (e.kind === 'policy' ? { ...e, policy: { ...(e.policy as object), decoyRatio: 9, minCohort: 1 } } : e)));
    const r = verifySession(files, h.trust);
    expect(r.firstFailure).toMatchObject({ file: fileOf(h, 'media'), line: 1 });
    expect(failed(r)).toEqual(expect.arrayContaining(['signatures', 'policy']));
  });
});

describe('equivocation', () => {
  it('the broker records one statement and sends media another for the same slot -> evidence with both', () => {
    const h = harness();
    let other: Uint8Array | undefined;
    const files = runSession(h, (s) => {
      if (s !== 'aggregate') return undefined;
      // same slot (broker->media AGGREGATE seq 2 chunk 0), different payload digest
      other = statementBytes(h, 'broker', 'media', 'AGGREGATE', 'CohortProfile', 'a-different-profile', 2);
      return { senderRecords: other };
    });
    const r = verifySession(files, h.trust);
    expect(r.ok).toBe(false);
    expect(failed(r)).toContain('equivocation');
    expect(r.checks.find((c) => c.name === 'signatures')!.ok).toBe(true); // both are genuinely signed by the broker
    const ev = r.evidence!.find((e) => (e as { kind: string }).kind === 'equivocation') as {
      slot: string;
      statements: { statement: { payloadSha256: string }; signatureValid: boolean; recordedBy: { party: string; direction: string }[] }[];
    };
    expect(ev.slot).toBe(`${SESSION}|broker->media|AGGREGATE|seq 2|chunk 0`);
    expect(ev.statements).toHaveLength(2);
    expect(ev.statements.every((s) => s.signatureValid)).toBe(true);
    expect(ev.statements.map((s) => s.recordedBy[0]!.party).sort()).toEqual(['broker', 'media']);
    expect(new Set(ev.statements.map((s) => s.statement.payloadSha256)).size).toBe(2);
    expect(ev.statements.map((s) => s.statement.payloadSha256)).toContain(sha('a-different-profile'));
    expect(formatReport(r)).toMatch(/EQUIVOCATION: broker signed 2 different statements/);
    expect(formatReport(r)).toMatch(/evidence \(equivocation, s-0001\|broker->media\|AGGREGATE\|seq 2\|chunk 0\)/);
  });

  it('a received statement that the claimed sender never recorded -> reported with evidence', () => {
    const h = harness();
    const files = runSession(h, (s) => (s === 'evaluated-a' ? { senderRecordsNothing: true } : undefined));
    const r = verifySession(files, h.trust);
    expect(failed(r)).toContain('equivocation');
    const ev = r.evidence!.find((e) => (e as { kind: string }).kind === 'unsent') as { slot: string; recordedBy: { party: string }[] };
    expect(ev.slot).toBe(`${SESSION}|broker->advertiser|BLIND|seq 1|chunk 0`);
    expect(ev.recordedBy[0]!.party).toBe('advertiser');
    // and the broker's own link now skips seq 1
    expect(failed(r)).toContain('sequence');
  });

  it('two different statements for one slot inside one transcript -> equivocation', () => {
    const h = harness();
    const files = runSession(h);
    editAndRechain(fileOf(h, 'advertiser'), (es) => {
      const i = es.findIndex((e) => e.direction === 'received' && (e.statement as { round: string }).round === 'LOOKALIKE');
      const bytes = statementBytes(h, 'broker', 'advertiser', 'LOOKALIKE', 'LookalikeResult', 'a-smaller-audience', 2);
      const sig = h.keys.broker.sign(STATEMENT_TYPE, bytes);
      const forged = { ...es[i]!, statement: parseStrict(new TextDecoder().decode(bytes)), signature: { keyid: sig.keyid, sig: Buffer.from(sig.sig).toString('base64') } };
      return [...es.slice(0, i + 1), forged, ...es.slice(i + 1)];
    });
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual(expect.arrayContaining(['equivocation', 'sequence']));
    expect((r.evidence![0] as { kind: string }).kind).toBe('equivocation');
  });
});

describe('protocol conformance', () => {
  it('rounds out of order', () => {
    const h = harness();
    const files = runSession(h);
    // re-sign a statement as if the broker sent AGGREGATE before BLIND on its link to media
    editAndRechain(fileOf(h, 'broker'), (es) =>
      es.map((e) => {
        const s = e.statement as Record<string, unknown> | undefined;
        if (e.direction !== 'sent' || !s || s.receiver !== 'media' || s.seq !== 1) return e;
        const st = { ...s, round: 'AGGREGATE' };
        const sig = h.keys.broker.sign(STATEMENT_TYPE, canonicalBytes(st));
        return { ...e, statement: st, signature: { keyid: sig.keyid, sig: Buffer.from(sig.sig).toString('base64') } };
      }),
    );
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual(expect.arrayContaining(['rounds', 'equivocation']));
    expect(r.checks.find((c) => c.name === 'rounds')!.detail).toMatch(/got BLIND after AGGREGATE/);
  });

  it('policy values that differ across parties', () => {
    const h = harness();
    const files = runSession(h, undefined, { broker: { decoyRatio: 3 } });
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual(['policy']);
    expect(r.checks.find((c) => c.name === 'policy')!.detail).toMatch(/expected decoyRatio 9 as declared by advertiser, got 3 from broker/);
    expect(r.evidence).toEqual([expect.objectContaining({ kind: 'policy-disagreement', field: 'decoyRatio' })]);
  });

  it('the session kind comes from the policies: lookalike declared explicitly verifies by its flow', () => {
    const h = harness();
    const files = runSession(h, undefined, { advertiser: { kind: 'lookalike' }, media: { kind: 'lookalike' }, broker: { kind: 'lookalike' } });
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual([]);
    expect(r.outcome.state).toBe('completed');
  });

  it('a session kind without a flow in SESSION_FLOWS fails rounds at the declaring policy', () => {
    const h = harness();
    const files = runSession(h, undefined, { advertiser: { kind: 'no-such-kind' }, media: { kind: 'no-such-kind' }, broker: { kind: 'no-such-kind' } });
    const r = verifySession(files, h.trust);
    expect(failed(r)).toContain('rounds');
    expect(r.checks.find((c) => c.name === 'rounds')!.detail).toMatch(/advertiser\.jsonl:1: expected a session kind the verifier knows \(lookalike[^)]*\), got "no-such-kind"/);
  });

  it('session kinds that differ across parties fail policy', () => {
    const h = harness();
    const files = runSession(h, undefined, { advertiser: { kind: 'lookalike' }, broker: { kind: 'profile' } });
    const r = verifySession(files, h.trust);
    expect(failed(r)).toContain('policy');
    expect(r.checks.find((c) => c.name === 'policy')!.detail).toMatch(/expected kind "lookalike" as declared by advertiser, got "profile" from broker/);
  });

  it('key fingerprints in a policy that do not match the pinned keys', () => {
    const h = harness();
    const files = runSession(h, undefined, { media: { keyFingerprints: { broker: 'deadbeefdeadbeef' } } });
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual(['policy']);
  });

  it('a checkpoint root that does not recompute from the writer leaves', () => {
    const h = harness();
    const files = runSession(h);
    editAndRechain(fileOf(h, 'media'), (es) => es.map((e) => (e.kind === 'checkpoint' ? { ...e, root: 'ab'.repeat(32), cosignatures: [] } : e)));
    const r = verifySession(files, h.trust);
    expect(failed(r)).toEqual(['checkpoints']);
  });

  it('the writer refuses a checkpoint it cannot recompute, and mis-addressed or non-canonical statements', () => {
    const h = harness();
    const w = h.writers.media;
    expect(() => w.appendCheckpoint({ treeSize: 0, root: 'ab'.repeat(32), afterRound: 'OPEN', cosignatures: [] })).toThrow(/expected root e3b0c442/);
    const bytes = statementBytes(h, 'broker', 'advertiser', 'OPEN', 'SessionAccepted', 'x', 0);
    expect(() => w.appendMessage('received', bytes, h.keys.broker.sign(STATEMENT_TYPE, bytes))).toThrow(/name media as receiver, got advertiser/);
    const spaced = new TextEncoder().encode(' ' + new TextDecoder().decode(bytes));
    expect(() => h.writers.advertiser.appendMessage('received', spaced, h.keys.broker.sign(STATEMENT_TYPE, spaced))).toThrow(/canonical/);
    for (const p of PARTY_LIST) h.writers[p].close();
    expect(() => w.appendPolicy({}, h.keys.media)).toThrow(/closed/);
  });

  it('refuses to open an existing transcript, damaged or empty, and creates nothing where the directory is a file', () => {
    const h = harness();
    runSession(h);
    const path = fileOf(h, 'broker');
    writeFileSync(path, readFileSync(path, 'utf8').slice(0, -10));
    expect(() => TranscriptWriter.open(h.dir, 'broker', SESSION)).toThrow(/already has a broker transcript/);
    const empty = TranscriptWriter.open(h.dir, 'advertiser', 'fresh');
    empty.close();
    expect(() => TranscriptWriter.open(h.dir, 'advertiser', 'fresh')).toThrow(/already has an? advertiser transcript|already has a advertiser transcript/);
    const file = join(h.dir, 'plain-file');
    writeFileSync(file, 'x');
    expect(() => TranscriptWriter.open(file, 'advertiser', 'fresh')).toThrow(/cannot create the transcript .*ENOTDIR/);
  });

  it('files of two sessions given as one session fail the session check', () => {
    const h = harness();
    const files = runSession(h);
    const other = join(h.dir, 'other');
    mkdirSync(other);
    const w = TranscriptWriter.open(h.dir, 'media', 'other');
    w.appendPolicy(POLICY, h.keys.media);
    w.close();
    const r = verifySession([files[0]!, files[2]!, join(other, 'media.jsonl')], h.trust);
    expect(failed(r)).toContain('session');
  });
});

/**
 * Transcript audit: verifies the parties' transcripts of a session without any payload.
 *
 * Checks (each reported as one named check; the first failure is located as file:line):
 *   format      every line is strict JSON (parseStrict), canonical (RFC 8785), a valid entry,
 *               and the file ends with a newline (a file cut mid-line fails at that line);
 *   chain       `index` is the line number and `prev` the SHA-256 of the previous line, so
 *               altered, reordered, deleted or inserted lines fail at the exact entry;
 *   session     all files belong to one session, one file per party;
 *   signatures  every message verifies under the key pinned for `statement.sender` (the
 *               keyid is only a hint: an unknown keyid is still verified against the pinned
 *               key); every policy verifies under the key of its writer; every checkpoint
 *               co-signature verifies under the key of its party;
 *   addressing  a "sent" entry names its writer as sender, a "received" one as receiver;
 *   equivocation  a slot (session, sender, receiver, round, seq, chunk) carrying two different
 *               statements anywhere (across files or within one) — both conflicting signed
 *               statements are attached as evidence; a "received" statement that the claimed
 *               sender's transcript does not record is reported too;
 *   delivery    a message the sender recorded as sent and the receiver's transcript lacks,
 *               unless it is the tail of the link (a crash or abort can cut a link short);
 *   sequence    per file and link, seq numbers are 0,1,2,… without gaps or repeats, chunks
 *               count 0..n within a message and end with `last`;
 *   rounds      per file, the rounds of the session's kind (common/names.ts KIND_ROUNDS; the
 *               kind is declared in the signed policies, look-alike when none is) never go
 *               backwards (CHECKPOINT after any, ABORT anywhere, nothing but CHECKPOINT/ABORT
 *               after an ABORT; UNIVERSE is not a session round and is not ordered);
 *   policy      every transcript declares a signed policy; decoyRatio and minCohort agree
 *               across all declarations; keyFingerprints, when declared, match the pinned keys;
 *   checkpoints every checkpoint root recomputes (RFC 6962) from the writer's own first
 *               `treeSize` messages;
 *   completion  the session's outcome, stated per session: `completed` (its final message —
 *               broker→advertiser, the SessionResult: in LOOKALIKE, or in OPEN for a session
 *               refused on the privacy budget — is recorded by the broker as
 *               sent and by the advertiser as received, and every message sent to a party with
 *               a transcript is recorded by it), `aborted` (an ABORT was exchanged: by whom, to
 *               whom, during which round; the reason travels in the ABORT payload, which
 *               transcripts do not hold) or `incomplete` (no final message and no ABORT: the
 *               session was killed or is still running, or its final message is missing from a
 *               transcript — e.g. the last line deleted). Incomplete fails the check.
 * Two kinds of transcript, each by its own rules (told apart by the session id):
 *   session     a look-alike session (any id not starting with `universe-`): the rules above;
 *   universe    a universe sync (`universe-<uuid>`, written by broker and media themselves): a
 *               sequence of UNIVERSE-round messages between broker and media only — requests
 *               broker→media, answers media→broker, possibly several pairs (pages) — signed,
 *               chained and sequenced like any session, no policy required; completed when the
 *               last message is an answer media→broker marked `last` and every message sent
 *               is recorded by its receiver.
 * Never throws on bad transcript content; throws only on bad arguments.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { canonicalBytes } from '../crypto/jcs.ts';
import { isSessionKind, KIND_ROUNDS, kindRoundRank, type SessionKind } from '../common/names.ts';
import { PARTIES, STATEMENT_TYPE, keyFor, verifySignature, type PartyName, type TrustBundle } from '../crypto/dsse.ts';
import { merkleRoot } from '../crypto/merkle.ts';
import type { Statement } from './statement.ts';
import {
  CHECKPOINT_TYPE, POLICY_TYPE, checkpointSigningBody, policySigningBody, readTranscript, sha256Hex, signatureBytes,
  type LocatedEntry, type MessageEntry, type TranscriptRead,
} from './writer.ts';

export interface AuditCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface AuditLocation {
  file: string;
  line: number;
  reason: string;
}

/** What happened to a session, as its transcripts show it. */
export interface SessionOutcome {
  state: 'completed' | 'aborted' | 'incomplete';
  detail: string;
}

export interface AuditReport {
  sessionId: string;
  /** `universe` for the universe-sync transcripts (`universe-…`), `session` otherwise. */
  kind: 'session' | 'universe';
  /** Integrity holds and the session is completed or aborted (not incomplete). */
  ok: boolean;
  outcome: SessionOutcome;
  checks: AuditCheck[];
  firstFailure?: AuditLocation;
  evidence?: object[];
}

const CHECK_NAMES = ['format', 'chain', 'session', 'signatures', 'addressing', 'equivocation', 'delivery', 'sequence', 'rounds', 'policy', 'checkpoints', 'completion'] as const;

/** Session ids of the universe-sync transcripts the broker and media write. */
export const UNIVERSE_SESSION_PREFIX = 'universe-';
type CheckName = (typeof CHECK_NAMES)[number];


interface Issue extends AuditLocation {
  check: CheckName;
}

interface Occurrence {
  file: string;
  line: number;
  party: PartyName;
  direction: 'sent' | 'received';
  statement: Statement;
  signature: { keyid: string; sig: string };
  hash: string; // SHA-256 of the statement bytes
  sigOk: boolean;
}

function slotOf(s: Statement): string {
  return `${s.sessionId}|${s.sender}->${s.receiver}|${s.round}|seq ${s.seq}|chunk ${s.chunk}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Verify the transcripts of one session (normally one file per party). */
export function verifySession(files: string[], trust: TrustBundle): AuditReport {
  if (!Array.isArray(files) || files.length === 0) throw new Error(`expected at least one transcript file, got ${JSON.stringify(files)}`);
  if (!isObject(trust) || !isObject(trust.parties)) throw new Error('expected a TrustBundle (see loadTrustBundle), got something else');
  const issues: Issue[] = [];
  const evidence: object[] = [];
  const notes: Partial<Record<CheckName, string[]>> = {};
  const note = (c: CheckName, s: string) => (notes[c] ??= []).push(s);
  const issue = (check: CheckName, file: string, line: number, reason: string) => issues.push({ check, file, line, reason });

  const reads: TranscriptRead[] = files.map((f) => readTranscript(f));
  let lines = 0;

  // format + chain
  for (const r of reads) {
    lines += r.lineCount;
    for (const p of r.problems) {
      const chain = /^expected (index|prev)/.test(p.reason) || /every entry to be written by/.test(p.reason);
      issue(chain ? 'chain' : 'format', r.path, p.line, p.reason);
    }
  }

  // session: one session id, one file per party
  const sessionIds = new Set<string>();
  const writerOf = new Map<string, PartyName>(); // file -> party
  const fileOf = new Map<PartyName, string>();
  for (const r of reads) {
    const first = r.entries[0]?.entry;
    if (!first) continue;
    sessionIds.add(first.sessionId);
    writerOf.set(r.path, first.party);
    const other = fileOf.get(first.party);
    if (other !== undefined) issue('session', r.path, r.entries[0]!.line, `expected one transcript per party, got a second one for ${first.party} (also ${other})`);
    else fileOf.set(first.party, r.path);
    const expectedName = `${first.party}.jsonl`;
    if (basename(r.path) !== expectedName) note('session', `${r.path} holds ${first.party}'s entries (expected file name ${expectedName})`);
  }
  const sessionList = [...sessionIds].sort();
  if (sessionList.length > 1) {
    for (const r of reads) {
      const e = r.entries[0];
      if (e && e.entry.sessionId !== sessionList[0]) issue('session', r.path, e.line, `expected session ${sessionList[0]}, got ${e.entry.sessionId}`);
    }
  }
  const sessionId = sessionList[0] ?? basename(dirname(resolve(files[0]!)));
  const kind: AuditReport['kind'] = sessionId.startsWith(UNIVERSE_SESSION_PREFIX) ? 'universe' : 'session';
  /** Every message recorded, in file then line order (for the outcome). */
  const recorded: Occurrence[] = [];

  // per-entry checks: signatures, addressing, sequence, rounds, checkpoints; collect occurrences
  const occurrences = new Map<string, Occurrence[]>();
  const policies: { file: string; line: number; party: PartyName; policy: Record<string, unknown> }[] = [];
  let messages = 0;
  let checkpoints = 0;
  let cosigs = 0;
  // The session's kind, as the parties declared it in their signed policies (none: a look-alike
  // transcript from before kinds); its round order is the one the rounds check applies.
  const declaredKinds = new Set<unknown>(reads.flatMap((r) => r.entries.flatMap((e) => (e.entry.kind === 'policy' && 'kind' in e.entry.policy ? [e.entry.policy.kind] : []))));
  const sessionKind: SessionKind = [...declaredKinds].find(isSessionKind) ?? 'lookalike';
  for (const k of declaredKinds) {
    if (!isSessionKind(k)) issue('policy', reads[0]!.path, 1, `expected the policy's kind to be one of ${Object.keys(KIND_ROUNDS).join(', ')}, got ${JSON.stringify(k)}`);
  }
  if (declaredKinds.size > 1) issue('policy', reads[0]!.path, 1, `expected one session kind across the parties' policies, got ${[...declaredKinds].map((k) => JSON.stringify(k)).join(', ')}`);
  const ROUND_RANK = kindRoundRank(sessionKind);
  for (const r of reads) {
    const leaves: Uint8Array[] = [];
    const linkSeq = new Map<string, { next: number; chunk: number; open: boolean; round: string; type: string }>();
    let rank = -1;
    let aborted = false;
    const writer = writerOf.get(r.path);
    const hasPolicy = r.entries.some((e) => e.entry.kind === 'policy');
    if (writer && !hasPolicy && kind === 'session') issue('policy', r.path, r.entries[0]!.line, `expected ${writer} to declare a signed policy, got none in this transcript`);
    for (const { line, entry } of r.entries as LocatedEntry[]) {
      if (entry.kind === 'policy') {
        const ok = safeVerify(trust, entry.party, POLICY_TYPE, policySigningBody(entry.party, entry.sessionId, entry.policy), entry.signature.sig);
        if (!ok) issue('signatures', r.path, line, `bad signature: policy does not verify under ${entry.party}'s pinned key`);
        policies.push({ file: r.path, line, party: entry.party, policy: entry.policy });
        continue;
      }
      if (entry.kind === 'checkpoint') {
        checkpoints++;
        if (entry.treeSize > leaves.length) {
          issue('checkpoints', r.path, line, `expected treeSize <= ${leaves.length} messages recorded before the checkpoint, got ${entry.treeSize}`);
        } else {
          const root = Buffer.from(merkleRoot(leaves.slice(0, entry.treeSize))).toString('hex');
          if (root !== entry.root) issue('checkpoints', r.path, line, `expected root ${root} over ${entry.party}'s first ${entry.treeSize} messages, got ${entry.root}`);
        }
        const body = checkpointSigningBody(entry);
        for (const c of entry.cosignatures) {
          cosigs++;
          if (!safeVerify(trust, c.party, CHECKPOINT_TYPE, body, c.sig)) {
            issue('signatures', r.path, line, `bad signature: checkpoint co-signature of ${c.party} does not verify under its pinned key`);
          }
        }
        continue;
      }
      // message
      messages++;
      const m = entry as MessageEntry;
      const s = m.statement;
      const bytes = canonicalBytes(s);
      leaves.push(bytes);
      const sigOk = safeVerify(trust, s.sender, STATEMENT_TYPE, bytes, m.signature.sig);
      if (!sigOk) {
        const pinned = trust.parties[s.sender]?.keyid;
        const hint = m.signature.keyid === pinned ? `keyid ${m.signature.keyid} is ${s.sender}'s` : `keyid ${m.signature.keyid} is not ${s.sender}'s pinned ${pinned}`;
        issue('signatures', r.path, line, `bad signature: statement ${s.sender}->${s.receiver} ${s.round} seq ${s.seq} does not verify under ${s.sender}'s pinned key (${hint})`);
      } else if (m.signature.keyid !== trust.parties[s.sender]?.keyid) {
        note('signatures', `${basename(r.path)}:${line} carries keyid hint ${m.signature.keyid}, verified under ${s.sender}'s pinned key`);
      }
      const me = m.direction === 'sent' ? s.sender : s.receiver;
      if (me !== m.party) issue('addressing', r.path, line, `expected a ${m.direction} statement to name ${m.party} as ${m.direction === 'sent' ? 'sender' : 'receiver'}, got ${me}`);
      if (s.sessionId !== m.sessionId) issue('session', r.path, line, `expected statement of session ${m.sessionId}, got ${s.sessionId}`);

      const occ: Occurrence = { file: r.path, line, party: m.party, direction: m.direction, statement: s, signature: m.signature, hash: sha256Hex(bytes), sigOk };
      recorded.push(occ);
      const slot = slotOf(s);
      const list = occurrences.get(slot);
      if (list) list.push(occ);
      else occurrences.set(slot, [occ]);

      // sequence and chunks per link, in this file's order
      const link = `${m.direction}|${s.sender}->${s.receiver}`;
      const st = linkSeq.get(link) ?? { next: 0, chunk: -1, open: false, round: '', type: '' };
      if (s.seq !== st.next) {
        issue('sequence', r.path, line, `expected seq ${st.next} on ${s.sender}->${s.receiver} (${m.direction}), got ${s.seq}${s.seq > st.next ? ': a gap' : ': a repeat or reordering'}`);
      }
      st.next = Math.max(st.next, s.seq + 1);
      const expectChunk = st.open ? st.chunk + 1 : 0;
      if (s.chunk !== expectChunk) {
        issue('sequence', r.path, line, `expected chunk ${expectChunk} on ${s.sender}->${s.receiver} seq ${s.seq}, got ${s.chunk}`);
      } else if (st.open && (s.round !== st.round || s.payloadType !== st.type)) {
        issue('sequence', r.path, line, `expected chunk ${s.chunk} to continue ${st.round} ${st.type}, got ${s.round} ${s.payloadType}`);
      }
      st.chunk = s.chunk;
      st.open = !s.last;
      st.round = s.round;
      st.type = s.payloadType;
      linkSeq.set(link, st);

      // rounds
      if (kind === 'universe') {
        const expected = s.sender === 'broker' ? 'media' : s.sender === 'media' ? 'broker' : undefined;
        if (s.round !== 'UNIVERSE' || s.receiver !== expected) {
          issue('rounds', r.path, line, `expected only UNIVERSE messages between broker and media in a universe sync, got ${s.round} ${s.sender}->${s.receiver}`);
        }
        continue;
      }
      if (s.round === 'UNIVERSE') issue('rounds', r.path, line, 'expected no UNIVERSE message in a session (universe syncs have their own universe-… transcripts), got one');
      if (s.round === 'ABORT') aborted = true;
      else if (s.round in ROUND_RANK) {
        const k = ROUND_RANK[s.round]!;
        if (aborted) issue('rounds', r.path, line, `expected nothing but CHECKPOINT/ABORT after ABORT, got ${s.round}`);
        else if (k < rank) issue('rounds', r.path, line, `expected rounds in the ${sessionKind} order ${KIND_ROUNDS[sessionKind].join('<')}, got ${s.round} after ${Object.keys(ROUND_RANK)[rank]}`);
        rank = Math.max(rank, k);
      }
    }
    for (const [link, st] of linkSeq) {
      if (st.open) note('sequence', `${basename(r.path)}: ${link} ends inside a chunked message (no chunk marked last)`);
    }
  }

  // equivocation and delivery, across files
  let slotsCompared = 0;
  for (const [slot, list] of occurrences) {
    const distinct = new Map<string, Occurrence[]>();
    for (const o of list) {
      const d = distinct.get(o.hash);
      if (d) d.push(o);
      else distinct.set(o.hash, [o]);
    }
    if (list.length > 1) slotsCompared++;
    if (distinct.size > 1) {
      const signed = [...distinct.values()].filter((os) => os.some((o) => o.sigOk));
      const first = list.slice().sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line)[1] ?? list[0]!;
      const sender = list[0]!.statement.sender;
      const reason =
        signed.length > 1
          ? `EQUIVOCATION: ${sender} signed ${distinct.size} different statements for slot ${slot}`
          : `conflicting statements for slot ${slot}; only ${signed.length} of ${distinct.size} carry a valid signature by ${sender}`;
      issue('equivocation', first.file, first.line, reason);
      evidence.push({
        kind: signed.length > 1 ? 'equivocation' : 'conflict',
        slot,
        statements: [...distinct.values()].map((os) => ({
          statement: os[0]!.statement,
          signature: os[0]!.signature,
          signatureValid: os[0]!.sigOk,
          statementSha256: os[0]!.hash,
          recordedBy: os.map((o) => ({ file: o.file, line: o.line, party: o.party, direction: o.direction })),
        })),
      });
    }
    for (const o of list) {
      if (o.direction !== 'received') continue;
      const s = o.statement;
      if (!fileOf.has(s.sender)) continue;
      if (!list.some((x) => x.direction === 'sent' && x.party === s.sender)) {
        issue('equivocation', o.file, o.line, `${o.party} recorded a statement from ${s.sender} for slot ${slot} that ${s.sender}'s transcript never recorded as sent`);
        evidence.push({ kind: 'unsent', slot, statement: s, signature: o.signature, signatureValid: o.sigOk, recordedBy: [{ file: o.file, line: o.line, party: o.party, direction: o.direction }] });
      }
    }
  }
  // delivery: sent but never received, other than at the tail of a link (promoted to a
  // failure below when the session completed: a completed session has no excuse)
  const tails: Occurrence[] = [];
  const lastReceived = new Map<string, number>();
  for (const list of occurrences.values()) {
    for (const o of list) {
      if (o.direction !== 'received') continue;
      const k = `${o.statement.sender}->${o.statement.receiver}`;
      lastReceived.set(k, Math.max(lastReceived.get(k) ?? -1, o.statement.seq));
    }
  }
  for (const [slot, list] of occurrences) {
    for (const o of list) {
      if (o.direction !== 'sent' || !fileOf.has(o.statement.receiver)) continue;
      if (list.some((x) => x.direction === 'received' && x.party === o.statement.receiver)) continue;
      const k = `${o.statement.sender}->${o.statement.receiver}`;
      if (o.statement.seq < (lastReceived.get(k) ?? -1)) {
        issue('delivery', o.file, o.line, `${o.statement.receiver} recorded later messages on ${k} but not ${slot}`);
      } else {
        tails.push(o);
        note('delivery', `${slot} sent by ${o.party} and not recorded by ${o.statement.receiver} (tail of the link)`);
      }
    }
  }

  // policy agreement
  for (const field of ['decoyRatio', 'minCohort'] as const) {
    const values = policies.filter((p) => field in p.policy);
    const firstP = values[0];
    if (!firstP) {
      if (policies.length > 0) issue('policy', policies[0]!.file, policies[0]!.line, `expected the policy to declare ${field}, got none`);
      continue;
    }
    for (const p of values.slice(1)) {
      if (JSON.stringify(p.policy[field]) !== JSON.stringify(firstP.policy[field])) {
        issue('policy', p.file, p.line, `expected ${field} ${JSON.stringify(firstP.policy[field])} as declared by ${firstP.party}, got ${JSON.stringify(p.policy[field])} from ${p.party}`);
        evidence.push({ kind: 'policy-disagreement', field, declarations: values.map((v) => ({ party: v.party, file: v.file, line: v.line, value: v.policy[field] })) });
      }
    }
  }
  for (const p of policies) {
    const fps = p.policy.keyFingerprints;
    if (!isObject(fps)) continue;
    for (const [party, fp] of Object.entries(fps)) {
      const pinned = (PARTIES as readonly string[]).includes(party) ? trust.parties[party as PartyName]?.keyid : undefined;
      if (pinned === undefined) continue;
      if (typeof fp !== 'string' || !(fp === pinned || fp.startsWith(pinned))) {
        issue('policy', p.file, p.line, `expected keyFingerprints.${party} to match the pinned keyid ${pinned}, got ${JSON.stringify(fp)}`);
      }
    }
  }

  const outcome = decideOutcome(kind, ROUND_RANK, recorded, fileOf, tails, (file) => reads.find((r) => r.path === file)?.lineCount ?? 0, (file, line, reason) => issue('completion', file, line, reason));

  // assemble
  const detailOk: Record<CheckName, string> = {
    format: `${reads.length} file(s), ${lines} line(s): strict, canonical, well-formed`,
    chain: 'index and prev-hash chain intact in every file',
    session: `session ${sessionId}: ${[...fileOf.keys()].join(', ') || 'no parties'}`,
    signatures: `${messages} message signature(s), ${policies.length} policy signature(s), ${cosigs} checkpoint co-signature(s) verify under pinned keys`,
    addressing: 'every entry is recorded by its sender (sent) or receiver (received)',
    equivocation: `${occurrences.size} slot(s), ${slotsCompared} seen by more than one record: no conflicting statements`,
    delivery: 'every message sent to a party with a transcript is recorded by it',
    sequence: 'per-link sequence numbers contiguous, chunks well-formed',
    rounds: kind === 'universe' ? 'only UNIVERSE messages between broker and media' : `rounds in the ${sessionKind} order`,
    policy: kind === 'universe' ? 'universe sync: no policy required' : policies.length > 0 ? `decoyRatio/minCohort agree across ${policies.length} declaration(s)` : 'no policy declarations',
    checkpoints: `${checkpoints} checkpoint root(s) recompute from the writers' leaves`,
    completion: `${outcome.state}: ${outcome.detail}`,
  };
  const checks: AuditCheck[] = CHECK_NAMES.map((name) => {
    const mine = issues.filter((i) => i.check === name);
    const extra = notes[name]?.length ? ` (${notes[name]!.slice(0, 3).join('; ')}${notes[name]!.length > 3 ? `; +${notes[name]!.length - 3} more` : ''})` : '';
    if (mine.length === 0) return { name, ok: true, detail: detailOk[name] + extra };
    const head = mine.slice(0, 3).map((i) => `${basename(i.file)}:${i.line}: ${i.reason}`).join('; ');
    return { name, ok: false, detail: mine.length > 3 ? `${head}; +${mine.length - 3} more` : head };
  });
  const report: AuditReport = { sessionId, kind, ok: issues.length === 0, outcome, checks };
  if (issues.length > 0) {
    // The first failure: findings about a file's own lines (format, chain, signatures,
    // addressing, session) before cross-file findings (which a damaged file usually causes in
    // the other files); within a tier, in file order, then line order.
    // (which a damaged file usually causes in the other files), and the outcome (completion)
    // last: it follows from the other findings when there are any.
    const tier = (c: CheckName) => (c === 'format' || c === 'chain' || c === 'signatures' || c === 'addressing' || c === 'session' ? 0 : c === 'completion' ? 2 : 1);
    const order = (i: Issue) => [tier(i.check), files.indexOf(i.file) === -1 ? files.length : files.indexOf(i.file), i.line, CHECK_NAMES.indexOf(i.check)];
    const sorted = issues.slice().sort((a, b) => {
      const x = order(a);
      const y = order(b);
      return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]! || x[3]! - y[3]!;
    });
    const f = sorted[0]!;
    report.firstFailure = { file: f.file, line: f.line, reason: `${f.check}: ${f.reason}` };
  }
  if (evidence.length > 0) report.evidence = evidence;
  return report;
}

/** A message slot as people read it. */
function describeMessage(o: Occurrence): string {
  const s = o.statement;
  return `${s.sender}->${s.receiver} ${s.round} ${s.payloadType.replace(/^cleanroom\.v1\./, '')} seq ${s.seq}`;
}

/**
 * The outcome of a session from its recorded messages (see the header). Reports through
 * `fail` what makes it incomplete: no final message, or one a transcript lacks.
 */
function decideOutcome(
  kind: AuditReport['kind'],
  roundRank: Readonly<Record<string, number>>,
  recorded: Occurrence[],
  fileOf: Map<PartyName, string>,
  tails: Occurrence[],
  lineCount: (file: string) => number,
  fail: (file: string, line: number, reason: string) => void,
): SessionOutcome {
  const where = (o: Occurrence) => `${basename(o.file)}:${o.line}`;
  const firstFile = [...fileOf.values()][0] ?? '';
  if (recorded.length === 0) {
    fail(firstFile, 0, 'incomplete: no message recorded in any transcript');
    return { state: 'incomplete', detail: 'no message recorded' };
  }
  const aborts = recorded.filter((o) => o.statement.round === 'ABORT').sort((a, b) => (a.statement.sentAt < b.statement.sentAt ? -1 : a.statement.sentAt > b.statement.sentAt ? 1 : 0));
  const abort = aborts[0]; // the first in time started it; the others follow from it
  if (kind === 'session' && abort) {
    const before = recorded.filter((o) => o.file === abort.file && o.line < abort.line && o.statement.round in roundRank);
    const round = before.reduce((k, o) => Math.max(k, roundRank[o.statement.round]!), -1);
    const after = round >= 0 ? ` during ${Object.keys(roundRank)[round]}` : ' before any round';
    const others = [...new Set(aborts.filter((o) => o.statement.sender !== abort.statement.sender).map((o) => `${o.statement.sender}->${o.statement.receiver}`))];
    return {
      state: 'aborted',
      detail: `aborted by ${abort.statement.sender} (ABORT to ${abort.statement.receiver}${after}, ${where(abort)}${others.length ? `; then ${others.join(', ')}` : ''}); the reason is in the ABORT payload, which transcripts do not hold — ${abort.statement.sender}'s session error names it`,
    };
  }
  // The final message: the SessionResult (session) or the last answer page (universe).
  const isFinal = kind === 'session'
    ? (o: Occurrence) => o.statement.payloadType === 'cleanroom.v1.SessionResult' && o.statement.sender === 'broker' && o.statement.receiver === 'advertiser' && o.statement.last
    : (o: Occurrence) => o === recorded.filter((x) => x.file === o.file).at(-1) && o.statement.sender === 'media' && o.statement.receiver === 'broker' && o.statement.last;
  const finals = recorded.filter(isFinal);
  if (finals.length === 0) {
    const last = recorded.reduce((a, b) => (b.statement.sentAt > a.statement.sentAt ? b : a));
    const want = kind === 'session' ? 'broker->advertiser LOOKALIKE (the SessionResult)' : 'a last answer media->broker';
    fail(last.file, last.line, `incomplete: no final message (${want}) in any transcript and no ABORT; the last message recorded is ${describeMessage(last)} (${where(last)}): the session was killed, is still running, or lost its final lines`);
    return { state: 'incomplete', detail: `no final message; last recorded: ${describeMessage(last)} at ${where(last)}` };
  }
  const f = finals[0]!;
  const { sender, receiver } = f.statement;
  let missing = false;
  for (const [party, direction] of [[sender, 'sent'], [receiver, 'received']] as const) {
    const file = fileOf.get(party);
    if (file === undefined) continue;
    if (!finals.some((o) => o.party === party && o.direction === direction && o.hash === f.hash)) {
      missing = true;
      fail(file, lineCount(file), `incomplete: ${basename(file)} does not record the final message ${describeMessage(f)} as ${direction}, which ${where(f)} records: the transcript was cut (its last line deleted?) or ${party} died before recording it`);
    }
  }
  for (const o of tails) {
    missing = true;
    fail(o.file, o.line, `${describeMessage(o)} sent by ${o.party} is not recorded by ${o.statement.receiver}, although the session completed`);
  }
  if (missing) return { state: 'incomplete', detail: `final message ${describeMessage(f)} (${where(f)}) missing from a transcript` };
  const pages = kind === 'universe' ? `, ${new Set(recorded.filter((o) => o.statement.sender === 'broker').map((o) => o.hash)).size} request(s)` : '';
  return { state: 'completed', detail: `final message ${describeMessage(f)} recorded by ${[sender, receiver].filter((p) => fileOf.has(p)).join(' and ')}${pages}` };
}

function safeVerify(trust: TrustBundle, party: PartyName, type: string, body: Uint8Array, sigB64: string): boolean {
  try {
    return verifySignature(keyFor(trust, party), type, body, signatureBytes({ keyid: '', sig: sigB64 }));
  } catch {
    return false;
  }
}

/**
 * Group transcript files by session and verify each session. Each argument is a file, a
 * session directory (holding `<party>.jsonl`), or a transcript directory (holding one
 * sub-directory per session). Reports are sorted by session id.
 */
export function verifyPaths(pathsOrDirs: string[], trust: TrustBundle): AuditReport[] {
  const groups = groupTranscripts(pathsOrDirs);
  return [...groups.keys()].sort().map((sid) => verifySession(groups.get(sid)!, trust));
}

/** session id (the directory name) -> files. Throws if a path does not exist. */
export function groupTranscripts(pathsOrDirs: string[]): Map<string, string[]> {
  if (!Array.isArray(pathsOrDirs) || pathsOrDirs.length === 0) throw new Error(`expected at least one path, got ${JSON.stringify(pathsOrDirs)}`);
  const groups = new Map<string, string[]>();
  const add = (file: string) => {
    const sid = basename(dirname(resolve(file)));
    const list = groups.get(sid) ?? [];
    if (!list.includes(file)) list.push(file);
    groups.set(sid, list);
  };
  const jsonl = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort().map((n) => join(dir, n));
  for (const p of pathsOrDirs) {
    const st = statSync(p); // throws ENOENT with the path: a bad argument
    if (st.isFile()) add(p);
    else if (st.isDirectory()) {
      const direct = jsonl(p);
      if (direct.length > 0) direct.forEach(add);
      else {
        for (const sub of readdirSync(p).sort()) {
          const d = join(p, sub);
          if (statSync(d).isDirectory()) jsonl(d).forEach(add);
        }
      }
    }
  }
  return groups;
}

/** A readable multi-line rendering of a report. */
export function formatReport(report: AuditReport): string {
  const out: string[] = [];
  const integrity = report.checks.filter((c) => c.name !== 'completion').every((c) => c.ok);
  const verdict = !integrity ? 'FAILED' : report.outcome.state === 'incomplete' ? 'INCOMPLETE' : report.outcome.state === 'aborted' ? 'OK, ABORTED' : 'OK, COMPLETED';
  out.push(`${report.kind === 'universe' ? 'universe sync' : 'session'} ${report.sessionId}: ${verdict} (${report.outcome.state}: ${report.outcome.detail})`);
  for (const c of report.checks) out.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(12)} ${c.detail}`);
  if (report.firstFailure) {
    const f = report.firstFailure;
    out.push(`  first failure: ${f.file}:${f.line}`);
    out.push(`    ${f.reason}`);
  }
  for (const e of report.evidence ?? []) {
    const ev = e as Record<string, unknown>;
    out.push(`  evidence (${String(ev.kind)}${ev.slot ? `, ${String(ev.slot)}` : ''}):`);
    const stmts = Array.isArray(ev.statements) ? (ev.statements as Record<string, unknown>[]) : ev.statement ? [ev] : [];
    for (const s of stmts) {
      const st = s.statement as Statement;
      const by = (s.recordedBy as { file: string; line: number; party: string; direction: string }[]).map((r) => `${r.party} ${r.direction} (${basename(r.file)}:${r.line})`).join(', ');
      out.push(`    - ${st.payloadType} ${st.payloadSize} B sha256 ${st.payloadSha256.slice(0, 16)}… sentAt ${st.sentAt}; signature ${s.signatureValid ? 'valid' : 'INVALID'}; recorded by ${by}`);
    }
    if (Array.isArray(ev.declarations)) {
      for (const d of ev.declarations as { party: string; value: unknown }[]) out.push(`    - ${d.party}: ${String(ev.field)} = ${JSON.stringify(d.value)}`);
    }
  }
  return out.join('\n');
}

/** A human timeline of a session's transcripts (for `audit show`): one row per distinct message. */
export function timeline(files: string[]): string {
  if (!Array.isArray(files) || files.length === 0) throw new Error(`expected at least one transcript file, got ${JSON.stringify(files)}`);
  interface Row {
    at: string;
    text: string;
    order: number;
  }
  const rows: Row[] = [];
  const seen = new Map<string, Row & { by: string[] }>();
  const problems: string[] = [];
  let order = 0;
  for (const f of files) {
    const r = readTranscript(f);
    for (const p of r.problems) problems.push(`${basename(f)}:${p.line}: ${p.reason}`);
    for (const { entry } of r.entries) {
      order++;
      if (entry.kind === 'policy') {
        const p = entry.policy;
        rows.push({ at: entry.recordedAt, order, text: `${entry.party.padEnd(10)} policy     decoyRatio=${JSON.stringify(p.decoyRatio)} minCohort=${JSON.stringify(p.minCohort)} noiseScale=${JSON.stringify(p.noiseScale)}` });
      } else if (entry.kind === 'checkpoint') {
        rows.push({ at: entry.recordedAt, order, text: `${entry.party.padEnd(10)} checkpoint after ${entry.afterRound}: ${entry.treeSize} messages, root ${entry.root.slice(0, 16)}…, co-signed by ${entry.cosignatures.map((c) => c.party).join(', ') || 'nobody'}` });
      } else {
        const s = entry.statement;
        const key = sha256Hex(canonicalBytes(s));
        const existing = seen.get(key);
        const tag = `${entry.party[0]}:${entry.direction === 'sent' ? 's' : 'r'}`;
        if (existing) {
          existing.by.push(tag);
          continue;
        }
        const chunk = s.chunk > 0 || !s.last ? ` chunk ${s.chunk}${s.last ? ' (last)' : ''}` : '';
        const row = {
          at: s.sentAt,
          order,
          by: [tag],
          text: `${`${s.sender} → ${s.receiver}`.padEnd(22)} ${s.round.padEnd(10)} ${s.payloadType.replace(/^cleanroom\.v1\./, '').padEnd(16)} ${String(s.payloadSize).padStart(10)} B  seq ${s.seq}${chunk}`,
        };
        seen.set(key, row);
        rows.push(row);
      }
    }
  }
  rows.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order));
  const out = rows.map((r) => {
    const by = (r as Row & { by?: string[] }).by;
    return `${r.at}  ${r.text}${by ? `  [${by.join(' ')}]` : ''}`;
  });
  if (problems.length > 0) out.push(`(${problems.length} unreadable line(s): ${problems.slice(0, 3).join('; ')})`);
  return out.join('\n');
}

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
 *   rounds      per file, the rounds of the session's kind never go backwards (a look-alike
 *               session: OPEN < BLIND < TOKENS < AGGREGATE < LOOKALIKE; each kind's order is
 *               its flow in common/names.ts SESSION_FLOWS, the kind the one its policies
 *               declare as `kind`, look-alike when none does); CHECKPOINT after any, ABORT
 *               anywhere, nothing but CHECKPOINT/ABORT after an ABORT; UNIVERSE is not a
 *               session round and is not ordered; a kind without a flow fails here;
 *   policy      every transcript declares a signed policy; decoyRatio, minCohort and kind agree
 *               across all declarations; keyFingerprints, when declared, match the pinned keys;
 *   checkpoints every checkpoint root recomputes (RFC 6962) from the writer's own first
 *               `treeSize` messages;
 *   completion  the session's outcome, stated per session: `completed` (its final message —
 *               its kind's `final` in SESSION_FLOWS; for a look-alike session broker→advertiser,
 *               the SessionResult: in LOOKALIKE, or in OPEN for a session
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
import { SESSION_FLOWS, SESSION_KINDS, isParty, isSessionKind, isSessionRound, type SessionFlow, type SessionRound } from '../common/names.ts';
import { STATEMENT_TYPE, keyFor, verifySignature, type PartyName, type TrustBundle } from '../crypto/dsse.ts';
import { merkleRoot } from '../crypto/merkle.ts';
import { sha256Hex } from '../crypto/sha256.ts';
import type { Statement } from './statement.ts';
import { CHECKPOINT_TYPE, checkpointSigningBody } from './checkpoint.ts';
import {
  POLICY_TYPE, policySigningBody, readTranscript, signatureBytes,
  type CheckpointEntry, type LocatedEntry, type MessageEntry, type PolicyEntry, type TranscriptRead,
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

/** One entry of a transcript, located; a message with its statement bytes and signature checked. */
type Item =
  | { kind: 'policy'; line: number; entry: PolicyEntry }
  | { kind: 'checkpoint'; line: number; entry: CheckpointEntry }
  | { kind: 'message'; line: number; entry: MessageEntry; bytes: Uint8Array; occ: Occurrence };

/** One transcript file: who wrote it (the party of its first entry) and its entries in line order. */
interface IndexedFile {
  path: string;
  writer: PartyName | undefined;
  items: Item[];
}

interface PolicyDeclaration {
  file: string;
  line: number;
  party: PartyName;
  policy: Record<string, unknown>;
}

/** Everything the checks read: the files, indexed once, and the session they belong to. */
interface Audit {
  files: string[];
  trust: TrustBundle;
  reads: TranscriptRead[];
  indexed: IndexedFile[];
  sessionId: string;
  /** universe sync or session (by session id) */
  kind: AuditReport['kind'];
  fileOf: Map<PartyName, string>;
  /** Every message recorded, in file then line order. */
  recorded: Occurrence[];
  /** slot -> its records, in file then line order */
  occurrences: Map<string, Occurrence[]>;
  policies: PolicyDeclaration[];
}

/** What the checks found: issues (failures), notes (remarks on a passing check), evidence. */
class Findings {
  readonly issues: Issue[] = [];
  readonly evidence: object[] = [];
  readonly notes: Partial<Record<CheckName, string[]>> = {};
  issue(check: CheckName, file: string, line: number, reason: string): void {
    this.issues.push({ check, file, line, reason });
  }
  note(check: CheckName, s: string): void {
    (this.notes[check] ??= []).push(s);
  }
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
  const f = new Findings();
  const reads = files.map((file) => readTranscript(file));
  checkFormatAndChain(reads, f);
  const { sessionId, fileOf, writerOf } = checkSessionFiles(files, reads, f);
  const kind: AuditReport['kind'] = sessionId.startsWith(UNIVERSE_SESSION_PREFIX) ? 'universe' : 'session';
  const a: Audit = { files, trust, reads, sessionId, kind, fileOf, ...indexTranscripts(reads, writerOf, trust) };
  checkStatementSessions(a, f);
  checkSignatures(a, f);
  checkAddressing(a, f);
  checkSequence(a, f);
  const flow = kind === 'session' ? sessionFlowOf(a, f) : undefined;
  if (kind === 'universe') checkUniverseRounds(a, f);
  else checkSessionRounds(a, flow, f);
  checkCheckpoints(a, f);
  const slotsCompared = checkEquivocation(a, f);
  const tails = checkDelivery(a, f);
  checkPolicy(a, f);
  const outcome = decideOutcome(a, flow, tails, (file, line, reason) => f.issue('completion', file, line, reason));
  return assembleReport(a, f, outcome, slotsCompared);
}

/** format + chain: the reader's findings about each file's own lines. */
function checkFormatAndChain(reads: TranscriptRead[], f: Findings): void {
  for (const r of reads) {
    for (const p of r.problems) {
      const chain = /^expected (index|prev)/.test(p.reason) || /every entry to be written by/.test(p.reason);
      f.issue(chain ? 'chain' : 'format', r.path, p.line, p.reason);
    }
  }
}

/** session: one session id across the files, one file per party. */
function checkSessionFiles(files: string[], reads: TranscriptRead[], f: Findings) {
  const sessionIds = new Set<string>();
  const writerOf = new Map<string, PartyName>(); // file -> party
  const fileOf = new Map<PartyName, string>();
  for (const r of reads) {
    const head = r.entries[0];
    if (!head) continue;
    const first = head.entry;
    sessionIds.add(first.sessionId);
    writerOf.set(r.path, first.party);
    const other = fileOf.get(first.party);
    if (other !== undefined) f.issue('session', r.path, head.line, `expected one transcript per party, got a second one for ${first.party} (also ${other})`);
    else fileOf.set(first.party, r.path);
    const expectedName = `${first.party}.jsonl`;
    if (basename(r.path) !== expectedName) f.note('session', `${r.path} holds ${first.party}'s entries (expected file name ${expectedName})`);
  }
  const sessionList = [...sessionIds].sort();
  if (sessionList.length > 1) {
    for (const r of reads) {
      const e = r.entries[0];
      if (e && e.entry.sessionId !== sessionList[0]) f.issue('session', r.path, e.line, `expected session ${sessionList[0]}, got ${e.entry.sessionId}`);
    }
  }
  const sessionId = sessionList[0] ?? basename(dirname(resolve(files[0] ?? '.')));
  return { sessionId, fileOf, writerOf };
}

/** Index every file's entries once: statement bytes, hashes and message signatures. */
function indexTranscripts(reads: TranscriptRead[], writerOf: Map<string, PartyName>, trust: TrustBundle) {
  const recorded: Occurrence[] = [];
  const occurrences = new Map<string, Occurrence[]>();
  const policies: PolicyDeclaration[] = [];
  const indexed = reads.map((r): IndexedFile => {
    const items = (r.entries as LocatedEntry[]).map(({ line, entry }): Item => {
      if (entry.kind === 'policy') {
        policies.push({ file: r.path, line, party: entry.party, policy: entry.policy });
        return { kind: 'policy', line, entry };
      }
      if (entry.kind === 'checkpoint') return { kind: 'checkpoint', line, entry };
      const s = entry.statement;
      const bytes = canonicalBytes(s);
      const sigOk = safeVerify(trust, s.sender, STATEMENT_TYPE, bytes, entry.signature.sig);
      const occ: Occurrence = { file: r.path, line, party: entry.party, direction: entry.direction, statement: s, signature: entry.signature, hash: sha256Hex(bytes), sigOk };
      recorded.push(occ);
      const slot = slotOf(s);
      const list = occurrences.get(slot);
      if (list) list.push(occ);
      else occurrences.set(slot, [occ]);
      return { kind: 'message', line, entry, bytes, occ };
    });
    return { path: r.path, writer: writerOf.get(r.path), items };
  });
  return { indexed, recorded, occurrences, policies };
}

function* messages(file: IndexedFile) {
  for (const it of file.items) if (it.kind === 'message') yield it;
}

/** session (per statement): every statement names the session of the entry recording it. */
function checkStatementSessions(a: Audit, f: Findings): void {
  for (const file of a.indexed) {
    for (const { line, entry } of messages(file)) {
      if (entry.statement.sessionId !== entry.sessionId) f.issue('session', file.path, line, `expected statement of session ${entry.sessionId}, got ${entry.statement.sessionId}`);
    }
  }
}

/** signatures: messages under the sender's pinned key, policies under the writer's, co-signatures under each co-signer's. */
function checkSignatures(a: Audit, f: Findings): void {
  const { trust } = a;
  for (const file of a.indexed) {
    for (const it of file.items) {
      if (it.kind === 'policy') {
        const e = it.entry;
        if (!safeVerify(trust, e.party, POLICY_TYPE, policySigningBody(e.party, e.sessionId, e.policy), e.signature.sig)) {
          f.issue('signatures', file.path, it.line, `bad signature: policy does not verify under ${e.party}'s pinned key`);
        }
      } else if (it.kind === 'checkpoint') {
        const body = checkpointSigningBody(it.entry);
        for (const c of it.entry.cosignatures) {
          if (!safeVerify(trust, c.party, CHECKPOINT_TYPE, body, c.sig)) {
            f.issue('signatures', file.path, it.line, `bad signature: checkpoint co-signature of ${c.party} does not verify under its pinned key`);
          }
        }
      } else {
        const { statement: s, signature } = it.occ;
        const pinned = trust.parties[s.sender]?.keyid;
        if (!it.occ.sigOk) {
          const hint = signature.keyid === pinned ? `keyid ${signature.keyid} is ${s.sender}'s` : `keyid ${signature.keyid} is not ${s.sender}'s pinned ${pinned}`;
          f.issue('signatures', file.path, it.line, `bad signature: statement ${s.sender}->${s.receiver} ${s.round} seq ${s.seq} does not verify under ${s.sender}'s pinned key (${hint})`);
        } else if (signature.keyid !== pinned) {
          f.note('signatures', `${basename(file.path)}:${it.line} carries keyid hint ${signature.keyid}, verified under ${s.sender}'s pinned key`);
        }
      }
    }
  }
}

/** addressing: a "sent" entry names its writer as sender, a "received" one as receiver. */
function checkAddressing(a: Audit, f: Findings): void {
  for (const file of a.indexed) {
    for (const { line, entry: m } of messages(file)) {
      const me = m.direction === 'sent' ? m.statement.sender : m.statement.receiver;
      if (me !== m.party) f.issue('addressing', file.path, line, `expected a ${m.direction} statement to name ${m.party} as ${m.direction === 'sent' ? 'sender' : 'receiver'}, got ${me}`);
    }
  }
}

/** sequence: per file and link, seq 0,1,2,… and chunks 0..n ending with `last`. */
function checkSequence(a: Audit, f: Findings): void {
  for (const file of a.indexed) {
    const linkSeq = new Map<string, { next: number; chunk: number; open: boolean; round: string; type: string }>();
    for (const { line, entry: m } of messages(file)) {
      const s = m.statement;
      const link = `${m.direction}|${s.sender}->${s.receiver}`;
      const st = linkSeq.get(link) ?? { next: 0, chunk: -1, open: false, round: '', type: '' };
      if (s.seq !== st.next) {
        f.issue('sequence', file.path, line, `expected seq ${st.next} on ${s.sender}->${s.receiver} (${m.direction}), got ${s.seq}${s.seq > st.next ? ': a gap' : ': a repeat or reordering'}`);
      }
      st.next = Math.max(st.next, s.seq + 1);
      const expectChunk = st.open ? st.chunk + 1 : 0;
      if (s.chunk !== expectChunk) {
        f.issue('sequence', file.path, line, `expected chunk ${expectChunk} on ${s.sender}->${s.receiver} seq ${s.seq}, got ${s.chunk}`);
      } else if (st.open && (s.round !== st.round || s.payloadType !== st.type)) {
        f.issue('sequence', file.path, line, `expected chunk ${s.chunk} to continue ${st.round} ${st.type}, got ${s.round} ${s.payloadType}`);
      }
      st.chunk = s.chunk;
      st.open = !s.last;
      st.round = s.round;
      st.type = s.payloadType;
      linkSeq.set(link, st);
    }
    for (const [link, st] of linkSeq) {
      if (st.open) f.note('sequence', `${basename(file.path)}: ${link} ends inside a chunked message (no chunk marked last)`);
    }
  }
}

/**
 * The session's kind as its policies declare it (`policy.kind`, `lookalike` when none does) and
 * that kind's flow; a kind without a flow in SESSION_FLOWS fails `rounds` (the declarations'
 * disagreement fails `policy`).
 */
function sessionFlowOf(a: Audit, f: Findings): SessionFlow | undefined {
  const declared = a.policies.find((p) => 'kind' in p.policy);
  const kind = declared ? declared.policy.kind : 'lookalike';
  const flow = isSessionKind(kind) ? SESSION_FLOWS[kind] : undefined;
  if (!flow && declared) {
    const known = SESSION_KINDS.filter((k) => SESSION_FLOWS[k]).join(', ');
    f.issue('rounds', declared.file, declared.line, `expected a session kind the verifier knows (${known}), got ${JSON.stringify(kind)}`);
  }
  return flow;
}

/** rounds (session): per file, the kind's rounds never go backwards; nothing but CHECKPOINT/ABORT after an ABORT. */
function checkSessionRounds(a: Audit, flow: SessionFlow | undefined, f: Findings): void {
  const order = flow?.rounds ?? [];
  for (const file of a.indexed) {
    let rank = -1;
    let aborted = false;
    for (const { line, entry: m } of messages(file)) {
      const round = m.statement.round;
      if (round === 'UNIVERSE') f.issue('rounds', file.path, line, 'expected no UNIVERSE message in a session (universe syncs have their own universe-… transcripts), got one');
      if (round === 'ABORT') aborted = true;
      else if (isSessionRound(round)) {
        const k = order.indexOf(round);
        if (aborted) f.issue('rounds', file.path, line, `expected nothing but CHECKPOINT/ABORT after ABORT, got ${round}`);
        else if (flow && k < 0) f.issue('rounds', file.path, line, `expected only the rounds ${order.join('<')} of this session's kind, got ${round}`);
        else if (k < rank && !(flow?.cycleFrom === round && rank === order.length - 1)) {
          f.issue('rounds', file.path, line, `expected rounds in order ${order.join('<')}${flow?.cycleFrom ? ` (repeating from ${flow.cycleFrom})` : ''}, got ${round} after ${order[rank]}`);
        }
        rank = flow?.cycleFrom === round && rank === order.length - 1 ? k : Math.max(rank, k);
      }
    }
  }
}

/** rounds (universe sync): only UNIVERSE messages, broker→media requests and media→broker answers. */
function checkUniverseRounds(a: Audit, f: Findings): void {
  for (const file of a.indexed) {
    for (const { line, entry: m } of messages(file)) {
      const s = m.statement;
      const expected = s.sender === 'broker' ? 'media' : s.sender === 'media' ? 'broker' : undefined;
      if (s.round !== 'UNIVERSE' || s.receiver !== expected) {
        f.issue('rounds', file.path, line, `expected only UNIVERSE messages between broker and media in a universe sync, got ${s.round} ${s.sender}->${s.receiver}`);
      }
    }
  }
}

/** checkpoints: every root recomputes (RFC 6962) from the writer's own first `treeSize` messages. */
function checkCheckpoints(a: Audit, f: Findings): void {
  for (const file of a.indexed) {
    const leaves: Uint8Array[] = [];
    for (const it of file.items) {
      if (it.kind === 'message') leaves.push(it.bytes);
      if (it.kind !== 'checkpoint') continue;
      const e = it.entry;
      if (e.treeSize > leaves.length) {
        f.issue('checkpoints', file.path, it.line, `expected treeSize <= ${leaves.length} messages recorded before the checkpoint, got ${e.treeSize}`);
      } else {
        const root = Buffer.from(merkleRoot(leaves.slice(0, e.treeSize))).toString('hex');
        if (root !== e.root) f.issue('checkpoints', file.path, it.line, `expected root ${root} over ${e.party}'s first ${e.treeSize} messages, got ${e.root}`);
      }
    }
  }
}

/**
 * equivocation: a slot carrying two different statements (both attached as evidence), or a
 * received statement its sender's transcript never recorded as sent. Returns how many slots
 * were seen by more than one record.
 */
function checkEquivocation(a: Audit, f: Findings): number {
  let slotsCompared = 0;
  for (const [slot, list] of a.occurrences) {
    const distinct = new Map<string, { first: Occurrence; all: Occurrence[] }>(); // statement hash -> its records
    for (const o of list) {
      const d = distinct.get(o.hash);
      if (d) d.all.push(o);
      else distinct.set(o.hash, { first: o, all: [o] });
    }
    if (list.length > 1) slotsCompared++;
    const first = list[0];
    if (distinct.size > 1 && first) {
      const signed = [...distinct.values()].filter((d) => d.all.some((o) => o.sigOk));
      const at = list.slice().sort((x, y) => a.files.indexOf(x.file) - a.files.indexOf(y.file) || x.line - y.line)[1] ?? first;
      const sender = first.statement.sender;
      const reason =
        signed.length > 1
          ? `EQUIVOCATION: ${sender} signed ${distinct.size} different statements for slot ${slot}`
          : `conflicting statements for slot ${slot}; only ${signed.length} of ${distinct.size} carry a valid signature by ${sender}`;
      f.issue('equivocation', at.file, at.line, reason);
      f.evidence.push({
        kind: signed.length > 1 ? 'equivocation' : 'conflict',
        slot,
        statements: [...distinct.values()].map(({ first: o, all }) => ({
          statement: o.statement,
          signature: o.signature,
          signatureValid: o.sigOk,
          statementSha256: o.hash,
          recordedBy: all.map((x) => ({ file: x.file, line: x.line, party: x.party, direction: x.direction })),
        })),
      });
    }
    for (const o of list) {
      if (o.direction !== 'received') continue;
      const s = o.statement;
      if (!a.fileOf.has(s.sender)) continue;
      if (!list.some((x) => x.direction === 'sent' && x.party === s.sender)) {
        f.issue('equivocation', o.file, o.line, `${o.party} recorded a statement from ${s.sender} for slot ${slot} that ${s.sender}'s transcript never recorded as sent`);
        f.evidence.push({ kind: 'unsent', slot, statement: s, signature: o.signature, signatureValid: o.sigOk, recordedBy: [{ file: o.file, line: o.line, party: o.party, direction: o.direction }] });
      }
    }
  }
  return slotsCompared;
}

/**
 * delivery: a message sent and not recorded by its receiver fails when the receiver recorded
 * later ones on that link; at the tail of a link it is returned (the outcome decides: a
 * completed session has no excuse).
 */
function checkDelivery(a: Audit, f: Findings): Occurrence[] {
  const tails: Occurrence[] = [];
  const lastReceived = new Map<string, number>();
  for (const o of a.recorded) {
    if (o.direction !== 'received') continue;
    const k = `${o.statement.sender}->${o.statement.receiver}`;
    lastReceived.set(k, Math.max(lastReceived.get(k) ?? -1, o.statement.seq));
  }
  for (const [slot, list] of a.occurrences) {
    for (const o of list) {
      if (o.direction !== 'sent' || !a.fileOf.has(o.statement.receiver)) continue;
      if (list.some((x) => x.direction === 'received' && x.party === o.statement.receiver)) continue;
      const k = `${o.statement.sender}->${o.statement.receiver}`;
      if (o.statement.seq < (lastReceived.get(k) ?? -1)) {
        f.issue('delivery', o.file, o.line, `${o.statement.receiver} recorded later messages on ${k} but not ${slot}`);
      } else {
        tails.push(o);
        f.note('delivery', `${slot} sent by ${o.party} and not recorded by ${o.statement.receiver} (tail of the link)`);
      }
    }
  }
  return tails;
}

/** The policy fields every declaration must agree on: the declared kind's (SESSION_FLOWS), decoyRatio and minCohort by default. */
function agreedFields(policies: readonly { policy: Record<string, unknown> }[]): readonly string[] {
  const declaredKind = policies.find((p) => 'kind' in p.policy)?.policy.kind;
  return (isSessionKind(declaredKind) ? SESSION_FLOWS[declaredKind]?.agreed : undefined) ?? ['decoyRatio', 'minCohort'];
}

/** policy: every session transcript declares one; decoyRatio, minCohort and kind agree; key fingerprints match the pinned keys. */
function checkPolicy(a: Audit, f: Findings): void {
  const { policies } = a;
  if (a.kind === 'session') {
    for (const file of a.indexed) {
      const head = file.items[0];
      if (file.writer && head && !file.items.some((it) => it.kind === 'policy')) {
        f.issue('policy', file.path, head.line, `expected ${file.writer} to declare a signed policy, got none in this transcript`);
      }
    }
  }
  for (const field of [...agreedFields(policies), 'kind']) {
    const values = policies.filter((p) => field in p.policy);
    const firstP = values[0];
    if (!firstP) {
      const p0 = policies[0];
      if (p0 && field !== 'kind') f.issue('policy', p0.file, p0.line, `expected the policy to declare ${field}, got none`);
      continue;
    }
    for (const p of values.slice(1)) {
      if (JSON.stringify(p.policy[field]) !== JSON.stringify(firstP.policy[field])) {
        f.issue('policy', p.file, p.line, `expected ${field} ${JSON.stringify(firstP.policy[field])} as declared by ${firstP.party}, got ${JSON.stringify(p.policy[field])} from ${p.party}`);
        f.evidence.push({ kind: 'policy-disagreement', field, declarations: values.map((v) => ({ party: v.party, file: v.file, line: v.line, value: v.policy[field] })) });
      }
    }
  }
  for (const p of policies) {
    const fps = p.policy.keyFingerprints;
    if (!isObject(fps)) continue;
    for (const [party, fp] of Object.entries(fps)) {
      const pinned = isParty(party) ? a.trust.parties[party]?.keyid : undefined;
      if (pinned === undefined) continue;
      if (typeof fp !== 'string' || !(fp === pinned || fp.startsWith(pinned))) {
        f.issue('policy', p.file, p.line, `expected keyFingerprints.${party} to match the pinned keyid ${pinned}, got ${JSON.stringify(fp)}`);
      }
    }
  }
}

/** The report: one entry per check (its first three findings, or what it verified), the first failure, evidence. */
function assembleReport(a: Audit, f: Findings, outcome: SessionOutcome, slotsCompared: number): AuditReport {
  const { files, reads, kind, policies, indexed } = a;
  const lines = reads.reduce((n, r) => n + r.lineCount, 0);
  const items = indexed.flatMap((x) => x.items);
  const checkpoints = items.filter((it) => it.kind === 'checkpoint');
  const cosigs = checkpoints.reduce((n, it) => n + it.entry.cosignatures.length, 0);
  const detailOk: Record<CheckName, string> = {
    format: `${reads.length} file(s), ${lines} line(s): strict, canonical, well-formed`,
    chain: 'index and prev-hash chain intact in every file',
    session: `session ${a.sessionId}: ${[...a.fileOf.keys()].join(', ') || 'no parties'}`,
    signatures: `${a.recorded.length} message signature(s), ${policies.length} policy signature(s), ${cosigs} checkpoint co-signature(s) verify under pinned keys`,
    addressing: 'every entry is recorded by its sender (sent) or receiver (received)',
    equivocation: `${a.occurrences.size} slot(s), ${slotsCompared} seen by more than one record: no conflicting statements`,
    delivery: 'every message sent to a party with a transcript is recorded by it',
    sequence: 'per-link sequence numbers contiguous, chunks well-formed',
    rounds: kind === 'universe' ? 'only UNIVERSE messages between broker and media' : 'rounds in protocol order',
    policy: kind === 'universe' ? 'universe sync: no policy required' : policies.length > 0 ? `${agreedFields(policies).join('/')} agree across ${policies.length} declaration(s)` : 'no policy declarations',
    checkpoints: `${checkpoints.length} checkpoint root(s) recompute from the writers' leaves`,
    completion: `${outcome.state}: ${outcome.detail}`,
  };
  const checks: AuditCheck[] = CHECK_NAMES.map((name) => {
    const mine = f.issues.filter((i) => i.check === name);
    const notes = f.notes[name] ?? [];
    const extra = notes.length ? ` (${notes.slice(0, 3).join('; ')}${notes.length > 3 ? `; +${notes.length - 3} more` : ''})` : '';
    if (mine.length === 0) return { name, ok: true, detail: detailOk[name] + extra };
    const head = mine.slice(0, 3).map((i) => `${basename(i.file)}:${i.line}: ${i.reason}`).join('; ');
    return { name, ok: false, detail: mine.length > 3 ? `${head}; +${mine.length - 3} more` : head };
  });
  const report: AuditReport = { sessionId: a.sessionId, kind, ok: f.issues.length === 0, outcome, checks };
  const first = firstFailure(f.issues, files);
  if (first) report.firstFailure = { file: first.file, line: first.line, reason: `${first.check}: ${first.reason}` };
  if (f.evidence.length > 0) report.evidence = f.evidence;
  return report;
}

/**
 * The first failure: findings about a file's own lines (format, chain, signatures, addressing,
 * session) before cross-file findings (which a damaged file usually causes in the other files),
 * and the outcome (completion) last: it follows from the other findings when there are any.
 * Within a tier, in file order, then line order.
 */
function firstFailure(issues: Issue[], files: string[]): Issue | undefined {
  const tier = (c: CheckName) => (c === 'format' || c === 'chain' || c === 'signatures' || c === 'addressing' || c === 'session' ? 0 : c === 'completion' ? 2 : 1);
  const fileRank = (file: string) => (files.indexOf(file) === -1 ? files.length : files.indexOf(file));
  const key = (i: Issue) => [tier(i.check), fileRank(i.file), i.line, CHECK_NAMES.indexOf(i.check)];
  const before = (x: Issue, y: Issue) => {
    const [kx, ky] = [key(x), key(y)];
    const d = kx.findIndex((v, j) => v !== ky[j]);
    return d >= 0 && (kx[d] ?? 0) < (ky[d] ?? 0);
  };
  return issues.reduce<Issue | undefined>((best, i) => (best === undefined || before(i, best) ? i : best), undefined);
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
function decideOutcome(a: Audit, flow: SessionFlow | undefined, tails: Occurrence[], fail: (file: string, line: number, reason: string) => void): SessionOutcome {
  const { kind, recorded, fileOf } = a;
  const where = (o: Occurrence) => `${basename(o.file)}:${o.line}`;
  const firstFile = [...fileOf.values()][0] ?? '';
  if (recorded.length === 0) {
    fail(firstFile, 0, 'incomplete: no message recorded in any transcript');
    return { state: 'incomplete', detail: 'no message recorded' };
  }
  const aborts = recorded.filter((o) => o.statement.round === 'ABORT').sort((x, y) => (x.statement.sentAt < y.statement.sentAt ? -1 : x.statement.sentAt > y.statement.sentAt ? 1 : 0));
  const abort = aborts[0]; // the first in time started it; the others follow from it
  if (kind === 'session' && abort) {
    const order = flow?.rounds ?? [];
    const before = recorded.filter((o) => o.file === abort.file && o.line < abort.line);
    const round = before.reduce((k, o) => Math.max(k, order.indexOf(o.statement.round as SessionRound)), -1);
    const after = round >= 0 ? ` during ${order[round]}` : ' before any round';
    const others = [...new Set(aborts.filter((o) => o.statement.sender !== abort.statement.sender).map((o) => `${o.statement.sender}->${o.statement.receiver}`))];
    return {
      state: 'aborted',
      detail: `aborted by ${abort.statement.sender} (ABORT to ${abort.statement.receiver}${after}, ${where(abort)}${others.length ? `; then ${others.join(', ')}` : ''}); the reason is in the ABORT payload, which transcripts do not hold — ${abort.statement.sender}'s session error names it`,
    };
  }
  if (kind === 'session' && !flow) return { state: 'incomplete', detail: 'a session of a kind the verifier does not know: no final message to look for' };
  // The final message: the kind's result (session) or the last answer page (universe).
  const isFinal = flow
    ? (o: Occurrence) => o.statement.payloadType === flow.final.payloadType && o.statement.sender === flow.final.sender && o.statement.receiver === flow.final.receiver && o.statement.last
      && (!flow.cycleFrom || o === recorded.filter((x) => x.file === o.file && x.statement.round !== 'CHECKPOINT').at(-1))
    : (o: Occurrence) => o === recorded.filter((x) => x.file === o.file).at(-1) && o.statement.sender === 'media' && o.statement.receiver === 'broker' && o.statement.last;
  const finals = recorded.filter(isFinal);
  const f = finals[0];
  if (!f) {
    const last = recorded.reduce((x, y) => (y.statement.sentAt > x.statement.sentAt ? y : x));
    const want = flow ? `${flow.final.sender}->${flow.final.receiver} ${flow.rounds.at(-1)} (the ${flow.final.payloadType.replace(/^cleanroom\.v1\./, '')})` : 'a last answer media->broker';
    fail(last.file, last.line, `incomplete: no final message (${want}) in any transcript and no ABORT; the last message recorded is ${describeMessage(last)} (${where(last)}): the session was killed, is still running, or lost its final lines`);
    return { state: 'incomplete', detail: `no final message; last recorded: ${describeMessage(last)} at ${where(last)}` };
  }
  const { sender, receiver } = f.statement;
  let missing = false;
  for (const [party, direction] of [[sender, 'sent'], [receiver, 'received']] as const) {
    const file = fileOf.get(party);
    if (file === undefined) continue;
    if (!finals.some((o) => o.party === party && o.direction === direction && o.hash === f.hash)) {
      missing = true;
      const lineCount = a.reads.find((r) => r.path === file)?.lineCount ?? 0;
      fail(file, lineCount, `incomplete: ${basename(file)} does not record the final message ${describeMessage(f)} as ${direction}, which ${where(f)} records: the transcript was cut (its last line deleted?) or ${party} died before recording it`);
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
export function verifyPaths(pathsOrDirs: string[], trust: TrustBundle, trustFor?: (sessionId: string) => TrustBundle | undefined): AuditReport[] {
  const groups = groupTranscripts(pathsOrDirs);
  return [...groups.keys()].sort().map((sid) => verifySession(groups.get(sid)!, trustFor?.(sid) ?? trust));
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

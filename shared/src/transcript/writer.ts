/**
 * Per-session, per-party transcripts: append-only, hash-chained JSON Lines.
 *
 * File: `<transcriptDir>/<sessionId>/<party>.jsonl`. Each line is the RFC 8785 canonical JSON
 * of one entry followed by "\n"; `index` is the 0-based line number and `prev` the lower-hex
 * SHA-256 of the previous line's exact bytes without its "\n" (64 zeros for the first line).
 * Entry kinds:
 *   - message (no `kind` member): `direction` sent|received, the Statement object exactly as
 *     signed (its canonical JSON is the signed statement bytes), the sender's signature;
 *   - `kind: "policy"`: the policy this party declares at OPEN, signed by the writer over
 *     PAE(POLICY_TYPE, canonical {v, kind, party, sessionId, policy});
 *   - `kind: "checkpoint"`: tree size, RFC 6962 root over the statement bytes of this file's
 *     first `treeSize` messages, the round it follows, and co-signatures over
 *     PAE(CHECKPOINT_TYPE, canonical {v, kind, sessionId, treeSize, root, afterRound})
 *     (checkpoint.ts).
 *
 * Guarantees: appends are synchronous (one `writeSync` per line on a kept descriptor), so a
 * line is in the file before the message is acted upon; `fsync` on every checkpoint and at
 * close. A line that cannot be written whole (a full volume: RESOURCE_EXHAUSTED) is removed
 * again, so the file always ends at a complete entry. The writer refuses statements that are not canonical, belong to another session or
 * are addressed inconsistently with `direction`, and checkpoints whose root it cannot
 * recompute from its own leaves. A transcript is created exclusively and never re-opened:
 * a second open of the same session id fails with ALREADY_EXISTS. `readTranscript` never throws: it returns what it could read plus
 * `{ line, reason }` problems (1-based line numbers).
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ProtocolError } from '../protocol/messages.ts';
import { sha256Hex } from '../crypto/sha256.ts';
import { join } from 'node:path';
import { canonicalBytes, canonicalize, parseStrict, type JsonValue } from '../crypto/jcs.ts';
import { PARTIES, fromBase64, isPartyName, toBase64, type PartyName, type SigningKey } from '../crypto/dsse.ts';
import { merkleRoot } from '../crypto/merkle.ts';
import type { Statement } from './statement.ts';

/** DSSE payload type of a policy declaration. */
export const POLICY_TYPE = 'application/vnd.cleanroom.policy+json; version=1';

export const ZERO_HASH = '0'.repeat(64);
import { ROUNDS as ROUND_NAMES, type Round as RoundName } from '../common/names.ts';
export { ROUND_NAMES, type RoundName };
export type Direction = 'sent' | 'received';

export interface EncodedSignature {
  keyid: string;
  sig: string; // base64
}

interface EntryBase {
  v: 1;
  party: PartyName;
  sessionId: string;
  index: number;
  prev: string;
  recordedAt: string;
}

export interface MessageEntry extends EntryBase {
  kind?: undefined;
  direction: Direction;
  statement: Statement;
  signature: EncodedSignature;
}

export interface PolicyEntry extends EntryBase {
  kind: 'policy';
  policy: { [key: string]: JsonValue };
  signature: EncodedSignature;
}

export interface CheckpointEntry extends EntryBase {
  kind: 'checkpoint';
  treeSize: number;
  root: string;
  afterRound: RoundName;
  cosignatures: (EncodedSignature & { party: PartyName })[];
}

export type TranscriptEntry = MessageEntry | PolicyEntry | CheckpointEntry;

export interface TranscriptProblem {
  line: number; // 1-based; 0 when the file itself cannot be read
  reason: string;
}

export interface LocatedEntry {
  line: number; // 1-based
  entry: TranscriptEntry;
}

export interface TranscriptRead {
  path: string;
  /** Entries that parsed and have a valid shape (even if the chain around them is broken). */
  entries: LocatedEntry[];
  /** Every problem found, in line order. Empty means: parses, canonical, chain intact. */
  problems: TranscriptProblem[];
  /** Number of lines (including a final unterminated fragment). */
  lineCount: number;
}

export { sha256Hex };

/** The bytes a party signs to declare its policy. */
export function policySigningBody(party: PartyName, sessionId: string, policy: object): Uint8Array {
  return canonicalBytes({ v: 1, kind: 'policy', party, sessionId, policy });
}


const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function assertSessionId(sessionId: unknown): string {
  if (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId) || sessionId.includes('..')) {
    throw new Error(`expected sessionId matching ${SESSION_ID} (a safe file name), got ${JSON.stringify(sessionId)}`);
  }
  return sessionId;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? x.slice(0, 40) + '…' : x);
  if (typeof x === 'object') return 'object';
  return `${typeof x} ${String(x)}`;
}

// ---------------------------------------------------------------------------------------------
// shape validation (shared by the writer, the reader and the verifier)

const STATEMENT_KEYS = ['v', 'sessionId', 'round', 'sender', 'receiver', 'seq', 'chunk', 'last', 'payloadType', 'payloadSha256', 'payloadSize', 'sentAt'];

/** Throws "expected X, got Y" unless `v` has exactly the Statement fields with valid types. */
export function checkStatement(v: unknown): Statement {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`expected statement to be an object, got ${describe(v)}`);
  const s = v as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!STATEMENT_KEYS.includes(k)) throw new Error(`expected statement fields ${STATEMENT_KEYS.join(',')}, got unexpected ${k}`);
  for (const k of STATEMENT_KEYS) if (!(k in s)) throw new Error(`expected statement field ${k}, got none`);
  if (s.v !== 1) throw new Error(`expected statement.v 1, got ${describe(s.v)}`);
  assertSessionId(s.sessionId);
  if (!(ROUND_NAMES as readonly unknown[]).includes(s.round)) throw new Error(`expected statement.round one of ${ROUND_NAMES.join('|')}, got ${describe(s.round)}`);
  if (!isPartyName(s.sender)) throw new Error(`expected statement.sender one of ${PARTIES.join('|')}, got ${describe(s.sender)}`);
  if (!isPartyName(s.receiver)) throw new Error(`expected statement.receiver one of ${PARTIES.join('|')}, got ${describe(s.receiver)}`);
  if (s.sender === s.receiver) throw new Error(`expected statement.receiver to differ from sender, got ${s.sender} twice`);
  for (const k of ['seq', 'chunk', 'payloadSize']) {
    if (!Number.isSafeInteger(s[k]) || (s[k] as number) < 0) throw new Error(`expected statement.${k} to be a non-negative integer, got ${describe(s[k])}`);
  }
  if (typeof s.last !== 'boolean') throw new Error(`expected statement.last to be a boolean, got ${describe(s.last)}`);
  if (typeof s.payloadType !== 'string' || s.payloadType.length === 0) throw new Error(`expected statement.payloadType, got ${describe(s.payloadType)}`);
  if (typeof s.payloadSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(s.payloadSha256)) throw new Error(`expected statement.payloadSha256 of 64 lower-hex digits, got ${describe(s.payloadSha256)}`);
  if (typeof s.sentAt !== 'string' || Number.isNaN(Date.parse(s.sentAt))) throw new Error(`expected statement.sentAt as ISO-8601, got ${describe(s.sentAt)}`);
  return s as unknown as Statement;
}

function checkSignature(v: unknown, what: string): EncodedSignature {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`expected ${what} to be an object, got ${describe(v)}`);
  const s = v as Record<string, unknown>;
  if (typeof s.keyid !== 'string') throw new Error(`expected ${what}.keyid to be a string, got ${describe(s.keyid)}`);
  fromBase64(s.sig, `${what}.sig`, 64);
  return v as EncodedSignature;
}

function exactKeys(o: Record<string, unknown>, keys: string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new Error(`expected ${what} fields ${keys.join(',')}, got unexpected ${k}`);
  for (const k of keys) if (!(k in o)) throw new Error(`expected ${what} field ${k}, got none`);
}

/** Throws "expected X, got Y" unless `v` is a well-formed transcript entry. */
export function checkEntry(v: unknown): TranscriptEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`expected an entry object, got ${describe(v)}`);
  const e = v as Record<string, unknown>;
  const base = ['v', 'party', 'sessionId', 'index', 'prev', 'recordedAt'];
  if (e.v !== 1) throw new Error(`expected v 1, got ${describe(e.v)}`);
  if (!isPartyName(e.party)) throw new Error(`expected party one of ${PARTIES.join('|')}, got ${describe(e.party)}`);
  assertSessionId(e.sessionId);
  if (!Number.isSafeInteger(e.index) || (e.index as number) < 0) throw new Error(`expected index to be a non-negative integer, got ${describe(e.index)}`);
  if (typeof e.prev !== 'string' || !/^[0-9a-f]{64}$/.test(e.prev)) throw new Error(`expected prev of 64 lower-hex digits, got ${describe(e.prev)}`);
  if (typeof e.recordedAt !== 'string' || Number.isNaN(Date.parse(e.recordedAt))) throw new Error(`expected recordedAt as ISO-8601, got ${describe(e.recordedAt)}`);
  if (e.kind === undefined) {
    exactKeys(e, [...base, 'direction', 'statement', 'signature'], 'message entry');
    if (e.direction !== 'sent' && e.direction !== 'received') throw new Error(`expected direction sent|received, got ${describe(e.direction)}`);
    checkStatement(e.statement);
    checkSignature(e.signature, 'signature');
  } else if (e.kind === 'policy') {
    exactKeys(e, [...base, 'kind', 'policy', 'signature'], 'policy entry');
    if (typeof e.policy !== 'object' || e.policy === null || Array.isArray(e.policy)) throw new Error(`expected policy to be an object, got ${describe(e.policy)}`);
    checkSignature(e.signature, 'signature');
  } else if (e.kind === 'checkpoint') {
    exactKeys(e, [...base, 'kind', 'treeSize', 'root', 'afterRound', 'cosignatures'], 'checkpoint entry');
    if (!Number.isSafeInteger(e.treeSize) || (e.treeSize as number) < 0) throw new Error(`expected treeSize to be a non-negative integer, got ${describe(e.treeSize)}`);
    if (typeof e.root !== 'string' || !/^[0-9a-f]{64}$/.test(e.root)) throw new Error(`expected root of 64 lower-hex digits, got ${describe(e.root)}`);
    if (!(ROUND_NAMES as readonly unknown[]).includes(e.afterRound)) throw new Error(`expected afterRound one of ${ROUND_NAMES.join('|')}, got ${describe(e.afterRound)}`);
    if (!Array.isArray(e.cosignatures)) throw new Error(`expected cosignatures to be an array, got ${describe(e.cosignatures)}`);
    e.cosignatures.forEach((c: unknown, i) => {
      checkSignature(c, `cosignatures[${i}]`);
      if (!isPartyName((c as Record<string, unknown>).party)) throw new Error(`expected cosignatures[${i}].party, got ${describe((c as Record<string, unknown>).party)}`);
    });
  } else {
    throw new Error(`expected kind absent (message), "policy" or "checkpoint", got ${describe(e.kind)}`);
  }
  return v as unknown as TranscriptEntry;
}

// ---------------------------------------------------------------------------------------------
// reader

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Read and check one transcript file. Never throws. */
export function readTranscript(path: string): TranscriptRead {
  const out: TranscriptRead = { path, entries: [], problems: [], lineCount: 0 };
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    out.problems.push({ line: 0, reason: `cannot read the file: ${(err as Error).message}` });
    return out;
  }
  if (bytes.length === 0) {
    out.problems.push({ line: 0, reason: 'expected at least one entry, got an empty file' });
    return out;
  }
  let prevHash = ZERO_HASH;
  let start = 0;
  let lineNo = 0;
  let first: { party: string; sessionId: string } | undefined;
  while (start < bytes.length) {
    lineNo++;
    let end = bytes.indexOf(0x0a, start);
    const terminated = end !== -1;
    if (!terminated) end = bytes.length;
    const raw = bytes.subarray(start, end);
    start = end + 1;
    const problem = (reason: string) => out.problems.push({ line: lineNo, reason });
    const hash = sha256Hex(raw);
    const expectedPrev = prevHash;
    prevHash = hash;
    if (!terminated) {
      problem('truncated: the last line has no terminating newline (file cut mid-entry?)');
    }
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      problem('expected UTF-8, got an invalid byte sequence');
      continue;
    }
    let value: JsonValue;
    try {
      value = parseStrict(text);
    } catch (err) {
      problem(`not strict JSON: ${(err as Error).message}`);
      continue;
    }
    let canon: string;
    try {
      canon = canonicalize(value);
    } catch (err) {
      problem(`not canonical JSON: ${(err as Error).message}`);
      continue;
    }
    if (canon !== text) {
      problem('not canonical JSON (RFC 8785): re-canonicalizing the entry changes its bytes');
      continue;
    }
    let entry: TranscriptEntry;
    try {
      entry = checkEntry(value);
    } catch (err) {
      problem(`malformed entry: ${(err as Error).message}`);
      continue;
    }
    if (entry.index !== lineNo - 1) {
      problem(`expected index ${lineNo - 1}, got ${entry.index}: lines were deleted, inserted or reordered`);
    } else if (entry.prev !== expectedPrev) {
      problem(
        lineNo === 1
          ? `expected prev of 64 zeros on the first line, got ${entry.prev}`
          : `expected prev ${expectedPrev} (SHA-256 of line ${lineNo - 1}), got ${entry.prev}: line ${lineNo - 1} was altered, or this line was`,
      );
    }
    if (first === undefined) first = { party: entry.party, sessionId: entry.sessionId };
    else if (entry.party !== first.party || entry.sessionId !== first.sessionId) {
      problem(`expected every entry to be written by ${first.party} for session ${first.sessionId}, got ${entry.party} / ${entry.sessionId}`);
    }
    out.entries.push({ line: lineNo, entry });
  }
  out.lineCount = lineNo;
  return out;
}

// ---------------------------------------------------------------------------------------------
// writer

export interface WriterOptions {
  /** Clock for `recordedAt` (tests inject a fixed one). */
  now?: () => Date;
}

/** Appends one party's view of one session. Not safe for concurrent writers to one file. */
export class TranscriptWriter {
  readonly path: string;
  readonly party: PartyName;
  readonly sessionId: string;
  #fd: number | undefined;
  /** Bytes of the complete lines written: where the next line goes (positioned writes). */
  #bytes = 0;
  #index: number;
  #prev: string;
  #leaves: Uint8Array[];
  readonly #now: () => Date;

  private constructor(path: string, party: PartyName, sessionId: string, fd: number, index: number, prev: string, leaves: Uint8Array[], now: () => Date) {
    this.path = path;
    this.party = party;
    this.sessionId = sessionId;
    this.#fd = fd;
    this.#index = index;
    this.#prev = prev;
    this.#leaves = leaves;
    this.#now = now;
  }

  /**
   * Create `<dir>/<sessionId>/<party>.jsonl`, exclusively: the file is opened with O_CREAT|O_EXCL
   * (flag 'wx'), so of two opens of one session id — concurrent, or years apart across restarts —
   * exactly one succeeds. An existing transcript (even an empty one) is never continued or
   * appended to: the other open fails with ProtocolError ALREADY_EXISTS. The transcript
   * directory is therefore the persisted record of the session ids this party has used.
   * Any other file-system failure (e.g. the directory is a regular file: ENOTDIR) throws
   * an Error naming the path.
   */
  static open(dir: string, party: PartyName, sessionId: string, options: WriterOptions = {}): TranscriptWriter {
    if (typeof dir !== 'string' || dir.length === 0) throw new Error(`expected a transcript directory, got ${describe(dir)}`);
    if (!isPartyName(party)) throw new Error(`expected party one of ${PARTIES.join('|')}, got ${describe(party)}`);
    assertSessionId(sessionId);
    const sessionDir = join(dir, sessionId);
    const path = join(sessionDir, `${party}.jsonl`);
    let fd: number;
    try {
      mkdirSync(sessionDir, { recursive: true, mode: 0o750 });
      fd = openSync(path, 'wx', 0o640);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST' && e.path === path) {
        throw new ProtocolError('ALREADY_EXISTS', `session ${sessionId} already has a ${party} transcript (${path}): session ids are never reused and a transcript is never appended to`);
      }
      throw new Error(`cannot create the transcript ${path}: ${e.code ?? ''} ${e.message}`.replace(/ +/g, ' '));
    }
    return new TranscriptWriter(path, party, sessionId, fd, 0, ZERO_HASH, [], options.now ?? (() => new Date()));
  }

  /** Number of entries written so far. */
  get size(): number {
    return this.#index;
  }

  /** Record a message this node sent or received, with the sender's signature over its statement. */
  appendMessage(direction: Direction, statementBytes: Uint8Array, signature: { keyid: string; sig: Uint8Array }): void {
    if (direction !== 'sent' && direction !== 'received') throw new Error(`expected direction sent|received, got ${describe(direction)}`);
    if (!(statementBytes instanceof Uint8Array)) throw new Error(`expected statementBytes to be a Uint8Array, got ${describe(statementBytes)}`);
    if (typeof signature !== 'object' || signature === null || typeof signature.keyid !== 'string') {
      throw new Error(`expected signature { keyid, sig }, got ${describe(signature)}`);
    }
    if (!(signature.sig instanceof Uint8Array) || signature.sig.length !== 64) {
      throw new Error(`expected a 64-byte Ed25519 signature, got ${signature.sig instanceof Uint8Array ? `${signature.sig.length} bytes` : describe(signature.sig)}`);
    }
    const text = utf8.decode(statementBytes);
    const statement = checkStatement(parseStrict(text));
    if (canonicalize(statement) !== text) throw new Error('expected canonical (RFC 8785) statement bytes, got a different spelling');
    if (statement.sessionId !== this.sessionId) throw new Error(`expected a statement of session ${this.sessionId}, got ${statement.sessionId}`);
    const me = direction === 'sent' ? statement.sender : statement.receiver;
    if (me !== this.party) {
      throw new Error(`expected a ${direction} statement to name ${this.party} as ${direction === 'sent' ? 'sender' : 'receiver'}, got ${me}`);
    }
    this.#append({ direction, statement, signature: { keyid: signature.keyid, sig: toBase64(signature.sig) } });
    this.#leaves.push(Uint8Array.from(statementBytes));
  }

  /** Record the policy this party declares, signed by its key. */
  appendPolicy(policy: object, key: SigningKey): void {
    if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) throw new Error(`expected policy to be an object, got ${describe(policy)}`);
    const normalized = parseStrict(canonicalize(policy)) as { [key: string]: JsonValue };
    const { keyid, sig } = key.sign(POLICY_TYPE, policySigningBody(this.party, this.sessionId, normalized));
    this.#append({ kind: 'policy', policy: normalized, signature: { keyid, sig: toBase64(sig) } });
  }

  /** Record a checkpoint over this file's first `treeSize` messages; fsyncs. */
  appendCheckpoint(cp: { treeSize: number; root: string; afterRound: RoundName; cosignatures: { party: PartyName; keyid: string; sig: Uint8Array }[] }): void {
    if (typeof cp !== 'object' || cp === null) throw new Error(`expected a checkpoint object, got ${describe(cp)}`);
    const { treeSize, root, afterRound, cosignatures } = cp;
    if (!Number.isSafeInteger(treeSize) || treeSize < 0 || treeSize > this.#leaves.length) {
      throw new Error(`expected treeSize in 0..${this.#leaves.length}, got ${describe(treeSize)}`);
    }
    if (!(ROUND_NAMES as readonly string[]).includes(afterRound)) throw new Error(`expected afterRound one of ${ROUND_NAMES.join('|')}, got ${describe(afterRound)}`);
    const mine = Buffer.from(merkleRoot(this.#leaves.slice(0, treeSize))).toString('hex');
    if (root !== mine) throw new Error(`expected root ${mine} (over this transcript's first ${treeSize} messages), got ${describe(root)}`);
    if (!Array.isArray(cosignatures)) throw new Error(`expected cosignatures to be an array, got ${describe(cosignatures)}`);
    const encoded = cosignatures.map((c, i) => {
      if (!isPartyName(c?.party)) throw new Error(`expected cosignatures[${i}].party, got ${describe(c?.party)}`);
      if (!(c.sig instanceof Uint8Array) || c.sig.length !== 64) throw new Error(`expected cosignatures[${i}].sig of 64 bytes, got ${describe(c.sig)}`);
      return { party: c.party, keyid: String(c.keyid), sig: toBase64(c.sig) };
    });
    this.#append({ kind: 'checkpoint', treeSize, root, afterRound, cosignatures: encoded });
    fsyncSync(this.#fd!);
  }

  /** Statement bytes of every message recorded, in order (the Merkle leaves). */
  leaves(): Uint8Array[] {
    return this.#leaves.map((l) => Uint8Array.from(l));
  }

  /** fsync and close; later appends throw. Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd); // the descriptor is released even when fsync fails (the error is rethrown)
    }
  }

  #append(fields: Record<string, unknown>): void {
    if (this.#fd === undefined) throw new Error(`expected an open transcript, got ${this.path} closed`);
    const entry = {
      v: 1,
      party: this.party,
      sessionId: this.sessionId,
      index: this.#index,
      prev: this.#prev,
      ...fields,
      recordedAt: this.#now().toISOString(),
    };
    const line = canonicalBytes(entry);
    const buf = new Uint8Array(line.length + 1);
    buf.set(line);
    buf[line.length] = 0x0a;
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.#fd, buf, off, buf.length - off, this.#bytes + off);
    } catch (err) {
      // A line written in part (a full volume) is cut off again: the file keeps ending at its
      // last complete entry, so it still verifies, and a later entry follows that one.
      if (off > 0) ftruncateSync(this.#fd, this.#bytes);
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOSPC') {
        throw new ProtocolError('RESOURCE_EXHAUSTED', `transcript ${this.path}: the volume is full (ENOSPC): entry ${this.#index} was not recorded, so what it records is not acted upon (the transcript ends intact at the entry before)`);
      }
      throw err;
    }
    this.#bytes += buf.length;
    this.#prev = sha256Hex(line);
    this.#index++;
  }
}

/** Decode an encoded signature's bytes (strict base64); throws on malformed input. */
export function signatureBytes(s: EncodedSignature): Uint8Array {
  return fromBase64(s.sig, 'signature', 64);
}

/**
 * Statements and signed envelopes.
 *
 * A Statement says, for one message: session, round, sender, receiver, the per-link
 * sequence number, chunk index, payload type, SHA-256 and size of the exact payload
 * bytes, and when it was sent. Its RFC 8785 canonical JSON is what the sender signs
 * (DSSE: Ed25519 over PAE(STATEMENT_TYPE, statement)). Transcripts keep statements and
 * signatures, never payloads, so an auditor verifies every signature without data.
 *
 * `openEnvelope` checks in this order, and nothing is decoded before the signature holds:
 *   1. a signature is present and verifies under the sender's pinned key (not the keyid);
 *   2. the statement parses strictly and is canonical;
 *   3. the payload's SHA-256 and size match the statement;
 *   4. payload type, session, round, sender and receiver are the expected ones.
 * Sequence numbers (replays, reordering) are checked by the caller's link state.
 */
import { sha256Hex } from '../crypto/sha256.ts';
import { canonicalBytes, parseStrict } from '../crypto/jcs.ts';
import { STATEMENT_TYPE, verifySignature, type SigningKey } from '../crypto/dsse.ts';
import { ProtocolError, type Party, type Round } from '../protocol/messages.ts';
import { PARTIES, ROUNDS as ROUND_LIST } from '../common/names.ts';

export interface Statement {
  v: 1;
  sessionId: string;
  round: Round;
  sender: Party;
  receiver: Party;
  seq: number;
  chunk: number;
  last: boolean;
  payloadType: string;
  payloadSha256: string;
  payloadSize: number;
  sentAt: string;
}

export interface WireSignature {
  keyid: string;
  sig: Uint8Array;
}

export interface Envelope {
  statement: Uint8Array;
  payload: Uint8Array;
  signatures: WireSignature[];
}

export type EnvelopeFailure =
  | 'unsigned' | 'bad-signature' | 'malformed-statement' | 'digest-mismatch' | 'wrong-type'
  | 'misaddressed' | 'wrong-session' | 'wrong-round' | 'replay' | 'out-of-order';

const CODE_OF: Record<EnvelopeFailure, ProtocolError['code']> = {
  'unsigned': 'PERMISSION_DENIED',
  'bad-signature': 'PERMISSION_DENIED',
  'malformed-statement': 'INVALID_ARGUMENT',
  'digest-mismatch': 'INVALID_ARGUMENT',
  'wrong-type': 'INVALID_ARGUMENT',
  'misaddressed': 'PERMISSION_DENIED',
  'wrong-session': 'NOT_FOUND',
  'wrong-round': 'FAILED_PRECONDITION',
  'replay': 'ALREADY_EXISTS',
  'out-of-order': 'FAILED_PRECONDITION',
};

export class EnvelopeError extends ProtocolError {
  readonly failure: EnvelopeFailure;
  constructor(failure: EnvelopeFailure, message: string) {
    super(CODE_OF[failure], `envelope rejected (${failure}): ${message}`);
    this.name = 'EnvelopeError';
    this.failure = failure;
  }
}

/** SHA-256 hex of a payload, as statements carry it. */
export { sha256Hex };

export type StatementFields = Omit<Statement, 'v' | 'payloadSha256' | 'payloadSize' | 'sentAt'>;

export function sealEnvelope(key: SigningKey, fields: StatementFields, payload: Uint8Array, now = new Date()): { envelope: Envelope; statement: Statement } {
  const statement: Statement = {
    v: 1,
    ...fields,
    payloadSha256: sha256Hex(payload),
    payloadSize: payload.length,
    sentAt: now.toISOString(),
  };
  const bytes = canonicalBytes(statement);
  const signature = key.sign(STATEMENT_TYPE, bytes);
  return { envelope: { statement: bytes, payload, signatures: [signature] }, statement };
}

export interface Expectation {
  sender: Party;
  receiver: Party;
  sessionId?: string;
  rounds?: readonly Round[];
  payloadType?: string;
}

export function openEnvelope(env: Envelope, senderKey: Uint8Array, expect: Expectation): Statement {
  const sig = env.signatures?.[0];
  if (!sig || !sig.sig || sig.sig.length === 0) throw new EnvelopeError('unsigned', `message from ${expect.sender} carries no signature`);
  if (!verifySignature(senderKey, STATEMENT_TYPE, env.statement, sig.sig)) {
    throw new EnvelopeError('bad-signature', `signature does not verify under ${expect.sender}'s pinned key`);
  }
  let parsed: unknown;
  try {
    parsed = parseStrict(new TextDecoder('utf-8', { fatal: true }).decode(env.statement));
  } catch (err) {
    throw new EnvelopeError('malformed-statement', (err as Error).message);
  }
  const s = checkStatementShape(parsed);
  if (!bytesEqual(canonicalBytes(s), env.statement)) {
    throw new EnvelopeError('malformed-statement', 'statement bytes are not the RFC 8785 canonical form of their content');
  }
  if (s.payloadSize !== env.payload.length || s.payloadSha256 !== sha256Hex(env.payload)) {
    throw new EnvelopeError('digest-mismatch', 'payload bytes do not match the signed digest');
  }
  if (expect.payloadType && s.payloadType !== expect.payloadType) {
    throw new EnvelopeError('wrong-type', `expected payload type ${expect.payloadType}, got ${s.payloadType}`);
  }
  if (s.sender !== expect.sender) throw new EnvelopeError('misaddressed', `statement names sender ${s.sender}, the authenticated peer is ${expect.sender}`);
  if (s.receiver !== expect.receiver) throw new EnvelopeError('misaddressed', `statement is addressed to ${s.receiver}, this node is ${expect.receiver}`);
  if (expect.sessionId !== undefined && s.sessionId !== expect.sessionId) {
    throw new EnvelopeError('wrong-session', `expected session ${expect.sessionId}, got ${s.sessionId}`);
  }
  if (expect.rounds && !expect.rounds.includes(s.round)) {
    throw new EnvelopeError('wrong-round', `expected round ${expect.rounds.join('|')}, got ${s.round}`);
  }
  return s;
}

const ROUNDS: ReadonlySet<string> = new Set(ROUND_LIST);
const PARTY_SET: ReadonlySet<string> = new Set(PARTIES);

function checkStatementShape(v: unknown): Statement {
  const bad = (what: string): never => {
    throw new EnvelopeError('malformed-statement', what);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('expected a JSON object');
  const s = v as Record<string, unknown>;
  const keys = ['v', 'sessionId', 'round', 'sender', 'receiver', 'seq', 'chunk', 'last', 'payloadType', 'payloadSha256', 'payloadSize', 'sentAt'];
  for (const k of Object.keys(s)) if (!keys.includes(k)) bad(`unexpected field ${k}`);
  if (s.v !== 1) bad(`expected v = 1, got ${String(s.v)}`);
  if (typeof s.sessionId !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(s.sessionId)) bad('expected sessionId of [A-Za-z0-9-]{1,64}');
  if (typeof s.round !== 'string' || !ROUNDS.has(s.round)) bad(`unknown round ${String(s.round)}`);
  if (typeof s.sender !== 'string' || !PARTY_SET.has(s.sender)) bad(`unknown sender ${String(s.sender)}`);
  if (typeof s.receiver !== 'string' || !PARTY_SET.has(s.receiver)) bad(`unknown receiver ${String(s.receiver)}`);
  for (const k of ['seq', 'chunk', 'payloadSize']) {
    if (!Number.isSafeInteger(s[k]) || (s[k] as number) < 0) bad(`expected ${k} to be a non-negative integer`);
  }
  if (typeof s.last !== 'boolean') bad('expected last to be a boolean');
  if (typeof s.payloadType !== 'string' || !/^cleanroom\.v1\.[A-Za-z]+$/.test(s.payloadType)) bad('expected payloadType cleanroom.v1.<Message>');
  if (typeof s.payloadSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(s.payloadSha256)) bad('expected payloadSha256 of 64 lower-case hex digits');
  if (typeof s.sentAt !== 'string' || Number.isNaN(Date.parse(s.sentAt))) bad('expected sentAt as an ISO-8601 time');
  return s as unknown as Statement;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

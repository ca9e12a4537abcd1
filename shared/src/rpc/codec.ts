/**
 * Protocol messages ⇄ protobuf payloads, and chunking of large lists.
 *
 * Every decode validates what it reads (enum values, integer ranges, byte lengths) and
 * throws ProtocolError('INVALID_ARGUMENT') naming the field: values from a peer are
 * checked where they enter. Lists travel as batches with an `offset`; `joinBatches`
 * refuses gaps, overlaps and missing last chunks.
 */
import { ProtocolError } from '../protocol/messages.ts';
import { SESSION_ROUNDS, isSessionKind, type SessionKind } from '../common/names.ts';
import { MAX_PREDICATE_CHARS } from '../protocol/predicate.ts';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { copyBytes, PackedList, type ItemSource, type StridedItems } from '../common/packed-list.ts';
import { ELEMENT_BYTES } from '../crypto/group.ts';
import { checkElement } from '../protocol/padding.ts';
import type {
  AttributeTotal, CohortProfile, IdType, LookalikeResult, OpenSession, Outcome, Policy,
  PrepareSession, PrivacyStatus, SessionAccepted, SessionReady, SessionResult,
} from '../protocol/messages.ts';
import { decodePayload, encodePayload, type PayloadType } from './proto.ts';
import type { CheckpointMessage } from '../transcript/checkpoint.ts';

export type { CheckpointMessage };

export type Obj = Record<string, unknown>;

const ID_TYPE_TO_PROTO: Record<IdType, string> = { phone: 'PHONE', email: 'EMAIL', device: 'DEVICE' };
const ID_TYPE_FROM_PROTO: Record<string, IdType> = { PHONE: 'phone', EMAIL: 'email', DEVICE: 'device' };
const OUTCOMES = new Set<Outcome>(['COMPLETED', 'COHORT_TOO_SMALL', 'FAILED', 'BUDGET_EXHAUSTED', 'DIFFERENCING_REFUSED']);

export function bad(type: string, field: string, why: string): never {
  throw new ProtocolError('INVALID_ARGUMENT', `${type}.${field}: ${why}`);
}

export function num(type: string, o: Obj, field: string, max = Number.MAX_SAFE_INTEGER): number {
  const raw = o[field];
  const v = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) bad(type, field, `expected an integer in [0, ${max}], got ${String(raw)}`);
  return v;
}

export function real(type: string, o: Obj, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(type, field, `expected a finite number, got ${String(v)}`);
  return v;
}

function signedInt(type: string, o: Obj, field: string): number {
  const raw = o[field];
  const v = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(type, field, `expected an integer, got ${String(raw)}`);
  return v;
}

export function str(type: string, o: Obj, field: string, max = 256): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length > max) bad(type, field, `expected a string of at most ${max} characters`);
  return v;
}

export function bytes(type: string, o: Obj, field: string, exact?: number): Uint8Array {
  const v = o[field];
  if (!(v instanceof Uint8Array)) bad(type, field, 'expected bytes');
  if (exact !== undefined && v.length !== exact) bad(type, field, `expected ${exact} bytes, got ${v.length}`);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function idType(type: string, o: Obj): IdType {
  const t = ID_TYPE_FROM_PROTO[String(o.idType)];
  if (!t) bad(type, 'idType', `expected PHONE, EMAIL or DEVICE, got ${String(o.idType)}`);
  return t;
}

/** A session kind: "" (a peer from before kinds) is the look-alike. */
function kind(type: string, o: Obj): SessionKind {
  const v = o.kind === '' || o.kind === undefined ? 'lookalike' : o.kind;
  if (!isSessionKind(v)) bad(type, 'kind', `expected a session kind, got ${JSON.stringify(String(v).slice(0, 40))}`);
  return v;
}

function outcome(type: string, o: Obj): Outcome {
  const v = o.outcome as Outcome;
  if (!OUTCOMES.has(v)) bad(type, 'outcome', `expected one of ${[...OUTCOMES].join(', ')}, got ${String(v)}`);
  return v;
}

function policyFrom(o: unknown): Policy {
  if (typeof o !== 'object' || o === null) bad('Policy', '', 'missing');
  const p = o as Obj;
  const buckets = p.sizeBuckets;
  if (!Array.isArray(buckets) || buckets.length > 64) bad('Policy', 'sizeBuckets', 'expected at most 64 buckets');
  return {
    decoyRatio: num('Policy', p, 'decoyRatio', 1000),
    minCohort: num('Policy', p, 'minCohort', 1e9),
    noiseScale: real('Policy', p, 'noiseScale'),
    sizeBuckets: buckets.map((b, i) => num('Policy', { b }, 'b') || bad('Policy', `sizeBuckets[${i}]`, 'expected > 0')),
    evaluationQuota: num('Policy', p, 'evaluationQuota'),
    epsilonProfile: real('Policy', p, 'epsilonProfile'),
    epsilonCount: real('Policy', p, 'epsilonCount'),
    epsilonDifferencing: real('Policy', p, 'epsilonDifferencing'),
    privacyBudget: real('Policy', p, 'privacyBudget'),
    differencingMin: num('Policy', p, 'differencingMin', 1e9),
  };
}

function privacyFrom(o: unknown): PrivacyStatus | undefined {
  if (o === null || o === undefined) return undefined;
  const p = o as Obj;
  return {
    epsilonCharged: real('PrivacyStatus', p, 'epsilonCharged'),
    epsilonSpent: real('PrivacyStatus', p, 'epsilonSpent'),
    epsilonRemaining: real('PrivacyStatus', p, 'epsilonRemaining'),
    budget: real('PrivacyStatus', p, 'budget'),
  };
}

export interface Codec<T> {
  type: PayloadType;
  encode(m: T): Uint8Array;
  decode(b: Uint8Array): T;
}

export function codec<T>(type: PayloadType, to: (m: T) => object, from: (o: Obj) => T): Codec<T> {
  return { type, encode: (m) => encodePayload(type, to(m)), decode: (b) => from(decodePayload<Obj>(type, b)) };
}

export const OpenSessionCodec = codec<OpenSession>(
  'cleanroom.v1.OpenSession',
  (m) => ({ ...m, idType: ID_TYPE_TO_PROTO[m.idType] }),
  (o) => ({
    idType: idType('OpenSession', o),
    seedCount: num('OpenSession', o, 'seedCount', 1e9),
    audienceSize: num('OpenSession', o, 'audienceSize', 1e9),
    decoyRatio: num('OpenSession', o, 'decoyRatio', 1000),
    minCohort: num('OpenSession', o, 'minCohort', 1e9),
    advertiserKey: bytes('OpenSession', o, 'advertiserKey'),
    resultKey: bytes('OpenSession', o, 'resultKey', 32),
    kind: kind('OpenSession', o),
    mediaPredicate: str('OpenSession', o, 'mediaPredicate', MAX_PREDICATE_CHARS),
    countSession: str('OpenSession', o, 'countSession', 80),
  }),
);

/** The optional session kind ("" on the wire = lookalike, left out). */
function kindFrom(type: string, o: Obj): { kind?: OpenSession['kind'] } {
  const k = o.kind;
  if (k === undefined || k === '') return {};
  if (!isSessionKind(k)) bad(type, 'kind', `expected a session kind, got ${String(k).slice(0, 40)}`);
  return { kind: k };
}

export const PrepareSessionCodec = codec<PrepareSession>(
  'cleanroom.v1.PrepareSession',
  (m) => ({ ...m, idType: ID_TYPE_TO_PROTO[m.idType] }),
  (o) => ({
    idType: idType('PrepareSession', o),
    paddedCount: num('PrepareSession', o, 'paddedCount', 1e9),
    audienceSize: num('PrepareSession', o, 'audienceSize', 1e9),
    policy: policyFrom(o.policy),
    resultKey: bytes('PrepareSession', o, 'resultKey', 32),
    universeVersion: str('PrepareSession', o, 'universeVersion', 128),
    advertiser: str('PrepareSession', o, 'advertiser', 128),
    kind: kind('PrepareSession', o),
    mediaPredicate: str('PrepareSession', o, 'mediaPredicate', MAX_PREDICATE_CHARS),
    ...(o.labelsVersion ? { labelsVersion: str('PrepareSession', o, 'labelsVersion', 128) } : {}),
  }),
);

export const SessionReadyCodec = codec<SessionReady>(
  'cleanroom.v1.SessionReady',
  (m) => m,
  (o) => ({
    universeEpoch: str('SessionReady', o, 'universeEpoch', 64),
    universeVersion: str('SessionReady', o, 'universeVersion', 128),
    universeSizeClass: str('SessionReady', o, 'universeSizeClass', 32),
    outcome: outcome('SessionReady', o),
    reason: str('SessionReady', o, 'reason', 1024),
  }),
);

export const SessionAcceptedCodec = codec<SessionAccepted>(
  'cleanroom.v1.SessionAccepted',
  (m) => ({ ...m, privacy: m.privacy ?? null }),
  (o) => ({
    policy: policyFrom(o.policy),
    paddedCount: num('SessionAccepted', o, 'paddedCount', 1e9),
    universeSizeClass: str('SessionAccepted', o, 'universeSizeClass', 32),
    universeEpoch: str('SessionAccepted', o, 'universeEpoch', 64),
    privacy: privacyFrom(o.privacy),
  }),
);

export interface Batch {
  offset: number;
  items: Uint8Array[];
}

function batchCodec(type: PayloadType, field: 'elements' | 'tokens' | 'ciphertexts' | 'boxes', itemBytes?: number): Codec<Batch> {
  const name = type.split('.').pop()!;
  return codec<Batch>(
    type,
    (m) => ({ offset: m.offset, [field]: m.items }),
    (o) => {
      const list = o[field];
      if (!Array.isArray(list)) bad(name, field, 'expected a list');
      return {
        offset: num(name, o, 'offset', 1e9),
        // The valid case without building a field name per item (a batch holds up to 16,384);
        // an invalid item goes through bytes() for its precise error.
        items: list.map((item: unknown, i) => item instanceof Uint8Array && (itemBytes === undefined || item.length === itemBytes)
          ? new Uint8Array(item.buffer, item.byteOffset, item.byteLength)
          : bytes(name, { [`${field}[${i}]`]: item }, `${field}[${i}]`, itemBytes)),
      };
    },
  );
}

/**
 * BlindedBatch as an array of elements, decoded by the one BlindedBatch decoder
 * (decodeBlinded, behind all three BlindedBatch shapes): the items are views of the message's
 * bytes. Element lengths are validated by the roles (with the reason), not here: a batch with
 * an element of another length decodes (generically) as it always did. Encoded by the packed
 * writer when every element is 32 bytes (the same bytes as the generic encoder, tested), by the
 * generic encoder otherwise.
 */
export const BlindedBatchCodec: Codec<Batch> = {
  type: 'cleanroom.v1.BlindedBatch',
  encode: (m) => (m.items.every((e) => e.length === ELEMENT_BYTES) && Number.isSafeInteger(m.offset) && m.offset >= 0
    ? packedWire({ offset: m.offset, items: PackedList.from(m.items, ELEMENT_BYTES) })
    : genericBlinded.encode(m)),
  decode: (b) => {
    const d = decodeBlinded(b);
    return d.wire ? { offset: d.wire.offset, items: Array.from({ length: d.wire.items.length }, (_, i) => d.wire.items.at(i)) } : d.generic;
  },
};
/** The protobuf (generic) BlindedBatch codec: what decodeBlinded falls back to, and the encoder of odd batches. */
const genericBlinded = batchCodec('cleanroom.v1.BlindedBatch', 'elements');
export const TokenBatchCodec = batchCodec('cleanroom.v1.TokenBatch', 'tokens');
export const CiphertextBatchCodec = batchCodec('cleanroom.v1.CiphertextBatch', 'ciphertexts');

/** Bytes of `v` (an integer in [0, 2^53)) as a protobuf varint. */
function varintBytes(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` (an integer in [0, 2^53)) as a protobuf varint at `at`; returns the position after it. */
function writeVarint(buf: Uint8Array, at: number, v: number): number {
  while (v >= 128) {
    buf[at++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[at++] = v;
  return at;
}

/** CiphertextBatch's field tags: offset (2, varint), ciphertexts (3, length-delimited). */
const CT_OFFSET_TAG = (2 << 3) | 0;
const CT_ITEM_TAG = (3 << 3) | 2;
/** Most bytes of a field's framing: its tag and a varint of at most 10 bytes. */
const FRAMING = 11;

/**
 * CiphertextBatch payloads written in place: `next(bytes)` returns where the next ciphertext's
 * `bytes` bytes go — their place inside the payload of the batch that carries it — so a
 * ciphertext is written once, straight into its message (MediaBfv.encryptIndicators' `alloc`),
 * instead of built apart and copied in by the codec. Batches are cut as splitBatches cuts them
 * (at most `maxItems` ciphertexts and `maxBytes` of ciphertext bytes, a larger one alone);
 * `finish()` gives the payloads, byte for byte CiphertextBatchCodec.encode of those batches, to be
 * sealed with EncodedCiphertextBatchCodec. Every place must be filled before finish() (its
 * bytes are not zeroed).
 *
 * `expectedItems`: how many ciphertexts the caller will write, all of one size (media's
 * indicators): the batches are then carved out of one buffer, allocated at the first next() for
 * that many items of its size, instead of one fresh multi-MB buffer per batch. Each fresh
 * ArrayBuffer of that size is a point where V8 checks its old generation's allocation limit, and
 * in a node whose heap sits near that limit each check started a full marking cycle (three to
 * five per joint-count AGGREGATE at 10^6 users, with concurrent marking on the helper threads).
 * A batch that would outgrow its share (an item of another size, or more items than expected)
 * moves to a buffer of its own: the payloads are the same either way.
 */
export class CiphertextBatchWriter {
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private readonly expectedItems: number;
  private readonly batches: { buf: Uint8Array; used: number; items: number; itemBytes: number }[] = [];
  /** The one buffer the batches are carved from (expectedItems > 0), and where its free part starts. */
  private slab: { buf: Uint8Array; at: number } | undefined;
  private count = 0;
  private finished = false;

  constructor(maxItems: number, maxBytes: number, expectedItems = 0) {
    if (!Number.isSafeInteger(maxItems) || maxItems < 1) throw new RangeError(`expected maxItems ≥ 1, got ${maxItems}`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`expected maxBytes ≥ 1, got ${maxBytes}`);
    if (!Number.isSafeInteger(expectedItems) || expectedItems < 0) throw new RangeError(`expected expectedItems ≥ 0, got ${expectedItems}`);
    this.maxItems = maxItems;
    this.maxBytes = maxBytes;
    this.expectedItems = expectedItems;
  }

  next(bytes: number): Uint8Array {
    if (this.finished) throw new Error('CiphertextBatchWriter: next() after finish()');
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`expected a ciphertext size ≥ 0, got ${bytes}`);
    let cur = this.batches.at(-1);
    if (!cur || (cur.items > 0 && (cur.items >= this.maxItems || cur.itemBytes + bytes > this.maxBytes))) cur = this.open(bytes);
    if (cur.used + FRAMING + bytes > cur.buf.length) this.move(cur, bytes);
    let at = cur.used;
    cur.buf[at++] = CT_ITEM_TAG;
    at = writeVarint(cur.buf, at, bytes);
    const place = cur.buf.subarray(at, at + bytes);
    cur.used = at + bytes;
    cur.items++;
    cur.itemBytes += bytes;
    this.count++;
    return place;
  }

  /**
   * Room for a batch of at most `items` items of `bytes` bytes: a tag and a varint of at most 10
   * bytes before the batch's offset and before each item.
   */
  private static room(items: number, bytes: number): number {
    return FRAMING + items * (FRAMING + bytes);
  }

  /** How many items of `bytes` bytes one batch holds (the cut of next()). */
  private perBatch(bytes: number): number {
    if (bytes === 0) return this.maxItems;
    if (bytes > this.maxBytes) return 1;
    return Math.min(this.maxItems, Math.floor(this.maxBytes / bytes));
  }

  /**
   * A new batch starting at the current count: carved from the slab when one is expected (sized,
   * at the first batch, for every expected item of `first`'s size), else a buffer of its own sized
   * for its largest possible contents. Not zeroed (Buffer.allocUnsafe: no pass over ≈ 3 MB per
   * batch, and the pages past what is written are never touched): only the bytes written
   * (header, framing, the places filled) are ever read, finish() gives the payload up to there.
   */
  private open(first: number): { buf: Uint8Array; used: number; items: number; itemBytes: number } {
    let buf: Uint8Array | undefined;
    if (this.expectedItems > 0 && this.batches.length === 0) {
      const per = this.perBatch(first);
      const batches = Math.ceil(this.expectedItems / per);
      this.slab = { buf: Buffer.allocUnsafe(batches * CiphertextBatchWriter.room(per, first)), at: 0 };
    }
    const slab = this.slab;
    if (slab !== undefined) {
      const size = CiphertextBatchWriter.room(Math.min(this.perBatch(first), Math.max(1, this.expectedItems - this.count)), first);
      if (slab.at + size <= slab.buf.length) {
        buf = slab.buf.subarray(slab.at, slab.at + size);
        slab.at += size;
      }
    }
    buf ??= Buffer.allocUnsafe(FRAMING + Math.max(this.maxBytes, first) + Math.min(this.maxItems, Math.max(1, this.maxBytes)) * FRAMING);
    buf[0] = CT_OFFSET_TAG;
    const batch = { buf, used: writeVarint(buf, 1, this.count), items: 0, itemBytes: 0 };
    this.batches.push(batch);
    return batch;
  }

  /** Moves `batch` (out of room for an item of `bytes` bytes) to a buffer of its own sized for its largest possible contents. */
  private move(batch: { buf: Uint8Array; used: number }, bytes: number): void {
    const buf = Buffer.allocUnsafe(FRAMING + Math.max(this.maxBytes, bytes) + Math.min(this.maxItems, Math.max(1, this.maxBytes)) * FRAMING + batch.used);
    buf.set(batch.buf.subarray(0, batch.used));
    batch.buf = buf;
  }

  /** The payloads, in order (one batch with no ciphertext when none was written, as splitBatches gives). */
  finish(): Uint8Array[] {
    this.finished = true;
    if (this.batches.length === 0) this.open(0);
    return this.batches.map((b) => b.buf.subarray(0, b.used));
  }

  /**
   * Frees the memory of the payloads finish() gave (the slab and any batch's own buffer) now:
   * every view of it becomes empty. For a caller that knows when nothing reads them any more
   * (media's indicators: once gRPC has serialized every message). Left to the GC instead, the
   * slab — allocated when the first ciphertext is written, so in the old generation by the time
   * it is sent — stays resident, as V8's external memory, until the next full collection
   * (≈ 23 MB at 10^6 users); at 10^6 that collection's concurrent marking often ran on the
   * helper threads during media's next phase (LOOKALIKE, a few ms long), less often with the
   * slab freed here. Only buffers of the writer's own are detached, never a shared Buffer pool's.
   */
  release(): void {
    // A buffer of the writer's own spans all of its ArrayBuffer (Buffer.allocUnsafe of this size
    // allocates one; a Buffer from the shared pool is under half of the pool's) — never detach a pool.
    const own = [...this.batches.map((b) => b.buf), ...(this.slab ? [this.slab.buf] : [])]
      .filter((b) => b.byteOffset === 0 && b.byteLength > 0 && b.byteLength === b.buffer.byteLength)
      .map((b) => b.buffer);
    // ArrayBuffer.prototype.transfer (ES2024, Node ≥ 21; not in this project's TypeScript lib): detaches, freeing the memory now
    for (const ab of new Set(own)) (ab as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
    this.slab = undefined;
  }
}

/** CiphertextBatch payloads already encoded (CiphertextBatchWriter): sealed as they are; decoding checks them as CiphertextBatchCodec does and gives the bytes back. */
export const EncodedCiphertextBatchCodec: Codec<Uint8Array> = {
  type: 'cleanroom.v1.CiphertextBatch',
  encode: (payload) => payload,
  decode: (b) => {
    CiphertextBatchCodec.decode(b);
    return b;
  },
};

/** Lookup kind: sealed label boxes, exactly LABEL_BOX_BYTES each. */
export const LabelBatchCodec = batchCodec('cleanroom.v1.LabelBatch', 'boxes', LABEL_BOX_BYTES);

/** One batch of a packed list: items [offset, offset + items.length) of the whole list. */
export interface PackedBatch {
  offset: number;
  items: PackedList;
}

/**
 * BlindedBatch decoded into one packed buffer per batch (and encoded from one): the same wire
 * message as BlindedBatchCodec, for the padded list of the BLIND round (up to
 * CLEANROOM_MAX_PADDED elements), which must not cost an object per element. Every element
 * must be 32 bytes (refused here, with the element's index, as group.ts words it); the
 * elements' values are validated by the roles.
 *
 * Written straight from the packed buffer into the protobuf bytes (packedWire): field 2
 * (offset, varint, written even when 0) then field 3 (a 32-byte length-delimited element) per
 * element — byte for byte what the generic encoder writes — with no view or object per
 * element; read by the one BlindedBatch decoder (decodeBlinded) and copied into one packed
 * buffer. Bytes laid out otherwise (another field order, an unknown field, an element of
 * another length, an offset above the bound, truncated bytes) go through the generic decoder,
 * which refuses them with its precise reason or accepts what it accepts.
 */
export const PackedBlindedBatchCodec: Codec<PackedBatch> = {
  type: 'cleanroom.v1.BlindedBatch',
  encode: (m) => packedWire(m),
  decode: (b) => {
    const d = decodeBlinded(b);
    return d.wire ? { offset: d.wire.offset, items: d.wire.items.packed() } : packedFrom(d.generic);
  },
};

/**
 * The one BlindedBatch decoder: the elements left where the message's bytes hold them
 * (readWireInPlace) when the bytes are laid out as packedWire writes them — what every node
 * sends — else the generic protobuf decoder (any field order, any element length; its precise
 * error for anything it refuses). Its callers shape the result: views (BlindedBatchCodec), one
 * packed copy (PackedBlindedBatchCodec), or the bytes in place (BlindedBatchInPlaceCodec).
 */
function decodeBlinded(b: Uint8Array): { wire: { offset: number; items: WireElements }; generic?: undefined } | { wire?: undefined; generic: Batch } {
  const wire = readWireInPlace(b);
  return wire ? { wire } : { generic: genericBlinded.decode(b) };
}

/** A generically decoded batch packed, every element 32 bytes (else INVALID_ARGUMENT naming the element, as group.ts words it). */
function packedFrom(batch: Batch): PackedBatch {
  const items = PackedList.alloc(batch.items.length, ELEMENT_BYTES);
  batch.items.forEach((item, i) => {
    if (item.length === ELEMENT_BYTES) items.set(i, item);
    else checkElement(item, i); // throws INVALID_ARGUMENT: element i: expected a 32-byte Uint8Array, got …
  });
  return { offset: batch.offset, items };
}

/** Field keys of BlindedBatch: (field number << 3) | wire type. */
const OFFSET_KEY = (2 << 3) | 0; // varint
const ELEMENT_KEY = (3 << 3) | 2; // length-delimited

/** The protobuf bytes of a packed batch (see PackedBlindedBatchCodec). */
function packedWire(m: PackedBatch): Uint8Array {
  const { offset, items } = m;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`expected a batch offset ≥ 0, got ${String(offset)}`);
  if (items.width !== ELEMENT_BYTES) throw new RangeError(`expected ${ELEMENT_BYTES}-byte elements, got ${items.width}-byte items`);
  const out = new Uint8Array(1 + varintBytes(offset) + items.length * (2 + ELEMENT_BYTES));
  out[0] = OFFSET_KEY;
  let at = writeVarint(out, 1, offset);
  const src = items.bytes;
  for (let i = 0; i < items.length; i++) {
    out[at] = ELEMENT_KEY;
    out[at + 1] = ELEMENT_BYTES;
    copyBytes(out, at + 2, src, i * ELEMENT_BYTES, ELEMENT_BYTES);
    at += 2 + ELEMENT_BYTES;
  }
  return out;
}

/** Largest offset a batch may carry (as BlindedBatchCodec's bound). */
const MAX_OFFSET = 1e9;

/** One batch of elements, wherever they are held (packed, or in place in the message). */
export interface ElementBatch {
  offset: number;
  items: StridedItems;
}

/** Bytes per element record of a BlindedBatch as packedWire lays them out: key, length, the element. */
const ELEMENT_RECORD = 2 + ELEMENT_BYTES;

/** A BlindedBatch's elements where its protobuf bytes hold them: element i at `start + i·ELEMENT_RECORD` (`start`: past the first record's key and length). */
class WireElements implements StridedItems {
  readonly width = ELEMENT_BYTES;
  /** The message's bytes; element i at `start + i·stride` (past its record's key and length). */
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly stride = ELEMENT_RECORD;
  readonly length: number;

  /** `first`: where the first element record (its key) begins in `b`. */
  constructor(b: Uint8Array, first: number, length: number) {
    this.bytes = b;
    this.start = first + 2;
    this.length = length;
  }

  at(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`expected an item index in [0, ${this.length}), got ${String(i)}`);
    const at = this.start + i * ELEMENT_RECORD;
    // a plain Uint8Array view (gRPC hands Buffers; an element is a Uint8Array wherever it goes)
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + at, ELEMENT_BYTES);
  }

  /** The elements copied into one packed list (no view per element). */
  packed(): PackedList {
    const items = PackedList.alloc(this.length, ELEMENT_BYTES);
    for (let i = 0; i < this.length; i++) copyBytes(items.bytes, i * ELEMENT_BYTES, this.bytes, this.start + i * ELEMENT_RECORD, ELEMENT_BYTES);
    return items;
  }
}

/**
 * A BlindedBatch's elements left in its protobuf bytes when they are laid out as packedWire
 * writes them (the offset field first, then only 32-byte element fields), or undefined.
 */
function readWireInPlace(b: Uint8Array): { offset: number; items: WireElements } | undefined {
  if (b.length === 0 || b[0] !== OFFSET_KEY) return undefined;
  let at = 1;
  let offset = 0;
  for (let scale = 1; ; scale *= 0x80) {
    if (at >= b.length || scale > 2 ** 35) return undefined;
    const byte = b[at++]!;
    offset += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
  }
  if (offset > MAX_OFFSET || (b.length - at) % ELEMENT_RECORD !== 0) return undefined;
  for (let r = at; r < b.length; r += ELEMENT_RECORD) if (b[r] !== ELEMENT_KEY || b[r + 1] !== ELEMENT_BYTES) return undefined;
  return { offset, items: new WireElements(b, at, (b.length - at) / ELEMENT_RECORD) };
}

/**
 * BlindedBatch decoded without copying its elements: they stay in the message's bytes (which
 * the batch then keeps alive), read by index — for the BLIND round's evaluated list, of which
 * the broker keeps only A's tenth (padding.ts unpad): no packed copy of the padded list and no
 * join of its batches (two fresh list-sized buffers per session). Bytes laid out otherwise go
 * through the generic decoder and are packed as PackedBlindedBatchCodec packs them (the same
 * checks, the same errors): decodeBlinded, the one BlindedBatch decoder. Encodes as
 * PackedBlindedBatchCodec does.
 */
export const BlindedBatchInPlaceCodec: Codec<ElementBatch> = {
  type: 'cleanroom.v1.BlindedBatch',
  encode: (m) => packedWire({ offset: m.offset, items: m.items instanceof PackedList ? m.items : PackedList.from(Array.from({ length: m.items.length }, (_, i) => m.items.at(i)), ELEMENT_BYTES) }),
  decode: (b) => {
    const d = decodeBlinded(b);
    return d.wire ?? packedFrom(d.generic);
  },
};

/** Batches back to back, read by index (contiguous from `start`, as joinPacked checks): no copy. */
class JoinedItems implements ItemSource {
  readonly width: number;
  readonly length: number;
  private readonly parts: readonly ItemSource[];
  /** ends[k]: items in parts 0..k. */
  private readonly ends: number[];

  constructor(parts: readonly ItemSource[], width: number) {
    this.parts = parts;
    this.width = width;
    this.ends = [];
    let n = 0;
    for (const p of parts) {
      if (p.width !== width) throw new RangeError(`expected items of ${width} bytes, got a batch of ${p.width}-byte items`);
      n += p.length;
      this.ends.push(n);
    }
    this.length = n;
  }

  at(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`expected an item index in [0, ${this.length}), got ${String(i)}`);
    let lo = 0;
    let hi = this.ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! > i) hi = mid;
      else lo = mid + 1;
    }
    return this.parts[lo]!.at(i - (lo === 0 ? 0 : this.ends[lo - 1]!));
  }
}

/** The elements of `batches` (contiguous from `start`, 0 by default) as one list read by index, none copied. */
export function joinInPlace(batches: readonly ElementBatch[], what: string, start = 0): ItemSource {
  checkContiguous(batches, what, start);
  return batches.length === 1 ? batches[0]!.items : new JoinedItems(batches.map((b) => b.items), ELEMENT_BYTES);
}

/** A packed list as batches of at most `maxItems` items and `maxBytes` bytes (≥ 1 item each), sharing its buffer. */
export function splitPacked(list: PackedList, maxItems: number, maxBytes: number): PackedBatch[] {
  const per = Math.max(1, Math.min(maxItems, Math.floor(maxBytes / list.width)));
  const out: PackedBatch[] = [];
  for (let offset = 0; offset < list.length || offset === 0; offset += per) out.push({ offset, items: list.slice(offset, Math.min(list.length, offset + per)) });
  return out;
}

/** Checks that `batches` are contiguous from `start` (refusing gaps and overlaps, naming `what`); returns the item count. */
export function checkContiguous(batches: readonly { offset: number; items: { length: number } }[], what: string, start = 0): number {
  let n = 0;
  for (const b of batches) {
    if (b.offset !== start + n) throw new ProtocolError('INVALID_ARGUMENT', `${what}: expected a batch at offset ${start + n}, got offset ${b.offset}`);
    n += b.items.length;
  }
  return n;
}

/** The items of packed `batches` (contiguous from `start`, 0 by default) in one packed list. */
export function joinPacked(batches: readonly PackedBatch[], what: string, start = 0): PackedList {
  checkContiguous(batches, what, start);
  return PackedList.concat(batches.map((b) => b.items), ELEMENT_BYTES);
}

/** Default batch limits for streamed lists: each message stays far below gRPC's 4 MB default. */
export const BATCH_ITEMS = 16_384;
export const BATCH_BYTES = 2 * 1024 * 1024;

/** Splits a list into batches of at most `maxItems` items and `maxBytes` bytes (≥ 1 item each). */
export function splitBatches(items: readonly Uint8Array[], maxItems: number, maxBytes: number): Batch[] {
  const out: Batch[] = [];
  let cur: Uint8Array[] = [];
  let size = 0;
  let offset = 0;
  for (const item of items) {
    if (cur.length > 0 && (cur.length >= maxItems || size + item.length > maxBytes)) {
      out.push({ offset, items: cur });
      offset += cur.length;
      cur = [];
      size = 0;
    }
    cur.push(item);
    size += item.length;
  }
  out.push({ offset, items: cur });
  return out;
}

/** The items of `batches`, which must be contiguous from offset `start` (a page of a longer list: start > 0). */
export function joinBatches(batches: readonly Batch[], what: string, start = 0): Uint8Array[] {
  checkContiguous(batches, what, start);
  const out: Uint8Array[] = [];
  for (const b of batches) {
    for (const item of b.items) out.push(item); // not push(...items): a batch of 10^5+ items overflows the call stack (RangeError)
  }
  return out;
}

export const CohortProfileCodec = codec<CohortProfile>(
  'cleanroom.v1.CohortProfile',
  (m) => m,
  (o) => ({
    outcome: outcome('CohortProfile', o),
    profile: bytes('CohortProfile', o, 'profile'),
    audienceSize: num('CohortProfile', o, 'audienceSize', 1e9),
  }),
);

function attributeTotalFrom(o: Obj): AttributeTotal {
  return {
    name: str('AttributeTotal', o, 'name', 64),
    total: signedInt('AttributeTotal', o, 'total'),
    share: real('AttributeTotal', o, 'share'),
    universeShare: real('AttributeTotal', o, 'universeShare'),
  };
}

function lookalikeFrom(o: Obj): LookalikeResult {
  return {
    outcome: outcome('LookalikeResult', o),
    audienceId: str('LookalikeResult', o, 'audienceId', 64),
    audienceSize: num('LookalikeResult', o, 'audienceSize', 1e10),
    quality: real('LookalikeResult', o, 'quality'),
    sealedInsight: bytes('LookalikeResult', o, 'sealedInsight'),
  };
}


export const LookalikeResultCodec = codec<LookalikeResult>('cleanroom.v1.LookalikeResult', (m) => m, lookalikeFrom);

export const SessionResultCodec = codec<SessionResult>(
  'cleanroom.v1.SessionResult',
  (m) => ({ ...m, lookalike: m.lookalike ?? null, privacy: m.privacy ?? null }),
  (o) => ({
    outcome: outcome('SessionResult', o),
    reason: str('SessionResult', o, 'reason', 1024),
    paddedCount: num('SessionResult', o, 'paddedCount'),
    realMatches: num('SessionResult', o, 'realMatches'),
    lookalike: o.lookalike ? lookalikeFrom(o.lookalike as Obj) : undefined,
    privacy: privacyFrom(o.privacy),
  }),
);

export interface AbortMessage {
  reason: string;
}

export const AbortCodec = codec<AbortMessage>('cleanroom.v1.Abort', (m) => m, (o) => ({ reason: str('Abort', o, 'reason', 1024) }));

export interface AckMessage {
  received: number;
}

export const AckCodec = codec<AckMessage>('cleanroom.v1.Ack', (m) => m, (o) => ({ received: num('Ack', o, 'received') }));

export type UniversePart = 'MANIFEST' | 'TOKENS' | 'CIPHERTEXTS' | 'DONE' | 'LABELS';
const UNIVERSE_PARTS = new Set<UniversePart>(['MANIFEST', 'TOKENS', 'CIPHERTEXTS', 'DONE', 'LABELS']);

export interface UniverseRequest {
  haveVersion: string;
  part: UniversePart;
  /** TOKENS only. */
  idType: IdType;
  offset: number;
  limit: number;
}

export const UniverseRequestCodec = codec<UniverseRequest>(
  'cleanroom.v1.UniverseRequest',
  (m) => ({ ...m, idType: ID_TYPE_TO_PROTO[m.idType] }),
  (o) => {
    const part = String(o.part) as UniversePart;
    if (!UNIVERSE_PARTS.has(part)) bad('UniverseRequest', 'part', `expected MANIFEST, TOKENS, CIPHERTEXTS, LABELS or DONE, got ${String(o.part)}`);
    return {
      haveVersion: str('UniverseRequest', o, 'haveVersion', 128),
      part,
      idType: part === 'TOKENS' || part === 'LABELS' ? idType('UniverseRequest', o) : 'phone',
      offset: num('UniverseRequest', o, 'offset', 1e10),
      limit: num('UniverseRequest', o, 'limit', 1e10),
    };
  },
);

/** What the broker learns about a publication before it pages through it. */
export interface UniverseManifest {
  epoch: string;
  version: string;
  users: number;
  ciphertexts: number;
  attributeCount: number;
  usersPerCiphertext: number;
  idTypes: { idType: IdType; tokens: number }[];
  sizeClass: string;
  unchanged: boolean;
  bfv: { params: Uint8Array; publicKey: Uint8Array; galoisKeys: Uint8Array };
  /** The label publication beside the tokens ('' = none; label-publication.ts). */
  labelsVersion: string;
}

interface UniverseManifestChunk extends Omit<UniverseManifest, 'bfv'> {
  bfvParams: Uint8Array;
  publicKey: Uint8Array;
  galoisKeysPart: Uint8Array;
}

export const UniverseManifestCodec = codec<UniverseManifestChunk>(
  'cleanroom.v1.UniverseManifest',
  (m) => ({ ...m, idTypes: m.idTypes.map((t) => ({ idType: ID_TYPE_TO_PROTO[t.idType], tokens: t.tokens })) }),
  (o) => {
    const name = 'UniverseManifest';
    const types = o.idTypes;
    if (!Array.isArray(types) || types.length > 3) bad(name, 'idTypes', 'expected at most 3 ID types');
    const idTypes = types.map((t) => ({ idType: idType(name, t as Obj), tokens: num(name, t as Obj, 'tokens', 1e10) }));
    if (new Set(idTypes.map((t) => t.idType)).size !== idTypes.length) bad(name, 'idTypes', 'expected each ID type once');
    return {
      epoch: str(name, o, 'epoch', 64),
      version: str(name, o, 'version', 128),
      users: num(name, o, 'users', 1e10),
      ciphertexts: num(name, o, 'ciphertexts', 1e9),
      attributeCount: num(name, o, 'attributeCount', 4096),
      usersPerCiphertext: num(name, o, 'usersPerCiphertext', 1 << 16),
      idTypes,
      sizeClass: str(name, o, 'sizeClass', 32),
      labelsVersion: str(name, o, 'labelsVersion', 128),
      unchanged: o.unchanged === true,
      bfvParams: bytes(name, o, 'bfvParams'),
      publicKey: bytes(name, o, 'publicKey'),
      galoisKeysPart: bytes(name, o, 'galoisKeysPart'),
    };
  },
);

/** The manifest in chunks of at most `maxBytes` of Galois keys (params and public key in chunk 0). */
export function splitManifest(m: UniverseManifest, maxBytes: number): UniverseManifestChunk[] {
  const g = m.bfv.galoisKeys;
  const parts = Math.max(1, Math.ceil(g.length / maxBytes));
  const { bfv, ...rest } = m;
  return Array.from({ length: parts }, (_, i) => ({
    ...rest,
    bfvParams: i === 0 ? bfv.params : new Uint8Array(0),
    publicKey: i === 0 ? bfv.publicKey : new Uint8Array(0),
    galoisKeysPart: g.subarray(i * maxBytes, (i + 1) * maxBytes),
  }));
}

export function joinManifest(chunks: readonly UniverseManifestChunk[]): UniverseManifest {
  const first = chunks[0];
  if (!first) throw new ProtocolError('INVALID_ARGUMENT', 'UniverseManifest: expected at least one chunk');
  for (const c of chunks) {
    if (c.version !== first.version) throw new ProtocolError('INVALID_ARGUMENT', `UniverseManifest: chunks mix versions ${first.version} and ${c.version}`);
  }
  const total = chunks.reduce((a, c) => a + c.galoisKeysPart.length, 0);
  const galoisKeys = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    galoisKeys.set(c.galoisKeysPart, off);
    off += c.galoisKeysPart.length;
  }
  const { bfvParams, publicKey, galoisKeysPart: _g, ...rest } = first;
  return { ...rest, bfv: { params: bfvParams, publicKey, galoisKeys } };
}

export interface UniverseTokens {
  idType: IdType;
  offset: number;
  tokens: Uint8Array[];
  positions: number[];
}

export const UniverseTokensCodec = codec<UniverseTokens>(
  'cleanroom.v1.UniverseTokens',
  (m) => ({ ...m, idType: ID_TYPE_TO_PROTO[m.idType] }),
  (o) => {
    const name = 'UniverseTokens';
    const list = o.tokens;
    const pos = o.positions;
    if (!Array.isArray(list)) bad(name, 'tokens', 'expected a list');
    if (!Array.isArray(pos) || pos.length !== list.length) bad(name, 'positions', `expected one position per token (${list.length})`);
    // The valid case without building a field name per entry (a page holds up to 262,144; the
    // named checks cost ≈ 10 µs per token, a third of the broker's sync); an invalid entry goes
    // through bytes() / num() for its precise error.
    return {
      idType: idType(name, o),
      offset: num(name, o, 'offset', 1e10),
      tokens: list.map((t: unknown, i) => t instanceof Uint8Array && t.length === TOKEN_BYTES
        ? new Uint8Array(t.buffer, t.byteOffset, t.byteLength)
        : bytes(name, { [`tokens[${i}]`]: t }, `tokens[${i}]`, TOKEN_BYTES)),
      positions: pos.map((p: unknown, i) => typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 0xffffffff
        ? p
        : num(name, { [`positions[${i}]`]: p }, `positions[${i}]`, 0xffffffff)),
    };
  },
);

export interface UniverseLabels {
  idType: IdType;
  offset: number;
  boxes: Uint8Array[];
}

export const UniverseLabelsCodec = codec<UniverseLabels>(
  'cleanroom.v1.UniverseLabels',
  (m) => ({ ...m, idType: ID_TYPE_TO_PROTO[m.idType] }),
  (o) => {
    const name = 'UniverseLabels';
    const list = o.boxes;
    if (!Array.isArray(list)) bad(name, 'boxes', 'expected a list');
    return {
      idType: idType(name, o),
      offset: num(name, o, 'offset', 1e10),
      // As UniverseTokens: named checks only for an invalid box.
      boxes: list.map((b: unknown, i) => b instanceof Uint8Array && b.length === LABEL_BOX_BYTES
        ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
        : bytes(name, { [`boxes[${i}]`]: b }, `boxes[${i}]`, LABEL_BOX_BYTES)),
    };
  },
);

const CHECKPOINT_ROUNDS: ReadonlySet<string> = new Set(SESSION_ROUNDS);

export const CheckpointCodec = codec<CheckpointMessage>(
  'cleanroom.v1.Checkpoint',
  (m) => m,
  (o) => {
    const name = 'Checkpoint';
    const afterRound = String(o.afterRound);
    if (!CHECKPOINT_ROUNDS.has(afterRound)) bad(name, 'afterRound', `expected a session round, got ${afterRound}`);
    const hashes = (v: unknown, field: string): Uint8Array[] => {
      if (!Array.isArray(v) || v.length > 64) bad(name, field, 'expected at most 64 hashes');
      return v.map((h, i) => bytes(name, { [`${field}[${i}]`]: h }, `${field}[${i}]`, 32));
    };
    const inclusion = o.inclusion;
    const sigs = o.cosignatures;
    if (!Array.isArray(inclusion) || inclusion.length > 1_000_000) bad(name, 'inclusion', 'expected a list');
    if (!Array.isArray(sigs) || sigs.length > 3) bad(name, 'cosignatures', 'expected at most 3');
    return {
      treeSize: num(name, o, 'treeSize', 1e9),
      rootHash: bytes(name, o, 'rootHash', 32),
      afterRound,
      cosignatures: sigs.map((s, i) => {
        const x = s as Obj;
        return { keyid: str(name, x, 'keyid', 64), sig: bytes(name, { [`cosignatures[${i}]`]: x.sig }, `cosignatures[${i}]`, 64) };
      }),
      inclusion: inclusion.map((p, i) => ({ index: num(name, p as Obj, 'index', 1e9), path: hashes((p as Obj).path, `inclusion[${i}].path`) })),
      previousSize: num(name, o, 'previousSize', 1e9),
      consistency: hashes(o.consistency, 'consistency'),
    };
  },
);

/**
 * broker → media, AGGREGATE round of the joint kinds and retargeting: asks for media's
 * per-position input — joint-count: all of it (offset and maxItems 0); retargeting /
 * joint-activate: the page of media's DH-PSI set starting at `offset`, at most `maxItems`
 * elements (one call per page: the set is ≈ 0.87·U elements).
 */
export interface IndicatorRequest {
  universeVersion: string;
  offset: number;
  maxItems: number;
}

export const IndicatorRequestCodec = codec<IndicatorRequest>(
  'cleanroom.v1.IndicatorRequest',
  (m) => m,
  (o) => ({
    universeVersion: str('IndicatorRequest', o, 'universeVersion', 128),
    offset: num('IndicatorRequest', o, 'offset', 1e10),
    maxItems: num('IndicatorRequest', o, 'maxItems', 1e10),
  }),
);

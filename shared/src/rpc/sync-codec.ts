/**
 * The broker's universe-sync pages decoded by hand from the protobuf wire bytes into packed
 * form: UniverseTokens into one PackedList of tokens and one Uint32Array of positions,
 * UniverseLabels into one PackedList of boxes — the same wire messages as UniverseTokensCodec
 * and UniverseLabelsCodec (codec.ts; media still encodes with those), without an object per
 * entry. protobufjs's decode with toObject builds a Buffer view and a JS value per entry: a page
 * of 65,536 tokens took ≈ 82 ms (1.25 µs per token) and left ≈ 200,000 short-lived objects for
 * the young-generation GC; this is one pass that checks and copies, into room for the most
 * entries a page of its size can hold.
 *
 * Guarantees (what the tests hold it to): a valid page decodes to exactly the entries, offset
 * and ID type protobufjs gives, in order; a page protobufjs refuses (truncated, a length beyond
 * the end, an invalid wire type) is refused too, INVALID_ARGUMENT "malformed cleanroom.v1.<Type>
 * payload: " and protobufjs's words for the fault (index out of range, invalid wire type; the
 * positions in its message may differ); an invalid field is refused
 * with codec.ts's message for that field, checked in the same order (positions count, idType,
 * offset, then the first entry of the wrong width). Unknown fields are skipped, as protobufjs
 * skips them. Fields are read as their declared types whatever wire type they carry, as
 * protobufjs's generated decoders read them.
 */
import { ProtocolError, type IdType } from '../protocol/messages.ts';
import { PackedList } from '../common/packed-list.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';
import { bad, num, type Codec } from './codec.ts';
import { encodePayload, type PayloadType } from './proto.ts';

/** The IdType enum's names by wire value (proto/cleanroom/v1/session.proto). */
const ID_TYPE_NAMES = ['ID_TYPE_UNSPECIFIED', 'PHONE', 'EMAIL', 'DEVICE'] as const;
const ID_TYPE_OF: Readonly<Record<string, IdType>> = { PHONE: 'phone', EMAIL: 'email', DEVICE: 'device' };
const ID_TYPE_TO_PROTO: Readonly<Record<IdType, string>> = { phone: 'PHONE', email: 'EMAIL', device: 'DEVICE' };

/** A protobufjs-compatible reader of the few wire constructs these pages use; errors as protobufjs words them. */
class WireReader {
  pos = 0;
  readonly buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  private outOfRange(n: number): never {
    throw new RangeError(`index out of range: ${this.pos} + ${n} > ${this.buf.length}`);
  }

  /** A varint as an unsigned number (exact below 2^53; enough for the range checks that follow). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.outOfRange(1);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error('invalid varint encoding');
  }

  /** A varint truncated to 32 bits (protobufjs's uint32()). */
  uint32(): number {
    return this.varint() % 0x1_0000_0000;
  }

  /** A length-delimited field's bytes: [start, end) in buf. */
  span(): [number, number] {
    const n = this.uint32();
    if (this.pos + n > this.buf.length) this.outOfRange(n);
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.fixed(8);
        return;
      case 2:
        this.span();
        return;
      case 3:
        for (let t = this.uint32() & 7; t !== 4; t = this.uint32() & 7) this.skip(t);
        return;
      case 5:
        this.fixed(4);
        return;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  private fixed(n: number): void {
    if (this.pos + n > this.buf.length) this.outOfRange(n);
    this.pos += n;
  }
}

/** What one pass over a page found: its scalar fields, entry count and first entry of the wrong width. */
interface PageScan {
  idType: number;
  offset: number;
  entries: number;
  badEntry: { index: number; length: number } | undefined;
  positions: number;
}

/**
 * Walks a page: field 1 idType, 2 offset, `entryField` fixed-width entries (3), 4 positions
 * (packed or not) when `hasPositions`; with `into`, copies the entries and positions as it
 * goes, as many as `into` holds (a page whose counts exceed that is refused by its caller).
 */
function walk(bytes: Uint8Array, width: number, hasPositions: boolean, into?: { entries: Uint8Array; positions: Uint32Array | undefined }): PageScan {
  const r = new WireReader(bytes);
  const s: PageScan = { idType: 0, offset: 0, entries: 0, badEntry: undefined, positions: 0 };
  while (r.pos < bytes.length) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1) s.idType = r.varint();
    else if (field === 2) s.offset = r.varint();
    else if (field === 3) {
      const [start, end] = r.span();
      if (end - start !== width) s.badEntry ??= { index: s.entries, length: end - start };
      else if (into && (s.entries + 1) * width <= into.entries.length) {
        // byte by byte: no subarray object per entry (entries are 12–64 bytes)
        const out = into.entries;
        for (let i = start, o = s.entries * width; i < end; i++, o++) out[o] = bytes[i]!;
      }
      s.entries++;
    } else if (field === 4 && hasPositions) {
      if ((tag & 7) === 2) {
        // packed: varints up to the field's end, which must lie within the page and end a varint
        const end = r.uint32() + r.pos;
        if (end > bytes.length) throw new RangeError('index out of range');
        while (r.pos < end) {
          const p = r.uint32();
          if (into?.positions && s.positions < into.positions.length) into.positions[s.positions] = p;
          s.positions++;
        }
        if (r.pos !== end) throw new RangeError('index out of range');
      } else {
        const p = r.uint32();
        if (into?.positions && s.positions < into.positions.length) into.positions[s.positions] = p;
        s.positions++;
      }
    } else r.skip(tag & 7);
  }
  return s;
}

/** Decodes like decodePayload: a wire fault becomes INVALID_ARGUMENT "malformed <type> payload: …". */
function guarded<T>(type: PayloadType, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError('INVALID_ARGUMENT', `malformed ${type} payload: ${(err as Error).message}`);
  }
}

function idTypeOf(name: string, v: number): IdType {
  const proto = Number.isInteger(v) && v >= 0 && v < ID_TYPE_NAMES.length ? ID_TYPE_NAMES[v]! : String(v | 0);
  const t = ID_TYPE_OF[proto];
  if (!t) bad(name, 'idType', `expected PHONE, EMAIL or DEVICE, got ${proto}`);
  return t;
}

/** One page of media's token table in packed form: token i is tokens.at(i), its user's position positions[i]. */
export interface PackedUniverseTokens {
  idType: IdType;
  offset: number;
  tokens: PackedList;
  positions: Uint32Array;
}

/** One page of media's sealed label boxes in packed form (lookup kind), in token-table order. */
export interface PackedUniverseLabels {
  idType: IdType;
  offset: number;
  boxes: PackedList;
}

/** cleanroom.v1.UniverseTokens ⇄ PackedUniverseTokens (encoding: protobufjs, as media's UniverseTokensCodec). */
export const PackedUniverseTokensCodec: Codec<PackedUniverseTokens> = {
  type: 'cleanroom.v1.UniverseTokens',
  encode: (m) => encodePayload('cleanroom.v1.UniverseTokens', { idType: ID_TYPE_TO_PROTO[m.idType], offset: m.offset, tokens: m.tokens.toArray(), positions: Array.from(m.positions) }),
  decode: (bytes) => {
    const type = 'cleanroom.v1.UniverseTokens';
    const name = 'UniverseTokens';
    // One pass, into room for as many tokens as the page could hold (each takes its width, a
    // tag and a length byte at least); a valid page fills a prefix of it.
    const room = Math.floor(bytes.length / (TOKEN_BYTES + 2));
    const into = { entries: new Uint8Array(room * TOKEN_BYTES), positions: new Uint32Array(room) };
    const s = guarded(type, () => walk(bytes, TOKEN_BYTES, true, into));
    if (s.positions !== s.entries) bad(name, 'positions', `expected one position per token (${s.entries})`);
    const idType = idTypeOf(name, s.idType);
    const offset = num(name, { offset: s.offset }, 'offset', 1e10);
    if (s.badEntry) bad(name, `tokens[${s.badEntry.index}]`, `expected ${TOKEN_BYTES} bytes, got ${s.badEntry.length}`);
    const tokens = new PackedList(into.entries.subarray(0, s.entries * TOKEN_BYTES), TOKEN_BYTES);
    return { idType, offset, tokens, positions: into.positions.subarray(0, s.positions) };
  },
};

/** cleanroom.v1.UniverseLabels ⇄ PackedUniverseLabels (encoding: protobufjs, as media's UniverseLabelsCodec). */
export const PackedUniverseLabelsCodec: Codec<PackedUniverseLabels> = {
  type: 'cleanroom.v1.UniverseLabels',
  encode: (m) => encodePayload('cleanroom.v1.UniverseLabels', { idType: ID_TYPE_TO_PROTO[m.idType], offset: m.offset, boxes: m.boxes.toArray() }),
  decode: (bytes) => {
    const type = 'cleanroom.v1.UniverseLabels';
    const name = 'UniverseLabels';
    const entries = new Uint8Array(Math.floor(bytes.length / (LABEL_BOX_BYTES + 2)) * LABEL_BOX_BYTES);
    const s = guarded(type, () => walk(bytes, LABEL_BOX_BYTES, false, { entries, positions: undefined }));
    const idType = idTypeOf(name, s.idType);
    const offset = num(name, { offset: s.offset }, 'offset', 1e10);
    if (s.badEntry) bad(name, `boxes[${s.badEntry.index}]`, `expected ${LABEL_BOX_BYTES} bytes, got ${s.badEntry.length}`);
    return { idType, offset, boxes: new PackedList(entries.subarray(0, s.entries * LABEL_BOX_BYTES), LABEL_BOX_BYTES) };
  },
};

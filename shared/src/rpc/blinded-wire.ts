/**
 * BlindedBatch (proto/cleanroom/v1/session.proto: `uint64 offset = 2; repeated bytes elements
 * = 3;`) written and read by hand between its wire bytes and one packed buffer of 32-byte
 * elements — the form of PackedBlindedBatchCodec (codec.ts), used for the BLIND round's padded
 * list and the DH-PSI's pages. protobufjs builds a Buffer view and a JS value per element each
 * way: ≈ 0.6 µs per element to encode and 0.9 µs to decode here, which for the DH-PSI's ≈ 0.87·U
 * elements (≈ 10^6 at W1) was most of media's and the broker's CPU beside the X25519s; this
 * is one pass to count and one to copy.
 *
 * Guarantees (blinded-wire.test.ts holds it to them): encoding gives exactly the bytes protobufjs gives
 * (offset, then each element, in field order); a payload protobufjs accepts decodes to exactly
 * the offset and elements it gives — unknown fields skipped, a repeated offset's last value
 * kept; a payload protobufjs refuses (truncated, a length beyond the end, a bad wire type) is
 * refused with INVALID_ARGUMENT "malformed cleanroom.v1.BlindedBatch payload: …", and so are
 * the offset or an element under another wire type and groups (obsolete), which protobufjs would
 * read in its own way: stricter, never looser; an element
 * that is not 32 bytes with checkElement's message naming its index; an offset beyond 10^9
 * with codec.ts's message for the field.
 */
import { ProtocolError } from '../protocol/messages.ts';
import { PackedList } from '../common/packed-list.ts';
import { ELEMENT_BYTES } from '../crypto/group.ts';
import { checkElement } from '../protocol/padding.ts';

const TYPE = 'cleanroom.v1.BlindedBatch';
/** Field 2, varint (offset); field 3, length-delimited (an element). */
const OFFSET_KEY = (2 << 3) | 0;
const ELEMENT_KEY = (3 << 3) | 2;
/** The largest offset codec.ts accepts in a batch. */
const MAX_OFFSET = 1e9;

/** The wire bytes of BlindedBatch { offset, elements } for a packed list of 32-byte elements. */
export function encodePackedBlinded(offset: number, items: PackedList): Uint8Array {
  if (items.width !== ELEMENT_BYTES) throw new RangeError(`expected ${ELEMENT_BYTES}-byte elements, got ${items.width}-byte ones`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`expected an offset ≥ 0, got ${offset}`);
  const head = [OFFSET_KEY, ...varint(offset)];
  const out = new Uint8Array(head.length + items.length * (2 + ELEMENT_BYTES));
  out.set(head, 0);
  const src = items.bytes;
  // byte loops, not a subarray per element (an object each)
  for (let i = 0, at = head.length, from = 0; i < items.length; i++) {
    out[at++] = ELEMENT_KEY;
    out[at++] = ELEMENT_BYTES;
    for (let b = 0; b < ELEMENT_BYTES; b++) out[at++] = src[from++]!;
  }
  return out;
}

/** BlindedBatch's wire bytes → its offset and its elements in one packed buffer (see the header). */
export function decodePackedBlinded(buf: Uint8Array): { offset: number; items: PackedList } {
  try {
    return decode(buf);
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError('INVALID_ARGUMENT', `malformed ${TYPE} payload: ${(err as Error).message}`);
  }
}

function decode(buf: Uint8Array): { offset: number; items: PackedList } {
  // pass 1: the offset, the number of elements, every field checked to lie within the buffer
  let offset = 0;
  let count = 0;
  const r = new Reader(buf);
  while (r.pos < buf.length) {
    const key = r.uint32();
    if (key === ELEMENT_KEY) {
      const start = r.skipSpan();
      if (r.pos - start !== ELEMENT_BYTES) checkElement(buf.subarray(start, r.pos), count); // throws, naming the element
      count++;
    } else if (key === OFFSET_KEY) offset = r.varint();
    else if (key >>> 3 === 2 || key >>> 3 === 3) throw new Error(`invalid wire type ${key & 7} for field ${key >>> 3} at offset ${r.pos}`);
    else r.skip(key & 7);
  }
  if (!Number.isSafeInteger(offset) || offset > MAX_OFFSET) {
    throw new ProtocolError('INVALID_ARGUMENT', `BlindedBatch.offset: expected an integer in [0, ${MAX_OFFSET}], got ${offset}`);
  }
  // pass 2: the elements copied into one buffer
  const items = PackedList.alloc(count, ELEMENT_BYTES);
  const w = new Reader(buf);
  const dst = items.bytes;
  for (let to = 0; w.pos < buf.length;) {
    const key = w.uint32();
    if (key === ELEMENT_KEY) {
      let from = w.skipSpan();
      for (let b = 0; b < ELEMENT_BYTES; b++) dst[to++] = buf[from++]!;
    } else if (key === OFFSET_KEY) w.varint();
    else w.skip(key & 7);
  }
  return { offset, items };
}

/** The few protobuf wire constructs BlindedBatch uses, with protobufjs's wording for what it refuses. */
class Reader {
  pos = 0;
  private readonly buf: Uint8Array;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  private outOfRange(n: number): never {
    throw new RangeError(`index out of range: ${this.pos} + ${n} > ${this.buf.length}`);
  }

  /** A varint as an unsigned number (exact below 2^53: enough for the range check that follows). */
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

  uint32(): number {
    return this.varint() % 0x1_0000_0000;
  }

  /** Skips a length-delimited field's bytes; returns where they start (they end at `pos`). */
  skipSpan(): number {
    const n = this.uint32();
    if (this.pos + n > this.buf.length) this.outOfRange(n);
    const start = this.pos;
    this.pos += n;
    return start;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.fixed(8);
    else if (wireType === 2) this.skipSpan();
    else if (wireType === 5) this.fixed(4);
    else throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
  }

  private fixed(n: number): void {
    if (this.pos + n > this.buf.length) this.outOfRange(n);
    this.pos += n;
  }
}

/** `n` as a protobuf varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

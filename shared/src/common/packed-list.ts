/**
 * PackedList: a list of equal-width byte strings (group elements, tokens) held in one flat
 * buffer, item i at bytes [i·width, (i+1)·width).
 *
 * Why: a session's padded list (up to CLEANROOM_MAX_PADDED = 2·10^6 elements of 32 B) held as
 * one Uint8Array per element costs ≈ 100–200 B of V8 objects per element on top of its 32 B
 * (a typed-array object, its ArrayBuffer, the on-heap store or a view of a message buffer);
 * packed, it is the 32 B alone, with one object for the whole list.
 *
 * Guarantees: `at(i)` is a view (no copy) of item i, valid while the list lives; `slice` is a
 * view of a contiguous range, sharing the buffer; every item is exactly `width` bytes (the
 * constructor and `from` refuse anything else, naming the item). Not thread-safe for writers.
 */

/**
 * Equal-width items read by index: a PackedList, or items left where a message carries them
 * (rpc/codec.ts BlindedBatchInPlaceCodec). `at(i)` is a view, no copy.
 */
export interface ItemSource {
  readonly length: number;
  readonly width: number;
  at(i: number): Uint8Array;
}

/**
 * Items read in place by offset: item i is the `width` bytes at `start + i·stride` of `bytes`
 * — a PackedList (start 0, stride = width), or a BlindedBatch's elements in its message bytes
 * (rpc/codec.ts, stride = an element's protobuf record). For loops over every item without a
 * view per item (the DH-PSI's answer pages, protocol/media.ts activatePage).
 */
export interface StridedItems extends ItemSource {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly stride: number;
}

export class PackedList implements StridedItems {
  /** The items, back to back: `length × width` bytes. */
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly length: number;
  readonly start = 0;

  constructor(bytes: Uint8Array, width: number) {
    if (!Number.isSafeInteger(width) || width < 1) throw new RangeError(`expected an item width ≥ 1, got ${String(width)}`);
    if (!(bytes instanceof Uint8Array) || bytes.length % width !== 0) {
      throw new RangeError(`expected a whole number of ${width}-byte items, got ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes}`);
    }
    this.bytes = bytes;
    this.width = width;
    this.length = bytes.length / width;
  }

  /** Bytes from one item to the next: the width (items back to back). */
  get stride(): number {
    return this.width;
  }

  /** An empty list of `length` zeroed items to fill with `set`. */
  static alloc(length: number, width: number): PackedList {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`expected a list length ≥ 0, got ${String(length)}`);
    return new PackedList(new Uint8Array(length * width), width);
  }

  /** `items` copied into one buffer; each must be exactly `width` bytes. */
  static from(items: readonly Uint8Array[], width: number): PackedList {
    const out = PackedList.alloc(items.length, width);
    for (let i = 0; i < items.length; i++) out.set(i, items[i]!);
    return out;
  }

  /** Item `i` (a view into the buffer, not a copy). */
  at(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`expected an item index in [0, ${this.length}), got ${String(i)}`);
    return this.bytes.subarray(i * this.width, (i + 1) * this.width);
  }

  /** Writes `item` (exactly `width` bytes) as item `i`. */
  set(i: number, item: Uint8Array): void {
    if (!(item instanceof Uint8Array) || item.length !== this.width) {
      throw new RangeError(`expected a ${this.width}-byte item at ${i}, got ${item instanceof Uint8Array ? `${item.length} bytes` : typeof item}`);
    }
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`expected an item index in [0, ${this.length}), got ${String(i)}`);
    this.bytes.set(item, i * this.width);
  }

  /** Items [from, to) as a list sharing this buffer. */
  slice(from: number, to: number): PackedList {
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from || to > this.length) {
      throw new RangeError(`expected 0 ≤ from ≤ to ≤ ${this.length}, got [${String(from)}, ${String(to)})`);
    }
    return new PackedList(this.bytes.subarray(from * this.width, to * this.width), this.width);
  }

  /** The items as views (one object each: for short lists and for APIs that need an array). */
  toArray(): Uint8Array[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }

  /** The lists back to back in one new buffer (all of `width`-byte items). */
  static concat(lists: readonly PackedList[], width: number): PackedList {
    let n = 0;
    for (const l of lists) {
      if (l.width !== width) throw new RangeError(`expected lists of ${width}-byte items, got one of ${l.width}-byte items`);
      n += l.length;
    }
    const out = PackedList.alloc(n, width);
    let at = 0;
    for (const l of lists) {
      out.bytes.set(l.bytes, at);
      at += l.bytes.length;
    }
    return out;
  }
}

/**
 * Copies `n` bytes of `src` from `srcAt` into `dst` at `dstAt` with a plain loop (ranges in
 * bounds, as the caller checked): for one short item (a 32-byte element) this is about half
 * the CPU of `dst.set(src.subarray(…))`, which makes a view object per item — the BLIND
 * round moves 50,000 and more elements per pass (bench/relay-steps.ts).
 */
export function copyBytes(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, n: number): void {
  for (let k = 0; k < n; k++) dst[dstAt + k] = src[srcAt + k]!;
}

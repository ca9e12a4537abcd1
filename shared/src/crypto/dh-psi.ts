/**
 * Diffie-Hellman private set intersection over X25519 (Meadows 1986; Huberman, Franklin &
 * Hogg 1999), in the variant where only the receiver learns the intersection:
 *   receiver R (media) holds Y, sender S (broker) holds X, both sets of publication positions;
 *   R → S   shuffled H(y)^b                       (b: R's fresh per-session scalar)
 *   S → R   the same list under a: H(y)^{ba}, in R's order, and shuffled H(x)^a, padded with
 *           uniformly random elements to a size bucket (a: S's fresh per-session scalar)
 *   R       computes H(x)^{ab} and keeps the y whose H(y)^{ba} is among them: exactly X ∩ Y.
 * R learns X ∩ Y and the padded size of X; S learns the (padded) size of Y. Neither can test a
 * candidate against the other's list without the other's scalar (CDH in the prime-order
 * subgroup of Curve25519, H a random oracle: hash-to-curve, crypto/h2c.ts). Scalars commute:
 * X25519(a, X25519(b, P)) = X25519(b, X25519(a, P)). Every element is validated (length,
 * canonical, not low-order) before a scalar touches it (OprfKey.evaluateBatch). Not thread-safe
 * per key; keys are never persisted. 128-bit security level.
 */
import { hashToGroupBatch, hashToGroupInto } from './h2c.ts';
import { ELEMENT_BYTES, type ElementBytes } from './group.ts';
import type { PackedList } from '../common/packed-list.ts';

/** The domain of position hashing; the publication version is part of the input, so sets are unlinkable across publications. */
export const PSI_DST = 'cleanroom-v1-psi-publication-position';

/** H(version ‖ position) for each position: the PSI's elements. */
export function hashPositions(version: string, positions: Iterable<number>): ElementBytes[] {
  const enc = new TextEncoder();
  return hashToGroupBatch([...positions].map((p) => enc.encode(`${version}\0${p}`)), PSI_DST);
}

/**
 * hashPositions of the positions first … first + count − 1, written packed into `out` from
 * element `at` on (32 bytes each, position order): the same bytes, with no string, array or
 * view per position (media's warm-up hashes every published position: psi-positions.ts).
 */
export function hashPositionsInto(out: Uint8Array, at: number, version: string, first: number, count: number): void {
  if (typeof version !== 'string') throw new TypeError(`expected a version string, got ${typeof version}`);
  if (!Number.isSafeInteger(first) || first < 0 || !Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(first + count)) {
    throw new RangeError(`expected a range of positions from a first ≥ 0, got first ${first}, count ${count}`);
  }
  const prefix = new TextEncoder().encode(`${version}\0`);
  const buf = new Uint8Array(prefix.length + 16); // a safe integer has at most 16 digits
  buf.set(prefix);
  /** buf's first prefix + d bytes, by digit count d (made once each). */
  const views: Uint8Array[] = [];
  hashToGroupInto(out, at, count, (i) => {
    let p = first + i;
    let d = 1;
    for (let q = p; q >= 10; q = Math.floor(q / 10)) d++;
    for (let k = prefix.length + d - 1; k >= prefix.length; k--) {
      buf[k] = 0x30 + (p % 10);
      p = Math.floor(p / 10);
    }
    return (views[d] ??= buf.subarray(0, prefix.length + d));
  }, PSI_DST, first);
}

/** Hex of an element, for set membership. */
export function elementKey(e: ElementBytes): string {
  return Buffer.from(e).toString('hex');
}

/**
 * A set of elements for membership tests without a string per element: the elements back to
 * back in one buffer and an open-addressing table (load ≤ 1/2) keyed on their first four
 * bytes, each hit confirmed by comparing all ELEMENT_BYTES bytes — exactly the answers of a Set
 * of their hex. The table's keys are X25519 outputs under the tester's own scalar (uniform
 * to anyone else), so no peer can lengthen its probe chains; a probed element from a peer
 * costs a few comparisons whatever its bytes.
 */
export class ElementTable {
  private readonly bytes: Uint8Array;
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(elements: readonly ElementBytes[]) {
    const bytes = new Uint8Array(elements.length * ELEMENT_BYTES);
    elements.forEach((e, i) => {
      if (e.length !== ELEMENT_BYTES) throw new RangeError(`expected ${ELEMENT_BYTES}-byte elements, got ${e.length} bytes at ${i}`);
      bytes.set(e, i * ELEMENT_BYTES);
    });
    const { slots, mask } = ElementTable.index(bytes);
    this.bytes = bytes;
    this.slots = slots;
    this.mask = mask;
  }

  /** The table of a packed list's elements (kept as they are: the table holds `list.bytes`). */
  static fromPacked(list: PackedList): ElementTable {
    if (list.width !== ELEMENT_BYTES) throw new RangeError(`expected ${ELEMENT_BYTES}-byte elements, got ${list.width}-byte ones`);
    const t = Object.create(ElementTable.prototype) as { bytes: Uint8Array; slots: Int32Array; mask: number };
    const { slots, mask } = ElementTable.index(list.bytes);
    t.bytes = list.bytes;
    t.slots = slots;
    t.mask = mask;
    return t as unknown as ElementTable;
  }

  /** The open-addressing index (load ≤ 1/2) of the elements back to back in `bytes`. */
  private static index(bytes: Uint8Array): { slots: Int32Array; mask: number } {
    const n = bytes.length / ELEMENT_BYTES;
    let size = 2;
    while (size < 2 * n) size *= 2;
    const mask = size - 1;
    const slots = new Int32Array(size).fill(-1);
    for (let i = 0; i < n; i++) {
      let s = head(bytes, i * ELEMENT_BYTES) & mask;
      while (slots[s] !== -1) s = (s + 1) & mask;
      slots[s] = i;
    }
    return { slots, mask };
  }

  /** Whether the ELEMENT_BYTES bytes of `buf` at `offset` are one of the elements. */
  has(buf: Uint8Array, offset: number): boolean {
    const { bytes, slots, mask } = this;
    for (let s = head(buf, offset) & mask; ; s = (s + 1) & mask) {
      const i = slots[s]!;
      if (i === -1) return false;
      let b = 0;
      const at = i * ELEMENT_BYTES;
      while (b < ELEMENT_BYTES && bytes[at + b] === buf[offset + b]) b++;
      if (b === ELEMENT_BYTES) return true;
    }
  }
}

/** The first four bytes at `offset`, little-endian, as an unsigned 32-bit number. */
function head(buf: Uint8Array, offset: number): number {
  return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0;
}

/**
 * The BLIND round's padding, shared by every session kind that runs it (broker.ts,
 * lookup.ts): the broker mixes A's blinded elements with dummy elements — uniform group
 * elements, distributed exactly like blinded real IDs — in a random order, so media
 * evaluates a list whose size is a bucket and cannot tell which elements are A's; then it
 * keeps only the evaluations of A's elements, in A's order. Pure; the permutation (padMap)
 * stays with the broker. The dummies and the padded list are PackedLists (one buffer of
 * 32-byte elements, not an object per element: the padded list reaches 2·10^6 elements).
 */
import { ELEMENT_BYTES, randomElementsInto, validateElement, InvalidElementError } from '../crypto/group.ts';
import { copyBytes, PackedList, type ItemSource } from '../common/packed-list.ts';
import type { Uniform } from './policy.ts';
import { ProtocolError, type ElementBytes } from './messages.ts';

/** paddedCount − seedCount dummy elements, packed. */
export function drawDummies(count: number, rng?: (n: number) => Uint8Array): PackedList {
  const out = PackedList.alloc(count, ELEMENT_BYTES);
  drawDummiesInto(out, 0, count, rng);
  return out;
}

/**
 * Draws dummies [from, to) of `out`, straight into its buffer (randomElementsInto): a list can
 * be drawn in slices, so that a node's event loop is not held for the whole of it.
 */
export function drawDummiesInto(out: PackedList, from: number, to: number, rng?: (n: number) => Uint8Array): void {
  if (out.width !== ELEMENT_BYTES) throw new RangeError(`expected a list of ${ELEMENT_BYTES}-byte elements, got ${out.width}-byte items`);
  randomElementsInto(out.bytes, from, to - from, rng);
}

/** A's elements and the dummies, shuffled; padMap[pos] is A's index at pos, or −1 for a dummy (a new list: padInPlace). */
export function padAndShuffle(blinded: readonly ElementBytes[], dummies: PackedList, paddedCount: number, u: Uniform): { padded: PackedList; padMap: Int32Array } {
  const n = blinded.length;
  if (n + dummies.length !== paddedCount) throw new RangeError(`expected ${paddedCount - n} dummies, got ${dummies.length}`);
  const list = PackedList.alloc(paddedCount, ELEMENT_BYTES);
  list.bytes.set(dummies.bytes, n * ELEMENT_BYTES);
  return padInPlace(blinded, list, u);
}

/**
 * padAndShuffle in the list that holds the dummies: `list` has paddedCount slots with the
 * dummies in [n, paddedCount) (n = A's count); A's elements are written into [0, n) and the
 * whole list is shuffled in place (Fisher–Yates over its items: a uniform permutation, as
 * randomPermutation draws it), padMap following every swap. No list-sized buffer but padMap is
 * allocated: the broker draws its dummies straight into the padded list (broker-padding.ts), so
 * the BLIND round touches no fresh 32·P bytes (a fresh buffer's page faults cost more than the
 * copy into it: bench/relay-steps.ts).
 */
export function padInPlace(blinded: readonly ElementBytes[], list: PackedList, u: Uniform): { padded: PackedList; padMap: Int32Array } {
  const n = blinded.length;
  const count = list.length;
  if (list.width !== ELEMENT_BYTES) throw new RangeError(`expected a list of ${ELEMENT_BYTES}-byte elements, got ${list.width}-byte items`);
  if (n > count) throw new RangeError(`expected at most ${count} blinded elements, got ${n}`);
  blinded.forEach((e, i) => checkElement(e, i));
  const b = list.bytes;
  const padMap = new Int32Array(count);
  for (let i = 0; i < count; i++) padMap[i] = i < n ? i : -1;
  for (let i = 0; i < n; i++) copyBytes(b, i * ELEMENT_BYTES, blinded[i]!, 0, ELEMENT_BYTES);
  // Items swapped as 32-bit words when the buffer allows (a list's own buffer does), else bytes.
  const unit = b.byteOffset % 4 === 0 ? 4 : 1;
  const cells = unit === 4 ? new Int32Array(b.buffer, b.byteOffset, b.length / 4) : b;
  const per = ELEMENT_BYTES / unit;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    if (j === i) continue;
    const m = padMap[i]!;
    padMap[i] = padMap[j]!;
    padMap[j] = m;
    const x = i * per;
    const y = j * per;
    for (let k = 0; k < per; k++) {
      const t = cells[x + k]!;
      cells[x + k] = cells[y + k]!;
      cells[y + k] = t;
    }
  }
  return { padded: list, padMap };
}

/** Media's evaluations of the padded list → A's, in A's order (each validated; copied out, so the padded-size buffer is not kept). */
export function unpad(evaluated: ItemSource, padMap: Int32Array, seedCount: number): ElementBytes[] {
  if (evaluated.length !== padMap.length) {
    throw new ProtocolError('INVALID_ARGUMENT', `expected ${padMap.length} evaluated elements from media, got ${evaluated.length}`);
  }
  if (evaluated.width !== ELEMENT_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `expected ${ELEMENT_BYTES}-byte evaluated elements from media, got ${evaluated.width}-byte ones`);
  const own = PackedList.alloc(seedCount, ELEMENT_BYTES);
  padMap.forEach((src, pos) => {
    if (src >= 0) {
      const e = evaluated.at(pos);
      checkElement(e, pos);
      own.set(src, e);
    }
  });
  return own.toArray();
}

export function checkElement(e: Uint8Array, index: number): void {
  try {
    validateElement(e, index);
  } catch (err) {
    if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
    throw err;
  }
}

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
import { PackedList } from '../common/packed-list.ts';
import { randomPermutation, type Uniform } from './policy.ts';
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

/** A's elements and the dummies, shuffled; padMap[pos] is A's index at pos, or −1 for a dummy. */
export function padAndShuffle(blinded: readonly ElementBytes[], dummies: PackedList, paddedCount: number, u: Uniform): { padded: PackedList; padMap: Int32Array } {
  const n = blinded.length;
  if (n + dummies.length !== paddedCount) throw new RangeError(`expected ${paddedCount - n} dummies, got ${dummies.length}`);
  blinded.forEach((e, i) => checkElement(e, i));
  const perm = randomPermutation(paddedCount, u);
  const padded = PackedList.alloc(paddedCount, ELEMENT_BYTES);
  const padMap = new Int32Array(paddedCount);
  const d = dummies.bytes;
  for (let pos = 0; pos < paddedCount; pos++) {
    const src = perm[pos]!;
    if (src < n) padded.set(pos, blinded[src]!);
    else padded.bytes.set(d.subarray((src - n) * ELEMENT_BYTES, (src - n + 1) * ELEMENT_BYTES), pos * ELEMENT_BYTES);
    padMap[pos] = src < n ? src : -1;
  }
  return { padded, padMap };
}

/** Media's evaluations of the padded list → A's, in A's order (each validated; copied out, so the padded-size buffer is not kept). */
export function unpad(evaluated: PackedList, padMap: Int32Array, seedCount: number): ElementBytes[] {
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

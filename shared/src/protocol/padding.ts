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
 * dummies in [n, paddedCount) (n = A's count); A's elements end up at n distinct uniformly random
 * positions in a uniformly random order, the dummies in all the others. No list-sized buffer but
 * padMap is allocated: the broker draws its dummies straight into the padded list
 * (broker-padding.ts), so the BLIND round touches no fresh 32·P bytes.
 *
 * Work O(n) but for two P-entry arrays, not O(P) swaps of items with P draws: A's positions are
 * the first n steps of a Fisher–Yates shuffle of the positions (n draws, each uniform over the
 * positions not drawn yet), and the dummies displaced by them fill the slots of [0, n) that no
 * element of A's took. The list is then distributed exactly as a Fisher–Yates shuffle of all
 * P items (the former method: ≈ 8 ms of the broker's BLIND round at P = 50,000, against
 * ≈ 1 ms now, bench/relay-steps.ts, loaded machine): the dummies are
 * independent and identically distributed (uniform group elements, group.ts randomElementsInto),
 * independent of A's elements and of the positions drawn, so whichever dummy fills which of the
 * remaining slots, those slots hold P − n independent uniform elements — as after a shuffle —
 * and A's elements sit where a uniformly random injection put them.
 */
export function padInPlace(blinded: readonly ElementBytes[], list: PackedList, u: Uniform): { padded: PackedList; padMap: Int32Array } {
  const n = blinded.length;
  const count = list.length;
  if (list.width !== ELEMENT_BYTES) throw new RangeError(`expected a list of ${ELEMENT_BYTES}-byte elements, got ${list.width}-byte items`);
  if (n > count) throw new RangeError(`expected at most ${count} blinded elements, got ${n}`);
  blinded.forEach((e, i) => checkElement(e, i));
  const b = list.bytes;
  const padMap = new Int32Array(count).fill(-1);
  // at[i]: where A's element i goes — the first n steps of a Fisher–Yates shuffle of the
  // positions 0..count−1 (`moved[j]` = 1 + the position now at j, 0 while it is still j).
  const at = new Int32Array(n);
  const moved = new Int32Array(count);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(u() * (count - i));
    const pos = moved[j] === 0 ? j : moved[j]! - 1;
    moved[j] = moved[i] === 0 ? i + 1 : moved[i]!;
    padMap[pos] = i;
    at[i] = pos;
  }
  // The dummies A's elements displace from [n, count) go to the slots of [0, n) left free, in order.
  let free = 0;
  for (let i = 0; i < n; i++) {
    const pos = at[i]!;
    if (pos < n) continue;
    while (padMap[free] !== -1) free++;
    b.copyWithin(free * ELEMENT_BYTES, pos * ELEMENT_BYTES, (pos + 1) * ELEMENT_BYTES);
    free++;
  }
  for (let i = 0; i < n; i++) copyBytes(b, at[i]! * ELEMENT_BYTES, blinded[i]!, 0, ELEMENT_BYTES);
  return { padded: list, padMap };
}

/**
 * Media's evaluations of the padded list → A's, in A's order, packed (each validated; copied out,
 * so the padded-size buffer is not kept): the broker sends them on as they are (splitPacked).
 */
export function unpad(evaluated: ItemSource, padMap: Int32Array, seedCount: number): PackedList {
  if (evaluated.length !== padMap.length) {
    throw new ProtocolError('INVALID_ARGUMENT', `expected ${padMap.length} evaluated elements from media, got ${evaluated.length}`);
  }
  if (evaluated.width !== ELEMENT_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `expected ${ELEMENT_BYTES}-byte evaluated elements from media, got ${evaluated.width}-byte ones`);
  const own = PackedList.alloc(seedCount, ELEMENT_BYTES);
  for (let pos = 0; pos < padMap.length; pos++) {
    const src = padMap[pos]!;
    if (src < 0) continue;
    const e = evaluated.at(pos);
    checkElement(e, pos);
    own.set(src, e);
  }
  return own;
}

export function checkElement(e: Uint8Array, index: number): void {
  try {
    validateElement(e, index);
  } catch (err) {
    if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
    throw err;
  }
}

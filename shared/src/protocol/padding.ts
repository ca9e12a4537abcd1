/**
 * The BLIND round's padding, shared by every session kind that runs it (broker.ts,
 * lookup.ts): the broker mixes A's blinded elements with dummy elements — uniform group
 * elements, distributed exactly like blinded real IDs — in a random order, so media
 * evaluates a list whose size is a bucket and cannot tell which elements are A's; then it
 * keeps only the evaluations of A's elements, in A's order. Pure; the permutation (padMap)
 * stays with the broker.
 */
import { randomElements, validateElement, InvalidElementError } from '../crypto/group.ts';
import { randomPermutation, type Uniform } from './policy.ts';
import { ProtocolError, type ElementBytes } from './messages.ts';

/** paddedCount − seedCount dummy elements (randomElements: one pass, no array per draw). */
export function drawDummies(count: number, rng?: (n: number) => Uint8Array): ElementBytes[] {
  return randomElements(count, rng);
}

/** A's elements and the dummies, shuffled; padMap[pos] is A's index at pos, or −1 for a dummy. */
export function padAndShuffle(blinded: readonly ElementBytes[], dummies: readonly ElementBytes[], paddedCount: number, u: Uniform): { padded: ElementBytes[]; padMap: Int32Array } {
  const n = blinded.length;
  if (n + dummies.length !== paddedCount) throw new RangeError(`expected ${paddedCount - n} dummies, got ${dummies.length}`);
  blinded.forEach((e, i) => checkElement(e, i));
  const perm = randomPermutation(paddedCount, u);
  const padded = new Array<ElementBytes>(paddedCount);
  const padMap = new Int32Array(paddedCount);
  for (let pos = 0; pos < paddedCount; pos++) {
    const src = perm[pos]!;
    padded[pos] = src < n ? blinded[src]! : dummies[src - n]!;
    padMap[pos] = src < n ? src : -1;
  }
  return { padded, padMap };
}

/** Media's evaluations of the padded list → A's, in A's order (each validated). */
export function unpad(evaluated: readonly ElementBytes[], padMap: Int32Array, seedCount: number): ElementBytes[] {
  if (evaluated.length !== padMap.length) {
    throw new ProtocolError('INVALID_ARGUMENT', `expected ${padMap.length} evaluated elements from media, got ${evaluated.length}`);
  }
  const out = new Array<ElementBytes>(seedCount);
  padMap.forEach((src, pos) => {
    if (src >= 0) {
      checkElement(evaluated[pos]!, pos);
      out[src] = evaluated[pos]!;
    }
  });
  return out;
}

export function checkElement(e: Uint8Array, index: number): void {
  try {
    validateElement(e, index);
  } catch (err) {
    if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
    throw err;
  }
}

/**
 * The broker's padding rounds, one definition for every broker role that serves A's blinded IDs
 * to media (BrokerRole for the aggregate kinds, LookupBrokerRole for lookup): the phases from a
 * settled OPEN to A's evaluations back in A's order, and the three steps between them.
 *
 *   opened ─(media accepts)─▶ ready ─padStep(A's blinded)─▶ padded ─unpadStep(media's)─▶ evaluated
 *
 * - ready may carry the dummies drawn ahead of time (readyDummies, right after OPEN, so the
 *   drawing overlaps A's blinding) — drawn straight into the padded list's slots
 *   [seedCount, paddedCount); padStep draws whatever is missing.
 * - padStep refuses a batch whose size is not the declared seed count and puts A's elements at
 *   uniformly random positions among the paddedCount − seedCount uniform dummies, in place
 *   (padding.ts padInPlace: the list distributed as a uniform shuffle of all its items, in
 *   O(seedCount) work); the positions stay in the padded phase and nowhere else.
 * - unpadStep returns A's evaluations in A's order and forgets the permutation.
 * The dummies and the padded list are one PackedList (common/packed-list.ts): one buffer.
 * Pure functions of the phase: no network, no filesystem.
 */
import { drawDummiesInto, padInPlace, unpad } from './padding.ts';
import { PackedList, type ItemSource } from '../common/packed-list.ts';
import { ELEMENT_BYTES } from '../crypto/group.ts';
import type { Uniform } from './policy.ts';
import { ProtocolError, type ElementBytes, type OpenSession, type Policy } from './messages.ts';

/** What OPEN settled: A's request, the policy the broker enforces, the padded size. */
export interface Settled {
  open: OpenSession;
  policy: Policy;
  paddedCount: number;
}

export type PaddingPhase =
  | ({ name: 'opened' } & Settled)
  /** `padded`: the padded list being built, paddedCount slots, `drawn` dummies in [seedCount, seedCount + drawn). */
  | ({ name: 'ready'; padded: PackedList | undefined; drawn: number } & Settled)
  | ({ name: 'padded'; padMap: Int32Array } & Settled)
  | ({ name: 'evaluated' } & Settled);

type Phase<N extends PaddingPhase['name']> = Extract<PaddingPhase, { name: N }>;

/** The phase after media accepted: no dummies drawn yet. */
export function readyPhase(p: Phase<'opened'>): Phase<'ready'> {
  const { name: _n, ...settled } = p;
  return { ...settled, name: 'ready', padded: undefined, drawn: 0 };
}

/**
 * Draws up to `max` more of this session's dummies (all that are missing by default) and
 * returns whether all are drawn: a node draws them in slices between other work (a padded
 * size of 2·10^6 is ≈ 1.8·10^6 X25519s, a minute of one core).
 */
export function drawSomeDummies(p: Phase<'ready'>, max = Infinity, rng?: (n: number) => Uint8Array): boolean {
  const n = p.open.seedCount;
  const count = p.paddedCount - n;
  p.padded ??= PackedList.alloc(p.paddedCount, ELEMENT_BYTES);
  const to = Math.min(count, p.drawn + max);
  drawDummiesInto(p.padded, n + p.drawn, n + to, rng);
  p.drawn = to;
  return to === count;
}

/** The dummies for this session (a view of the padded list's slots [seedCount, paddedCount)), the missing ones drawn now. */
export function readyDummies(p: Phase<'ready'>, rng?: (n: number) => Uint8Array): PackedList {
  return readyList(p, rng).slice(p.open.seedCount, p.paddedCount);
}

/** The padded list with every dummy drawn (the missing ones now); A's slots not yet written. */
function readyList(p: Phase<'ready'>, rng?: (n: number) => Uint8Array): PackedList {
  drawSomeDummies(p, Infinity, rng);
  return p.padded as PackedList; // allocated by drawSomeDummies
}

/** Round BLIND (from A): the padded, shuffled list for media, and the phase that remembers how. */
export function padStep(p: Phase<'ready'>, blinded: readonly ElementBytes[], u: Uniform, rng?: (n: number) => Uint8Array): { padded: PackedList; next: Phase<'padded'> } {
  const n = p.open.seedCount;
  if (blinded.length !== n) {
    throw new ProtocolError('INVALID_ARGUMENT', `expected ${n} blinded elements (the declared seed count), got ${blinded.length}`);
  }
  const { padded, padMap } = padInPlace(blinded, readyList(p, rng), u);
  const { name: _n, padded: _d, drawn: _dr, ...settled } = p;
  return { padded, next: { ...settled, name: 'padded', padMap } };
}

/** Round BLIND (from media): media's evaluations of the padded list → A's, in A's order. */
export function unpadStep(p: Phase<'padded'>, evaluated: ItemSource): { own: PackedList; next: Phase<'evaluated'> } {
  const own = unpad(evaluated, p.padMap, p.open.seedCount);
  const { name: _n, padMap: _m, ...settled } = p;
  return { own, next: { ...settled, name: 'evaluated' } };
}

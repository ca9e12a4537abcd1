/**
 * Look-alike quality against the simulation ground truth. Used only by the simulator, the
 * benchmarks and tests — a node never has the propensity set.
 *
 * lift = (share of propensity users in the audience) ÷ (share of propensity users in the
 * universe). 1 means no better than random; the maximum is universeSize ÷ |propensity|.
 * Guarantees: duplicates in the audience are counted once; inputs are validated.
 */

export function measureLift(audienceUserIds: Iterable<string>, propensity: Set<string>, universeSize: number): number {
  if (!(propensity instanceof Set)) throw new TypeError(`expected propensity to be a Set, got ${typeof propensity}`);
  if (!Number.isInteger(universeSize) || universeSize < 1) throw new RangeError(`expected universeSize to be a positive integer, got ${universeSize}`);
  if (propensity.size === 0) throw new RangeError('expected a non-empty propensity set, got 0 users');
  if (propensity.size > universeSize) throw new RangeError(`expected at most universeSize = ${universeSize} propensity users, got ${propensity.size}`);
  if (audienceUserIds === null || typeof (audienceUserIds as Iterable<string>)?.[Symbol.iterator] !== 'function' || typeof audienceUserIds === 'string') {
    throw new TypeError(`expected an iterable of user ids, got ${audienceUserIds === null ? 'null' : typeof audienceUserIds}`);
  }
  const audience = new Set(audienceUserIds);
  if (audience.size === 0) throw new RangeError('expected a non-empty audience, got 0 users');
  let hits = 0;
  for (const id of audience) if (propensity.has(id)) hits++;
  return hits / audience.size / (propensity.size / universeSize);
}

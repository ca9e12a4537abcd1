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
import { hashToGroupBatch } from './h2c.ts';
import type { ElementBytes } from './group.ts';

/** The domain of position hashing; the publication version is part of the input, so sets are unlinkable across publications. */
export const PSI_DST = 'cleanroom-v1-psi-publication-position';

/** H(version ‖ position) for each position: the PSI's elements. */
export function hashPositions(version: string, positions: Iterable<number>): ElementBytes[] {
  const enc = new TextEncoder();
  return hashToGroupBatch([...positions].map((p) => enc.encode(`${version}\0${p}`)), PSI_DST);
}

/** Hex of an element, for set membership. */
export function elementKey(e: ElementBytes): string {
  return Buffer.from(e).toString('hex');
}

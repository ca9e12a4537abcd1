/**
 * Tests only: media's publication of a prepared universe, in memory (fresh BFV key pair,
 * real encryption), memoised per universe object so a test file publishes each universe once.
 */
import { MediaBfv } from '../crypto/bfv.ts';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import { publish, type Publication } from '../protocol/publication.ts';
import type { Universe } from '../protocol/universe.ts';

const cache = new WeakMap<Universe, Promise<Publication & { bfv: MediaBfv }>>();

export function testPublication(universe: Universe): Promise<Publication & { bfv: MediaBfv }> {
  let p = cache.get(universe);
  if (!p) {
    p = MediaBfv.create(ATTRIBUTE_COUNT).then(async (bfv) => ({ ...(await publish(universe, bfv)), bfv }));
    cache.set(universe, p);
  }
  return p;
}

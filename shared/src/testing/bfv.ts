/**
 * Tests only: a fresh media BFV key pair (ATTRIBUTE_COUNT attributes) and the broker built from
 * its public material, as the broker builds it from a publication's manifest.
 */
import { BrokerBfv, MediaBfv } from '../crypto/bfv.ts';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';

export async function bfvPair(): Promise<{ media: MediaBfv; broker: BrokerBfv }> {
  const media = await MediaBfv.create(ATTRIBUTE_COUNT);
  return { media, broker: await BrokerBfv.fromPublicMaterial(media.publicMaterial(), ATTRIBUTE_COUNT) };
}

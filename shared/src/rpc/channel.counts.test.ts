/**
 * SessionChannel counts one Ed25519 signature per message it seals and one verification per
 * message it opens (common/op-counts.ts `ed25519Sign`, `ed25519Verify`: the phase floors' share
 * of the charter's "every message signed by its sender, verified by its receiver"); a message
 * refused before its signature verified is not counted as verified.
 */
import { describe, expect, it } from 'vitest';
import { SigningKey } from '../crypto/dsse.ts';
import { primitiveDelta, primitiveSnapshot } from '../common/op-counts.ts';
import { AckCodec } from './codec.ts';
import { SessionChannel } from './channel.ts';
import type { Party } from '../protocol/messages.ts';

describe('SessionChannel signature counts', () => {
  it('counts a signature per sealed message and a verification per opened one, none for a forged one', () => {
    const keys: Partial<Record<Party, SigningKey>> = { broker: SigningKey.generate(), media: SigningKey.generate() };
    const peerKey = (p: Party): Uint8Array => keys[p]!.publicKey;
    const broker = new SessionChannel({ party: 'broker', key: keys.broker!, peerKey }, 's-counts');
    const media = new SessionChannel({ party: 'media', key: keys.media!, peerKey }, 's-counts');
    const before = primitiveSnapshot();
    const envs = broker.sealChunks('media', 'AGGREGATE', AckCodec, [{ received: 1 }, { received: 2 }, { received: 3 }]);
    expect(primitiveDelta(before)).toEqual({ ed25519Sign: 3 });
    expect(media.openChunks(envs, 'broker', ['AGGREGATE'], AckCodec).map((a) => a.received)).toEqual([1, 2, 3]);
    expect(primitiveDelta(before)).toEqual({ ed25519Sign: 3, ed25519Verify: 3 });
    const forged = broker.seal('media', 'AGGREGATE', AckCodec, { received: 4 });
    const sig = forged.signatures[0]!;
    const bad = { ...forged, signatures: [{ ...sig, sig: sig.sig.map((b, i) => (i === 0 ? b ^ 1 : b)) }] };
    expect(() => media.open(bad, 'broker', ['AGGREGATE'], AckCodec)).toThrow(/signature/);
    expect(primitiveDelta(before)).toEqual({ ed25519Sign: 4, ed25519Verify: 3 });
  });
});

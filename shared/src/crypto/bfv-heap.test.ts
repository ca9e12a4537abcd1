/**
 * The SEAL WebAssembly heap does not grow with the number of ciphertexts a node handles:
 * media's publication encrypts every user (encryptUsers), the broker's sync turns each
 * ciphertext into its stored form (toStoredForm) and a session aggregates stored ciphertexts
 * (aggregateStored). WASM memory never shrinks and stops at 4 GiB, so one SEAL object left
 * undeleted per ciphertext would grow it with the universe. After a warm-up round, hundreds
 * more ciphertexts through each path leave sealHeapBytes() exactly where it was (a leaked
 * plaintext, 64 KiB, or ciphertext, ≈ 384 KiB, per ciphertext would exceed the heap's slack).
 */
import { describe, expect, it } from 'vitest';
import { sealHeapBytes } from './bfv.ts';
import { bfvPair } from '../testing/bfv.ts';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';

describe('SEAL heap across many ciphertexts', () => {
  it('encryptUsers, toStoredForm and aggregateStored free every SEAL object: the WASM heap does not grow', async () => {
    const { media, broker } = await bfvPair();
    try {
      const upc = media.layout.usersPerCiphertext;
      const vectors = Array.from({ length: upc * 32 }, (_, i) => {
        const v = new Uint8Array(ATTRIBUTE_COUNT);
        v[i % ATTRIBUTE_COUNT] = 1;
        return v;
      });
      const round = (): void => {
        const wire = media.encryptUsers(vectors);
        const stored = wire.map((ct) => broker.toStoredForm(ct));
        broker.aggregateStored((c) => stored[c], stored.length, Array.from({ length: 200 }, (_, i) => i * 7), new Array(ATTRIBUTE_COUNT).fill(0));
      };
      round(); // warm-up: keys, masks and SEAL's memory pools reach their working size
      const before = sealHeapBytes();
      expect(before).toBeGreaterThan(0);
      for (let r = 0; r < 12; r++) round(); // 384 ciphertexts
      expect(sealHeapBytes()).toBe(before);
    } finally {
      broker.dispose();
      media.dispose();
    }
  });
});

/** digest-into.ts: libsodium's SHA-256 / SHA-512 into a buffer equal node:crypto's, at every length around the block sizes. */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { sha256Into, sha512Into } from './digest-into.ts';
import { finalize, finalizeInto } from './oprf.ts';
import { TOKEN_BYTES } from './group.ts';
import { hashToGroup, oprfDst } from './h2c.ts';

describe('digest-into', () => {
  it('equals node:crypto SHA-256 and SHA-512 for lengths 0..300', () => {
    const out32 = new Uint8Array(32);
    const out64 = new Uint8Array(64);
    for (let n = 0; n <= 300; n++) {
      const msg = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff);
      expect(Buffer.from(sha256Into(out32, msg)).toString('hex')).toBe(createHash('sha256').update(msg).digest('hex'));
      expect(Buffer.from(sha512Into(out64, msg)).toString('hex')).toBe(createHash('sha512').update(msg).digest('hex'));
    }
  });

  it('refuses a wrong output size', () => {
    expect(() => sha256Into(new Uint8Array(31), new Uint8Array(1))).toThrow(/expected a 32-byte output, got 31 bytes/);
    expect(() => sha512Into(new Uint8Array(32), new Uint8Array(1))).toThrow(/expected a 64-byte output, got 32 bytes/);
  });

  it('finalizeInto writes finalize\'s token, for inputs up to 600 bytes', () => {
    const z = hashToGroup(new TextEncoder().encode('+8613800000000'), oprfDst('phone', 'e1'));
    const out = new Uint8Array(3 * TOKEN_BYTES);
    for (const n of [0, 1, 14, 100, 300, 600]) {
      const x = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
      finalizeInto(out, TOKEN_BYTES, x, z);
      expect(out.subarray(TOKEN_BYTES, 2 * TOKEN_BYTES)).toEqual(finalize(x, z));
    }
    expect(() => finalizeInto(out, 2 * TOKEN_BYTES + 1, new Uint8Array(1), z)).toThrow(RangeError);
  });
});

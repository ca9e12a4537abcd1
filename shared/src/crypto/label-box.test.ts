/**
 * Label boxes: a box opens only under the key of its ID's OPRF output and only with its own
 * associated data (epoch, ID type, token); boxes are fixed-size; random boxes never open.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { OprfKey, finalize } from './oprf.ts';
import { hashToGroup, oprfDst } from './h2c.ts';
import { LABEL_BOX_BYTES, LABEL_BYTES, labelAd, labelKey, labelKeyInto, openLabel, randomLabelBox, randomLabelBoxInto, sealLabel, sealLabelInto } from './label-box.ts';
import { TOKEN_BYTES } from './group.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('label boxes', () => {
  const k = OprfKey.generate();
  const ids = ['+8613800000001', '+8613800000002'].map(enc);
  const points = ids.map((x) => k.evaluate(hashToGroup(x, oprfDst('phone', 'e1'))));
  const tokens = ids.map((x, i) => finalize(x, points[i]!));
  const keys = ids.map((x, i) => labelKey(x, points[i]!));
  const label = Uint8Array.from({ length: LABEL_BYTES }, (_, i) => i + 1);

  it('round-trips under its key and associated data; fixed size', () => {
    const box = sealLabel(keys[0]!, label, labelAd('e1', 'phone', tokens[0]!));
    expect(box.length).toBe(LABEL_BOX_BYTES);
    expect(openLabel(keys[0]!, box, labelAd('e1', 'phone', tokens[0]!))).toEqual(label);
  });

  it('does not open under another ID\'s key, another token, epoch or ID type, or when altered', () => {
    const box = sealLabel(keys[0]!, label, labelAd('e1', 'phone', tokens[0]!));
    expect(openLabel(keys[1]!, box, labelAd('e1', 'phone', tokens[0]!))).toBeNull();
    expect(openLabel(keys[0]!, box, labelAd('e1', 'phone', tokens[1]!))).toBeNull();
    expect(openLabel(keys[0]!, box, labelAd('e2', 'phone', tokens[0]!))).toBeNull();
    expect(openLabel(keys[0]!, box, labelAd('e1', 'email', tokens[0]!))).toBeNull();
    const bad = box.slice();
    bad[30]! ^= 1;
    expect(openLabel(keys[0]!, bad, labelAd('e1', 'phone', tokens[0]!))).toBeNull();
  });

  it('the label key is SHA-512("cleanroom/v1/label-key" ‖ u16be(|x|) ‖ x ‖ X25519(k, H(x)))[0..32], byte for byte', () => {
    for (const x of [...ids, enc(''), new Uint8Array(300).fill(7)]) {
      const u = k.evaluate(hashToGroup(x, oprfDst('phone', 'e1')));
      const want = createHash('sha512').update('cleanroom/v1/label-key').update(Uint8Array.of(x.length >>> 8, x.length & 0xff)).update(x).update(u).digest().subarray(0, 32);
      expect(Buffer.from(labelKey(x, u)).toString('hex')).toBe(want.toString('hex'));
    }
  });

  it('the label key is not the token nor derivable from it: another domain over the same OPRF output', () => {
    expect(Buffer.from(keys[0]!.subarray(0, TOKEN_BYTES)).equals(Buffer.from(tokens[0]!))).toBe(false);
    expect(keys[0]!.length).toBe(32);
  });

  it('random boxes have the same size and never open', () => {
    for (let i = 0; i < 50; i++) {
      const r = randomLabelBox();
      expect(r.length).toBe(LABEL_BOX_BYTES);
      expect(openLabel(keys[0]!, r, labelAd('e1', 'phone', tokens[0]!))).toBeNull();
    }
  });

  it('the default randomness (a pool of libsodium output) never repeats a nonce or a random box, across many pool refills', () => {
    // 2,000 boxes: 48 KB of nonces and 112 KB of random boxes, several 16 KB pools each
    const nonces = new Set<string>();
    const randoms = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const box = sealLabel(keys[0]!, label, labelAd('e1', 'phone', tokens[0]!));
      expect(openLabel(keys[0]!, box, labelAd('e1', 'phone', tokens[0]!))).toEqual(label);
      nonces.add(Buffer.from(box.subarray(0, 24)).toString('hex'));
      randoms.add(Buffer.from(randomLabelBox()).toString('hex'));
    }
    expect(nonces.size).toBe(2000);
    expect(randoms.size).toBe(2000);
    // and no all-zero output (the pool wipes what it hands out: a refill bug would show as zeros)
    expect(randoms.has('00'.repeat(LABEL_BOX_BYTES))).toBe(false);
  });

  it('the Into forms write the same bytes as sealLabel / randomLabelBox / labelKey for the same random source, only at their place', () => {
    let ctr = 0;
    const seeded = () => (out: Uint8Array) => { for (let i = 0; i < out.length; i++) out[i] = (ctr++ * 31 + 7) & 0xff; };
    ctr = 0;
    const want = [sealLabel(keys[0]!, label, labelAd('e1', 'phone', tokens[0]!), seeded()), randomLabelBox(seeded())];
    ctr = 0;
    const out = new Uint8Array(3 * LABEL_BOX_BYTES).fill(0xaa);
    const key = labelKeyInto(new Uint8Array(32), ids[0]!, points[0]!);
    expect(key).toEqual(keys[0]);
    sealLabelInto(out, LABEL_BOX_BYTES, key, label, labelAd('e1', 'phone', tokens[0]!), seeded());
    randomLabelBoxInto(out, 2 * LABEL_BOX_BYTES, seeded());
    expect(out.subarray(LABEL_BOX_BYTES, 2 * LABEL_BOX_BYTES)).toEqual(want[0]);
    expect(out.subarray(2 * LABEL_BOX_BYTES)).toEqual(want[1]);
    expect(out.subarray(0, LABEL_BOX_BYTES).every((b) => b === 0xaa)).toBe(true);
    expect(() => sealLabelInto(out, 2 * LABEL_BOX_BYTES + 1, key, label, new Uint8Array(0))).toThrow(/expected room for a 56-byte box/);
  });

  it('refuses a label that is not exactly LABEL_BYTES (labels are padded, never variable)', () => {
    expect(() => sealLabel(keys[0]!, new Uint8Array(LABEL_BYTES + 1), new Uint8Array(0))).toThrow(/expected a 16-byte label/);
  });
});

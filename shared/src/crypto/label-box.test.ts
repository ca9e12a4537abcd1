/**
 * Label boxes: a box opens only under the key of its ID's OPRF output and only with its own
 * associated data (epoch, ID type, token); boxes are fixed-size; random boxes never open.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { OprfKey, finalize } from './oprf.ts';
import { hashToGroup, oprfDst } from './h2c.ts';
import { LABEL_BOX_BYTES, LABEL_BYTES, labelAd, labelKey, openLabel, randomLabelBox, sealLabel } from './label-box.ts';
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

  it('refuses a label that is not exactly LABEL_BYTES (labels are padded, never variable)', () => {
    expect(() => sealLabel(keys[0]!, new Uint8Array(LABEL_BYTES + 1), new Uint8Array(0))).toThrow(/expected a 16-byte label/);
  });
});

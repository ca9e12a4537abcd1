// The E.164 fast path (phone-e164.ts) against libphonenumber itself: for every input the
// fast path accepts, libphonenumber's verdict and E.164 string must be identical; and
// normalizeId (which takes the fast path first) must agree with libphonenumber on every
// generated input, accepted or not.
import { describe, expect, it } from 'vitest';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { fastE164Mobile } from './phone-e164.ts';
import { normalizeId, type NormalizeResult } from './ids.ts';

/** Rules 5–6 of ids.ts by libphonenumber alone (the slow path), for inputs already '+' and digits. */
function slow(s: string, region: 'CN' | 'US' = 'CN'): NormalizeResult {
  const parsed = parsePhoneNumberFromString(s, region);
  if (parsed === undefined || !parsed.isValid()) return { ok: false, reason: 'phone: not a valid number' };
  const kind = parsed.getType();
  if (kind !== 'MOBILE' && kind !== 'FIXED_LINE_OR_MOBILE') return { ok: false, reason: 'phone: not a mobile number' };
  return { ok: true, value: parsed.number };
}

/** Deterministic digits (xorshift32), so a failure names a reproducible input. */
function digitSource(seed: number): (n: number) => string {
  let x = seed >>> 0 || 1;
  return (n) => {
    let s = '';
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      s += String((x >>> 0) % 10);
    }
    return s;
  };
}

function check(inputs: string[]): { accepted: number } {
  let accepted = 0;
  const mismatches: string[] = [];
  for (const s of inputs) {
    const fast = fastE164Mobile(s);
    const ref = slow(s);
    if (fast !== undefined) {
      accepted++;
      // The fast path accepted: libphonenumber must say valid mobile, same string, whatever the default region.
      if (!ref.ok || ref.value !== fast || JSON.stringify(slow(s, 'US')) !== JSON.stringify(ref)) mismatches.push(s);
    }
    if (JSON.stringify(normalizeId('phone', s)) !== JSON.stringify(ref)) mismatches.push(s);
  }
  expect(mismatches.slice(0, 10)).toEqual([]);
  return { accepted };
}

describe('phone fast path (+86 and 11 digits) = libphonenumber', () => {
  it('agrees on every 4-digit prefix of the national number (3 random completions each)', () => {
    const d = digitSource(86);
    const inputs: string[] = [];
    for (let p = 0; p < 10_000; p++) for (let k = 0; k < 3; k++) inputs.push(`+86${String(p).padStart(4, '0')}${d(7)}`);
    const { accepted } = check(inputs);
    // The mobile ranges (13x–19x) are a sizeable share: the fast path is really taken.
    expect(accepted).toBeGreaterThan(1500);
  });

  it('agrees on every 5-digit prefix where the mobile pattern looks past 3 digits (16xxx, 17xxx, 14xxx, 19xxx)', () => {
    const d = digitSource(1740);
    const inputs: string[] = [];
    for (const head of ['14', '16', '17', '19']) for (let p = 0; p < 1000; p++) inputs.push(`+86${head}${String(p).padStart(3, '0')}${d(6)}`);
    check(inputs);
  });

  it('defers, and agrees, on the edges: other lengths, prefixes libphonenumber may strip, landlines, other countries', () => {
    const d = digitSource(7);
    const inputs = [
      '+8613812345678', '+8617400012345', '+8617406012345', '+8616100123456', '+8616200123456',
      '+8611012345678', '+8612593812345', '+8617912345678', '+8601012345678', '+860138123456789',
      '+861381234567', '+86138123456789', '+8610123456789', '+862012345678', '+8612345678901',
      '+14155550123', '+12015550123', '+447700900123', '+85261234567', '+886912345678', '+8520138123456',
      '+86', '+8', '+', '', '13812345678', '8613812345678', '+0086138123456', '+86１３８12345678',
    ];
    for (let len = 0; len <= 16; len++) inputs.push(`+86${d(len)}`, `+861${d(Math.max(0, len - 1))}`);
    const { accepted } = check(inputs.filter((s) => /^\+[0-9]+$/.test(s)));
    expect(accepted).toBeGreaterThan(0);
    // Not the fast path's shape: always deferred.
    for (const s of ['13812345678', '8613812345678', '+86 13812345678', '+86１３８12345678', '+861381234567', '+86138123456789']) expect(fastE164Mobile(s)).toBeUndefined();
  });

  it('normalises every spelling of a mobile number to the same E.164 string as before', () => {
    for (const s of ['+86 138 1234 5678', '0086-138-1234-5678', '8613812345678', '(+86) 138-1234-5678']) {
      expect(normalizeId('phone', s)).toEqual({ ok: true, value: '+8613812345678' });
    }
  });
});

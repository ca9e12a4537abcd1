// Tests for ID normalisation: the rules in the ids.ts header, case by case.
import { describe, expect, it } from 'vitest';
import { ID_TYPES, normalizeId, normalizeRows } from './ids.ts';
import type { NormalizeResult } from './ids.ts';

const ok = (value: string): NormalizeResult => ({ ok: true, value });
const no = (reason: string): NormalizeResult => ({ ok: false, reason });

describe('ID_TYPES', () => {
  it('lists the three id types', () => {
    expect(ID_TYPES).toEqual(['phone', 'email', 'device']);
  });
});

describe('phone → E.164', () => {
  const spellings = [
    '13812345678',
    ' 13812345678 ',
    '138 1234 5678',
    '138-1234-5678',
    '138 - 1234 - 5678',
    '\t138 1234 5678\n',
    '+8613812345678',
    '+86 138 1234 5678',
    '+86-138-1234-5678',
    '+86 (138) 1234-5678',
    '(+86) 138-1234-5678',
    '008613812345678',
    '0086 138 1234 5678',
    '8613812345678',
    '86 138 1234 5678',
  ];
  it.each(spellings)('%j is +8613812345678', (raw) => {
    expect(normalizeId('phone', raw)).toEqual(ok('+8613812345678'));
  });

  it('accepts current CN mobile ranges', () => {
    for (const raw of ['19212345678', '19912345678', '16612345678', '17712345678', '14512345678']) {
      expect(normalizeId('phone', raw)).toEqual(ok(`+86${raw}`));
    }
  });

  it.each([
    ['', 'phone: empty'],
    ['   ', 'phone: empty'],
    ['1'.repeat(65), 'phone: too long'],
    ['138abcd5678', 'phone: unexpected characters'],
    ['138.1234.5678', 'phone: unexpected characters'],
    ['tel:+8613812345678', 'phone: unexpected characters'],
    ['++8613812345678', 'phone: unexpected characters'],
    ['138,1234,5678', 'phone: unexpected characters'],
    ['1381234567', 'phone: not a valid number'],
    ['138123456789', 'phone: not a valid number'],
    ['86138123456789', 'phone: not a valid number'],
    ['12012345678', 'phone: not a valid number'],
    ['10012345678', 'phone: not a valid number'],
    ['1381234', 'phone: not a valid number'],
    ['+', 'phone: unexpected characters'],
    ['00000000000', 'phone: not a valid number'],
  ])('rejects %j: %s', (raw, reason) => {
    expect(normalizeId('phone', raw)).toEqual(no(reason));
  });

  it('rejects landlines (shared by a household): they are valid numbers but not mobiles', () => {
    expect(normalizeId('phone', '010-6552-9988')).toEqual(no('phone: not a mobile number'));
    expect(normalizeId('phone', '+86 10 6552 9988')).toEqual(no('phone: not a mobile number'));
    expect(normalizeId('phone', '0755 8888 6666')).toEqual(no('phone: not a mobile number'));
    expect(normalizeId('phone', '+44 20 7946 0958')).toEqual(no('phone: not a mobile number'));
  });

  it('accepts foreign mobiles, and FIXED_LINE_OR_MOBILE where the plan cannot tell', () => {
    expect(normalizeId('phone', '+44 7911 123456')).toEqual(ok('+447911123456'));
    expect(normalizeId('phone', '0044 7911 123456')).toEqual(ok('+447911123456'));
    expect(normalizeId('phone', '+1 (650) 253-0000')).toEqual(ok('+16502530000'));
  });

  it('reads national numbers in the default region', () => {
    expect(normalizeId('phone', '(650) 253-0000', 'US')).toEqual(ok('+16502530000'));
    expect(normalizeId('phone', '07911 123456', 'GB')).toEqual(ok('+447911123456'));
    // '13812345678' is not a valid US number
    expect(normalizeId('phone', '13812345678', 'US')).toEqual(no('phone: not a valid number'));
    // an explicit +86 does not depend on the region
    expect(normalizeId('phone', '+86 138 1234 5678', 'US')).toEqual(ok('+8613812345678'));
  });

  it('throws on an unsupported region (a configuration error, not a data error)', () => {
    expect(() => normalizeId('phone', '13812345678', 'XX')).toThrow(/expected a supported ISO 3166 region code/);
    expect(() => normalizeId('phone', '13812345678', 'cn')).toThrow(/got "cn"/);
  });
});

describe('email', () => {
  it.each([
    ['alice@example.com', 'alice@example.com'],
    [' Alice@Example.COM ', 'alice@example.com'],
    ['ALICE@EXAMPLE.COM', 'alice@example.com'],
    ['\tbob.smith+news@mail.example.co.uk\n', 'bob.smith+news@mail.example.co.uk'],
    ['jose\u0301@example.com', 'jos\u00e9@example.com'],
    ['JOSE\u0301@EXAMPLE.COM', 'jos\u00e9@example.com'],
    ['张伟@例子.中国', '张伟@例子.中国'],
  ])('%j → %j', (raw, value) => {
    expect(normalizeId('email', raw)).toEqual(ok(value));
  });

  it('does no provider-specific rewriting (gmail dots and +tags stay)', () => {
    expect(normalizeId('email', 'First.Last+tag@gmail.com')).toEqual(ok('first.last+tag@gmail.com'));
    expect(normalizeId('email', 'firstlast@gmail.com')).toEqual(ok('firstlast@gmail.com'));
  });

  it.each([
    ['', 'email: empty'],
    ['   ', 'email: empty'],
    ['al ice@example.com', 'email: contains whitespace'],
    ['alice@exa\tmple.com', 'email: contains whitespace'],
    ['alice.example.com', 'email: missing @'],
    ['alice@@example.com', 'email: more than one @'],
    ['a@b@example.com', 'email: more than one @'],
    ['@example.com', 'email: empty local part'],
    ['alice@', 'email: empty domain'],
    ['alice@localhost', 'email: domain without a dot'],
    ['alice@example..com', 'email: empty domain label'],
    ['alice@.example.com', 'email: empty domain label'],
    ['alice@example.com.', 'email: empty domain label'],
  ])('rejects %j: %s', (raw, reason) => {
    expect(normalizeId('email', raw)).toEqual(no(reason));
  });

  it('allows 254 characters and rejects 255', () => {
    const domain = '@example.com';
    const at254 = 'a'.repeat(254 - domain.length) + domain;
    expect(normalizeId('email', at254)).toEqual(ok(at254));
    expect(normalizeId('email', 'a' + at254)).toEqual(no('email: longer than 254 characters'));
    expect(normalizeId('email', 'a'.repeat(10_000) + domain)).toEqual(no('email: longer than 254 characters'));
  });

  it('counts the 254 characters after NFC (code points, not UTF-16 units)', () => {
    const domain = '@example.com';
    const composed = '\u00e9'.repeat(254 - domain.length) + domain;
    const decomposed = 'e\u0301'.repeat(254 - domain.length) + domain;
    expect(normalizeId('email', decomposed)).toEqual(ok(composed));
    const astral = '𝒶'.repeat(254 - domain.length) + domain; // 2 UTF-16 units each
    expect(normalizeId('email', astral)).toEqual(ok(astral));
  });
});

describe('device (IDFA / OAID)', () => {
  const canonical = '6d92078a-8246-4ba4-ae5b-76104861e7dc';
  it.each([canonical, canonical.toUpperCase(), ` ${canonical} `, canonical.replaceAll('-', ''), canonical.replaceAll('-', '').toUpperCase()])(
    '%j → canonical lower-case 8-4-4-4-12',
    (raw) => {
      expect(normalizeId('device', raw)).toEqual(ok(canonical));
    },
  );

  it('rejects the all-zero opt-out id in both spellings', () => {
    expect(normalizeId('device', '00000000-0000-0000-0000-000000000000')).toEqual(no('device: all-zero id (opt-out)'));
    expect(normalizeId('device', '0'.repeat(32))).toEqual(no('device: all-zero id (opt-out)'));
  });

  it.each([
    ['', 'device: empty'],
    ['not-a-uuid', 'device: not a UUID'],
    ['6d92078a-8246-4ba4-ae5b-76104861e7d', 'device: not a UUID'],
    ['6d92078a-8246-4ba4-ae5b-76104861e7dcc', 'device: not a UUID'],
    ['{6d92078a-8246-4ba4-ae5b-76104861e7dc}', 'device: not a UUID'],
    ['6d92078a82464ba4', 'device: not a UUID'],
    ['g d92078a-8246-4ba4-ae5b-76104861e7dc', 'device: not a UUID'],
    ['6d92078a-82464ba4-ae5b-76104861e7dc', 'device: not a UUID'],
    ['a'.repeat(64), 'device: not a UUID'],
  ])('rejects %j: %s', (raw, reason) => {
    expect(normalizeId('device', raw)).toEqual(no(reason));
  });
});

describe('normalizeId input checks', () => {
  it('throws on an unknown type', () => {
    expect(() => normalizeId('imei' as never, '1')).toThrow("expected id type 'phone' | 'email' | 'device', got \"imei\"");
  });
  it('throws on a non-string raw value', () => {
    expect(() => normalizeId('phone', 13812345678 as never)).toThrow('expected raw id to be a string, got number');
  });
  it('never echoes the input in a reason', () => {
    const inputs = ['138abc45678', '12012345678', 'x y@z.com', 'nobody', 'zzz', '010-6552-9988', '1'.repeat(70)];
    for (const type of ID_TYPES) {
      for (const raw of inputs) {
        const r = normalizeId(type, raw);
        if (!r.ok) {
          expect(r.reason).toMatch(/^(phone|email|device): [A-Za-z0-9 @()-]+$/);
          expect(r.reason).not.toContain(raw);
        }
      }
    }
  });
});

describe('normalizeRows', () => {
  it('dedupes after normalisation, keeps the first, reports rejects by index', () => {
    const r = normalizeRows('phone', ['138 1234 5678', 'bad', '+86 139 0000 1111', '0086-138-1234-5678', '', '13900001111', '8613812345678']);
    expect(r.valid).toEqual(['+8613812345678', '+8613900001111']);
    expect(r.validIndex).toEqual([0, 2]); // each valid value's first occurrence in the input
    expect(r.rejected).toEqual([
      { index: 1, reason: 'phone: unexpected characters' },
      { index: 4, reason: 'phone: empty' },
    ]);
    expect(r.duplicates).toBe(3);
  });

  it('works on e-mails and device ids, from any iterable', () => {
    function* emails(): Generator<string> {
      yield 'A@x.com';
      yield ' a@X.COM ';
      yield 'b@x.com';
      yield 'b@x';
    }
    expect(normalizeRows('email', emails())).toEqual({ valid: ['a@x.com', 'b@x.com'], validIndex: [0, 2], rejected: [{ index: 3, reason: 'email: domain without a dot' }], duplicates: 1 });
    const id = '6d92078a-8246-4ba4-ae5b-76104861e7dc';
    expect(normalizeRows('device', new Set([id, id.toUpperCase(), '0'.repeat(32)]))).toEqual({
      valid: [id],
      validIndex: [0],
      rejected: [{ index: 2, reason: 'device: all-zero id (opt-out)' }],
      duplicates: 1,
    });
  });

  it('handles an empty input', () => {
    expect(normalizeRows('email', [])).toEqual({ valid: [], validIndex: [], rejected: [], duplicates: 0 });
  });

  it('validates its arguments', () => {
    expect(() => normalizeRows('phone', '13812345678' as never)).toThrow('expected an iterable of strings, got string');
    expect(() => normalizeRows('phone', null as never)).toThrow('expected an iterable of strings, got null');
    expect(() => normalizeRows('phone', [], 'ZZ')).toThrow(/supported ISO 3166 region/);
  });
});

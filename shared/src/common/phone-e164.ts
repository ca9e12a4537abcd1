/**
 * The fast path of phone normalisation (ids.ts, rule 5–6) for numbers already written as
 * China mobile numbers in E.164, "+86" and 11 digits — what a media platform's export
 * mostly holds. libphonenumber-js parses each number through its general machinery (about
 * 20 µs); this decides the same question with the four regular expressions libphonenumber
 * itself applies to such a number, read from the same "max" metadata at load (no copied
 * patterns, so a metadata update changes both paths alike):
 *   1. national prefix for parsing must not match at the start (else libphonenumber may
 *      strip a prefix or carrier code and the national number would differ);
 *   2. the national number pattern must match the 11 digits (isValid → getNumberType);
 *   3. the fixed-line pattern must not match (its type check comes before mobile's);
 *   4. the mobile pattern, 11 digits being one of its possible lengths, must match.
 * Then libphonenumber's result is MOBILE with number "+86" + the 11 digits, which is what
 * `fastE164Mobile` returns. Anything else returns undefined and the caller takes the slow
 * path, so the fast path only ever accepts; it never rejects. Guarantee (property-tested
 * against libphonenumber in phone-e164.test.ts on every 4-digit prefix and edge cases):
 * whenever it returns a value, `parsePhoneNumberFromString(s, region)` is a valid MOBILE
 * number whose `.number` is that value, for any default region.
 */
import { Metadata } from 'libphonenumber-js/max';

/** What this module reads of libphonenumber-js's numbering plan (its public typings omit these getters). */
interface PlanView {
  callingCode(): string;
  nationalNumberPattern(): string;
  nationalPrefixForParsing(): string | undefined;
  type(t: 'MOBILE' | 'FIXED_LINE'): { pattern(): string; possibleLengths(): number[] | undefined } | undefined;
}

const DIGITS = 11;
const SHAPE = /^\+86\d{11}$/;

function compile(): { npfp: RegExp; national: RegExp; fixed: RegExp | undefined; mobile: RegExp } | undefined {
  const m = new Metadata();
  m.selectNumberingPlan('CN');
  const plan = m.numberingPlan as unknown as PlanView | undefined;
  if (!plan || plan.callingCode() !== '86') return undefined;
  const mobile = plan.type('MOBILE');
  const fixed = plan.type('FIXED_LINE');
  // Only when 11 digits are a possible mobile length and the mobile pattern is its own.
  if (!mobile || mobile.pattern() === '' || !(mobile.possibleLengths() ?? []).includes(DIGITS)) return undefined;
  const fixedApplies = fixed !== undefined && fixed.pattern() !== '' && (fixed.possibleLengths()?.includes(DIGITS) ?? true);
  return {
    npfp: new RegExp(`^(?:${plan.nationalPrefixForParsing() ?? '(?!)'})`),
    national: new RegExp(`^(?:${plan.nationalNumberPattern()})$`),
    fixed: fixedApplies ? new RegExp(`^(?:${fixed.pattern()})$`) : undefined,
    mobile: new RegExp(`^(?:${mobile.pattern()})$`),
  };
}

const RULES = compile();

/**
 * `s` (whitespace, dashes and brackets already removed, '00' already turned into '+'):
 * its E.164 form when it is "+86" and 11 digits that libphonenumber classifies as a valid
 * mobile number; undefined when the slow path must decide.
 */
export function fastE164Mobile(s: string): string | undefined {
  if (RULES === undefined || s.length !== 3 + DIGITS || !SHAPE.test(s)) return undefined;
  const national = s.slice(3);
  if (RULES.npfp.test(national) || !RULES.national.test(national)) return undefined;
  if (RULES.fixed?.test(national)) return undefined;
  return RULES.mobile.test(national) ? s : undefined;
}

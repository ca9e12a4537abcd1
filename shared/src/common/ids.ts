/**
 * ID normalisation — the first step of every session, applied identically by the
 * advertiser (A) to its CRM and by media (B) to its universe before anything is blinded.
 *
 * Guarantees: `normalizeId` is a pure, deterministic function of (type, raw, defaultRegion):
 * two spellings of the same identifier give the same canonical string, and every rejection
 * carries a short stable reason string (safe to count and log; it never contains the input).
 * It throws only on programming errors (unknown type, unsupported region, non-string input).
 *
 * Both sides must apply exactly these rules: a blinded intersection matches canonical strings
 * byte for byte, so any rule one side applies and the other does not silently loses matches.
 * That is why there is no provider-specific rewriting (e.g. removing dots or "+tags" in gmail
 * addresses): such rules are guesses about a provider's mailbox semantics that the other
 * party may not share, and they could merge two different people.
 *
 * The exact rules (copied into docs/protocol.md):
 *
 * phone — result is E.164 ("+8613812345678"):
 *   1. trim; empty → 'phone: empty'; longer than 64 characters → 'phone: too long'.
 *   2. remove whitespace, '-', '(' and ')'.
 *   3. what remains must be digits with an optional leading '+', else 'phone: unexpected characters'.
 *   4. a leading '00' is an international prefix: '0086…' → '+86…'.
 *      13 digits starting with '86' without '+' are read as '+86…' (e.g. '8613812345678').
 *      Other digit strings are national numbers of `defaultRegion` (default 'CN').
 *   5. parsed with libphonenumber-js (full "max" metadata); it must be a possible and
 *      `isValid()` number, else 'phone: not a valid number'.
 *   6. it must be a mobile number (type MOBILE, or FIXED_LINE_OR_MOBILE where the numbering
 *      plan cannot tell, e.g. US), else 'phone: not a mobile number'. Landlines are rejected:
 *      they are shared by a household or an office, so matching on them links different people.
 *   Cost: about 25 µs per number on one core (the full metadata is needed; the "min"
 *   metadata accepts e.g. '12012345678' and 14-digit CN numbers) — except for "+86" and 11
 *   digits of a mobile range, decided by phone-e164.ts with libphonenumber's own patterns
 *   in about 1 µs with the identical result.
 *
 * email — result is lower-case NFC:
 *   1. trim, lower-case, Unicode NFC; empty → 'email: empty'.
 *   2. no whitespace inside → else 'email: contains whitespace'.
 *   3. exactly one '@' → 'email: missing @' / 'email: more than one @'.
 *   4. non-empty local part → 'email: empty local part'; non-empty domain → 'email: empty domain';
 *      the domain contains a dot → 'email: domain without a dot'; no empty domain label
 *      (leading, trailing or doubled dot) → 'email: empty domain label'.
 *   5. at most 254 characters (Unicode code points) → 'email: longer than 254 characters'.
 *   No provider-specific rewriting (see above), no IDN/punycode conversion.
 *
 * device — IDFA / OAID, result is a lower-case 8-4-4-4-12 UUID:
 *   1. trim, lower-case; empty → 'device: empty'.
 *   2. either 8-4-4-4-12 hex digits, or 32 hex digits without dashes (dashes re-inserted),
 *      else 'device: not a UUID'. Other OAID shapes (16 or 64 hex digits) are rejected.
 *   3. the all-zero UUID (what iOS/Android report when the user opted out of tracking)
 *      → 'device: all-zero id (opt-out)'.
 */
import { parsePhoneNumberFromString, isSupportedCountry } from 'libphonenumber-js/max';
import type { CountryCode } from 'libphonenumber-js/max';
import { fastE164Mobile } from './phone-e164.ts';

export type IdType = 'phone' | 'email' | 'device';

export const ID_TYPES: readonly IdType[] = Object.freeze(['phone', 'email', 'device'] as const);

export type NormalizeResult = { ok: true; value: string } | { ok: false; reason: string };

export interface NormalizedRows {
  /** Canonical values, first occurrence order, without duplicates. */
  valid: string[];
  /** validIndex[i]: the 0-based position in the input of valid[i] (its first occurrence). */
  validIndex: number[];
  /** Inputs that failed normalisation; `index` is the 0-based position in the input. */
  rejected: { index: number; reason: string }[];
  /** Valid inputs dropped because an earlier input normalised to the same value. */
  duplicates: number;
}

const MAX_PHONE_INPUT = 64;
const MAX_EMAIL_CHARS = 254;
/** Inputs this long cannot normalise to ≤ 254 characters; refused before any work. */
const MAX_EMAIL_INPUT = 4096;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const UUID_DASHED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_PLAIN = /^[0-9a-f]{32}$/;
const PHONE_STRIP = /[\s\-()]/g;
const PHONE_CHARS = /^\+?[0-9]+$/;
const WHITESPACE = /\s/;

function fail(reason: string): NormalizeResult {
  return { ok: false, reason };
}

function checkType(type: unknown): asserts type is IdType {
  if (type !== 'phone' && type !== 'email' && type !== 'device') {
    throw new TypeError(`expected id type 'phone' | 'email' | 'device', got ${JSON.stringify(type)}`);
  }
}

function checkRegion(region: unknown): asserts region is CountryCode {
  if (typeof region !== 'string' || !/^[A-Z]{2}$/.test(region) || !isSupportedCountry(region)) {
    throw new TypeError(`expected a supported ISO 3166 region code such as 'CN', got ${JSON.stringify(region)}`);
  }
}

function normalizePhone(raw: string, region: CountryCode): NormalizeResult {
  const trimmed = raw.trim();
  if (trimmed === '') return fail('phone: empty');
  if (trimmed.length > MAX_PHONE_INPUT) return fail('phone: too long');
  let s = trimmed.replace(PHONE_STRIP, '');
  if (!PHONE_CHARS.test(s)) return fail('phone: unexpected characters');
  if (s.startsWith('00')) s = '+' + s.slice(2);
  else if (s.length === 13 && s.startsWith('86')) s = '+' + s;
  // "+86" and 11 digits of a mobile range: libphonenumber's own verdict without its parser
  // (phone-e164.ts; same result, byte for byte, for every number it accepts).
  const fast = fastE164Mobile(s);
  if (fast !== undefined) return { ok: true, value: fast };
  const parsed = parsePhoneNumberFromString(s, region);
  if (parsed === undefined || !parsed.isValid()) return fail('phone: not a valid number');
  const kind = parsed.getType();
  if (kind !== 'MOBILE' && kind !== 'FIXED_LINE_OR_MOBILE') return fail('phone: not a mobile number');
  return { ok: true, value: parsed.number };
}

function normalizeEmail(raw: string): NormalizeResult {
  if (raw.length > MAX_EMAIL_INPUT) return fail('email: longer than 254 characters');
  const s = raw.trim().toLowerCase().normalize('NFC');
  if (s === '') return fail('email: empty');
  if (WHITESPACE.test(s)) return fail('email: contains whitespace');
  const at = s.indexOf('@');
  if (at < 0) return fail('email: missing @');
  if (s.indexOf('@', at + 1) >= 0) return fail('email: more than one @');
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (local === '') return fail('email: empty local part');
  if (domain === '') return fail('email: empty domain');
  if (!domain.includes('.')) return fail('email: domain without a dot');
  if (domain.split('.').some((label) => label === '')) return fail('email: empty domain label');
  let chars = 0;
  for (const _ of s) chars++;
  if (chars > MAX_EMAIL_CHARS) return fail('email: longer than 254 characters');
  return { ok: true, value: s };
}

function normalizeDevice(raw: string): NormalizeResult {
  let s = raw.trim().toLowerCase();
  if (s === '') return fail('device: empty');
  if (UUID_PLAIN.test(s)) {
    s = `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  } else if (!UUID_DASHED.test(s)) {
    return fail('device: not a UUID');
  }
  if (s === ZERO_UUID) return fail('device: all-zero id (opt-out)');
  return { ok: true, value: s };
}

/**
 * Normalises one identifier of the given type (rules in the module header).
 * Throws only on an unknown type, an unsupported region or a non-string `raw`.
 */
export function normalizeId(type: IdType, raw: string, defaultRegion = 'CN'): NormalizeResult {
  checkType(type);
  if (typeof raw !== 'string') throw new TypeError(`expected raw id to be a string, got ${typeof raw}`);
  switch (type) {
    case 'phone':
      checkRegion(defaultRegion);
      return normalizePhone(raw, defaultRegion);
    case 'email':
      return normalizeEmail(raw);
    case 'device':
      return normalizeDevice(raw);
  }
}

/**
 * Normalises a column of identifiers: rejected inputs are reported by position, valid ones
 * are deduplicated after normalisation keeping the first occurrence.
 */
export function normalizeRows(type: IdType, rows: Iterable<string>, defaultRegion = 'CN'): NormalizedRows {
  checkType(type);
  if (type === 'phone') checkRegion(defaultRegion);
  if (rows === null || typeof rows !== 'object' || typeof (rows as Iterable<string>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`expected an iterable of strings, got ${rows === null ? 'null' : typeof rows}`);
  }
  const seen = new Set<string>();
  const valid: string[] = [];
  const validIndex: number[] = [];
  const rejected: { index: number; reason: string }[] = [];
  let duplicates = 0;
  let index = 0;
  for (const raw of rows) {
    const r = normalizeId(type, raw, defaultRegion);
    if (!r.ok) rejected.push({ index, reason: r.reason });
    else if (seen.has(r.value)) duplicates++;
    else {
      seen.add(r.value);
      valid.push(r.value);
      validIndex.push(index);
    }
    index++;
  }
  return { valid, validIndex, rejected, duplicates };
}

/**
 * Streaming readers for the world files written by `generate.ts` (and for real exports in
 * the same format): the media universe, the advertiser CRM and the simulation truth.
 *
 * Guarantees:
 * - CSV is RFC 4180: comma-separated, fields optionally double-quoted, '""' inside quotes is
 *   a quote, quoted fields may hold commas and line breaks; '\n' or '\r\n' line ends; an
 *   optional UTF-8 BOM; blank lines are skipped. The first line must be the exact header.
 * - Files are read in chunks; the universe reader never holds more than one chunk and one
 *   record (≤ MAX_RECORD_CHARS, 1 Mi characters) in memory: a longer line is skipped as it
 *   streams by and rejected; a quote that never closes is rejected at its line and the
 *   lines after it are read again, so it swallows no valid row.
 * - Per-row validation never throws: a bad row is skipped and reported as
 *   { line, reason } with reason "<file>:<line>: expected X, got Y". Only a missing file, a
 *   wrong header or an I/O error throws (naming the file and line).
 * - Readers check structure (field count, flags, profile values, ids present); they do NOT
 *   normalise phone / e-mail / device IDs and never echo those values in a reason: that is
 *   the protocol's first step (`normalizeId` / `normalizeRows` in common/ids.ts). An empty
 *   ID field means "absent". Uniqueness of user_id is not checked in the universe (it would
 *   cost memory proportional to the universe); customer_id uniqueness is checked in the CRM.
 * - Booleans are 1/0 or true/false (case-insensitive).
 */
import { closeSync, createReadStream, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { encodeProfile } from '../common/attributes.ts';
import type { UserProfile } from '../common/attributes.ts';
import { CRM_HEADER, CRM_HEADER_V1, UNIVERSE_HEADER, UNIVERSE_HEADER_V1, MEMBER_TIERS, type CrmTags, type WorldTruth } from './format.ts';

export { CRM_HEADER, UNIVERSE_HEADER, csvField } from './format.ts';


export interface UniverseRow {
  userId: string;
  /** Raw phone field ('' when absent); normalise with normalizeId('phone', …). */
  phone: string;
  /** Raw e-mail field ('' when absent). */
  email: string;
  /** Raw device ID field ('' when absent). */
  deviceId: string;
  /** Look-alike consent (consent_lookalike: to be matched and profiled). */
  consent: boolean;
  /** consent_ads: to ad targeting (audiences). */
  consentAds: boolean;
  /** consent_share: to data sharing (label delivery). */
  consentShare: boolean;
  /** encodeProfile() of the row's profile: 64 bytes of 0/1. */
  vector: Uint8Array;
}

export interface CrmRow {
  customerId: string;
  /** Raw phone field as typed by a human ('' when absent). */
  phone: string;
  /** Raw e-mail field ('' when absent). */
  email: string;
  purchaser: boolean;
  /** RFM segment label, e.g. 'champions', 'prospect'. */
  rfm: string;
  /** Ads consent. */
  consent: boolean;
  /** First-party tags (absent in rows built by hand: no tag set). */
  tags?: CrmTags;
}

export interface RejectedLine {
  /** 1-based line number where the record starts. */
  line: number;
  reason: string;
}

type CsvRecord = { line: number; fields: string[] } | { line: number; error: string };

/** Parses one record; 'open' when a quoted field continues on the next line. */
function parseRecord(text: string): string[] | 'open' | { error: string } {
  if (!text.includes('"')) return text.split(',');
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return 'open';
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(value);
      if (i === n) return fields;
      if (text[i] !== ',') return { error: `expected ',' after a closing quote, got '${text[i]}'` };
      i++;
    } else {
      const c = text.indexOf(',', i);
      const value = c < 0 ? text.slice(i) : text.slice(i, c);
      if (value.includes('"')) return { error: `expected a quote only at the start of a field, got one inside` };
      fields.push(value);
      if (c < 0) return fields;
      i = c + 1;
    }
    if (i === n) {
      fields.push('');
      return fields;
    }
  }
}

/** The longest record (one line, or the lines of a quoted multi-line field) read: 1 Mi characters. */
export const MAX_RECORD_CHARS = 1 << 20;

/**
 * Streams CSV records (header included) with their starting line numbers, one batch per chunk
 * read. Memory stays within one chunk plus one record of at most MAX_RECORD_CHARS, whatever the
 * input: a longer line is dropped as it streams by (never accumulated) and reported; a quote
 * that never closes (within MAX_RECORD_CHARS, or before the end of the file) is reported at the
 * line where it opened, and the lines it would have swallowed are read again as records of
 * their own, so valid rows after a stray quote are not lost.
 */
async function* csvBatches(path: string): AsyncGenerator<CsvRecord[]> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let carry = '';
  let lineNo = 0;
  /** The physical lines of a record whose quoted field is still open. */
  let pending: { line: number; text: string }[] = [];
  let pendingChars = 0;
  /** Inside a line longer than MAX_RECORD_CHARS: its characters are dropped until its end. */
  let overlong = false;
  let first = true;
  const clean = (raw: string): string => {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (first) {
      first = false;
      if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    }
    return line;
  };
  /** The open quoted record failed: report it where it started, re-read the lines after it. */
  const abandon = (why: string, out: CsvRecord[]): void => {
    const [opening, ...rest] = pending;
    pending = [];
    pendingChars = 0;
    out.push({ line: opening!.line, error: `expected a closing quote ${why}, got none (the lines after it are read as records of their own)` });
    for (const l of rest) feed(l.text, l.line, out);
  };
  const feed = (line: string, at: number, out: CsvRecord[]): void => {
    if (pending.length === 0 && line === '') return;
    // Inside an open quoted field, a line without a quote cannot close it: no re-parse (which
    // would make a long multi-line record quadratic).
    const r = pending.length > 0 && !line.includes('"') ? 'open' : parseRecord(pending.length > 0 ? `${pending.map((l) => l.text).join('\n')}\n${line}` : line);
    if (r === 'open') {
      pending.push({ line: at, text: line });
      pendingChars += line.length + 1;
      if (pendingChars > MAX_RECORD_CHARS) abandon(`within ${MAX_RECORD_CHARS} characters`, out);
      return;
    }
    const startLine = pending.length > 0 ? pending[0]!.line : at;
    pending = [];
    pendingChars = 0;
    out.push(Array.isArray(r) ? { line: startLine, fields: r } : { line: startLine, error: r.error });
  };
  const endOverlong = (out: CsvRecord[]): void => {
    overlong = false;
    lineNo++;
    if (pending.length > 0) abandon('before an over-long line', out);
    out.push({ line: lineNo, error: `expected a record of at most ${MAX_RECORD_CHARS} characters, got a longer line (skipped unread)` });
  };
  for await (const chunk of stream as AsyncIterable<string>) {
    const out: CsvRecord[] = [];
    let text: string;
    let from = 0;
    if (overlong) {
      const nl = chunk.indexOf('\n');
      if (nl < 0) continue; // still inside the over-long line: drop the chunk
      endOverlong(out);
      text = chunk;
      from = nl + 1;
    } else {
      text = carry + chunk;
    }
    carry = '';
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0) break;
      lineNo++;
      feed(clean(text.slice(from, nl)), lineNo, out);
      from = nl + 1;
    }
    if (text.length - from > MAX_RECORD_CHARS) overlong = true; // drop it, report it at its end
    else carry = text.slice(from);
    if (out.length > 0) yield out;
  }
  const out: CsvRecord[] = [];
  if (overlong) endOverlong(out);
  else if (carry !== '') {
    lineNo++;
    feed(clean(carry), lineNo, out);
  }
  while (pending.length > 0) abandon('before the end of the file', out);
  if (out.length > 0) yield out;
}

function parseBool(s: string): boolean | undefined {
  const t = s.toLowerCase();
  if (t === '1' || t === 'true') return true;
  if (t === '0' || t === 'false') return false;
  return undefined;
}

function quote(s: string): string {
  return s.length > 40 ? `'${s.slice(0, 40)}…'` : `'${s}'`;
}

const ID_TOKEN = /^[A-Za-z0-9_.:-]{1,64}$/;
const RFM_TOKEN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Batches of data records; throws unless the first record is exactly one of `headers` (the first is the current one). */
async function* withHeader(path: string, headers: readonly string[], onHeader: (h: string) => void): AsyncGenerator<CsvRecord[]> {
  const header = headers[0]!;
  let seenHeader = false;
  for await (const batch of csvBatches(path)) {
    if (!seenHeader) {
      seenHeader = true;
      const rec = batch[0]!;
      const got = 'fields' in rec ? rec.fields.join(',') : `unparseable (${rec.error})`;
      if (!headers.includes(got)) throw new Error(`${path}:${rec.line}: expected header '${header}', got ${quote(got)}`);
      onHeader(got);
      batch.shift();
    }
    yield batch;
  }
  if (!seenHeader) throw new Error(`${path}:1: expected header '${header}', got an empty file`);
}

function universeRow(f: string[], width: number): UniverseRow | string {
  if (f.length !== width) return `expected ${width} fields, got ${f.length}`;
  const [userId, phone, email, deviceId, consentRaw, ageBand, gender, cityTier, deviceOs, activity, interests, adsRaw, shareRaw] = f as [
    string, string, string, string, string, string, string, string, string, string, string, string | undefined, string | undefined,
  ];
  if (!ID_TOKEN.test(userId)) return `expected user_id of 1-64 characters [A-Za-z0-9_.:-], got ${quote(userId)}`;
  if (phone === '' && email === '' && deviceId === '') return 'expected a phone, an email or a device_id, got none';
  const consent = parseBool(consentRaw);
  if (consent === undefined) return `expected consent_lookalike 1/0/true/false, got ${quote(consentRaw)}`;
  const consentAds = adsRaw === undefined ? false : parseBool(adsRaw);
  if (consentAds === undefined) return `expected consent_ads 1/0/true/false, got ${quote(adsRaw ?? '')}`;
  const consentShare = shareRaw === undefined ? false : parseBool(shareRaw);
  if (consentShare === undefined) return `expected consent_share 1/0/true/false, got ${quote(shareRaw ?? '')}`;
  let vector: Uint8Array;
  try {
    vector = encodeProfile({
      ageBand, gender, cityTier, deviceOs, activity,
      interests: interests === '' ? [] : interests.split('|'),
    } as UserProfile);
  } catch (e) {
    return (e as Error).message;
  }
  return { userId, phone, email, deviceId, consent, consentAds, consentShare, vector };
}

/**
 * Streams the valid rows of a universe CSV. Each bad row is skipped and passed to
 * `onReject` (if given). Throws only on a missing file, a wrong header or an I/O error.
 */
export async function* readUniverse(path: string, onReject?: (r: RejectedLine) => void): AsyncGenerator<UniverseRow> {
  for await (const batch of readUniverseBatches(path, onReject)) yield* batch;
}

/**
 * readUniverse one chunk's rows at a time (same rows, same rejections, same order): a large
 * reader (universe preparation) pays one await per chunk of about 1 MiB instead of one per row.
 */
export async function* readUniverseBatches(path: string, onReject?: (r: RejectedLine) => void): AsyncGenerator<UniverseRow[]> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`expected a file path, got ${JSON.stringify(path)}`);
  let width = 0;
  for await (const batch of withHeader(path, [UNIVERSE_HEADER, UNIVERSE_HEADER_V1], (h) => (width = h.split(',').length))) {
    const rows: UniverseRow[] = [];
    for (const rec of batch) {
      const r = 'fields' in rec ? universeRow(rec.fields, width) : rec.error;
      if (typeof r === 'string') onReject?.({ line: rec.line, reason: `${path}:${rec.line}: ${r}` });
      else rows.push(r);
    }
    if (rows.length > 0) yield rows;
  }
}

/**
 * Reads a whole universe into memory (tests and small worlds). `rejected` keeps the first
 * `maxReasons` rejections; `rejectedCount` counts them all.
 */
export async function collectUniverse(
  path: string,
  maxReasons = 1000,
): Promise<{ rows: UniverseRow[]; rejected: RejectedLine[]; rejectedCount: number }> {
  const rows: UniverseRow[] = [];
  const rejected: RejectedLine[] = [];
  let rejectedCount = 0;
  for await (const row of readUniverse(path, (r) => {
    rejectedCount++;
    if (rejected.length < maxReasons) rejected.push(r);
  })) {
    rows.push(row);
  }
  return { rows, rejected, rejectedCount };
}

const NO_TAGS = { visited_90d: false, purchased_90d: false, cart_abandoned: false, orders_12m: 0, member_tier: 'none' } as const;

function crmRow(f: string[], seen: Set<string>, width: number): CrmRow | string {
  if (f.length !== width) return `expected ${width} fields, got ${f.length}`;
  const [customerId, phone, email, purchaserRaw, rfm, consentRaw, ...tagRaw] = f as [string, string, string, string, string, string, ...string[]];
  if (!ID_TOKEN.test(customerId)) return `expected customer_id of 1-64 characters [A-Za-z0-9_.:-], got ${quote(customerId)}`;
  if (seen.has(customerId)) return `expected a unique customer_id, got ${quote(customerId)} again`;
  if (phone.trim() === '' && email.trim() === '') return 'expected a phone or an email, got neither';
  const purchaser = parseBool(purchaserRaw);
  if (purchaser === undefined) return `expected purchaser 1/0/true/false, got ${quote(purchaserRaw)}`;
  if (!RFM_TOKEN.test(rfm)) return `expected rfm segment of lower-case [a-z0-9_-], got ${quote(rfm)}`;
  const consent = parseBool(consentRaw);
  if (consent === undefined) return `expected consent_ads 1/0/true/false, got ${quote(consentRaw)}`;
  let extra: Omit<CrmTags, 'purchaser' | 'rfm'> = NO_TAGS;
  if (tagRaw.length > 0) {
    const [visitedRaw, boughtRaw, cartRaw, ordersRaw, tier] = tagRaw as [string, string, string, string, string];
    const visited = parseBool(visitedRaw);
    if (visited === undefined) return `expected visited_90d 1/0/true/false, got ${quote(visitedRaw)}`;
    const bought = parseBool(boughtRaw);
    if (bought === undefined) return `expected purchased_90d 1/0/true/false, got ${quote(boughtRaw)}`;
    const cart = parseBool(cartRaw);
    if (cart === undefined) return `expected cart_abandoned 1/0/true/false, got ${quote(cartRaw)}`;
    if (!/^(0|[1-9][0-9]{0,5})$/.test(ordersRaw)) return `expected orders_12m an integer in [0, 999999], got ${quote(ordersRaw)}`;
    if (!(MEMBER_TIERS as readonly string[]).includes(tier)) return `expected member_tier one of ${MEMBER_TIERS.join(', ')}, got ${quote(tier)}`;
    extra = { visited_90d: visited, purchased_90d: bought, cart_abandoned: cart, orders_12m: Number(ordersRaw), member_tier: tier as CrmTags['member_tier'] };
  }
  seen.add(customerId);
  return { customerId, phone, email, purchaser, rfm, consent, tags: { purchaser, rfm, ...extra } };
}

/** Reads an advertiser CRM CSV. Throws only on a missing file, a wrong header or an I/O error. */
export async function readCrm(path: string): Promise<{ rows: CrmRow[]; rejected: RejectedLine[] }> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`expected a file path, got ${JSON.stringify(path)}`);
  const rows: CrmRow[] = [];
  const rejected: RejectedLine[] = [];
  const seen = new Set<string>();
  let width = 0;
  for await (const batch of withHeader(path, [CRM_HEADER, CRM_HEADER_V1], (h) => (width = h.split(',').length))) {
    for (const rec of batch) {
      const r = 'fields' in rec ? crmRow(rec.fields, seen, width) : rec.error;
      if (typeof r === 'string') rejected.push({ line: rec.line, reason: `${path}:${rec.line}: ${r}` });
      else rows.push(r);
    }
  }
  return { rows, rejected };
}

/** Reads `<worldDir>/truth/truth.json` (simulation ground truth; never read by a node). */
export function readTruth(worldDir: string): WorldTruth {
  const path = join(worldDir, 'truth', 'truth.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: expected readable JSON, got ${(e as Error).message}`);
  }
  const t = parsed as Partial<WorldTruth> | null;
  if (t === null || typeof t !== 'object' || t.version !== 1 || typeof t.seed !== 'string' || typeof t.universeSize !== 'number') {
    throw new Error(`${path}: expected a version 1 world truth, got ${t === null ? 'null' : typeof t === 'object' ? `version ${String(t.version)}` : typeof t}`);
  }
  return t as WorldTruth;
}

/** The first line of `path` (up to 4 KiB), '' when the file is missing or empty. */
function firstLine(path: string): string {
  if (!existsSync(path)) return '';
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8').split(/\r?\n/)[0] ?? '';
  } finally {
    closeSync(fd);
  }
}

/**
 * Why the world in `worldDir` cannot be reused for a run that wants `want`, or undefined when it
 * can: no world there, other sizes or seed, or files of an older generator (the CSV headers
 * before first-party tags and purpose-level consent, no labels file) — which the nodes would
 * still read, but on which the other session kinds select nobody. `simulate` and the bench
 * generate such a world again.
 */
export function staleWorld(worldDir: string, want: { seed?: string; universeSize: number; crmSize: number }): string | undefined {
  if (!existsSync(join(worldDir, 'truth', 'truth.json'))) return 'no world there yet';
  let t: WorldTruth;
  try {
    t = readTruth(worldDir);
  } catch (err) {
    return (err as Error).message;
  }
  if (want.seed !== undefined && t.seed !== want.seed) return `it was generated with seed '${t.seed}'`;
  if (t.universeSize !== want.universeSize || t.options.crmSize !== want.crmSize) return `it has ${t.universeSize} media users and ${t.options.crmSize} customers`;
  if (firstLine(join(worldDir, 'media', 'universe.csv')) !== UNIVERSE_HEADER || firstLine(join(worldDir, 'advertiser', 'crm.csv')) !== CRM_HEADER || !existsSync(join(worldDir, 'media', 'labels.csv'))) {
    return 'it was made by an older generator (no first-party tags, purpose-level consent or labels)';
  }
  return undefined;
}

/** Reads the propensity user_ids (`<worldDir>/truth/propensity.txt`, one per line). */
export function readPropensity(worldDir: string): Set<string> {
  const path = join(worldDir, 'truth', 'propensity.txt');
  if (!existsSync(path)) throw new Error(`${path}: expected the propensity file, got none`);
  const out = new Set<string>();
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((raw, i) => {
    const id = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (id === '') return;
    if (!ID_TOKEN.test(id)) throw new Error(`${path}:${i + 1}: expected a user_id, got ${quote(id)}`);
    out.add(id);
  });
  return out;
}

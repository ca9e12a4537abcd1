/**
 * Deterministic world generator for simulations, benchmarks and tests: a media (B) user
 * universe, an advertiser (A) CRM and the simulation ground truth.
 *
 * Guarantees:
 * - Deterministic: the same options (seed included) give byte-identical files; no
 *   Math.random, no clock in any file. Randomness comes from sfc32 generators seeded from
 *   SHA-256("cleanroom-world/v1", seed, stream name), one independent stream per purpose.
 * - Streaming: the universe is written in ~1 MiB chunks; memory is O(universeSize) bytes
 *   (one flag byte per user) plus O(crmSize) objects, so 10^7 users fit comfortably.
 * - Believable: media users have a valid, unique CN mobile number (E.164), a unique e-mail,
 *   a random v4 UUID device ID (IDFA/OAID), a look-alike consent flag and a profile with
 *   realistic marginals (age skew, iOS share by city tier, interests correlated with age,
 *   gender and activity). Phones and e-mails are unique because they are keyed
 *   permutations (Feistel + cycle walking) of the user index; CRM customers who are not
 *   media users take indices ≥ universeSize, so their phones and e-mails are not in the universe.
 * - A planted propensity: a hidden set of exactly round(propensityShare × universeSize)
 *   users whose profiles are skewed (age 30–49, male, tier-1/new-tier-1 cities, iOS, high
 *   activity, auto/luxury/finance/golf/wine/stocks/real-estate interests). CRM purchasers who
 *   are media users are drawn `purchaserPropensityShare` (default 80%) from it, so a
 *   look-alike learned from the purchasers' aggregate profile finds it again.
 * - The CRM mixes human phone spellings (spaces, dashes, +86 / 0086 / 86 prefixes), e-mails
 *   with upper case and stray spaces, `duplicateRows` duplicates (the same person under a
 *   new customer_id, phone spelled differently) and `malformedRows` malformed rows, each of
 *   which is either rejected by `readCrm` or has no ID that `normalizeId` accepts.
 *
 * Files (CSV: header line, '\n' line ends, RFC 4180 quoting where a field needs it):
 *   <out>/media/universe.csv     user_id,phone,email,device_id,consent_lookalike,age_band,
 *                                gender,city_tier,device_os,activity,interests ('|'-joined),
 *                                consent_ads,consent_share (purpose-level consent)
 *   <out>/advertiser/crm.csv     customer_id,phone,email,purchaser,rfm,consent_ads,visited_90d,
 *                                purchased_90d,cart_abandoned,orders_12m,member_tier (first-party tags)
 * The formats are defined in format.ts (shared with the readers, files.ts); this module is
 * the simulator's alone — no node imports it.
 *   <out>/truth/truth.json       ground truth (`WorldTruth`), NEVER read by a node
 *   <out>/truth/propensity.txt   propensity user_ids, one per line, universe order
 * Booleans are written as 1/0.
 */
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ACTIVITIES, AGE_BANDS, CITY_TIERS, DEVICE_OSES, GENDERS, INTERESTS } from '../common/attributes.ts';
import { CRM_HEADER, UNIVERSE_HEADER, csvField, type GenOptions, type GenSummary, type MalformedKind, type ResolvedGenOptions, type WorldTruth } from './format.ts';
import { generateLabels } from './labels.ts';

export type { GenOptions, GenSummary, MalformedKind, ResolvedGenOptions, WorldTruth } from './format.ts';

export const DEFAULT_GEN_OPTIONS: Readonly<ResolvedGenOptions> = Object.freeze({
  seed: 'cleanroom',
  universeSize: 200_000,
  crmSize: 20_000,
  purchaserShare: 0.3,
  overlap: 0.6,
  propensityShare: 0.05,
  purchaserPropensityShare: 0.8,
  malformedRows: 25,
  duplicateRows: 20,
  consentShare: 0.97,
});

// ---------------------------------------------------------------------------------------
// Randomness

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), 128-bit state. Not for secrets. */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: Uint8Array) {
    if (!(seed instanceof Uint8Array) || seed.length < 16) {
      throw new TypeError(`expected a seed of at least 16 bytes, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`);
    }
    const dv = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
    this.a = dv.getUint32(0, true) | 0;
    this.b = dv.getUint32(4, true) | 0;
    this.c = dv.getUint32(8, true) | 0;
    this.d = dv.getUint32(12, true) | 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform uint32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32-bit resolution. */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [0, n), n ≤ 2^53 (53-bit resolution, negligible bias). */
  int(n: number): number {
    const hi = this.next() >>> 5;
    const lo = this.next() >>> 6;
    return Math.floor(((hi * 67108864 + lo) / 9007199254740992) * n);
  }

  /** Index drawn from cumulative weights (last entry = total). */
  pick(cumulative: readonly number[]): number {
    const r = this.float() * cumulative[cumulative.length - 1]!;
    for (let i = 0; i < cumulative.length - 1; i++) if (r < cumulative[i]!) return i;
    return cumulative.length - 1;
  }
}

/** An independent generator for one purpose, derived from the world seed. */
export function streamRng(seed: string, stream: string): Sfc32 {
  const h = createHash('sha256').update('cleanroom-world/v1\0').update(seed).update('\0').update(stream).digest();
  return new Sfc32(new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A keyed permutation of [0, size): 4-round balanced Feistel network over the smallest
 * even-bit power of two ≥ size, with cycle walking. size ≤ 2^32.
 */
export class FeistelPermutation {
  private readonly size: number;
  private readonly half: number;
  private readonly mask: number;
  private readonly keys: number[];

  constructor(size: number, rng: Sfc32) {
    if (!Number.isInteger(size) || size < 1 || size > 2 ** 32) throw new RangeError(`expected a permutation size in [1, 2^32], got ${size}`);
    let bits = 2;
    while (2 ** bits < size) bits += 2;
    this.size = size;
    this.half = bits / 2;
    this.mask = 2 ** this.half - 1;
    this.keys = [rng.next(), rng.next(), rng.next(), rng.next()];
  }

  apply(x: number): number {
    if (!Number.isInteger(x) || x < 0 || x >= this.size) throw new RangeError(`expected an index in [0, ${this.size}), got ${x}`);
    const shift = 2 ** this.half;
    do {
      let l = Math.floor(x / shift);
      let r = x % shift;
      for (let k = 0; k < 4; k++) {
        const f = fmix32((r ^ this.keys[k]!) >>> 0) & this.mask;
        const nl = r;
        r = (l ^ f) >>> 0;
        l = nl;
      }
      x = l * shift + r;
    } while (x >= this.size);
    return x;
  }
}

function cumulative(weights: readonly number[]): number[] {
  let s = 0;
  return weights.map((w) => (s += w));
}

// ---------------------------------------------------------------------------------------
// The world's model: marginals and the planted propensity

/** Mainstream CN mobile prefixes (all valid MOBILE ranges in libphonenumber's metadata). */
const PHONE_PREFIXES = [
  130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159, 166,
  173, 175, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 191, 198, 199,
] as const;
const SUBSCRIBERS = 100_000_000;

const EMAIL_DOMAINS = ['qq.com', '163.com', '126.com', 'sina.com', 'foxmail.com', 'gmail.com', 'outlook.com', 'hotmail.com', '139.com', 'icloud.com', 'yeah.net', 'sohu.com'];
const EMAIL_DOMAIN_CUM = cumulative([30, 18, 10, 4, 7, 6, 6, 3, 5, 6, 2, 3]);
const SURNAMES = ['wang', 'li', 'zhang', 'liu', 'chen', 'yang', 'huang', 'zhao', 'wu', 'zhou', 'xu', 'sun', 'ma', 'zhu', 'hu', 'guo', 'he', 'lin', 'gao', 'luo', 'zheng', 'liang', 'xie', 'song', 'tang', 'han', 'feng', 'deng', 'cao', 'peng'];
const GIVEN = ['wei', 'fang', 'na', 'min', 'jing', 'li', 'qiang', 'lei', 'jun', 'yang', 'yong', 'yan', 'jie', 'tao', 'ming', 'chao', 'xiu', 'xia', 'hui', 'ping', 'gang', 'hao', 'yu', 'xin', 'yi', 'bo', 'lan', 'ting', 'kai', 'rui'];
const EMAIL_SEPS = ['', '.', '_', ''];

const AGE_CUM = cumulative([0.16, 0.18, 0.17, 0.14, 0.17, 0.11, 0.07]);
const AGE_CUM_P = cumulative([0.02, 0.06, 0.25, 0.27, 0.29, 0.08, 0.03]);
const GENDER_CUM = cumulative([0.49, 0.46, 0.05]);
const GENDER_CUM_P = cumulative([0.33, 0.64, 0.03]);
const CITY_CUM = cumulative([0.09, 0.14, 0.19, 0.22, 0.2, 0.16]);
const CITY_CUM_P = cumulative([0.33, 0.3, 0.2, 0.1, 0.05, 0.02]);
/** iOS share by city tier. */
const IOS_BY_TIER = [0.45, 0.38, 0.3, 0.22, 0.17, 0.14];
const OTHER_OS = 0.03;
/** Activity weights for age bands 18-34, 35-49, 50+. */
const ACTIVITY_CUM_BY_AGE = [cumulative([0.25, 0.35, 0.25, 0.15]), cumulative([0.32, 0.37, 0.2, 0.11]), cumulative([0.45, 0.35, 0.14, 0.06])];
const ACTIVITY_CUM_P = cumulative([0.06, 0.22, 0.42, 0.3]);
const ACTIVITY_MULT = [0.7, 1.0, 1.25, 1.5];

type AgeShape = 'young' | 'family' | 'mid' | 'old' | 'flat';
const AGE_SHAPES: Record<AgeShape, readonly number[]> = {
  young: [1.8, 1.5, 1.1, 0.9, 0.7, 0.5, 0.4],
  family: [0.6, 1.6, 1.6, 1.0, 0.5, 0.2, 0.1],
  mid: [0.5, 0.9, 1.3, 1.4, 1.3, 0.9, 0.6],
  old: [0.4, 0.5, 0.7, 0.9, 1.2, 1.7, 2.0],
  flat: [1, 1, 1, 1, 1, 1, 1],
};
/** interest: [base rate, age shape, male multiplier, female multiplier, propensity multiplier]. */
const INTEREST_MODEL: Record<(typeof INTERESTS)[number], readonly [number, AgeShape, number, number, number]> = {
  auto: [0.12, 'mid', 1.6, 0.5, 3.5],
  luxury: [0.05, 'mid', 0.8, 1.3, 4],
  travel: [0.18, 'mid', 1, 1.1, 1.8],
  beauty: [0.15, 'young', 0.15, 1.9, 1],
  sports: [0.14, 'young', 1.5, 0.6, 1],
  gaming: [0.16, 'young', 1.6, 0.5, 0.8],
  finance: [0.1, 'mid', 1.2, 0.8, 3],
  parenting: [0.1, 'family', 0.6, 1.4, 1],
  education: [0.12, 'mid', 0.8, 1.2, 1],
  food: [0.3, 'flat', 1, 1, 1],
  fashion: [0.15, 'young', 0.4, 1.6, 1],
  fitness: [0.12, 'young', 1.1, 0.9, 1.2],
  music: [0.22, 'young', 1, 1, 1],
  movies: [0.25, 'flat', 1, 1, 1],
  books: [0.1, 'flat', 0.9, 1.1, 1],
  tech: [0.12, 'young', 1.6, 0.5, 1.2],
  home: [0.12, 'mid', 0.8, 1.2, 1],
  pets: [0.09, 'young', 0.9, 1.1, 1],
  health: [0.12, 'old', 0.9, 1.1, 1],
  'real-estate': [0.06, 'mid', 1.1, 0.9, 2],
  insurance: [0.06, 'mid', 1, 1, 1.5],
  outdoor: [0.08, 'mid', 1.2, 0.8, 1.3],
  photography: [0.07, 'flat', 1.1, 0.9, 1.2],
  anime: [0.08, 'young', 1.1, 0.9, 0.6],
  esports: [0.06, 'young', 1.8, 0.3, 0.7],
  cooking: [0.12, 'old', 0.6, 1.4, 1],
  coffee: [0.08, 'young', 0.9, 1.1, 1.2],
  tea: [0.1, 'old', 1.1, 0.9, 1],
  wine: [0.04, 'mid', 1.3, 0.7, 2.5],
  art: [0.05, 'flat', 0.8, 1.2, 1],
  gardening: [0.04, 'old', 0.8, 1.2, 1],
  cycling: [0.04, 'mid', 1.3, 0.7, 1],
  running: [0.06, 'mid', 1.1, 0.9, 1],
  basketball: [0.07, 'young', 1.7, 0.3, 1],
  football: [0.05, 'young', 1.7, 0.3, 1],
  jewelry: [0.05, 'mid', 0.4, 1.6, 1.5],
  maternity: [0.04, 'family', 0.1, 1.9, 1],
  'elderly-care': [0.03, 'old', 1, 1, 1],
  shopping: [0.35, 'flat', 0.7, 1.3, 1],
  golf: [0.015, 'mid', 1.6, 0.4, 4],
  stocks: [0.07, 'mid', 1.3, 0.7, 2.5],
};
const MAX_INTEREST_P = 0.92;

/**
 * P(interest | propensity, age, gender, activity), precomputed: index
 * ((((prop × 7 + age) × 3 + gender) × 4 + activity) × 41 + interest).
 */
const INTEREST_P: Float64Array = (() => {
  const out = new Float64Array(2 * 7 * 3 * 4 * INTERESTS.length);
  let o = 0;
  for (let prop = 0; prop < 2; prop++)
    for (let age = 0; age < 7; age++)
      for (let g = 0; g < 3; g++)
        for (let act = 0; act < 4; act++)
          for (const name of INTERESTS) {
            const [base, shape, male, female, pmult] = INTEREST_MODEL[name];
            const gm = g === 0 ? female : g === 1 ? male : 1;
            const p = base * AGE_SHAPES[shape][age]! * gm * ACTIVITY_MULT[act]! * (prop === 1 ? pmult : 1);
            out[o++] = Math.min(p, MAX_INTEREST_P);
          }
  return out;
})();

const RFM_PURCHASER = ['champions', 'loyal', 'potential-loyalist', 'new-customer', 'at-risk', 'hibernating'];
const RFM_PURCHASER_CUM = cumulative([0.12, 0.2, 0.22, 0.18, 0.15, 0.13]);
const RFM_PROSPECT = 'prospect';

const FLAG_PROPENSITY = 1;
const FLAG_TAKEN = 2;

// ---------------------------------------------------------------------------------------
// Output

/** Buffered sequential writer: strings are joined and written in ~1 MiB chunks. */
class ChunkWriter {
  private readonly fh: FileHandle;
  private parts: string[] = [];
  private size = 0;

  private constructor(fh: FileHandle) {
    this.fh = fh;
  }

  static async create(path: string): Promise<ChunkWriter> {
    return new ChunkWriter(await open(path, 'w'));
  }

  async write(s: string): Promise<void> {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 1 << 20) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.size = 0;
    await this.fh.write(chunk, null, 'utf8');
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.fh.close();
    }
  }
}

// ---------------------------------------------------------------------------------------
// Generation

function resolveOptions(opts: GenOptions): ResolvedGenOptions {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`expected GenOptions object, got ${opts === null ? 'null' : typeof opts}`);
  const o: ResolvedGenOptions = { ...DEFAULT_GEN_OPTIONS };
  for (const [k, v] of Object.entries(opts)) {
    if (!(k in DEFAULT_GEN_OPTIONS)) throw new TypeError(`expected a GenOptions key (${Object.keys(DEFAULT_GEN_OPTIONS).join(', ')}), got '${k}'`);
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  }
  if (typeof o.seed !== 'string' || o.seed === '') throw new TypeError(`expected seed to be a non-empty string, got ${JSON.stringify(o.seed)}`);
  const int = (name: keyof ResolvedGenOptions, min: number, max: number): void => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`expected ${name} to be an integer in [${min}, ${max}], got ${String(v)}`);
  };
  const share = (name: keyof ResolvedGenOptions): void => {
    const v = o[name];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`expected ${name} to be a share in [0, 1], got ${String(v)}`);
  };
  int('universeSize', 1, 1_000_000_000);
  int('crmSize', 0, 100_000_000);
  int('malformedRows', 0, 1_000_000);
  int('duplicateRows', 0, 1_000_000);
  share('purchaserShare');
  share('overlap');
  share('propensityShare');
  share('purchaserPropensityShare');
  share('consentShare');
  const media = Math.round(o.crmSize * o.overlap);
  if (media > o.universeSize) throw new RangeError(`expected crmSize × overlap ≤ universeSize, got ${media} > ${o.universeSize}`);
  if (o.duplicateRows > 0 && media === 0) throw new RangeError(`expected duplicateRows = 0 when no customer is a media user, got ${o.duplicateRows}`);
  const phonesNeeded = o.universeSize + o.crmSize - media;
  if (phonesNeeded > PHONE_PREFIXES.length * SUBSCRIBERS) throw new RangeError(`expected universeSize + non-media customers ≤ ${PHONE_PREFIXES.length * SUBSCRIBERS}, got ${phonesNeeded}`);
  return o;
}

function phoneOf(perm: FeistelPermutation, index: number): string {
  const k = perm.apply(index);
  const prefix = PHONE_PREFIXES[Math.floor(k / SUBSCRIBERS)]!;
  return String(prefix) + String(k % SUBSCRIBERS).padStart(8, '0');
}

function emailOf(perm: FeistelPermutation, index: number, rng: Sfc32): string {
  const n = perm.apply(index);
  const domain = EMAIL_DOMAINS[rng.pick(EMAIL_DOMAIN_CUM)]!;
  // The decimal suffix n is unique per index, and local parts are letters-then-digits or
  // digits only, so addresses never collide.
  if (domain === 'qq.com' || domain === '139.com') return `${100_000 + n}@${domain}`;
  const s = SURNAMES[rng.int(SURNAMES.length)]!;
  const g = GIVEN[rng.int(GIVEN.length)]!;
  const sep = EMAIL_SEPS[rng.int(EMAIL_SEPS.length)]!;
  return `${s}${sep}${g}${n}@${domain}`;
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

function uuidV4(rng: Sfc32): string {
  const a = hex8(rng.next());
  const b = hex8(((rng.next() & 0xffff0fff) | 0x00004000) >>> 0);
  const c = hex8(((rng.next() & 0x3fffffff) | 0x80000000) >>> 0);
  const d = hex8(rng.next());
  return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
}

/** A human spelling of an 11-digit CN mobile; `variant` picks the style. */
function formatPhone(d: string, variant: number): string {
  const g = `${d.slice(0, 3)} ${d.slice(3, 7)} ${d.slice(7)}`;
  const h = `${d.slice(0, 3)}-${d.slice(3, 7)}-${d.slice(7)}`;
  switch (variant) {
    case 0: return d;
    case 1: return g;
    case 2: return h;
    case 3: return `+86${d}`;
    case 4: return `+86 ${g}`;
    case 5: return `0086${d}`;
    case 6: return `86${d}`;
    case 7: return `(+86) ${h}`;
    case 8: return `+86-${d}`;
    default: return ` ${d} `;
  }
}
const PHONE_VARIANT_CUM = cumulative([35, 12, 12, 10, 8, 6, 6, 4, 4, 3]);
const PHONE_VARIANTS = 10;

/** A human spelling of an e-mail: mostly as is, sometimes capitalised or padded. */
function formatEmail(e: string, rng: Sfc32): string {
  const r = rng.float();
  if (r < 0.6) return e;
  if (r < 0.75) return e.charAt(0).toUpperCase() + e.slice(1);
  if (r < 0.85) return e.toUpperCase();
  if (r < 0.95) return ` ${e}`;
  return `${e} `;
}

const MALFORMED_KINDS: readonly MalformedKind[] = [
  'phone-letters', 'phone-short', 'phone-bad-prefix', 'empty-ids', 'bad-purchaser-flag',
  'wrong-field-count', 'landline', 'bad-phone-and-email', 'quoted-comma',
];

function malformedRow(kind: MalformedKind, customerId: string, rng: Sfc32): string {
  const digits = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += String(rng.int(10));
    return s;
  };
  switch (kind) {
    case 'phone-letters': return `${customerId},138${digits(2)}abc${digits(3)},,0,${RFM_PROSPECT},1`;
    case 'phone-short': return `${customerId},139${digits(4)},,1,loyal,1`;
    case 'phone-bad-prefix': return `${customerId},120${digits(8)},,0,${RFM_PROSPECT},1`;
    case 'empty-ids': return `${customerId},,,0,${RFM_PROSPECT},1`;
    case 'bad-purchaser-flag': return `${customerId},n/a,,maybe,${RFM_PROSPECT},1`;
    case 'wrong-field-count': return `${customerId},,0`;
    case 'landline': return `${customerId},010-${digits(4)}-${digits(4)},,1,champions,1`;
    case 'bad-phone-and-email': return `${customerId},tel:${digits(5)},someone#example.com,0,${RFM_PROSPECT},0`;
    case 'quoted-comma': return `${customerId},${csvField(`186,${digits(4)},${digits(4)}`)},,0,${RFM_PROSPECT},1`;
  }
}

interface Customer {
  /** Universe index, or -1 for a customer who is not a media user. */
  user: number;
  purchaser: boolean;
}

/** Draws `count` distinct untaken universe indices; `fromPropensity` restricts to (or excludes) propensity users. */
function drawUsers(flags: Uint8Array, rng: Sfc32, count: number, fromPropensity: boolean | null, pool: number): number[] {
  if (count > pool) throw new RangeError(`expected to draw at most ${pool} users, got ${count}`);
  const out: number[] = [];
  const n = flags.length;
  while (out.length < count) {
    const i = rng.int(n);
    const f = flags[i]!;
    if (f & FLAG_TAKEN) continue;
    if (fromPropensity !== null && ((f & FLAG_PROPENSITY) !== 0) !== fromPropensity) continue;
    flags[i] = f | FLAG_TAKEN;
    out.push(i);
  }
  return out;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Universe indices of the planted propensity: exactly round(propensityShare × N) users (Knuth's Algorithm S). */
function plantPropensity(o: ResolvedGenOptions): { flags: Uint8Array; count: number } {
  const N = o.universeSize;
  const flags = new Uint8Array(N);
  const K = Math.round(o.propensityShare * N);
  const rng = streamRng(o.seed, 'propensity');
  let chosen = 0;
  for (let i = 0; i < N && chosen < K; i++) {
    if ((N - i) * rng.float() < K - chosen) {
      flags[i] = FLAG_PROPENSITY;
      chosen++;
    }
  }
  return { flags, count: K };
}

interface Cast {
  customers: Customer[];
  /** Customers who are media users, by universe index: their IDs, filled in as the universe is written. */
  memberIds: Map<number, { phone: string; email: string; userId: string }>;
  mediaCustomers: number;
  purchasers: number;
  purchasersInMedia: number;
  purchasersFromPropensity: number;
}

/** Who the customers are: media users (purchasers mostly from the propensity) and others, shuffled. */
function drawCustomers(o: ResolvedGenOptions, flags: Uint8Array, K: number): Cast {
  const N = o.universeSize;
  const M = Math.round(o.crmSize * o.overlap);
  const P = Math.round(o.crmSize * o.purchaserShare);
  const Pm = Math.min(M, Math.round(P * o.overlap));
  const Pn = P - Pm;
  const nonMedia = o.crmSize - M;
  if (Pn > nonMedia) throw new RangeError(`expected purchasers outside media ≤ non-media customers, got ${Pn} > ${nonMedia}`);
  const customers: Customer[] = [];
  const rng = streamRng(o.seed, 'customers');
  const fromProp = Math.min(K, Math.round(Pm * o.purchaserPropensityShare));
  const fromRest = Math.min(N - K, Pm - fromProp);
  const topUp = Pm - fromProp - fromRest; // only when the non-propensity pool is too small
  for (const u of drawUsers(flags, rng, fromProp + topUp, true, K)) customers.push({ user: u, purchaser: true });
  for (const u of drawUsers(flags, rng, fromRest, false, N - K)) customers.push({ user: u, purchaser: true });
  for (const u of drawUsers(flags, rng, M - Pm, null, N - Pm)) customers.push({ user: u, purchaser: false });
  for (let j = 0; j < nonMedia; j++) customers.push({ user: -1, purchaser: j < Pn });
  for (let i = customers.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = customers[i]!;
    customers[i] = customers[j]!;
    customers[j] = t;
  }
  let purchasersFromPropensity = 0;
  const memberIds = new Map<number, { phone: string; email: string; userId: string }>();
  for (const c of customers) {
    if (c.user >= 0) memberIds.set(c.user, { phone: '', email: '', userId: '' });
    if (c.purchaser && c.user >= 0 && flags[c.user]! & FLAG_PROPENSITY) purchasersFromPropensity++;
  }
  return { customers, memberIds, mediaCustomers: M, purchasers: P, purchasersInMedia: Pm, purchasersFromPropensity };
}

interface IdSpaces {
  phonePerm: FeistelPermutation;
  emailPerm: FeistelPermutation;
}

function idSpaces(o: ResolvedGenOptions): IdSpaces {
  return {
    phonePerm: new FeistelPermutation(PHONE_PREFIXES.length * SUBSCRIBERS, streamRng(o.seed, 'phone-permutation')),
    emailPerm: new FeistelPermutation(Math.max(1_000_000, 10 * (o.universeSize + o.crmSize + o.duplicateRows)), streamRng(o.seed, 'email-permutation')),
  };
}

/** Share of media users consenting to ad targeting / to data sharing (drawn independently of consent_lookalike). */
const ADS_CONSENT = 0.9;
const SHARE_CONSENT = 0.8;

/**
 * One universe line after another: IDs, consent flags, a profile drawn from the marginals
 * (skewed for propensity users). Fills in `memberIds` for the customers who are media users.
 * Returns how many users consent to look-alike matching.
 */
async function writeUniverse(paths: WorldPaths, o: ResolvedGenOptions, flags: Uint8Array, ids: IdSpaces, memberIds: Cast['memberIds']): Promise<number> {
  const N = o.universeSize;
  const idWidth = Math.max(7, String(N).length);
  let consenting = 0;
  const rng = streamRng(o.seed, 'universe');
  // A stream of its own, so that adding the purpose-level columns changed no other value.
  const purpose = streamRng(o.seed, 'purpose-consent');
  const uw = await ChunkWriter.create(paths.universe);
  const pw = await ChunkWriter.create(paths.propensity);
  try {
    await uw.write(UNIVERSE_HEADER + '\n');
    const nInt = INTERESTS.length;
    for (let i = 0; i < N; i++) {
      const prop = flags[i]! & FLAG_PROPENSITY ? 1 : 0;
      const userId = `U${pad(i + 1, idWidth)}`;
      const phone = phoneOf(ids.phonePerm, i);
      const email = emailOf(ids.emailPerm, i, rng);
      const device = uuidV4(rng);
      const consent = rng.float() < o.consentShare;
      if (consent) consenting++;
      const age = rng.pick(prop ? AGE_CUM_P : AGE_CUM);
      const gender = rng.pick(prop ? GENDER_CUM_P : GENDER_CUM);
      const city = rng.pick(prop ? CITY_CUM_P : CITY_CUM);
      const iosShare = Math.min(0.9, IOS_BY_TIER[city]! + (prop ? 0.2 : 0));
      const osR = rng.float();
      const os = osR < OTHER_OS ? 2 : osR < OTHER_OS + iosShare ? 0 : 1;
      const activity = rng.pick(prop ? ACTIVITY_CUM_P : ACTIVITY_CUM_BY_AGE[age < 3 ? 0 : age < 5 ? 1 : 2]!);
      let interests = '';
      const base = ((((prop * 7 + age) * 3 + gender) * 4 + activity) * nInt);
      for (let k = 0; k < nInt; k++) {
        if (rng.float() < INTEREST_P[base + k]!) interests = interests === '' ? INTERESTS[k]! : `${interests}|${INTERESTS[k]!}`;
      }
      const ads = purpose.float() < ADS_CONSENT ? 1 : 0;
      const share = purpose.float() < SHARE_CONSENT ? 1 : 0;
      await uw.write(
        `${userId},+86${phone},${email},${device},${consent ? 1 : 0},${AGE_BANDS[age]},${GENDERS[gender]},${CITY_TIERS[city]},${DEVICE_OSES[os]},${ACTIVITIES[activity]},${interests},${ads},${share}\n`,
      );
      if (prop) await pw.write(userId + '\n');
      const member = memberIds.get(i);
      if (member !== undefined) {
        member.phone = phone;
        member.email = email;
        member.userId = userId;
      }
    }
  } finally {
    await uw.close();
    await pw.close();
  }
  return consenting;
}

/**
 * A customer's first-party tag columns (visited_90d, purchased_90d, cart_abandoned,
 * orders_12m, member_tier) from a stream of their own: purchasers visit and order more and
 * hold the member tiers; cart abandoners are mostly visitors who did not buy.
 */
function tagColumns(purchaser: boolean, rng: Sfc32): string {
  const visited = rng.float() < (purchaser ? 0.7 : 0.35);
  const bought = purchaser && rng.float() < 0.45;
  const cart = rng.float() < (visited && !bought ? 0.35 : 0.04);
  let orders = 0;
  if (purchaser) {
    orders = 1;
    while (orders < 40 && rng.float() < 0.55) orders++;
  }
  const t = rng.float();
  const tier = purchaser ? (t < 0.2 ? 'gold' : t < 0.55 ? 'silver' : 'none') : (t < 0.04 ? 'silver' : 'none');
  return `${visited ? 1 : 0},${bought ? 1 : 0},${cart ? 1 : 0},${orders},${tier}`;
}

type Extra = { kind: 'dup'; of: number } | { kind: 'bad'; what: MalformedKind };

interface CrmTruth {
  rows: number;
  crmMediaUserIds: Record<string, string>;
  duplicateOf: Record<string, string>;
  malformed: Record<string, MalformedKind>;
}

/** Where duplicates and malformed rows go: extra rows to emit after customer position p (p = -1: before the first). */
function placeExtras(o: ResolvedGenOptions, customers: readonly Customer[], rng: Sfc32): Map<number, Extra[]> {
  const extras = new Map<number, Extra[]>();
  const addExtra = (p: number, e: Extra): void => {
    const list = extras.get(p);
    if (list) list.push(e);
    else extras.set(p, [e]);
  };
  const mediaPositions: number[] = [];
  customers.forEach((c, p) => {
    if (c.user >= 0) mediaPositions.push(p);
  });
  for (let d = 0; d < o.duplicateRows; d++) {
    const orig = mediaPositions[rng.int(mediaPositions.length)]!;
    addExtra(orig + rng.int(customers.length - orig), { kind: 'dup', of: orig });
  }
  for (let m = 0; m < o.malformedRows; m++) {
    addExtra(rng.int(customers.length + 1) - 1, { kind: 'bad', what: MALFORMED_KINDS[m % MALFORMED_KINDS.length]! });
  }
  return extras;
}

/** The CRM: customers in shuffled order, with duplicates and malformed rows interleaved. */
async function writeCrm(path: string, o: ResolvedGenOptions, cast: Cast, ids: IdSpaces): Promise<CrmTruth> {
  const { customers, memberIds } = cast;
  const N = o.universeSize;
  const truth: CrmTruth = { rows: 0, crmMediaUserIds: {}, duplicateOf: {}, malformed: {} };
  const rng = streamRng(o.seed, 'crm');
  const tagRng = streamRng(o.seed, 'crm-tags');
  const extras = placeExtras(o, customers, rng);
  const totalRows = o.crmSize + o.duplicateRows + o.malformedRows;
  const cidWidth = Math.max(7, String(totalRows).length);
  const idOfPosition = new Map<number, string>(); // only positions that get duplicated
  const spelling = new Map<number, { variant: number; phone: string; email: string }>();
  for (const e of extras.values()) for (const x of e) if (x.kind === 'dup') spelling.set(x.of, { variant: 0, phone: '', email: '' });
  let nextFresh = N; // email/phone index namespace for people who are not media users
  const rfmOf = (purchaser: boolean): string => (purchaser ? RFM_PURCHASER[rng.pick(RFM_PURCHASER_CUM)]! : RFM_PROSPECT);
  const cw = await ChunkWriter.create(path);
  try {
    await cw.write(CRM_HEADER + '\n');
    const emitExtras = async (p: number): Promise<void> => {
      for (const x of extras.get(p) ?? []) {
        const cid = `C${pad(++truth.rows, cidWidth)}`;
        if (x.kind === 'bad') {
          truth.malformed[cid] = x.what;
          const row = malformedRow(x.what, cid, rng);
          await cw.write((x.what === 'wrong-field-count' ? row : `${row},0,0,0,0,none`) + '\n');
          continue;
        }
        const orig = customers[x.of]!;
        const sp = spelling.get(x.of)!;
        const variant = (sp.variant + 1 + rng.int(PHONE_VARIANTS - 1)) % PHONE_VARIANTS;
        const email = sp.email === '' ? '' : formatEmail(sp.email.trim().toLowerCase(), rng);
        truth.duplicateOf[cid] = idOfPosition.get(x.of)!;
        truth.crmMediaUserIds[cid] = memberIds.get(orig.user)!.userId;
        const rfm = rfmOf(orig.purchaser);
        await cw.write(`${cid},${csvField(formatPhone(sp.phone, variant))},${csvField(email)},${orig.purchaser ? 1 : 0},${rfm},${rng.float() < o.consentShare ? 1 : 0},${tagColumns(orig.purchaser, tagRng)}\n`);
      }
    };
    await emitExtras(-1);
    let nonMediaIndex = 0;
    for (let p = 0; p < customers.length; p++) {
      const c = customers[p]!;
      const cid = `C${pad(++truth.rows, cidWidth)}`;
      let phone: string;
      let email: string;
      if (c.user >= 0) {
        const m = memberIds.get(c.user)!;
        truth.crmMediaUserIds[cid] = m.userId;
        phone = m.phone;
        const r = rng.float();
        email = r < 0.75 ? m.email : r < 0.85 ? emailOf(ids.emailPerm, nextFresh++, rng) : '';
      } else {
        phone = phoneOf(ids.phonePerm, N + nonMediaIndex++);
        email = rng.float() < 0.8 ? emailOf(ids.emailPerm, nextFresh++, rng) : '';
      }
      const variant = rng.pick(PHONE_VARIANT_CUM);
      const shownEmail = email === '' ? '' : formatEmail(email, rng);
      const sp = spelling.get(p);
      if (sp !== undefined) {
        sp.variant = variant;
        sp.phone = phone;
        sp.email = email;
        idOfPosition.set(p, cid);
      }
      const rfm = rfmOf(c.purchaser);
      await cw.write(`${cid},${csvField(formatPhone(phone, variant))},${csvField(shownEmail)},${c.purchaser ? 1 : 0},${rfm},${rng.float() < o.consentShare ? 1 : 0},${tagColumns(c.purchaser, tagRng)}\n`);
      await emitExtras(p);
    }
  } finally {
    await cw.close();
  }
  return truth;
}

interface WorldPaths {
  universe: string;
  crm: string;
  truth: string;
  propensity: string;
}

async function worldPaths(outDir: string): Promise<WorldPaths> {
  await mkdir(join(outDir, 'media'), { recursive: true });
  await mkdir(join(outDir, 'advertiser'), { recursive: true });
  await mkdir(join(outDir, 'truth'), { recursive: true });
  return {
    universe: join(outDir, 'media', 'universe.csv'),
    crm: join(outDir, 'advertiser', 'crm.csv'),
    truth: join(outDir, 'truth', 'truth.json'),
    propensity: join(outDir, 'truth', 'propensity.txt'),
  };
}

async function writeTruth(path: string, truth: WorldTruth): Promise<void> {
  const tw = await ChunkWriter.create(path);
  try {
    await tw.write(JSON.stringify(truth, null, 1) + '\n');
  } finally {
    await tw.close();
  }
}

/**
 * Writes a world under `outDir` (created if missing; existing files are overwritten) and
 * returns its summary. See the module header for the files and guarantees.
 */
export async function generateWorld(outDir: string, opts: GenOptions = {}): Promise<GenSummary> {
  if (typeof outDir !== 'string' || outDir === '') throw new TypeError(`expected outDir to be a non-empty path, got ${JSON.stringify(outDir)}`);
  const started = performance.now();
  const o = resolveOptions(opts);
  const { flags, count: K } = plantPropensity(o);
  const cast = drawCustomers(o, flags, K);
  const ids = idSpaces(o);
  const paths = await worldPaths(outDir);
  const consenting = await writeUniverse(paths, o, flags, ids, cast.memberIds);
  await generateLabels(outDir, o.seed, streamRng); // media/labels.csv: the lookup kind's labels (data/labels.ts)
  const crm = await writeCrm(paths.crm, o, cast, ids);
  const summary: Omit<GenSummary, 'seconds'> = {
    seed: o.seed,
    universe: o.universeSize,
    crm: o.crmSize,
    crmRows: crm.rows,
    crmMediaUsers: cast.mediaCustomers,
    purchasers: cast.purchasers,
    purchasersInMedia: cast.purchasersInMedia,
    purchasersFromPropensity: cast.purchasersFromPropensity,
    malformed: o.malformedRows,
    duplicates: o.duplicateRows,
    propensity: K,
    consentingUsers: consenting,
    files: ['media/universe.csv', 'advertiser/crm.csv', 'truth/truth.json', 'truth/propensity.txt'],
  };
  await writeTruth(paths.truth, {
    version: 1,
    seed: o.seed,
    universeSize: o.universeSize,
    options: o,
    propensityFile: 'propensity.txt',
    propensityCount: K,
    crmMediaUserIds: crm.crmMediaUserIds,
    duplicateOf: crm.duplicateOf,
    malformed: crm.malformed,
    summary,
  });
  return { ...summary, files: [paths.universe, paths.crm, paths.truth, paths.propensity], seconds: (performance.now() - started) / 1000 };
}

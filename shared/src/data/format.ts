/**
 * The world's file formats, shared by the generator (generate.ts, which writes them) and
 * the readers the nodes use (files.ts): CSV headers, the advertiser's first-party tag
 * columns, media's purpose-level consent columns, CSV quoting, and the ground-truth types.
 * Neither module imports the other: the nodes' readers never load the generator.
 *
 * Universe (media/universe.csv):
 *   user_id,phone,email,device_id,consent_lookalike,age_band,gender,city_tier,device_os,
 *   activity,interests,consent_ads,consent_share
 *   consent_lookalike  consent to be matched and profiled (the publication holds only these users)
 *   consent_ads        consent to ad targeting: required to be in any audience (retargeting, joint-activate)
 *   consent_share      consent to data sharing: required to get a label delivered (lookup)
 *   The 11-column header of earlier worlds is still read; its users have consent_ads =
 *   consent_share = false (no purpose consent without a column saying so).
 * CRM (advertiser/crm.csv):
 *   customer_id,phone,email,purchaser,rfm,consent_ads,visited_90d,purchased_90d,cart_abandoned,
 *   orders_12m,member_tier
 *   The first-party tags an advertiser predicate may name (protocol/predicate.ts, key "tag"):
 *   CRM_TAG_FIELDS below — purchaser, rfm and the five tag columns. The 6-column header of
 *   earlier worlds is still read; its rows have no tag set (false / 0 / none).
 */
import type { FieldSpec } from '../protocol/predicate.ts';

export const UNIVERSE_HEADER_V1 = 'user_id,phone,email,device_id,consent_lookalike,age_band,gender,city_tier,device_os,activity,interests';
export const UNIVERSE_HEADER = `${UNIVERSE_HEADER_V1},consent_ads,consent_share`;
export const CRM_HEADER_V1 = 'customer_id,phone,email,purchaser,rfm,consent_ads';
export const CRM_HEADER = `${CRM_HEADER_V1},visited_90d,purchased_90d,cart_abandoned,orders_12m,member_tier`;

export const MEMBER_TIERS = ['none', 'silver', 'gold'] as const;
export const RFM_SEGMENTS = ['champions', 'loyal', 'potential-loyalist', 'new-customer', 'at-risk', 'hibernating', 'prospect'] as const;

/** A CRM row's first-party tags (what advertiser predicates read). */
export interface CrmTags {
  purchaser: boolean;
  rfm: string;
  /** Visited the advertiser's site or mini-program in the last 90 days. */
  visited_90d: boolean;
  /** Bought in the tracked category in the last 90 days. */
  purchased_90d: boolean;
  /** Left a cart without buying in the last 90 days. */
  cart_abandoned: boolean;
  /** Orders in the last 12 months. */
  orders_12m: number;
  member_tier: (typeof MEMBER_TIERS)[number];
}

/** The tag fields an advertiser predicate may name, with their types. */
export const CRM_TAG_FIELDS: Readonly<Record<keyof CrmTags, FieldSpec>> = Object.freeze({
  purchaser: { type: 'bool' },
  rfm: { type: 'enum', values: RFM_SEGMENTS },
  visited_90d: { type: 'bool' },
  purchased_90d: { type: 'bool' },
  cart_abandoned: { type: 'bool' },
  orders_12m: { type: 'int' },
  member_tier: { type: 'enum', values: MEMBER_TIERS },
});

/** Quotes a CSV field when it holds a comma, a quote, a line break or surrounding spaces. */
export function csvField(s: string): string {
  if (/[",\r\n]/.test(s) || (s !== s.trim())) return `"${s.replaceAll('"', '""')}"`;
  return s;
}

export interface GenOptions {
  /** Any non-empty string; default 'cleanroom'. */
  seed?: string;
  /** Media users; default 200,000. */
  universeSize?: number;
  /** Distinct advertiser customers (not counting duplicate and malformed rows); default 20,000. */
  crmSize?: number;
  /** Share of customers who are purchasers; default 0.3. */
  purchaserShare?: number;
  /** Share of customers who are media users; default 0.6. */
  overlap?: number;
  /** Share of the universe carrying the planted propensity; default 0.05. */
  propensityShare?: number;
  /** Share of media-user purchasers drawn from the propensity users; default 0.8. */
  purchaserPropensityShare?: number;
  /** Malformed CRM rows added; default 25. */
  malformedRows?: number;
  /** Duplicate CRM rows added (an existing media-user customer, phone spelled differently); default 20. */
  duplicateRows?: number;
  /** Share of users / customers with look-alike / ads consent; default 0.97. */
  consentShare?: number;
}

export type ResolvedGenOptions = Required<GenOptions>;

export interface GenSummary {
  seed: string;
  /** Media users in universe.csv. */
  universe: number;
  /** Distinct real customers in crm.csv. */
  crm: number;
  /** Data rows in crm.csv: crm + duplicates + malformed. */
  crmRows: number;
  /** Customers who are media users (duplicates not counted). */
  crmMediaUsers: number;
  purchasers: number;
  /** Purchasers who are media users. */
  purchasersInMedia: number;
  /** Purchasers who are propensity users. */
  purchasersFromPropensity: number;
  malformed: number;
  duplicates: number;
  /** Users carrying the planted propensity. */
  propensity: number;
  /** Users with consent_lookalike = 1. */
  consentingUsers: number;
  /** Files written: absolute paths in the returned summary, relative to outDir in truth.json. */
  files: string[];
  /** Wall-clock generation time; only in the returned summary, never in a file. */
  seconds: number;
}

export type MalformedKind =
  | 'phone-letters'
  | 'phone-short'
  | 'phone-bad-prefix'
  | 'empty-ids'
  | 'bad-purchaser-flag'
  | 'wrong-field-count'
  | 'landline'
  | 'bad-phone-and-email'
  | 'quoted-comma';

/** Simulation ground truth, written to truth/truth.json. Nodes never read it. */
export interface WorldTruth {
  version: 1;
  seed: string;
  universeSize: number;
  options: ResolvedGenOptions;
  /** Relative to the truth directory. */
  propensityFile: 'propensity.txt';
  propensityCount: number;
  /** customer_id → user_id for every CRM row that is a media user (duplicates included). */
  crmMediaUserIds: Record<string, string>;
  /** duplicate customer_id → the original customer_id. */
  duplicateOf: Record<string, string>;
  /** malformed customer_id → what is wrong with it. */
  malformed: Record<string, MalformedKind>;
  summary: Omit<GenSummary, 'seconds'>;
}


/**
 * Protocol messages of the core look-alike session, as plain typed values.
 *
 * These are what the party roles (advertiser.ts, broker.ts, media.ts) consume and produce.
 * They mirror the payload messages of proto/cleanroom/v1/session.proto one to one (same
 * names), but carry no transport concerns: session id, round, sender, receiver and
 * sequence numbers live in the signed statement of the envelope (rpc layer), and large
 * lists are whole here — the rpc layer streams them in chunks.
 *
 * Byte aliases make signatures self-explaining: an ElementBytes is a 32-byte X25519
 * u-coordinate, a TokenBytes a 12-byte OPRF output (TOKEN_BYTES), a CiphertextBytes a serialized SEAL
 * ciphertext.
 */
export { PARTIES, SESSION_ROUNDS, type Party, type Round } from '../common/names.ts';
import type { SessionKind } from '../common/names.ts';


export type IdType = 'phone' | 'email' | 'device';

export type ElementBytes = Uint8Array;
export type TokenBytes = Uint8Array;
export type CiphertextBytes = Uint8Array;

export type Outcome = 'COMPLETED' | 'COHORT_TOO_SMALL' | 'FAILED' | 'BUDGET_EXHAUSTED' | 'DIFFERENCING_REFUSED';

/** Policy parameters an auditor cares about; agreed at OPEN and signed into transcripts. */
export interface Policy {
  /** Decoys per real ID. */
  decoyRatio: number;
  /** Minimum number of real matches before anything is released. */
  minCohort: number;
  /**
   * Scale of the discrete Laplace noise on every released total (0 = off). The default is
   * the L1 sensitivity of one user's contribution divided by the per-release ε
   * (policy.ts: noiseScaleFor): ε-differential privacy per release.
   */
  noiseScale: number;
  /** Padded sizes the broker may announce (ascending). */
  sizeBuckets: number[];
  /** Maximum number of OPRF evaluations media performs for this session. */
  evaluationQuota: number;
  /** ε of the profile, of the noisy count and of the differencing check (protocol/privacy.ts). */
  epsilonProfile: number;
  epsilonCount: number;
  epsilonDifferencing: number;
  /** Total ε per (advertiser, media, epoch) in the broker's ledger. */
  privacyBudget: number;
  /** Smallest symmetric difference to an earlier released cohort. */
  differencingMin: number;
}

/** Where a party's privacy budget stands for (advertiser, media, epoch). */
export interface PrivacyStatus {
  epsilonCharged: number;
  epsilonSpent: number;
  epsilonRemaining: number;
  budget: number;
}

/** advertiser → broker */
export interface OpenSession {
  idType: IdType;
  seedCount: number;
  audienceSize: number;
  decoyRatio: number;
  minCohort: number;
  advertiserKey: Uint8Array;
  /** Fresh X25519 public key; media seals the cohort insight to it. */
  resultKey: Uint8Array;
  kind: SessionKind;
  /** Joint kinds: predicate JSON over media's attributes ('' for none); only media evaluates it. */
  mediaPredicate: string;
  /** joint-activate: the joint-count session this activation confirms ('' otherwise). */
  countSession: string;
}

/** broker → media */
export interface PrepareSession {
  idType: IdType;
  paddedCount: number;
  audienceSize: number;
  policy: Policy;
  resultKey: Uint8Array;
  /** The publication the broker holds; its BFV key decrypts the profile. */
  universeVersion: string;
  /** The advertiser's key id: media's own ledger and quotas count per advertiser. */
  advertiser: string;
  kind: SessionKind;
  /** Joint kinds: predicate JSON over media's attributes ('' for none). */
  mediaPredicate: string;
  /** lookup: the label publication the broker holds (label-publication.ts). */
  labelsVersion?: string;
}

/** media → broker: media accepts the session on this publication. */
export interface SessionReady {
  universeEpoch: string;
  universeVersion: string;
  universeSizeClass: string;
  /** COMPLETED: accepted; BUDGET_EXHAUSTED: media's own ledger refuses the session. */
  outcome: Outcome;
  reason: string;
}

/** broker → advertiser */
export interface SessionAccepted {
  policy: Policy;
  paddedCount: number;
  universeSizeClass: string;
  universeEpoch: string;
  privacy: PrivacyStatus | undefined;
}

export interface AttributeTotal {
  name: string;
  total: number;
  share: number;
  universeShare: number;
}

/** broker → media */
export interface CohortProfile {
  outcome: Outcome;
  profile: CiphertextBytes;
  audienceSize: number;
}

/** media → broker */
export interface LookalikeResult {
  outcome: Outcome;
  audienceId: string;
  audienceSize: number;
  quality: number;
  /** CohortInsight sealed to the advertiser's result key: opaque to the broker. */
  sealedInsight: Uint8Array;
}

/** The decrypted profile as the advertiser reads it (sealed in transit). */
export interface CohortInsight {
  cohortSize: number;
  totals: AttributeTotal[];
}

/** broker → advertiser: the session's outcome. */
export interface SessionResult {
  outcome: Outcome;
  reason: string;
  paddedCount: number;
  /** Noised; meaningful only when the outcome is COMPLETED. */
  realMatches: number;
  lookalike: LookalikeResult | undefined;
  privacy: PrivacyStatus | undefined;
}

/**
 * A protocol error. `code` names the gRPC status the rpc layer maps it to, so that a
 * misbehaving peer gets a precise status while the protocol code stays transport-free.
 */
export type ProtocolErrorCode =
  | 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'RESOURCE_EXHAUSTED' | 'NOT_FOUND'
  | 'PERMISSION_DENIED' | 'ALREADY_EXISTS' | 'DEADLINE_EXCEEDED' | 'UNAVAILABLE' | 'INTERNAL' | 'ABORTED';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

/** Throws FAILED_PRECONDITION unless `phase` is one of `allowed`: out-of-order calls fail loudly. */
export function expectPhase<P extends string>(role: string, phase: P, allowed: readonly P[], call: string): void {
  if (!allowed.includes(phase)) {
    throw new ProtocolError(
      'FAILED_PRECONDITION',
      `${role}: called ${call} in phase '${phase}', expected one of: ${allowed.join(', ')}`,
    );
  }
}

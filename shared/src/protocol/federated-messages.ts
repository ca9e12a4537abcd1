/**
 * Messages of the federated session kind (issue 14), as plain typed values: what the member
 * role (federated-member.ts, run by each advertiser node) and the aggregator role
 * (federated-aggregator.ts, run by the broker) consume and produce. They mirror
 * proto/cleanroom/v1/federated.proto one to one; the rpc layer adds the signed statements.
 *
 * Per training round r the members and the aggregator go through four steps (Bonawitz et al.
 * CCS 2017, §4): KEYS (AdvertiseKeys → KeyRoster), SHARES (ShareKeys → ShareDelivery), MASKED
 * (MaskedInput → Survivors), UNMASK (Unmasking → RoundResult). JOIN (JoinFederation →
 * FederationAccepted) opens the session once.
 */
import { canonicalBytes } from '../crypto/jcs.ts';
import { toBase64 } from '../crypto/dsse.ts';
import type { TrainingParams } from './fedavg.ts';

/** What a federated session agrees to; signed into every transcript at JOIN. */
export interface FederatedPolicy {
  /** Member names (advertiser identities) in index order: member i (1-based) is roster[i-1]. */
  roster: string[];
  /** Shamir threshold t: any t members (with the broker) can unmask; t − 1 learn nothing. */
  threshold: number;
  /** Declared number of training rounds (the session may stop earlier on convergence). */
  rounds: number;
  /** Stop when the round's training loss improves by less than this (0: never early). */
  convergenceTol: number;
  localEpochs: number;
  learningRate: number;
  l2: number;
  /** Fixed-point fractional bits of the update words (fedavg.ts). */
  fracBits: number;
  /** Words per update vector. */
  updateLength: number;
}

export interface ModelValue {
  weights: number[];
  bias: number;
}

/** member → broker, round JOIN. */
export interface JoinFederation {
  member: string;
  signingKey: Uint8Array;
}

/** broker → member, round JOIN. */
export interface FederationAccepted {
  policy: FederatedPolicy;
  memberIndex: number;
  model: ModelValue;
}

/** member → broker, round KEYS: fresh per training round, signed by the member's Ed25519 key. */
export interface AdvertiseKeys {
  round: number;
  memberIndex: number;
  /** X25519 key for the share encryption. */
  cPublic: Uint8Array;
  /** X25519 key for the pairwise masks. */
  sPublic: Uint8Array;
  /** Ed25519 over PAE(SECAGG_KEYS_TYPE, secaggKeysBody(...)). */
  signature: Uint8Array;
}

/** broker → member, round KEYS: every member's signed keys (U1). */
export interface KeyRoster {
  round: number;
  keys: AdvertiseKeys[];
}

export interface EncryptedShare {
  /** The other member (receiver in ShareKeys, sender in ShareDelivery). */
  peer: number;
  ciphertext: Uint8Array;
}

/** member → broker, round SHARES: one ciphertext per other member of U1. */
export interface ShareKeys {
  round: number;
  shares: EncryptedShare[];
}

/** broker → member, round SHARES: the ciphertexts addressed to this member (their senders are U2). */
export interface ShareDelivery {
  round: number;
  shares: EncryptedShare[];
}

/** member → broker, round MASKED: the masked update, 8·updateLength bytes (little-endian words). */
export interface MaskedInput {
  round: number;
  words: Uint8Array;
}

/** broker → member, round MASKED: the members whose masked inputs arrived (U3). */
export interface Survivors {
  round: number;
  survivors: number[];
}

export interface RevealedShare {
  /** Whose secret this is a share of. */
  of: number;
  share: Uint8Array;
}

/** member → broker, round UNMASK: shares of b for U3, shares of s_SK for U2 \ U3. */
export interface Unmasking {
  round: number;
  selfMaskShares: RevealedShare[];
  keyShares: RevealedShare[];
}

/** broker → member, round UNMASK: the new global model and the round's loss (from the sum only). */
export interface RoundResult {
  round: number;
  model: ModelValue;
  /** Mean training loss of the previous global model over all contributing rows. */
  loss: number;
  /** Rows that contributed (Σ n over U3). */
  rows: number;
  contributors: number;
  done: boolean;
  reason: string;
}

export const SECAGG_KEYS_TYPE = 'application/vnd.cleanroom.secagg-keys+json; version=1';

/** The bytes a member signs for its round keys: session, round, index and both keys. */
export function secaggKeysBody(sessionId: string, k: Omit<AdvertiseKeys, 'signature'>): Uint8Array {
  return canonicalBytes({
    v: 1, kind: 'secagg-keys', sessionId, round: k.round, memberIndex: k.memberIndex,
    cPublic: toBase64(k.cPublic), sPublic: toBase64(k.sPublic),
  });
}

export function policyOfTraining(p: FederatedPolicy): TrainingParams {
  return { localEpochs: p.localEpochs, learningRate: p.learningRate, l2: p.l2 };
}

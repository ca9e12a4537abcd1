/**
 * Federated-session messages ⇄ protobuf payloads (proto/cleanroom/v1/federated.proto).
 *
 * Every decode validates what it reads — integer ranges, byte lengths (X25519 keys 32 bytes,
 * Ed25519 signatures 64, Shamir shares 66), list sizes bounded by the 64-member maximum, finite
 * model weights — and throws ProtocolError('INVALID_ARGUMENT') naming the field.
 */
import { SHARE_BYTES } from '../crypto/shamir.ts';
import { MAX_MEMBERS, UPDATE_LENGTH } from '../protocol/fedavg.ts';
import type {
  AdvertiseKeys, EncryptedShare, FederatedPolicy, FederationAccepted, JoinFederation, KeyRoster, MaskedInput, ModelValue,
  RevealedShare, RoundResult, ShareDelivery, ShareKeys, Survivors, Unmasking,
} from '../protocol/federated-messages.ts';
import { bad, bytes, codec, num, real, str, type Obj } from './codec.ts';

const MAX_ROUND = 10_000;
/** Largest share ciphertext: nonce 24 + plaintext 134 + tag 16. */
const SHARE_CIPHERTEXT_BYTES = 24 + 2 + 2 * SHARE_BYTES + 16;

function list(type: string, o: Obj, field: string, max: number): Obj[] {
  const v = o[field];
  if (!Array.isArray(v) || v.length > max) bad(type, field, `expected a list of at most ${max}`);
  return v as Obj[];
}

function member(type: string, o: Obj, field: string): number {
  const v = num(type, o, field, MAX_MEMBERS);
  if (v < 1) bad(type, field, `expected a member index 1…${MAX_MEMBERS}, got 0`);
  return v;
}

function modelFromProto(type: string, o: unknown): ModelValue {
  if (typeof o !== 'object' || o === null) bad(type, 'model', 'missing');
  const m = o as Obj;
  const w = list(type, m, 'weights', 1024) as unknown as unknown[];
  return { weights: w.map((x, i) => real(type, { x }, 'x') ?? bad(type, `model.weights[${i}]`, 'expected a number')), bias: real(type, m, 'bias') };
}

function policyFromProto(o: unknown): FederatedPolicy {
  if (typeof o !== 'object' || o === null) bad('FederationAccepted', 'policy', 'missing');
  const p = o as Obj;
  const roster = list('FederatedPolicy', p, 'roster', MAX_MEMBERS) as unknown as unknown[];
  return {
    roster: roster.map((_, i) => str('FederatedPolicy', roster as unknown as Obj, String(i), 64)),
    threshold: num('FederatedPolicy', p, 'threshold', MAX_MEMBERS),
    rounds: num('FederatedPolicy', p, 'rounds', MAX_ROUND),
    convergenceTol: real('FederatedPolicy', p, 'convergenceTol'),
    localEpochs: num('FederatedPolicy', p, 'localEpochs', 1000),
    learningRate: real('FederatedPolicy', p, 'learningRate'),
    l2: real('FederatedPolicy', p, 'l2'),
    fracBits: num('FederatedPolicy', p, 'fracBits', 62),
    updateLength: num('FederatedPolicy', p, 'updateLength', 1 << 20),
  };
}

function keysFromProto(o: Obj): AdvertiseKeys {
  return {
    round: num('AdvertiseKeys', o, 'round', MAX_ROUND),
    memberIndex: member('AdvertiseKeys', o, 'memberIndex'),
    cPublic: bytes('AdvertiseKeys', o, 'cPublic', 32),
    sPublic: bytes('AdvertiseKeys', o, 'sPublic', 32),
    signature: bytes('AdvertiseKeys', o, 'signature', 64),
  };
}

function sharesFromProto(type: string, o: Obj): EncryptedShare[] {
  return list(type, o, 'shares', MAX_MEMBERS).map((s) => {
    const c = bytes(type, s, 'ciphertext');
    if (c.length !== SHARE_CIPHERTEXT_BYTES) bad(type, 'shares.ciphertext', `expected ${SHARE_CIPHERTEXT_BYTES} bytes, got ${c.length}`);
    return { peer: member(type, s, 'peer'), ciphertext: c };
  });
}

function revealedFromProto(type: string, o: Obj, field: string): RevealedShare[] {
  return list(type, o, field, MAX_MEMBERS).map((s) => ({ of: member(type, s, 'of'), share: bytes(type, s, 'share', SHARE_BYTES) }));
}

export const JoinFederationCodec = codec<JoinFederation>('cleanroom.v1.JoinFederation', (m) => m, (o) => ({
  member: str('JoinFederation', o, 'member', 64), signingKey: bytes('JoinFederation', o, 'signingKey', 32),
}));

export const FederationAcceptedCodec = codec<FederationAccepted>('cleanroom.v1.FederationAccepted', (m) => m, (o) => ({
  policy: policyFromProto(o.policy), memberIndex: member('FederationAccepted', o, 'memberIndex'), model: modelFromProto('FederationAccepted', o.model),
}));

export const AdvertiseKeysCodec = codec<AdvertiseKeys>('cleanroom.v1.AdvertiseKeys', (m) => m, keysFromProto);

export const KeyRosterCodec = codec<KeyRoster>('cleanroom.v1.KeyRoster', (m) => m, (o) => ({
  round: num('KeyRoster', o, 'round', MAX_ROUND), keys: list('KeyRoster', o, 'keys', MAX_MEMBERS).map(keysFromProto),
}));

export const ShareKeysCodec = codec<ShareKeys>('cleanroom.v1.ShareKeys', (m) => m, (o) => ({
  round: num('ShareKeys', o, 'round', MAX_ROUND), shares: sharesFromProto('ShareKeys', o),
}));

export const ShareDeliveryCodec = codec<ShareDelivery>('cleanroom.v1.ShareDelivery', (m) => m, (o) => ({
  round: num('ShareDelivery', o, 'round', MAX_ROUND), shares: sharesFromProto('ShareDelivery', o),
}));

export const MaskedInputCodec = codec<MaskedInput>('cleanroom.v1.MaskedInput', (m) => m, (o) => ({
  round: num('MaskedInput', o, 'round', MAX_ROUND), words: bytes('MaskedInput', o, 'words', 8 * UPDATE_LENGTH),
}));

export const SurvivorsCodec = codec<Survivors>('cleanroom.v1.Survivors', (m) => m, (o) => ({
  round: num('Survivors', o, 'round', MAX_ROUND),
  survivors: (list('Survivors', o, 'survivors', MAX_MEMBERS) as unknown as unknown[]).map((x) => member('Survivors', { x }, 'x')),
}));

export const UnmaskingCodec = codec<Unmasking>('cleanroom.v1.Unmasking', (m) => m, (o) => ({
  round: num('Unmasking', o, 'round', MAX_ROUND),
  selfMaskShares: revealedFromProto('Unmasking', o, 'selfMaskShares'),
  keyShares: revealedFromProto('Unmasking', o, 'keyShares'),
}));

export const RoundResultCodec = codec<RoundResult>('cleanroom.v1.RoundResult', (m) => ({ ...m, rows: String(m.rows) }), (o) => ({
  round: num('RoundResult', o, 'round', MAX_ROUND),
  model: modelFromProto('RoundResult', o.model),
  loss: real('RoundResult', o, 'loss'),
  rows: num('RoundResult', o, 'rows'),
  contributors: num('RoundResult', o, 'contributors', MAX_MEMBERS),
  done: o.done === true,
  reason: str('RoundResult', o, 'reason', 512),
}));

/**
 * The wire form of a federated session: one signed link per member.
 *
 * A federated session `S` with members 1…N runs over N links, each a two-party channel between
 * the broker and one member with its own statement session id `S-m<i>` (linkSessionId), its own
 * per-link sequence numbers and its own pair of transcripts (`<dir>/S-m<i>/{advertiser,broker}.jsonl`).
 * On link i the broker verifies statements against member i's Ed25519 key pinned in the
 * federation roster (memberChannelIdentity) — a member cannot speak on another member's link.
 *
 * Each step is one Broker call (FederatedJoin … FederatedUnmask) whose request and reply are fixed by the round (STEPS);
 * the broker answers when the step closes for all members.
 */
import { ProtocolError, type Party } from '../protocol/messages.ts';
import type { FederatedRound } from '../common/names.ts';
import type { FederatedMethod } from '../common/methods.ts';
import { keyFor, makeTrustBundle, type SigningKey, type TrustBundle } from '../crypto/dsse.ts';
import type { ChannelIdentity } from './channel.ts';
import type { Codec } from './codec.ts';
import {
  AdvertiseKeysCodec, FederationAcceptedCodec, JoinFederationCodec, KeyRosterCodec, MaskedInputCodec, RoundResultCodec,
  ShareDeliveryCodec, ShareKeysCodec, SurvivorsCodec, UnmaskingCodec,
} from './federated-codec.ts';

/** The Broker method, request and reply codec of each federated round (common/methods.ts). */
export const STEPS = {
  FED_JOIN: { method: 'FederatedJoin', request: JoinFederationCodec, reply: FederationAcceptedCodec },
  FED_KEYS: { method: 'FederatedKeys', request: AdvertiseKeysCodec, reply: KeyRosterCodec },
  FED_SHARES: { method: 'FederatedShares', request: ShareKeysCodec, reply: ShareDeliveryCodec },
  FED_MASKED: { method: 'FederatedMasked', request: MaskedInputCodec, reply: SurvivorsCodec },
  FED_UNMASK: { method: 'FederatedUnmask', request: UnmaskingCodec, reply: RoundResultCodec },
} as const satisfies Record<FederatedRound, { method: FederatedMethod; request: Codec<unknown>; reply: Codec<unknown> }>;

const LINK = /^([A-Za-z0-9-]{1,56})-m([1-9][0-9]?)$/;

export function linkSessionId(sessionId: string, index: number): string {
  const id = `${sessionId}-m${index}`;
  if (!LINK.test(id)) throw new ProtocolError('INVALID_ARGUMENT', `expected a session id of [A-Za-z0-9-]{1,56} and a member index 1…99, got ${sessionId} / ${index}`);
  return id;
}

export function parseLinkSessionId(id: string): { sessionId: string; index: number } | undefined {
  const m = LINK.exec(id);
  return m ? { sessionId: m[1]!, index: Number(m[2]) } : undefined;
}

/**
 * The session id a statement names, read only to route the envelope to its link; the link's
 * channel then verifies the signature under that member's pinned key before anything else
 * (and checks the session id again). Malformed → INVALID_ARGUMENT.
 */
export function peekSessionId(statement: Uint8Array): string {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(statement));
  } catch {
    throw new ProtocolError('INVALID_ARGUMENT', 'envelope rejected (malformed-statement): the statement is not JSON');
  }
  const id = (v as { sessionId?: unknown } | null)?.sessionId;
  if (typeof id !== 'string') throw new ProtocolError('INVALID_ARGUMENT', 'envelope rejected (malformed-statement): no sessionId');
  return id;
}

/** The broker's identity on member i's link: its own key; the advertiser side is member i's roster key. */
export function memberChannelIdentity(base: { key: SigningKey; peerKey(p: Party): Uint8Array }, memberKey: Uint8Array): ChannelIdentity {
  return { party: 'broker', key: base.key, peerKey: (p: Party) => (p === 'advertiser' ? memberKey : base.peerKey(p)) };
}

/**
 * The auditor's pinned keys for each link of a federated session: the trust bundle with the
 * advertiser replaced by the link's member, as the federation roster pins it. Sessions that are
 * not federated links get undefined (the bundle as it is).
 */
export function linkTrust(base: TrustBundle, roster: readonly { signingKey: Uint8Array }[]): (sessionId: string) => TrustBundle | undefined {
  return (sessionId) => {
    const where = parseLinkSessionId(sessionId);
    const member = where ? roster[where.index - 1] : undefined;
    if (!member) return undefined;
    return makeTrustBundle({ advertiser: member.signingKey, media: keyFor(base, 'media'), broker: keyFor(base, 'broker') });
  };
}

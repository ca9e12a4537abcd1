/**
 * The one definition of the RPC methods between the nodes: which party serves which service,
 * and for each method the round and payload types of its request and reply, the sender
 * (who may call it — the role table, docs/security.md) and the receiver (the serving party).
 *
 * The rpc layer derives its role table from this and checks at compile time that the
 * methods here are exactly the methods of proto/cleanroom/v1/services.proto (rpc/services.ts):
 * adding an rpc to the proto without an entry here, or the other way round, does not compile.
 * Adding a round: its name in names.ts, its methods here, the party methods.
 */
import { PARTIES, type Party, type Round } from './names.ts';

/** Which service each party serves (the proto service names). */
export const SERVICE_OF = { advertiser: 'Advertiser', media: 'Media', broker: 'Broker' } as const satisfies Record<Party, string>;
export type ServiceName = (typeof SERVICE_OF)[Party];

/** The party serving each service. */
export const PARTY_OF: Readonly<Record<ServiceName, Party>> = { Advertiser: 'advertiser', Media: 'media', Broker: 'broker' };

/** Payload message types, as statements name them ("cleanroom.v1.<name>"). */
export const PAYLOAD_NAMES = [
  'OpenSession', 'PrepareSession', 'SessionReady', 'SessionAccepted', 'BlindedBatch', 'TokenBatch', 'CiphertextBatch',
  'CohortProfile', 'LookalikeResult', 'SessionResult', 'Abort', 'Checkpoint', 'Ack',
  'UniverseRequest', 'UniverseManifest', 'UniverseTokens', 'InclusionProof', 'LabelBatch', 'UniverseLabels',
  // the application kinds (docs/protocol.md §7): media's per-position input of a joint kind or retargeting
  'IndicatorRequest',
  // federated sessions (proto/cleanroom/v1/federated.proto)
  'JoinFederation', 'FederationAccepted', 'AdvertiseKeys', 'KeyRoster', 'ShareKeys', 'ShareDelivery', 'MaskedInput', 'Survivors', 'Unmasking', 'RoundResult',
] as const;
export type PayloadName = (typeof PAYLOAD_NAMES)[number];
export type PayloadType = `cleanroom.v1.${PayloadName}`;

/** One direction of a method: the round its messages belong to and the payload types they may carry. */
export interface MessageSpec {
  readonly round: Round;
  readonly payloads: readonly PayloadName[];
}

export interface MethodSpec {
  /** The parties that may call it (the role table). */
  readonly callers: readonly Party[];
  readonly request: MessageSpec;
  readonly reply: MessageSpec;
  /**
   * A paged method (one call per page of a long request): the answer to every page but the
   * last; `reply` answers the last one.
   */
  readonly pageReply?: MessageSpec;
}

/** Abort: every node serves it to the peers it talks to in a session; Cosign: the peers serve it to the broker (which proposes checkpoints). */
const abort = (callers: readonly Party[]): MethodSpec => ({ callers, request: { round: 'ABORT', payloads: ['Abort'] }, reply: { round: 'ABORT', payloads: ['Abort'] } });
const cosign = (callers: readonly Party[]): MethodSpec => ({ callers, request: { round: 'CHECKPOINT', payloads: ['Checkpoint'] }, reply: { round: 'CHECKPOINT', payloads: ['Checkpoint'] } });

/** Every method of every service (the receiver is the service's party, PARTY_OF). */
export const METHODS = {
  Broker: {
    OpenSession: {
      callers: ['advertiser'],
      request: { round: 'OPEN', payloads: ['OpenSession'] },
      // a session refused at OPEN gets its SessionResult at once
      reply: { round: 'OPEN', payloads: ['SessionAccepted', 'SessionResult'] },
    },
    Blind: { callers: ['advertiser'], request: { round: 'BLIND', payloads: ['BlindedBatch'] }, reply: { round: 'BLIND', payloads: ['BlindedBatch'] } },
    SubmitTokens: { callers: ['advertiser'], request: { round: 'TOKENS', payloads: ['TokenBatch'] }, reply: { round: 'LOOKALIKE', payloads: ['SessionResult'] } },
    // lookup kind: A's tokens → one sealed label box per token (protocol/lookup.ts)
    Lookup: { callers: ['advertiser'], request: { round: 'TOKENS', payloads: ['TokenBatch'] }, reply: { round: 'LOOKUP', payloads: ['LabelBatch'] } },
    Abort: abort(['advertiser', 'media']),
    // Federated sessions: a member's step, answered when the step closes for all members.
    FederatedJoin: { callers: ['advertiser'], request: { round: 'FED_JOIN', payloads: ['JoinFederation'] }, reply: { round: 'FED_JOIN', payloads: ['FederationAccepted'] } },
    FederatedKeys: { callers: ['advertiser'], request: { round: 'FED_KEYS', payloads: ['AdvertiseKeys'] }, reply: { round: 'FED_KEYS', payloads: ['KeyRoster'] } },
    FederatedShares: { callers: ['advertiser'], request: { round: 'FED_SHARES', payloads: ['ShareKeys'] }, reply: { round: 'FED_SHARES', payloads: ['ShareDelivery'] } },
    FederatedMasked: { callers: ['advertiser'], request: { round: 'FED_MASKED', payloads: ['MaskedInput'] }, reply: { round: 'FED_MASKED', payloads: ['Survivors'] } },
    FederatedUnmask: { callers: ['advertiser'], request: { round: 'FED_UNMASK', payloads: ['Unmasking'] }, reply: { round: 'FED_UNMASK', payloads: ['RoundResult'] } },
  },
  Media: {
    PrepareSession: { callers: ['broker'], request: { round: 'OPEN', payloads: ['PrepareSession'] }, reply: { round: 'OPEN', payloads: ['SessionReady'] } },
    Evaluate: { callers: ['broker'], request: { round: 'BLIND', payloads: ['BlindedBatch'] }, reply: { round: 'BLIND', payloads: ['BlindedBatch'] } },
    BuildLookalike: { callers: ['broker'], request: { round: 'AGGREGATE', payloads: ['CohortProfile'] }, reply: { round: 'LOOKALIKE', payloads: ['LookalikeResult'] } },
    // joint-count: media's encrypted indicators; retargeting / joint-activate: one page of media's DH-PSI set
    Indicators: { callers: ['broker'], request: { round: 'AGGREGATE', payloads: ['IndicatorRequest'] }, reply: { round: 'AGGREGATE', payloads: ['CiphertextBatch', 'BlindedBatch'] } },
    // retargeting / joint-activate: the broker's DH-PSI pages, one per call (PSI_PAGE_ITEMS) — its
    // padded set, then each page of media's set under its scalar → an Ack per page, then the
    // audience handle and noised size for the last page
    Activate: {
      callers: ['broker'], request: { round: 'AGGREGATE', payloads: ['BlindedBatch'] },
      pageReply: { round: 'AGGREGATE', payloads: ['Ack'] }, reply: { round: 'LOOKALIKE', payloads: ['LookalikeResult'] },
    },
    SyncUniverse: {
      callers: ['broker'],
      request: { round: 'UNIVERSE', payloads: ['UniverseRequest'] },
      reply: { round: 'UNIVERSE', payloads: ['UniverseManifest', 'UniverseTokens', 'UniverseLabels', 'CiphertextBatch', 'Ack'] },
    },
    Abort: abort(['broker']),
    Cosign: cosign(['broker']),
  },
  Advertiser: {
    Abort: abort(['broker']),
    Cosign: cosign(['broker']),
  },
} as const satisfies { readonly [S in ServiceName]: Readonly<Record<string, MethodSpec>> };

/** The Broker methods of a federated session, one per round (rpc/federated-link.ts). */
export const FEDERATED_METHODS = ['FederatedJoin', 'FederatedKeys', 'FederatedShares', 'FederatedMasked', 'FederatedUnmask'] as const;
export type FederatedMethod = (typeof FEDERATED_METHODS)[number];

/** The methods of one service. */
export type MethodName<S extends ServiceName> = S extends ServiceName ? Extract<keyof (typeof METHODS)[S], string> : never;

/** The parties that call some method of `party`'s service, in PARTIES order. */
export function callersOfParty(party: Party): Party[] {
  const methods: readonly MethodSpec[] = Object.values(METHODS[SERVICE_OF[party]]);
  return PARTIES.filter((q) => methods.some((m) => m.callers.includes(q)));
}

/** The spec of `service.method`, or undefined for a name that is not one of its methods. */
export function methodSpec(service: ServiceName, method: string): MethodSpec | undefined {
  const methods: Readonly<Record<string, MethodSpec>> = METHODS[service];
  return Object.hasOwn(methods, method) ? methods[method] : undefined;
}

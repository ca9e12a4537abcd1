/**
 * Loads proto/cleanroom/v1 once (proto-loader, the same options as the generated types)
 * and exposes: the gRPC service definitions, typed from the generated types
 * (shared/src/rpc/generated, `make proto`), and exact-bytes codecs for payload messages.
 * It also checks, at compile time, that the method table (common/methods.ts) names exactly
 * the methods of each proto service, and that the proto's Party and Round enums name exactly
 * the parties and rounds of common/names.ts.
 *
 * Payloads are encoded separately from the gRPC envelope because their exact bytes are
 * what the sender's signed statement commits to (SHA-256 of the payload).
 */
import { loadSync, type MessageTypeDefinition, type Options } from '@grpc/proto-loader';
import { loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { ProtocolError } from '../protocol/messages.ts';
import type { MethodName, PayloadType, ServiceName } from '../common/methods.ts';
import type { ProtoGrpcType } from './generated/services.ts';
import type { AdvertiserDefinition } from './generated/cleanroom/v1/Advertiser.ts';
import type { BrokerDefinition } from './generated/cleanroom/v1/Broker.ts';
import type { MediaDefinition } from './generated/cleanroom/v1/Media.ts';
import type { Party__Output as ProtoParty } from './generated/cleanroom/v1/Party.ts';
import type { Round__Output as ProtoRound } from './generated/cleanroom/v1/Round.ts';
import type { Party, Round } from '../common/names.ts';

export type { PayloadType };

const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));

export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export const packageDefinition = loadSync(
  ['cleanroom/v1/envelope.proto', 'cleanroom/v1/session.proto', 'cleanroom/v1/services.proto', 'cleanroom/v1/federated.proto'],
  LOADER_OPTIONS,
);

export const grpcObject = loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType & GrpcObject;

/** The generated service definitions, by service. */
export interface ServiceDefinitions {
  Advertiser: AdvertiserDefinition;
  Broker: BrokerDefinition;
  Media: MediaDefinition;
}

const DEFINITIONS: ServiceDefinitions = {
  Advertiser: grpcObject.cleanroom.v1.Advertiser.service,
  Broker: grpcObject.cleanroom.v1.Broker.service,
  Media: grpcObject.cleanroom.v1.Media.service,
};

export function serviceDefinition<S extends ServiceName>(name: S): ServiceDefinitions[S] {
  return DEFINITIONS[name];
}

/** The methods the proto declares for a service (the generated definition without its index signature). */
type ProtoMethod<S extends ServiceName> = keyof { [K in keyof ServiceDefinitions[S] as string extends K ? never : number extends K ? never : K]: true };
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time: common/methods.ts names exactly the proto's methods of every service. */
const METHODS_MATCH_PROTO: { [S in ServiceName]: Same<MethodName<S>, ProtoMethod<S>> } = { Advertiser: true, Broker: true, Media: true };
void METHODS_MATCH_PROTO;
/** Compile-time: the proto's Party and Round enums name exactly the parties and rounds of common/names.ts. */
const NAMES_MATCH_PROTO: [Same<Uppercase<Party>, Exclude<ProtoParty, 'PARTY_UNSPECIFIED'>>, Same<Round, Exclude<ProtoRound, 'ROUND_UNSPECIFIED'>>] = [true, true];
void NAMES_MATCH_PROTO;

function messageType(name: PayloadType): MessageTypeDefinition<object, Record<string, unknown>> {
  const def = packageDefinition[name] as MessageTypeDefinition<object, Record<string, unknown>> | undefined;
  if (!def || def.format !== 'Protocol Buffer 3 DescriptorProto') throw new Error(`unknown payload type ${name}`);
  return def;
}

export function encodePayload(type: PayloadType, value: object): Uint8Array {
  return messageType(type).serialize(value);
}

/**
 * Has protobufjs generate each payload type's encoder and decoder now (it writes them as
 * JavaScript source and compiles them on a type's first use: ≈ 1–3 ms of CPU each, then V8's
 * optimising compiler on background threads), e.g. when a node starts rather than in the first
 * session's round that first carries the type. An empty message of each type is encoded and
 * decoded; nothing is kept.
 */
export function warmPayloadTypes(types: readonly PayloadType[]): void {
  for (const t of types) decodePayload(t, encodePayload(t, {}));
}

/** Decodes payload bytes; malformed bytes become INVALID_ARGUMENT, never a crash. */
export function decodePayload<T = Record<string, unknown>>(type: PayloadType, bytes: Uint8Array): T {
  try {
    return messageType(type).deserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as T;
  } catch (err) {
    throw new ProtocolError('INVALID_ARGUMENT', `malformed ${type} payload: ${(err as Error).message}`);
  }
}

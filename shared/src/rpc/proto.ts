/**
 * Loads proto/cleanroom/v1 once (proto-loader, the same options as the generated types)
 * and exposes: the gRPC service definitions, and exact-bytes codecs for payload messages.
 *
 * Payloads are encoded separately from the gRPC envelope because their exact bytes are
 * what the sender's signed statement commits to (SHA-256 of the payload).
 */
import { loadSync, type MessageTypeDefinition, type Options } from '@grpc/proto-loader';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { ProtocolError } from '../protocol/messages.ts';
import type { ProtoGrpcType } from './generated/services.ts';

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
  ['cleanroom/v1/envelope.proto', 'cleanroom/v1/session.proto', 'cleanroom/v1/services.proto'],
  LOADER_OPTIONS,
);

export const grpcObject = loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType & GrpcObject;

export function serviceDefinition(name: 'Broker' | 'Media' | 'Advertiser'): ServiceDefinition {
  return grpcObject.cleanroom.v1[name].service as unknown as ServiceDefinition;
}

/** Payload type names, as they appear in statements ("cleanroom.v1.BlindedBatch"). */
export type PayloadType =
  | 'cleanroom.v1.OpenSession' | 'cleanroom.v1.PrepareSession' | 'cleanroom.v1.SessionReady'
  | 'cleanroom.v1.SessionAccepted' | 'cleanroom.v1.BlindedBatch' | 'cleanroom.v1.TokenBatch'
  | 'cleanroom.v1.CiphertextBatch' | 'cleanroom.v1.CohortProfile' | 'cleanroom.v1.LookalikeResult'
  | 'cleanroom.v1.SessionResult' | 'cleanroom.v1.Abort' | 'cleanroom.v1.Checkpoint' | 'cleanroom.v1.Ack'
  | 'cleanroom.v1.UniverseRequest' | 'cleanroom.v1.UniverseManifest' | 'cleanroom.v1.UniverseTokens'
  | 'cleanroom.v1.InclusionProof' | 'cleanroom.v1.LabelBatch' | 'cleanroom.v1.UniverseLabels';

function messageType(name: PayloadType): MessageTypeDefinition<object, Record<string, unknown>> {
  const def = packageDefinition[name] as MessageTypeDefinition<object, Record<string, unknown>> | undefined;
  if (!def || def.format !== 'Protocol Buffer 3 DescriptorProto') throw new Error(`unknown payload type ${name}`);
  return def;
}

export function encodePayload(type: PayloadType, value: object): Uint8Array {
  return messageType(type).serialize(value);
}

/** Decodes payload bytes; malformed bytes become INVALID_ARGUMENT, never a crash. */
export function decodePayload<T = Record<string, unknown>>(type: PayloadType, bytes: Uint8Array): T {
  try {
    return messageType(type).deserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as T;
  } catch (err) {
    throw new ProtocolError('INVALID_ARGUMENT', `malformed ${type} payload: ${(err as Error).message}`);
  }
}

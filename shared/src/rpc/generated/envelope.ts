import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Envelope as _cleanroom_v1_Envelope, Envelope__Output as _cleanroom_v1_Envelope__Output } from './cleanroom/v1/Envelope.ts';
import type { Signature as _cleanroom_v1_Signature, Signature__Output as _cleanroom_v1_Signature__Output } from './cleanroom/v1/Signature.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  cleanroom: {
    v1: {
      Envelope: MessageTypeDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>
      Party: EnumTypeDefinition
      Round: EnumTypeDefinition
      Signature: MessageTypeDefinition<_cleanroom_v1_Signature, _cleanroom_v1_Signature__Output>
    }
  }
}


import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdvertiserClient as _cleanroom_v1_AdvertiserClient, AdvertiserDefinition as _cleanroom_v1_AdvertiserDefinition } from './cleanroom/v1/Advertiser.ts';
import type { BrokerClient as _cleanroom_v1_BrokerClient, BrokerDefinition as _cleanroom_v1_BrokerDefinition } from './cleanroom/v1/Broker.ts';
import type { Envelope as _cleanroom_v1_Envelope, Envelope__Output as _cleanroom_v1_Envelope__Output } from './cleanroom/v1/Envelope.ts';
import type { MediaClient as _cleanroom_v1_MediaClient, MediaDefinition as _cleanroom_v1_MediaDefinition } from './cleanroom/v1/Media.ts';
import type { Signature as _cleanroom_v1_Signature, Signature__Output as _cleanroom_v1_Signature__Output } from './cleanroom/v1/Signature.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  cleanroom: {
    v1: {
      Advertiser: SubtypeConstructor<typeof grpc.Client, _cleanroom_v1_AdvertiserClient> & { service: _cleanroom_v1_AdvertiserDefinition }
      Broker: SubtypeConstructor<typeof grpc.Client, _cleanroom_v1_BrokerClient> & { service: _cleanroom_v1_BrokerDefinition }
      Envelope: MessageTypeDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>
      Media: SubtypeConstructor<typeof grpc.Client, _cleanroom_v1_MediaClient> & { service: _cleanroom_v1_MediaDefinition }
      Party: EnumTypeDefinition
      Round: EnumTypeDefinition
      Signature: MessageTypeDefinition<_cleanroom_v1_Signature, _cleanroom_v1_Signature__Output>
    }
  }
}


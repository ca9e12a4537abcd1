import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdvertiseKeys as _cleanroom_v1_AdvertiseKeys, AdvertiseKeys__Output as _cleanroom_v1_AdvertiseKeys__Output } from './cleanroom/v1/AdvertiseKeys.ts';
import type { EncryptedShare as _cleanroom_v1_EncryptedShare, EncryptedShare__Output as _cleanroom_v1_EncryptedShare__Output } from './cleanroom/v1/EncryptedShare.ts';
import type { FederatedPolicy as _cleanroom_v1_FederatedPolicy, FederatedPolicy__Output as _cleanroom_v1_FederatedPolicy__Output } from './cleanroom/v1/FederatedPolicy.ts';
import type { FederationAccepted as _cleanroom_v1_FederationAccepted, FederationAccepted__Output as _cleanroom_v1_FederationAccepted__Output } from './cleanroom/v1/FederationAccepted.ts';
import type { JoinFederation as _cleanroom_v1_JoinFederation, JoinFederation__Output as _cleanroom_v1_JoinFederation__Output } from './cleanroom/v1/JoinFederation.ts';
import type { KeyRoster as _cleanroom_v1_KeyRoster, KeyRoster__Output as _cleanroom_v1_KeyRoster__Output } from './cleanroom/v1/KeyRoster.ts';
import type { MaskedInput as _cleanroom_v1_MaskedInput, MaskedInput__Output as _cleanroom_v1_MaskedInput__Output } from './cleanroom/v1/MaskedInput.ts';
import type { ModelValue as _cleanroom_v1_ModelValue, ModelValue__Output as _cleanroom_v1_ModelValue__Output } from './cleanroom/v1/ModelValue.ts';
import type { RevealedShare as _cleanroom_v1_RevealedShare, RevealedShare__Output as _cleanroom_v1_RevealedShare__Output } from './cleanroom/v1/RevealedShare.ts';
import type { RoundResult as _cleanroom_v1_RoundResult, RoundResult__Output as _cleanroom_v1_RoundResult__Output } from './cleanroom/v1/RoundResult.ts';
import type { ShareDelivery as _cleanroom_v1_ShareDelivery, ShareDelivery__Output as _cleanroom_v1_ShareDelivery__Output } from './cleanroom/v1/ShareDelivery.ts';
import type { ShareKeys as _cleanroom_v1_ShareKeys, ShareKeys__Output as _cleanroom_v1_ShareKeys__Output } from './cleanroom/v1/ShareKeys.ts';
import type { Survivors as _cleanroom_v1_Survivors, Survivors__Output as _cleanroom_v1_Survivors__Output } from './cleanroom/v1/Survivors.ts';
import type { Unmasking as _cleanroom_v1_Unmasking, Unmasking__Output as _cleanroom_v1_Unmasking__Output } from './cleanroom/v1/Unmasking.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  cleanroom: {
    v1: {
      AdvertiseKeys: MessageTypeDefinition<_cleanroom_v1_AdvertiseKeys, _cleanroom_v1_AdvertiseKeys__Output>
      EncryptedShare: MessageTypeDefinition<_cleanroom_v1_EncryptedShare, _cleanroom_v1_EncryptedShare__Output>
      FederatedPolicy: MessageTypeDefinition<_cleanroom_v1_FederatedPolicy, _cleanroom_v1_FederatedPolicy__Output>
      FederationAccepted: MessageTypeDefinition<_cleanroom_v1_FederationAccepted, _cleanroom_v1_FederationAccepted__Output>
      JoinFederation: MessageTypeDefinition<_cleanroom_v1_JoinFederation, _cleanroom_v1_JoinFederation__Output>
      KeyRoster: MessageTypeDefinition<_cleanroom_v1_KeyRoster, _cleanroom_v1_KeyRoster__Output>
      MaskedInput: MessageTypeDefinition<_cleanroom_v1_MaskedInput, _cleanroom_v1_MaskedInput__Output>
      ModelValue: MessageTypeDefinition<_cleanroom_v1_ModelValue, _cleanroom_v1_ModelValue__Output>
      RevealedShare: MessageTypeDefinition<_cleanroom_v1_RevealedShare, _cleanroom_v1_RevealedShare__Output>
      RoundResult: MessageTypeDefinition<_cleanroom_v1_RoundResult, _cleanroom_v1_RoundResult__Output>
      ShareDelivery: MessageTypeDefinition<_cleanroom_v1_ShareDelivery, _cleanroom_v1_ShareDelivery__Output>
      ShareKeys: MessageTypeDefinition<_cleanroom_v1_ShareKeys, _cleanroom_v1_ShareKeys__Output>
      Survivors: MessageTypeDefinition<_cleanroom_v1_Survivors, _cleanroom_v1_Survivors__Output>
      Unmasking: MessageTypeDefinition<_cleanroom_v1_Unmasking, _cleanroom_v1_Unmasking__Output>
    }
  }
}


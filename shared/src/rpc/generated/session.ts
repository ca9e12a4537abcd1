import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Abort as _cleanroom_v1_Abort, Abort__Output as _cleanroom_v1_Abort__Output } from './cleanroom/v1/Abort.ts';
import type { Ack as _cleanroom_v1_Ack, Ack__Output as _cleanroom_v1_Ack__Output } from './cleanroom/v1/Ack.ts';
import type { AttributeTotal as _cleanroom_v1_AttributeTotal, AttributeTotal__Output as _cleanroom_v1_AttributeTotal__Output } from './cleanroom/v1/AttributeTotal.ts';
import type { BlindedBatch as _cleanroom_v1_BlindedBatch, BlindedBatch__Output as _cleanroom_v1_BlindedBatch__Output } from './cleanroom/v1/BlindedBatch.ts';
import type { Checkpoint as _cleanroom_v1_Checkpoint, Checkpoint__Output as _cleanroom_v1_Checkpoint__Output } from './cleanroom/v1/Checkpoint.ts';
import type { CiphertextBatch as _cleanroom_v1_CiphertextBatch, CiphertextBatch__Output as _cleanroom_v1_CiphertextBatch__Output } from './cleanroom/v1/CiphertextBatch.ts';
import type { CohortProfile as _cleanroom_v1_CohortProfile, CohortProfile__Output as _cleanroom_v1_CohortProfile__Output } from './cleanroom/v1/CohortProfile.ts';
import type { Envelope as _cleanroom_v1_Envelope, Envelope__Output as _cleanroom_v1_Envelope__Output } from './cleanroom/v1/Envelope.ts';
import type { IdTypeCount as _cleanroom_v1_IdTypeCount, IdTypeCount__Output as _cleanroom_v1_IdTypeCount__Output } from './cleanroom/v1/IdTypeCount.ts';
import type { InclusionProof as _cleanroom_v1_InclusionProof, InclusionProof__Output as _cleanroom_v1_InclusionProof__Output } from './cleanroom/v1/InclusionProof.ts';
import type { IndicatorRequest as _cleanroom_v1_IndicatorRequest, IndicatorRequest__Output as _cleanroom_v1_IndicatorRequest__Output } from './cleanroom/v1/IndicatorRequest.ts';
import type { LabelBatch as _cleanroom_v1_LabelBatch, LabelBatch__Output as _cleanroom_v1_LabelBatch__Output } from './cleanroom/v1/LabelBatch.ts';
import type { LookalikeResult as _cleanroom_v1_LookalikeResult, LookalikeResult__Output as _cleanroom_v1_LookalikeResult__Output } from './cleanroom/v1/LookalikeResult.ts';
import type { OpenSession as _cleanroom_v1_OpenSession, OpenSession__Output as _cleanroom_v1_OpenSession__Output } from './cleanroom/v1/OpenSession.ts';
import type { Policy as _cleanroom_v1_Policy, Policy__Output as _cleanroom_v1_Policy__Output } from './cleanroom/v1/Policy.ts';
import type { PrepareSession as _cleanroom_v1_PrepareSession, PrepareSession__Output as _cleanroom_v1_PrepareSession__Output } from './cleanroom/v1/PrepareSession.ts';
import type { PrivacyStatus as _cleanroom_v1_PrivacyStatus, PrivacyStatus__Output as _cleanroom_v1_PrivacyStatus__Output } from './cleanroom/v1/PrivacyStatus.ts';
import type { SessionAccepted as _cleanroom_v1_SessionAccepted, SessionAccepted__Output as _cleanroom_v1_SessionAccepted__Output } from './cleanroom/v1/SessionAccepted.ts';
import type { SessionReady as _cleanroom_v1_SessionReady, SessionReady__Output as _cleanroom_v1_SessionReady__Output } from './cleanroom/v1/SessionReady.ts';
import type { SessionResult as _cleanroom_v1_SessionResult, SessionResult__Output as _cleanroom_v1_SessionResult__Output } from './cleanroom/v1/SessionResult.ts';
import type { Signature as _cleanroom_v1_Signature, Signature__Output as _cleanroom_v1_Signature__Output } from './cleanroom/v1/Signature.ts';
import type { TokenBatch as _cleanroom_v1_TokenBatch, TokenBatch__Output as _cleanroom_v1_TokenBatch__Output } from './cleanroom/v1/TokenBatch.ts';
import type { UniverseLabels as _cleanroom_v1_UniverseLabels, UniverseLabels__Output as _cleanroom_v1_UniverseLabels__Output } from './cleanroom/v1/UniverseLabels.ts';
import type { UniverseManifest as _cleanroom_v1_UniverseManifest, UniverseManifest__Output as _cleanroom_v1_UniverseManifest__Output } from './cleanroom/v1/UniverseManifest.ts';
import type { UniverseRequest as _cleanroom_v1_UniverseRequest, UniverseRequest__Output as _cleanroom_v1_UniverseRequest__Output } from './cleanroom/v1/UniverseRequest.ts';
import type { UniverseTokens as _cleanroom_v1_UniverseTokens, UniverseTokens__Output as _cleanroom_v1_UniverseTokens__Output } from './cleanroom/v1/UniverseTokens.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  cleanroom: {
    v1: {
      Abort: MessageTypeDefinition<_cleanroom_v1_Abort, _cleanroom_v1_Abort__Output>
      Ack: MessageTypeDefinition<_cleanroom_v1_Ack, _cleanroom_v1_Ack__Output>
      AttributeTotal: MessageTypeDefinition<_cleanroom_v1_AttributeTotal, _cleanroom_v1_AttributeTotal__Output>
      BlindedBatch: MessageTypeDefinition<_cleanroom_v1_BlindedBatch, _cleanroom_v1_BlindedBatch__Output>
      Checkpoint: MessageTypeDefinition<_cleanroom_v1_Checkpoint, _cleanroom_v1_Checkpoint__Output>
      CiphertextBatch: MessageTypeDefinition<_cleanroom_v1_CiphertextBatch, _cleanroom_v1_CiphertextBatch__Output>
      CohortProfile: MessageTypeDefinition<_cleanroom_v1_CohortProfile, _cleanroom_v1_CohortProfile__Output>
      Envelope: MessageTypeDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>
      IdType: EnumTypeDefinition
      IdTypeCount: MessageTypeDefinition<_cleanroom_v1_IdTypeCount, _cleanroom_v1_IdTypeCount__Output>
      InclusionProof: MessageTypeDefinition<_cleanroom_v1_InclusionProof, _cleanroom_v1_InclusionProof__Output>
      IndicatorRequest: MessageTypeDefinition<_cleanroom_v1_IndicatorRequest, _cleanroom_v1_IndicatorRequest__Output>
      LabelBatch: MessageTypeDefinition<_cleanroom_v1_LabelBatch, _cleanroom_v1_LabelBatch__Output>
      LookalikeResult: MessageTypeDefinition<_cleanroom_v1_LookalikeResult, _cleanroom_v1_LookalikeResult__Output>
      OpenSession: MessageTypeDefinition<_cleanroom_v1_OpenSession, _cleanroom_v1_OpenSession__Output>
      Outcome: EnumTypeDefinition
      Party: EnumTypeDefinition
      Policy: MessageTypeDefinition<_cleanroom_v1_Policy, _cleanroom_v1_Policy__Output>
      PrepareSession: MessageTypeDefinition<_cleanroom_v1_PrepareSession, _cleanroom_v1_PrepareSession__Output>
      PrivacyStatus: MessageTypeDefinition<_cleanroom_v1_PrivacyStatus, _cleanroom_v1_PrivacyStatus__Output>
      Round: EnumTypeDefinition
      SessionAccepted: MessageTypeDefinition<_cleanroom_v1_SessionAccepted, _cleanroom_v1_SessionAccepted__Output>
      SessionReady: MessageTypeDefinition<_cleanroom_v1_SessionReady, _cleanroom_v1_SessionReady__Output>
      SessionResult: MessageTypeDefinition<_cleanroom_v1_SessionResult, _cleanroom_v1_SessionResult__Output>
      Signature: MessageTypeDefinition<_cleanroom_v1_Signature, _cleanroom_v1_Signature__Output>
      TokenBatch: MessageTypeDefinition<_cleanroom_v1_TokenBatch, _cleanroom_v1_TokenBatch__Output>
      UniverseLabels: MessageTypeDefinition<_cleanroom_v1_UniverseLabels, _cleanroom_v1_UniverseLabels__Output>
      UniverseManifest: MessageTypeDefinition<_cleanroom_v1_UniverseManifest, _cleanroom_v1_UniverseManifest__Output>
      UniversePart: EnumTypeDefinition
      UniverseRequest: MessageTypeDefinition<_cleanroom_v1_UniverseRequest, _cleanroom_v1_UniverseRequest__Output>
      UniverseTokens: MessageTypeDefinition<_cleanroom_v1_UniverseTokens, _cleanroom_v1_UniverseTokens__Output>
    }
  }
}


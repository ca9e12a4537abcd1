// Original file: /work/main/proto/cleanroom/v1/envelope.proto

import type { Round as _cleanroom_v1_Round, Round__Output as _cleanroom_v1_Round__Output } from '../../cleanroom/v1/Round.ts';
import type { Party as _cleanroom_v1_Party, Party__Output as _cleanroom_v1_Party__Output } from '../../cleanroom/v1/Party.ts';
import type { Long } from '@grpc/proto-loader';

export interface Header {
  'sessionId'?: (string);
  'round'?: (_cleanroom_v1_Round);
  'sender'?: (_cleanroom_v1_Party);
  'receiver'?: (_cleanroom_v1_Party);
  'seq'?: (number | string | Long);
  'chunk'?: (number);
  'chunks'?: (number);
}

export interface Header__Output {
  'sessionId': (string);
  'round': (_cleanroom_v1_Round__Output);
  'sender': (_cleanroom_v1_Party__Output);
  'receiver': (_cleanroom_v1_Party__Output);
  'seq': (string);
  'chunk': (number);
  'chunks': (number);
}

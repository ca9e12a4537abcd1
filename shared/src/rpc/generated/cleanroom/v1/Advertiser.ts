// Original file: proto/cleanroom/v1/services.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Envelope as _cleanroom_v1_Envelope, Envelope__Output as _cleanroom_v1_Envelope__Output } from '../../cleanroom/v1/Envelope.ts';

export interface AdvertiserClient extends grpc.Client {
  Abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  Cosign(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Cosign(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Cosign(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Cosign(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  cosign(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  cosign(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  cosign(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  cosign(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
}

export interface AdvertiserHandlers extends grpc.UntypedServiceImplementation {
  Abort: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  Cosign: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
}

export interface AdvertiserDefinition extends grpc.ServiceDefinition {
  Abort: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  Cosign: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
}

// Original file: proto/cleanroom/v1/services.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Envelope as _cleanroom_v1_Envelope, Envelope__Output as _cleanroom_v1_Envelope__Output } from '../../cleanroom/v1/Envelope.ts';

export interface MediaClient extends grpc.Client {
  Abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  Activate(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  Activate(metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  Activate(options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  Activate(callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  activate(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  activate(metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  activate(options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  activate(callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  
  BuildLookalike(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  BuildLookalike(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  BuildLookalike(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  BuildLookalike(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  buildLookalike(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  buildLookalike(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  buildLookalike(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  buildLookalike(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  Cosign(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Cosign(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Cosign(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Cosign(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  cosign(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  cosign(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  cosign(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  cosign(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  Evaluate(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  Evaluate(options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  evaluate(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  evaluate(options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  
  Indicators(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_cleanroom_v1_Envelope__Output>;
  Indicators(argument: _cleanroom_v1_Envelope, options?: grpc.CallOptions): grpc.ClientReadableStream<_cleanroom_v1_Envelope__Output>;
  indicators(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_cleanroom_v1_Envelope__Output>;
  indicators(argument: _cleanroom_v1_Envelope, options?: grpc.CallOptions): grpc.ClientReadableStream<_cleanroom_v1_Envelope__Output>;
  
  PrepareSession(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  PrepareSession(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  PrepareSession(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  PrepareSession(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  prepareSession(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  prepareSession(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  prepareSession(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  prepareSession(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  SyncUniverse(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_cleanroom_v1_Envelope__Output>;
  SyncUniverse(argument: _cleanroom_v1_Envelope, options?: grpc.CallOptions): grpc.ClientReadableStream<_cleanroom_v1_Envelope__Output>;
  syncUniverse(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_cleanroom_v1_Envelope__Output>;
  syncUniverse(argument: _cleanroom_v1_Envelope, options?: grpc.CallOptions): grpc.ClientReadableStream<_cleanroom_v1_Envelope__Output>;
  
}

export interface MediaHandlers extends grpc.UntypedServiceImplementation {
  Abort: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  Activate: grpc.handleClientStreamingCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  BuildLookalike: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  Cosign: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  Evaluate: grpc.handleBidiStreamingCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  Indicators: grpc.handleServerStreamingCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  PrepareSession: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  SyncUniverse: grpc.handleServerStreamingCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
}

export interface MediaDefinition extends grpc.ServiceDefinition {
  Abort: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  Activate: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  BuildLookalike: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  Cosign: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  Evaluate: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  Indicators: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  PrepareSession: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  SyncUniverse: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
}

// Original file: proto/cleanroom/v1/services.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Envelope as _cleanroom_v1_Envelope, Envelope__Output as _cleanroom_v1_Envelope__Output } from '../../cleanroom/v1/Envelope.ts';

export interface BrokerClient extends grpc.Client {
  Abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  Abort(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  abort(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  Blind(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  Blind(options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  blind(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  blind(options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  
  FederatedJoin(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedJoin(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedJoin(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedJoin(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedJoin(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedJoin(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedJoin(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedJoin(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  FederatedKeys(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedKeys(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedKeys(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedKeys(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedKeys(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedKeys(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedKeys(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedKeys(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  FederatedMasked(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedMasked(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedMasked(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedMasked(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedMasked(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedMasked(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedMasked(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedMasked(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  FederatedShares(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedShares(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedShares(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedShares(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedShares(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedShares(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedShares(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedShares(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  FederatedUnmask(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedUnmask(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedUnmask(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  FederatedUnmask(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedUnmask(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedUnmask(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedUnmask(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  federatedUnmask(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  Lookup(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  Lookup(options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  lookup(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  lookup(options?: grpc.CallOptions): grpc.ClientDuplexStream<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output>;
  
  OpenSession(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  openSession(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  openSession(argument: _cleanroom_v1_Envelope, metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  openSession(argument: _cleanroom_v1_Envelope, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  openSession(argument: _cleanroom_v1_Envelope, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientUnaryCall;
  
  SubmitTokens(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  SubmitTokens(metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  SubmitTokens(options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  SubmitTokens(callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  submitTokens(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  submitTokens(metadata: grpc.Metadata, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  submitTokens(options: grpc.CallOptions, callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  submitTokens(callback: grpc.requestCallback<_cleanroom_v1_Envelope__Output>): grpc.ClientWritableStream<_cleanroom_v1_Envelope>;
  
}

export interface BrokerHandlers extends grpc.UntypedServiceImplementation {
  Abort: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  Blind: grpc.handleBidiStreamingCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  FederatedJoin: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  FederatedKeys: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  FederatedMasked: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  FederatedShares: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  FederatedUnmask: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  Lookup: grpc.handleBidiStreamingCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  OpenSession: grpc.handleUnaryCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
  SubmitTokens: grpc.handleClientStreamingCall<_cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope>;
  
}

export interface BrokerDefinition extends grpc.ServiceDefinition {
  Abort: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  Blind: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  FederatedJoin: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  FederatedKeys: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  FederatedMasked: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  FederatedShares: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  FederatedUnmask: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  Lookup: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  OpenSession: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
  SubmitTokens: MethodDefinition<_cleanroom_v1_Envelope, _cleanroom_v1_Envelope, _cleanroom_v1_Envelope__Output, _cleanroom_v1_Envelope__Output>
}

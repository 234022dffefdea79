// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ConverseRequest as _avatarbridge_v1_ConverseRequest, ConverseRequest__Output as _avatarbridge_v1_ConverseRequest__Output } from '../../avatarbridge/v1/ConverseRequest.js';
import type { ConverseResponse as _avatarbridge_v1_ConverseResponse, ConverseResponse__Output as _avatarbridge_v1_ConverseResponse__Output } from '../../avatarbridge/v1/ConverseResponse.js';
import type { ListSessionsRequest as _avatarbridge_v1_ListSessionsRequest, ListSessionsRequest__Output as _avatarbridge_v1_ListSessionsRequest__Output } from '../../avatarbridge/v1/ListSessionsRequest.js';
import type { ListSessionsResponse as _avatarbridge_v1_ListSessionsResponse, ListSessionsResponse__Output as _avatarbridge_v1_ListSessionsResponse__Output } from '../../avatarbridge/v1/ListSessionsResponse.js';
import type { StopSessionRequest as _avatarbridge_v1_StopSessionRequest, StopSessionRequest__Output as _avatarbridge_v1_StopSessionRequest__Output } from '../../avatarbridge/v1/StopSessionRequest.js';
import type { StopSessionResponse as _avatarbridge_v1_StopSessionResponse, StopSessionResponse__Output as _avatarbridge_v1_StopSessionResponse__Output } from '../../avatarbridge/v1/StopSessionResponse.js';

export interface AvatarBridgeServiceClient extends grpc.Client {
  Converse(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_avatarbridge_v1_ConverseRequest, _avatarbridge_v1_ConverseResponse__Output>;
  Converse(options?: grpc.CallOptions): grpc.ClientDuplexStream<_avatarbridge_v1_ConverseRequest, _avatarbridge_v1_ConverseResponse__Output>;
  converse(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_avatarbridge_v1_ConverseRequest, _avatarbridge_v1_ConverseResponse__Output>;
  converse(options?: grpc.CallOptions): grpc.ClientDuplexStream<_avatarbridge_v1_ConverseRequest, _avatarbridge_v1_ConverseResponse__Output>;
  
  ListSessions(argument: _avatarbridge_v1_ListSessionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_avatarbridge_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  ListSessions(argument: _avatarbridge_v1_ListSessionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_avatarbridge_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  ListSessions(argument: _avatarbridge_v1_ListSessionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_avatarbridge_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  ListSessions(argument: _avatarbridge_v1_ListSessionsRequest, callback: grpc.requestCallback<_avatarbridge_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  listSessions(argument: _avatarbridge_v1_ListSessionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_avatarbridge_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  listSessions(argument: _avatarbridge_v1_ListSessionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_avatarbridge_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  listSessions(argument: _avatarbridge_v1_ListSessionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_avatarbridge_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  listSessions(argument: _avatarbridge_v1_ListSessionsRequest, callback: grpc.requestCallback<_avatarbridge_v1_ListSessionsResponse__Output>): grpc.ClientUnaryCall;
  
  StopSession(argument: _avatarbridge_v1_StopSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_avatarbridge_v1_StopSessionResponse__Output>): grpc.ClientUnaryCall;
  StopSession(argument: _avatarbridge_v1_StopSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_avatarbridge_v1_StopSessionResponse__Output>): grpc.ClientUnaryCall;
  StopSession(argument: _avatarbridge_v1_StopSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_avatarbridge_v1_StopSessionResponse__Output>): grpc.ClientUnaryCall;
  StopSession(argument: _avatarbridge_v1_StopSessionRequest, callback: grpc.requestCallback<_avatarbridge_v1_StopSessionResponse__Output>): grpc.ClientUnaryCall;
  stopSession(argument: _avatarbridge_v1_StopSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_avatarbridge_v1_StopSessionResponse__Output>): grpc.ClientUnaryCall;
  stopSession(argument: _avatarbridge_v1_StopSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_avatarbridge_v1_StopSessionResponse__Output>): grpc.ClientUnaryCall;
  stopSession(argument: _avatarbridge_v1_StopSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_avatarbridge_v1_StopSessionResponse__Output>): grpc.ClientUnaryCall;
  stopSession(argument: _avatarbridge_v1_StopSessionRequest, callback: grpc.requestCallback<_avatarbridge_v1_StopSessionResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AvatarBridgeServiceHandlers extends grpc.UntypedServiceImplementation {
  Converse: grpc.handleBidiStreamingCall<_avatarbridge_v1_ConverseRequest__Output, _avatarbridge_v1_ConverseResponse>;
  
  ListSessions: grpc.handleUnaryCall<_avatarbridge_v1_ListSessionsRequest__Output, _avatarbridge_v1_ListSessionsResponse>;
  
  StopSession: grpc.handleUnaryCall<_avatarbridge_v1_StopSessionRequest__Output, _avatarbridge_v1_StopSessionResponse>;
  
}

export interface AvatarBridgeServiceDefinition extends grpc.ServiceDefinition {
  Converse: MethodDefinition<_avatarbridge_v1_ConverseRequest, _avatarbridge_v1_ConverseResponse, _avatarbridge_v1_ConverseRequest__Output, _avatarbridge_v1_ConverseResponse__Output>
  ListSessions: MethodDefinition<_avatarbridge_v1_ListSessionsRequest, _avatarbridge_v1_ListSessionsResponse, _avatarbridge_v1_ListSessionsRequest__Output, _avatarbridge_v1_ListSessionsResponse__Output>
  StopSession: MethodDefinition<_avatarbridge_v1_StopSessionRequest, _avatarbridge_v1_StopSessionResponse, _avatarbridge_v1_StopSessionRequest__Output, _avatarbridge_v1_StopSessionResponse__Output>
}

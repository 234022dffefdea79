import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AttachSession as _avatarbridge_v1_AttachSession, AttachSession__Output as _avatarbridge_v1_AttachSession__Output } from './avatarbridge/v1/AttachSession.js';
import type { AudioBufferUpdated as _avatarbridge_v1_AudioBufferUpdated, AudioBufferUpdated__Output as _avatarbridge_v1_AudioBufferUpdated__Output } from './avatarbridge/v1/AudioBufferUpdated.js';
import type { AudioChunk as _avatarbridge_v1_AudioChunk, AudioChunk__Output as _avatarbridge_v1_AudioChunk__Output } from './avatarbridge/v1/AudioChunk.js';
import type { AudioDropped as _avatarbridge_v1_AudioDropped, AudioDropped__Output as _avatarbridge_v1_AudioDropped__Output } from './avatarbridge/v1/AudioDropped.js';
import type { AudioFormat as _avatarbridge_v1_AudioFormat, AudioFormat__Output as _avatarbridge_v1_AudioFormat__Output } from './avatarbridge/v1/AudioFormat.js';
import type { AvatarBridgeServiceClient as _avatarbridge_v1_AvatarBridgeServiceClient, AvatarBridgeServiceDefinition as _avatarbridge_v1_AvatarBridgeServiceDefinition } from './avatarbridge/v1/AvatarBridgeService.js';
import type { AvatarPersona as _avatarbridge_v1_AvatarPersona, AvatarPersona__Output as _avatarbridge_v1_AvatarPersona__Output } from './avatarbridge/v1/AvatarPersona.js';
import type { AvatarSpeakEnded as _avatarbridge_v1_AvatarSpeakEnded, AvatarSpeakEnded__Output as _avatarbridge_v1_AvatarSpeakEnded__Output } from './avatarbridge/v1/AvatarSpeakEnded.js';
import type { AvatarSpeakInterrupted as _avatarbridge_v1_AvatarSpeakInterrupted, AvatarSpeakInterrupted__Output as _avatarbridge_v1_AvatarSpeakInterrupted__Output } from './avatarbridge/v1/AvatarSpeakInterrupted.js';
import type { AvatarSpeakStarted as _avatarbridge_v1_AvatarSpeakStarted, AvatarSpeakStarted__Output as _avatarbridge_v1_AvatarSpeakStarted__Output } from './avatarbridge/v1/AvatarSpeakStarted.js';
import type { AvatarStateChanged as _avatarbridge_v1_AvatarStateChanged, AvatarStateChanged__Output as _avatarbridge_v1_AvatarStateChanged__Output } from './avatarbridge/v1/AvatarStateChanged.js';
import type { BridgeOptions as _avatarbridge_v1_BridgeOptions, BridgeOptions__Output as _avatarbridge_v1_BridgeOptions__Output } from './avatarbridge/v1/BridgeOptions.js';
import type { ConverseRequest as _avatarbridge_v1_ConverseRequest, ConverseRequest__Output as _avatarbridge_v1_ConverseRequest__Output } from './avatarbridge/v1/ConverseRequest.js';
import type { ConverseResponse as _avatarbridge_v1_ConverseResponse, ConverseResponse__Output as _avatarbridge_v1_ConverseResponse__Output } from './avatarbridge/v1/ConverseResponse.js';
import type { Error as _avatarbridge_v1_Error, Error__Output as _avatarbridge_v1_Error__Output } from './avatarbridge/v1/Error.js';
import type { FullAttachment as _avatarbridge_v1_FullAttachment, FullAttachment__Output as _avatarbridge_v1_FullAttachment__Output } from './avatarbridge/v1/FullAttachment.js';
import type { FullSession as _avatarbridge_v1_FullSession, FullSession__Output as _avatarbridge_v1_FullSession__Output } from './avatarbridge/v1/FullSession.js';
import type { Interrupt as _avatarbridge_v1_Interrupt, Interrupt__Output as _avatarbridge_v1_Interrupt__Output } from './avatarbridge/v1/Interrupt.js';
import type { KeepAlive as _avatarbridge_v1_KeepAlive, KeepAlive__Output as _avatarbridge_v1_KeepAlive__Output } from './avatarbridge/v1/KeepAlive.js';
import type { ListSessionsRequest as _avatarbridge_v1_ListSessionsRequest, ListSessionsRequest__Output as _avatarbridge_v1_ListSessionsRequest__Output } from './avatarbridge/v1/ListSessionsRequest.js';
import type { ListSessionsResponse as _avatarbridge_v1_ListSessionsResponse, ListSessionsResponse__Output as _avatarbridge_v1_ListSessionsResponse__Output } from './avatarbridge/v1/ListSessionsResponse.js';
import type { LiteAttachment as _avatarbridge_v1_LiteAttachment, LiteAttachment__Output as _avatarbridge_v1_LiteAttachment__Output } from './avatarbridge/v1/LiteAttachment.js';
import type { LiteSession as _avatarbridge_v1_LiteSession, LiteSession__Output as _avatarbridge_v1_LiteSession__Output } from './avatarbridge/v1/LiteSession.js';
import type { LiveKitRoom as _avatarbridge_v1_LiveKitRoom, LiveKitRoom__Output as _avatarbridge_v1_LiveKitRoom__Output } from './avatarbridge/v1/LiveKitRoom.js';
import type { NewSession as _avatarbridge_v1_NewSession, NewSession__Output as _avatarbridge_v1_NewSession__Output } from './avatarbridge/v1/NewSession.js';
import type { PushToTalkResult as _avatarbridge_v1_PushToTalkResult, PushToTalkResult__Output as _avatarbridge_v1_PushToTalkResult__Output } from './avatarbridge/v1/PushToTalkResult.js';
import type { PushToTalkStart as _avatarbridge_v1_PushToTalkStart, PushToTalkStart__Output as _avatarbridge_v1_PushToTalkStart__Output } from './avatarbridge/v1/PushToTalkStart.js';
import type { PushToTalkStop as _avatarbridge_v1_PushToTalkStop, PushToTalkStop__Output as _avatarbridge_v1_PushToTalkStop__Output } from './avatarbridge/v1/PushToTalkStop.js';
import type { SessionConfig as _avatarbridge_v1_SessionConfig, SessionConfig__Output as _avatarbridge_v1_SessionConfig__Output } from './avatarbridge/v1/SessionConfig.js';
import type { SessionInfo as _avatarbridge_v1_SessionInfo, SessionInfo__Output as _avatarbridge_v1_SessionInfo__Output } from './avatarbridge/v1/SessionInfo.js';
import type { SessionMemory as _avatarbridge_v1_SessionMemory, SessionMemory__Output as _avatarbridge_v1_SessionMemory__Output } from './avatarbridge/v1/SessionMemory.js';
import type { SessionStarted as _avatarbridge_v1_SessionStarted, SessionStarted__Output as _avatarbridge_v1_SessionStarted__Output } from './avatarbridge/v1/SessionStarted.js';
import type { SessionStateChanged as _avatarbridge_v1_SessionStateChanged, SessionStateChanged__Output as _avatarbridge_v1_SessionStateChanged__Output } from './avatarbridge/v1/SessionStateChanged.js';
import type { SessionStopped as _avatarbridge_v1_SessionStopped, SessionStopped__Output as _avatarbridge_v1_SessionStopped__Output } from './avatarbridge/v1/SessionStopped.js';
import type { SpeakEnd as _avatarbridge_v1_SpeakEnd, SpeakEnd__Output as _avatarbridge_v1_SpeakEnd__Output } from './avatarbridge/v1/SpeakEnd.js';
import type { SpeakResponse as _avatarbridge_v1_SpeakResponse, SpeakResponse__Output as _avatarbridge_v1_SpeakResponse__Output } from './avatarbridge/v1/SpeakResponse.js';
import type { SpeakText as _avatarbridge_v1_SpeakText, SpeakText__Output as _avatarbridge_v1_SpeakText__Output } from './avatarbridge/v1/SpeakText.js';
import type { StartListening as _avatarbridge_v1_StartListening, StartListening__Output as _avatarbridge_v1_StartListening__Output } from './avatarbridge/v1/StartListening.js';
import type { StopListening as _avatarbridge_v1_StopListening, StopListening__Output as _avatarbridge_v1_StopListening__Output } from './avatarbridge/v1/StopListening.js';
import type { StopSessionRequest as _avatarbridge_v1_StopSessionRequest, StopSessionRequest__Output as _avatarbridge_v1_StopSessionRequest__Output } from './avatarbridge/v1/StopSessionRequest.js';
import type { StopSessionResponse as _avatarbridge_v1_StopSessionResponse, StopSessionResponse__Output as _avatarbridge_v1_StopSessionResponse__Output } from './avatarbridge/v1/StopSessionResponse.js';
import type { Transcription as _avatarbridge_v1_Transcription, Transcription__Output as _avatarbridge_v1_Transcription__Output } from './avatarbridge/v1/Transcription.js';
import type { UpstreamEvent as _avatarbridge_v1_UpstreamEvent, UpstreamEvent__Output as _avatarbridge_v1_UpstreamEvent__Output } from './avatarbridge/v1/UpstreamEvent.js';
import type { UserSpeakEnded as _avatarbridge_v1_UserSpeakEnded, UserSpeakEnded__Output as _avatarbridge_v1_UserSpeakEnded__Output } from './avatarbridge/v1/UserSpeakEnded.js';
import type { UserSpeakStarted as _avatarbridge_v1_UserSpeakStarted, UserSpeakStarted__Output as _avatarbridge_v1_UserSpeakStarted__Output } from './avatarbridge/v1/UserSpeakStarted.js';
import type { VideoSettings as _avatarbridge_v1_VideoSettings, VideoSettings__Output as _avatarbridge_v1_VideoSettings__Output } from './avatarbridge/v1/VideoSettings.js';
import type { Warning as _avatarbridge_v1_Warning, Warning__Output as _avatarbridge_v1_Warning__Output } from './avatarbridge/v1/Warning.js';
import type { ListValue as _google_protobuf_ListValue, ListValue__Output as _google_protobuf_ListValue__Output } from './google/protobuf/ListValue.js';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from './google/protobuf/Struct.js';
import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from './google/protobuf/Value.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  avatarbridge: {
    v1: {
      AttachSession: MessageTypeDefinition<_avatarbridge_v1_AttachSession, _avatarbridge_v1_AttachSession__Output>
      AudioBufferAction: EnumTypeDefinition
      AudioBufferUpdated: MessageTypeDefinition<_avatarbridge_v1_AudioBufferUpdated, _avatarbridge_v1_AudioBufferUpdated__Output>
      AudioChunk: MessageTypeDefinition<_avatarbridge_v1_AudioChunk, _avatarbridge_v1_AudioChunk__Output>
      AudioDropped: MessageTypeDefinition<_avatarbridge_v1_AudioDropped, _avatarbridge_v1_AudioDropped__Output>
      AudioEncoding: EnumTypeDefinition
      AudioFormat: MessageTypeDefinition<_avatarbridge_v1_AudioFormat, _avatarbridge_v1_AudioFormat__Output>
      AvatarBridgeService: SubtypeConstructor<typeof grpc.Client, _avatarbridge_v1_AvatarBridgeServiceClient> & { service: _avatarbridge_v1_AvatarBridgeServiceDefinition }
      AvatarPersona: MessageTypeDefinition<_avatarbridge_v1_AvatarPersona, _avatarbridge_v1_AvatarPersona__Output>
      AvatarSpeakEnded: MessageTypeDefinition<_avatarbridge_v1_AvatarSpeakEnded, _avatarbridge_v1_AvatarSpeakEnded__Output>
      AvatarSpeakInterrupted: MessageTypeDefinition<_avatarbridge_v1_AvatarSpeakInterrupted, _avatarbridge_v1_AvatarSpeakInterrupted__Output>
      AvatarSpeakStarted: MessageTypeDefinition<_avatarbridge_v1_AvatarSpeakStarted, _avatarbridge_v1_AvatarSpeakStarted__Output>
      AvatarState: EnumTypeDefinition
      AvatarStateChanged: MessageTypeDefinition<_avatarbridge_v1_AvatarStateChanged, _avatarbridge_v1_AvatarStateChanged__Output>
      BridgeOptions: MessageTypeDefinition<_avatarbridge_v1_BridgeOptions, _avatarbridge_v1_BridgeOptions__Output>
      ConverseRequest: MessageTypeDefinition<_avatarbridge_v1_ConverseRequest, _avatarbridge_v1_ConverseRequest__Output>
      ConverseResponse: MessageTypeDefinition<_avatarbridge_v1_ConverseResponse, _avatarbridge_v1_ConverseResponse__Output>
      DropReason: EnumTypeDefinition
      Error: MessageTypeDefinition<_avatarbridge_v1_Error, _avatarbridge_v1_Error__Output>
      ErrorSource: EnumTypeDefinition
      FullAttachment: MessageTypeDefinition<_avatarbridge_v1_FullAttachment, _avatarbridge_v1_FullAttachment__Output>
      FullSession: MessageTypeDefinition<_avatarbridge_v1_FullSession, _avatarbridge_v1_FullSession__Output>
      InteractivityType: EnumTypeDefinition
      Interrupt: MessageTypeDefinition<_avatarbridge_v1_Interrupt, _avatarbridge_v1_Interrupt__Output>
      KeepAlive: MessageTypeDefinition<_avatarbridge_v1_KeepAlive, _avatarbridge_v1_KeepAlive__Output>
      ListSessionsRequest: MessageTypeDefinition<_avatarbridge_v1_ListSessionsRequest, _avatarbridge_v1_ListSessionsRequest__Output>
      ListSessionsResponse: MessageTypeDefinition<_avatarbridge_v1_ListSessionsResponse, _avatarbridge_v1_ListSessionsResponse__Output>
      LiteAttachment: MessageTypeDefinition<_avatarbridge_v1_LiteAttachment, _avatarbridge_v1_LiteAttachment__Output>
      LiteSession: MessageTypeDefinition<_avatarbridge_v1_LiteSession, _avatarbridge_v1_LiteSession__Output>
      LiveKitRoom: MessageTypeDefinition<_avatarbridge_v1_LiveKitRoom, _avatarbridge_v1_LiveKitRoom__Output>
      Mode: EnumTypeDefinition
      NewSession: MessageTypeDefinition<_avatarbridge_v1_NewSession, _avatarbridge_v1_NewSession__Output>
      Participation: EnumTypeDefinition
      PushToTalkOutcome: EnumTypeDefinition
      PushToTalkResult: MessageTypeDefinition<_avatarbridge_v1_PushToTalkResult, _avatarbridge_v1_PushToTalkResult__Output>
      PushToTalkStart: MessageTypeDefinition<_avatarbridge_v1_PushToTalkStart, _avatarbridge_v1_PushToTalkStart__Output>
      PushToTalkStop: MessageTypeDefinition<_avatarbridge_v1_PushToTalkStop, _avatarbridge_v1_PushToTalkStop__Output>
      SessionConfig: MessageTypeDefinition<_avatarbridge_v1_SessionConfig, _avatarbridge_v1_SessionConfig__Output>
      SessionInfo: MessageTypeDefinition<_avatarbridge_v1_SessionInfo, _avatarbridge_v1_SessionInfo__Output>
      SessionMemory: MessageTypeDefinition<_avatarbridge_v1_SessionMemory, _avatarbridge_v1_SessionMemory__Output>
      SessionStarted: MessageTypeDefinition<_avatarbridge_v1_SessionStarted, _avatarbridge_v1_SessionStarted__Output>
      SessionState: EnumTypeDefinition
      SessionStateChanged: MessageTypeDefinition<_avatarbridge_v1_SessionStateChanged, _avatarbridge_v1_SessionStateChanged__Output>
      SessionStopped: MessageTypeDefinition<_avatarbridge_v1_SessionStopped, _avatarbridge_v1_SessionStopped__Output>
      SpeakEnd: MessageTypeDefinition<_avatarbridge_v1_SpeakEnd, _avatarbridge_v1_SpeakEnd__Output>
      SpeakResponse: MessageTypeDefinition<_avatarbridge_v1_SpeakResponse, _avatarbridge_v1_SpeakResponse__Output>
      SpeakText: MessageTypeDefinition<_avatarbridge_v1_SpeakText, _avatarbridge_v1_SpeakText__Output>
      Speaker: EnumTypeDefinition
      StartListening: MessageTypeDefinition<_avatarbridge_v1_StartListening, _avatarbridge_v1_StartListening__Output>
      StopListening: MessageTypeDefinition<_avatarbridge_v1_StopListening, _avatarbridge_v1_StopListening__Output>
      StopReason: EnumTypeDefinition
      StopSessionRequest: MessageTypeDefinition<_avatarbridge_v1_StopSessionRequest, _avatarbridge_v1_StopSessionRequest__Output>
      StopSessionResponse: MessageTypeDefinition<_avatarbridge_v1_StopSessionResponse, _avatarbridge_v1_StopSessionResponse__Output>
      Transcription: MessageTypeDefinition<_avatarbridge_v1_Transcription, _avatarbridge_v1_Transcription__Output>
      UpstreamEvent: MessageTypeDefinition<_avatarbridge_v1_UpstreamEvent, _avatarbridge_v1_UpstreamEvent__Output>
      UserSpeakEnded: MessageTypeDefinition<_avatarbridge_v1_UserSpeakEnded, _avatarbridge_v1_UserSpeakEnded__Output>
      UserSpeakStarted: MessageTypeDefinition<_avatarbridge_v1_UserSpeakStarted, _avatarbridge_v1_UserSpeakStarted__Output>
      VideoEncoding: EnumTypeDefinition
      VideoQuality: EnumTypeDefinition
      VideoSettings: MessageTypeDefinition<_avatarbridge_v1_VideoSettings, _avatarbridge_v1_VideoSettings__Output>
      Warning: MessageTypeDefinition<_avatarbridge_v1_Warning, _avatarbridge_v1_Warning__Output>
    }
  }
  google: {
    protobuf: {
      ListValue: MessageTypeDefinition<_google_protobuf_ListValue, _google_protobuf_ListValue__Output>
      NullValue: EnumTypeDefinition
      Struct: MessageTypeDefinition<_google_protobuf_Struct, _google_protobuf_Struct__Output>
      Value: MessageTypeDefinition<_google_protobuf_Value, _google_protobuf_Value__Output>
    }
  }
}


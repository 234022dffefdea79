// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { VideoSettings as _avatarbridge_v1_VideoSettings, VideoSettings__Output as _avatarbridge_v1_VideoSettings__Output } from '../../avatarbridge/v1/VideoSettings.js';
import type { LiteSession as _avatarbridge_v1_LiteSession, LiteSession__Output as _avatarbridge_v1_LiteSession__Output } from '../../avatarbridge/v1/LiteSession.js';
import type { FullSession as _avatarbridge_v1_FullSession, FullSession__Output as _avatarbridge_v1_FullSession__Output } from '../../avatarbridge/v1/FullSession.js';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct.js';

export interface NewSession {
  'avatar_id'?: (string);
  'is_sandbox'?: (boolean);
  'video_settings'?: (_avatarbridge_v1_VideoSettings | null);
  'max_session_duration_seconds'?: (number);
  'lite'?: (_avatarbridge_v1_LiteSession | null);
  'full'?: (_avatarbridge_v1_FullSession | null);
  'extra_token_fields'?: (_google_protobuf_Struct | null);
  'mode'?: "lite"|"full";
}

export interface NewSession__Output {
  'avatar_id': (string);
  'is_sandbox': (boolean);
  'video_settings': (_avatarbridge_v1_VideoSettings__Output | null);
  'max_session_duration_seconds': (number);
  'lite'?: (_avatarbridge_v1_LiteSession__Output | null);
  'full'?: (_avatarbridge_v1_FullSession__Output | null);
  'extra_token_fields': (_google_protobuf_Struct__Output | null);
  'mode'?: "lite"|"full";
}

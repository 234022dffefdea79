// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct.js';

export interface AvatarPersona {
  'voice_id'?: (string);
  'context_id'?: (string);
  'language'?: (string);
  'voice_settings'?: (_google_protobuf_Struct | null);
  'stt_provider'?: (string);
}

export interface AvatarPersona__Output {
  'voice_id': (string);
  'context_id': (string);
  'language': (string);
  'voice_settings': (_google_protobuf_Struct__Output | null);
  'stt_provider': (string);
}

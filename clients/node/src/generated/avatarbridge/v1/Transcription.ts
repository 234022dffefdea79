// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { Speaker as _avatarbridge_v1_Speaker, Speaker__Output as _avatarbridge_v1_Speaker__Output } from '../../avatarbridge/v1/Speaker.js';

export interface Transcription {
  'speaker'?: (_avatarbridge_v1_Speaker);
  'text'?: (string);
  'is_final'?: (boolean);
}

export interface Transcription__Output {
  'speaker': (_avatarbridge_v1_Speaker__Output);
  'text': (string);
  'is_final': (boolean);
}

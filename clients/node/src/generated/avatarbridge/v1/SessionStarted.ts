// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { Mode as _avatarbridge_v1_Mode, Mode__Output as _avatarbridge_v1_Mode__Output } from '../../avatarbridge/v1/Mode.js';

export interface SessionStarted {
  'session_id'?: (string);
  'mode'?: (_avatarbridge_v1_Mode);
  'livekit_url'?: (string);
  'livekit_client_token'?: (string);
  'max_session_duration_seconds'?: (number);
  'attached'?: (boolean);
}

export interface SessionStarted__Output {
  'session_id': (string);
  'mode': (_avatarbridge_v1_Mode__Output);
  'livekit_url': (string);
  'livekit_client_token': (string);
  'max_session_duration_seconds': (number);
  'attached': (boolean);
}

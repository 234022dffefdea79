// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { Mode as _avatarbridge_v1_Mode, Mode__Output as _avatarbridge_v1_Mode__Output } from '../../avatarbridge/v1/Mode.js';

export interface SessionInfo {
  'session_id'?: (string);
  'mode'?: (_avatarbridge_v1_Mode);
  'is_sandbox'?: (boolean);
  'create_time'?: (string);
  'duration_seconds'?: (number);
  'credits_consumed'?: (number | string);
  'has_conversation'?: (boolean);
}

export interface SessionInfo__Output {
  'session_id': (string);
  'mode': (_avatarbridge_v1_Mode__Output);
  'is_sandbox': (boolean);
  'create_time': (string);
  'duration_seconds': (number);
  'credits_consumed': (number);
  'has_conversation': (boolean);
}

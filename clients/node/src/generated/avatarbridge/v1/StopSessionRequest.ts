// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { StopReason as _avatarbridge_v1_StopReason, StopReason__Output as _avatarbridge_v1_StopReason__Output } from '../../avatarbridge/v1/StopReason.js';

export interface StopSessionRequest {
  'session_id'?: (string);
  'reason'?: (_avatarbridge_v1_StopReason);
}

export interface StopSessionRequest__Output {
  'session_id': (string);
  'reason': (_avatarbridge_v1_StopReason__Output);
}

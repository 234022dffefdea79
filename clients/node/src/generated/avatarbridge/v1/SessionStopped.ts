// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { StopReason as _avatarbridge_v1_StopReason, StopReason__Output as _avatarbridge_v1_StopReason__Output } from '../../avatarbridge/v1/StopReason.js';

export interface SessionStopped {
  'reason'?: (_avatarbridge_v1_StopReason);
  'detail'?: (string);
  'upstream_reason'?: (string);
}

export interface SessionStopped__Output {
  'reason': (_avatarbridge_v1_StopReason__Output);
  'detail': (string);
  'upstream_reason': (string);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { SessionState as _avatarbridge_v1_SessionState, SessionState__Output as _avatarbridge_v1_SessionState__Output } from '../../avatarbridge/v1/SessionState.js';

export interface SessionStateChanged {
  'state'?: (_avatarbridge_v1_SessionState);
}

export interface SessionStateChanged__Output {
  'state': (_avatarbridge_v1_SessionState__Output);
}

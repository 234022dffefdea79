// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { AvatarState as _avatarbridge_v1_AvatarState, AvatarState__Output as _avatarbridge_v1_AvatarState__Output } from '../../avatarbridge/v1/AvatarState.js';

export interface AvatarStateChanged {
  'previous_state'?: (_avatarbridge_v1_AvatarState);
  'state'?: (_avatarbridge_v1_AvatarState);
}

export interface AvatarStateChanged__Output {
  'previous_state': (_avatarbridge_v1_AvatarState__Output);
  'state': (_avatarbridge_v1_AvatarState__Output);
}

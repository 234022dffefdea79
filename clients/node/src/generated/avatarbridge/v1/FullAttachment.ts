// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { Participation as _avatarbridge_v1_Participation, Participation__Output as _avatarbridge_v1_Participation__Output } from '../../avatarbridge/v1/Participation.js';

export interface FullAttachment {
  'livekit_url'?: (string);
  'livekit_token'?: (string);
  'participation'?: (_avatarbridge_v1_Participation);
}

export interface FullAttachment__Output {
  'livekit_url': (string);
  'livekit_token': (string);
  'participation': (_avatarbridge_v1_Participation__Output);
}

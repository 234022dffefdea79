// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { LiveKitRoom as _avatarbridge_v1_LiveKitRoom, LiveKitRoom__Output as _avatarbridge_v1_LiveKitRoom__Output } from '../../avatarbridge/v1/LiveKitRoom.js';

export interface LiteSession {
  'livekit_room'?: (_avatarbridge_v1_LiveKitRoom | null);
}

export interface LiteSession__Output {
  'livekit_room': (_avatarbridge_v1_LiveKitRoom__Output | null);
}

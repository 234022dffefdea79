// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { PushToTalkOutcome as _avatarbridge_v1_PushToTalkOutcome, PushToTalkOutcome__Output as _avatarbridge_v1_PushToTalkOutcome__Output } from '../../avatarbridge/v1/PushToTalkOutcome.js';

export interface PushToTalkResult {
  'outcome'?: (_avatarbridge_v1_PushToTalkOutcome);
  'message'?: (string);
}

export interface PushToTalkResult__Output {
  'outcome': (_avatarbridge_v1_PushToTalkOutcome__Output);
  'message': (string);
}

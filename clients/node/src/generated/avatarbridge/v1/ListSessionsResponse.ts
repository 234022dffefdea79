// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { SessionInfo as _avatarbridge_v1_SessionInfo, SessionInfo__Output as _avatarbridge_v1_SessionInfo__Output } from '../../avatarbridge/v1/SessionInfo.js';

export interface ListSessionsResponse {
  'sessions'?: (_avatarbridge_v1_SessionInfo)[];
  'next_page_token'?: (string);
}

export interface ListSessionsResponse__Output {
  'sessions': (_avatarbridge_v1_SessionInfo__Output)[];
  'next_page_token': (string);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface StopSessionResponse {
  'session_id'?: (string);
  'had_conversation'?: (boolean);
}

export interface StopSessionResponse__Output {
  'session_id': (string);
  'had_conversation': (boolean);
}

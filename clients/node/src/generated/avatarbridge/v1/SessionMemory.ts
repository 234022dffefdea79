// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface SessionMemory {
  'prev_session_id'?: (string);
  'session_memory_id'?: (string);
}

export interface SessionMemory__Output {
  'prev_session_id': (string);
  'session_memory_id': (string);
}

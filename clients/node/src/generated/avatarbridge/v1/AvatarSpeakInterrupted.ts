// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface AvatarSpeakInterrupted {
  'utterance_id'?: (string);
}

export interface AvatarSpeakInterrupted__Output {
  'utterance_id': (string);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface AvatarSpeakEnded {
  'utterance_id'?: (string);
}

export interface AvatarSpeakEnded__Output {
  'utterance_id': (string);
}

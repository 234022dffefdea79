// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface AvatarSpeakStarted {
  'utterance_id'?: (string);
}

export interface AvatarSpeakStarted__Output {
  'utterance_id': (string);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface SpeakText {
  'text'?: (string);
}

export interface SpeakText__Output {
  'text': (string);
}

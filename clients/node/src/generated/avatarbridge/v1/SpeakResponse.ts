// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface SpeakResponse {
  'text'?: (string);
}

export interface SpeakResponse__Output {
  'text': (string);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface LiveKitRoom {
  'url'?: (string);
  'room'?: (string);
  'token'?: (string);
}

export interface LiveKitRoom__Output {
  'url': (string);
  'room': (string);
  'token': (string);
}

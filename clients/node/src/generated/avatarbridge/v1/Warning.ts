// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface Warning {
  'code'?: (string);
  'message'?: (string);
}

export interface Warning__Output {
  'code': (string);
  'message': (string);
}

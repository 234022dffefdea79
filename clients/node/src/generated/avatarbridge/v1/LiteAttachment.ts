// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface LiteAttachment {
  'ws_url'?: (string);
}

export interface LiteAttachment__Output {
  'ws_url': (string);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface ListSessionsRequest {
  'page_size'?: (number);
  'page_token'?: (string);
}

export interface ListSessionsRequest__Output {
  'page_size': (number);
  'page_token': (string);
}

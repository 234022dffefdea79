// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface AudioChunk {
  'data'?: (Buffer | Uint8Array | string);
}

export interface AudioChunk__Output {
  'data': (Buffer);
}

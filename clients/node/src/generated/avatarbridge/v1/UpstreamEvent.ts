// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct.js';

export interface UpstreamEvent {
  'type'?: (string);
  'payload'?: (_google_protobuf_Struct | null);
}

export interface UpstreamEvent__Output {
  'type': (string);
  'payload': (_google_protobuf_Struct__Output | null);
}

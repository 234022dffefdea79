// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { ErrorSource as _avatarbridge_v1_ErrorSource, ErrorSource__Output as _avatarbridge_v1_ErrorSource__Output } from '../../avatarbridge/v1/ErrorSource.js';

export interface Error {
  'code'?: (string);
  'message'?: (string);
  'source'?: (_avatarbridge_v1_ErrorSource);
}

export interface Error__Output {
  'code': (string);
  'message': (string);
  'source': (_avatarbridge_v1_ErrorSource__Output);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { DropReason as _avatarbridge_v1_DropReason, DropReason__Output as _avatarbridge_v1_DropReason__Output } from '../../avatarbridge/v1/DropReason.js';
import type { Long } from '@grpc/proto-loader';

export interface AudioDropped {
  'utterance_id'?: (string);
  'input_byte_count'?: (number | string | Long);
  'duration_ms'?: (number | string | Long);
  'reason'?: (_avatarbridge_v1_DropReason);
}

export interface AudioDropped__Output {
  'utterance_id': (string);
  'input_byte_count': (number);
  'duration_ms': (number);
  'reason': (_avatarbridge_v1_DropReason__Output);
}

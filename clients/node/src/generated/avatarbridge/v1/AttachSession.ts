// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { LiteAttachment as _avatarbridge_v1_LiteAttachment, LiteAttachment__Output as _avatarbridge_v1_LiteAttachment__Output } from '../../avatarbridge/v1/LiteAttachment.js';
import type { FullAttachment as _avatarbridge_v1_FullAttachment, FullAttachment__Output as _avatarbridge_v1_FullAttachment__Output } from '../../avatarbridge/v1/FullAttachment.js';

export interface AttachSession {
  'session_id'?: (string);
  'lite'?: (_avatarbridge_v1_LiteAttachment | null);
  'full'?: (_avatarbridge_v1_FullAttachment | null);
  'stop_on_end'?: (boolean);
  'target'?: "lite"|"full";
}

export interface AttachSession__Output {
  'session_id': (string);
  'lite'?: (_avatarbridge_v1_LiteAttachment__Output | null);
  'full'?: (_avatarbridge_v1_FullAttachment__Output | null);
  'stop_on_end': (boolean);
  'target'?: "lite"|"full";
}

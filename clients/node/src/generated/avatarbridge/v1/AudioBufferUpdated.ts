// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { AudioBufferAction as _avatarbridge_v1_AudioBufferAction, AudioBufferAction__Output as _avatarbridge_v1_AudioBufferAction__Output } from '../../avatarbridge/v1/AudioBufferAction.js';

export interface AudioBufferUpdated {
  'action'?: (_avatarbridge_v1_AudioBufferAction);
  'utterance_id'?: (string);
}

export interface AudioBufferUpdated__Output {
  'action': (_avatarbridge_v1_AudioBufferAction__Output);
  'utterance_id': (string);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { AudioEncoding as _avatarbridge_v1_AudioEncoding, AudioEncoding__Output as _avatarbridge_v1_AudioEncoding__Output } from '../../avatarbridge/v1/AudioEncoding.js';

export interface AudioFormat {
  'encoding'?: (_avatarbridge_v1_AudioEncoding);
  'sample_rate_hertz'?: (number);
  'channel_count'?: (number);
}

export interface AudioFormat__Output {
  'encoding': (_avatarbridge_v1_AudioEncoding__Output);
  'sample_rate_hertz': (number);
  'channel_count': (number);
}

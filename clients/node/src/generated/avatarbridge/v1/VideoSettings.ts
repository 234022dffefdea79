// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { VideoQuality as _avatarbridge_v1_VideoQuality, VideoQuality__Output as _avatarbridge_v1_VideoQuality__Output } from '../../avatarbridge/v1/VideoQuality.js';
import type { VideoEncoding as _avatarbridge_v1_VideoEncoding, VideoEncoding__Output as _avatarbridge_v1_VideoEncoding__Output } from '../../avatarbridge/v1/VideoEncoding.js';

export interface VideoSettings {
  'quality'?: (_avatarbridge_v1_VideoQuality);
  'encoding'?: (_avatarbridge_v1_VideoEncoding);
}

export interface VideoSettings__Output {
  'quality': (_avatarbridge_v1_VideoQuality__Output);
  'encoding': (_avatarbridge_v1_VideoEncoding__Output);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const VideoQuality = {
  VIDEO_QUALITY_UNSPECIFIED: 'VIDEO_QUALITY_UNSPECIFIED',
  VIDEO_QUALITY_LOW: 'VIDEO_QUALITY_LOW',
  VIDEO_QUALITY_MEDIUM: 'VIDEO_QUALITY_MEDIUM',
  VIDEO_QUALITY_HIGH: 'VIDEO_QUALITY_HIGH',
  VIDEO_QUALITY_VERY_HIGH: 'VIDEO_QUALITY_VERY_HIGH',
} as const;

export type VideoQuality =
  | 'VIDEO_QUALITY_UNSPECIFIED'
  | 0
  | 'VIDEO_QUALITY_LOW'
  | 1
  | 'VIDEO_QUALITY_MEDIUM'
  | 2
  | 'VIDEO_QUALITY_HIGH'
  | 3
  | 'VIDEO_QUALITY_VERY_HIGH'
  | 4

export type VideoQuality__Output = typeof VideoQuality[keyof typeof VideoQuality]

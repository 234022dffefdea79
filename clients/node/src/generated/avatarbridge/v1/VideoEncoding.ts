// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const VideoEncoding = {
  VIDEO_ENCODING_UNSPECIFIED: 'VIDEO_ENCODING_UNSPECIFIED',
  VIDEO_ENCODING_H264: 'VIDEO_ENCODING_H264',
  VIDEO_ENCODING_VP8: 'VIDEO_ENCODING_VP8',
} as const;

export type VideoEncoding =
  | 'VIDEO_ENCODING_UNSPECIFIED'
  | 0
  | 'VIDEO_ENCODING_H264'
  | 1
  | 'VIDEO_ENCODING_VP8'
  | 2

export type VideoEncoding__Output = typeof VideoEncoding[keyof typeof VideoEncoding]

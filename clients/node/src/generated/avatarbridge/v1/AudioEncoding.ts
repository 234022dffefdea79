// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const AudioEncoding = {
  AUDIO_ENCODING_UNSPECIFIED: 'AUDIO_ENCODING_UNSPECIFIED',
  AUDIO_ENCODING_LINEAR16: 'AUDIO_ENCODING_LINEAR16',
  AUDIO_ENCODING_FLOAT32: 'AUDIO_ENCODING_FLOAT32',
  AUDIO_ENCODING_MULAW: 'AUDIO_ENCODING_MULAW',
  AUDIO_ENCODING_ALAW: 'AUDIO_ENCODING_ALAW',
} as const;

export type AudioEncoding =
  | 'AUDIO_ENCODING_UNSPECIFIED'
  | 0
  | 'AUDIO_ENCODING_LINEAR16'
  | 1
  | 'AUDIO_ENCODING_FLOAT32'
  | 2
  | 'AUDIO_ENCODING_MULAW'
  | 3
  | 'AUDIO_ENCODING_ALAW'
  | 4

export type AudioEncoding__Output = typeof AudioEncoding[keyof typeof AudioEncoding]

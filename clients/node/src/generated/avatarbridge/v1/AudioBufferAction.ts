// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const AudioBufferAction = {
  AUDIO_BUFFER_ACTION_UNSPECIFIED: 'AUDIO_BUFFER_ACTION_UNSPECIFIED',
  AUDIO_BUFFER_ACTION_APPENDED: 'AUDIO_BUFFER_ACTION_APPENDED',
  AUDIO_BUFFER_ACTION_COMMITTED: 'AUDIO_BUFFER_ACTION_COMMITTED',
  AUDIO_BUFFER_ACTION_CLEARED: 'AUDIO_BUFFER_ACTION_CLEARED',
} as const;

export type AudioBufferAction =
  | 'AUDIO_BUFFER_ACTION_UNSPECIFIED'
  | 0
  | 'AUDIO_BUFFER_ACTION_APPENDED'
  | 1
  | 'AUDIO_BUFFER_ACTION_COMMITTED'
  | 2
  | 'AUDIO_BUFFER_ACTION_CLEARED'
  | 3

export type AudioBufferAction__Output = typeof AudioBufferAction[keyof typeof AudioBufferAction]

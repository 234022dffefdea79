// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const AvatarState = {
  AVATAR_STATE_UNSPECIFIED: 'AVATAR_STATE_UNSPECIFIED',
  AVATAR_STATE_IDLE: 'AVATAR_STATE_IDLE',
  AVATAR_STATE_LISTENING: 'AVATAR_STATE_LISTENING',
  AVATAR_STATE_TALKING: 'AVATAR_STATE_TALKING',
} as const;

export type AvatarState =
  | 'AVATAR_STATE_UNSPECIFIED'
  | 0
  | 'AVATAR_STATE_IDLE'
  | 1
  | 'AVATAR_STATE_LISTENING'
  | 2
  | 'AVATAR_STATE_TALKING'
  | 3

export type AvatarState__Output = typeof AvatarState[keyof typeof AvatarState]

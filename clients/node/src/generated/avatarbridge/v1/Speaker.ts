// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const Speaker = {
  SPEAKER_UNSPECIFIED: 'SPEAKER_UNSPECIFIED',
  SPEAKER_USER: 'SPEAKER_USER',
  SPEAKER_AVATAR: 'SPEAKER_AVATAR',
} as const;

export type Speaker =
  | 'SPEAKER_UNSPECIFIED'
  | 0
  | 'SPEAKER_USER'
  | 1
  | 'SPEAKER_AVATAR'
  | 2

export type Speaker__Output = typeof Speaker[keyof typeof Speaker]

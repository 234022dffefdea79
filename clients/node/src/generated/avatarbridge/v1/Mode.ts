// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const Mode = {
  MODE_UNSPECIFIED: 'MODE_UNSPECIFIED',
  MODE_LITE: 'MODE_LITE',
  MODE_FULL: 'MODE_FULL',
} as const;

export type Mode =
  | 'MODE_UNSPECIFIED'
  | 0
  | 'MODE_LITE'
  | 1
  | 'MODE_FULL'
  | 2

export type Mode__Output = typeof Mode[keyof typeof Mode]

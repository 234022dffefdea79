// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const Participation = {
  PARTICIPATION_UNSPECIFIED: 'PARTICIPATION_UNSPECIFIED',
  PARTICIPATION_USER: 'PARTICIPATION_USER',
  PARTICIPATION_CONTROLLER: 'PARTICIPATION_CONTROLLER',
} as const;

export type Participation =
  | 'PARTICIPATION_UNSPECIFIED'
  | 0
  | 'PARTICIPATION_USER'
  | 1
  | 'PARTICIPATION_CONTROLLER'
  | 2

export type Participation__Output = typeof Participation[keyof typeof Participation]

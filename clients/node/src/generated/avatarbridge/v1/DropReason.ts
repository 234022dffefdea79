// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const DropReason = {
  DROP_REASON_UNSPECIFIED: 'DROP_REASON_UNSPECIFIED',
  DROP_REASON_INTERRUPTED: 'DROP_REASON_INTERRUPTED',
  DROP_REASON_SESSION_ENDED: 'DROP_REASON_SESSION_ENDED',
  DROP_REASON_OUTSIDE_PUSH_TO_TALK: 'DROP_REASON_OUTSIDE_PUSH_TO_TALK',
} as const;

export type DropReason =
  | 'DROP_REASON_UNSPECIFIED'
  | 0
  | 'DROP_REASON_INTERRUPTED'
  | 1
  | 'DROP_REASON_SESSION_ENDED'
  | 2
  | 'DROP_REASON_OUTSIDE_PUSH_TO_TALK'
  | 3

export type DropReason__Output = typeof DropReason[keyof typeof DropReason]

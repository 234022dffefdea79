// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const SessionState = {
  SESSION_STATE_UNSPECIFIED: 'SESSION_STATE_UNSPECIFIED',
  SESSION_STATE_CONNECTING: 'SESSION_STATE_CONNECTING',
  SESSION_STATE_CONNECTED: 'SESSION_STATE_CONNECTED',
  SESSION_STATE_CLOSING: 'SESSION_STATE_CLOSING',
  SESSION_STATE_CLOSED: 'SESSION_STATE_CLOSED',
} as const;

export type SessionState =
  | 'SESSION_STATE_UNSPECIFIED'
  | 0
  | 'SESSION_STATE_CONNECTING'
  | 1
  | 'SESSION_STATE_CONNECTED'
  | 2
  | 'SESSION_STATE_CLOSING'
  | 3
  | 'SESSION_STATE_CLOSED'
  | 4

export type SessionState__Output = typeof SessionState[keyof typeof SessionState]

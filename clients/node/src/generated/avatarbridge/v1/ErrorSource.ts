// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const ErrorSource = {
  ERROR_SOURCE_UNSPECIFIED: 'ERROR_SOURCE_UNSPECIFIED',
  ERROR_SOURCE_BRIDGE: 'ERROR_SOURCE_BRIDGE',
  ERROR_SOURCE_UPSTREAM: 'ERROR_SOURCE_UPSTREAM',
} as const;

export type ErrorSource =
  | 'ERROR_SOURCE_UNSPECIFIED'
  | 0
  | 'ERROR_SOURCE_BRIDGE'
  | 1
  | 'ERROR_SOURCE_UPSTREAM'
  | 2

export type ErrorSource__Output = typeof ErrorSource[keyof typeof ErrorSource]

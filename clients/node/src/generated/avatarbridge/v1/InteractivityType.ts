// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

export const InteractivityType = {
  INTERACTIVITY_TYPE_UNSPECIFIED: 'INTERACTIVITY_TYPE_UNSPECIFIED',
  INTERACTIVITY_TYPE_CONVERSATIONAL: 'INTERACTIVITY_TYPE_CONVERSATIONAL',
  INTERACTIVITY_TYPE_PUSH_TO_TALK: 'INTERACTIVITY_TYPE_PUSH_TO_TALK',
} as const;

export type InteractivityType =
  | 'INTERACTIVITY_TYPE_UNSPECIFIED'
  | 0
  | 'INTERACTIVITY_TYPE_CONVERSATIONAL'
  | 1
  | 'INTERACTIVITY_TYPE_PUSH_TO_TALK'
  | 2

export type InteractivityType__Output = typeof InteractivityType[keyof typeof InteractivityType]

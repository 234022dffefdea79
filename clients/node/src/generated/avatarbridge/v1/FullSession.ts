// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { AvatarPersona as _avatarbridge_v1_AvatarPersona, AvatarPersona__Output as _avatarbridge_v1_AvatarPersona__Output } from '../../avatarbridge/v1/AvatarPersona.js';
import type { InteractivityType as _avatarbridge_v1_InteractivityType, InteractivityType__Output as _avatarbridge_v1_InteractivityType__Output } from '../../avatarbridge/v1/InteractivityType.js';
import type { Participation as _avatarbridge_v1_Participation, Participation__Output as _avatarbridge_v1_Participation__Output } from '../../avatarbridge/v1/Participation.js';
import type { SessionMemory as _avatarbridge_v1_SessionMemory, SessionMemory__Output as _avatarbridge_v1_SessionMemory__Output } from '../../avatarbridge/v1/SessionMemory.js';

export interface FullSession {
  'persona'?: (_avatarbridge_v1_AvatarPersona | null);
  'interactivity_type'?: (_avatarbridge_v1_InteractivityType);
  'participation'?: (_avatarbridge_v1_Participation);
  'llm_configuration_id'?: (string);
  'dynamic_variables'?: ({[key: string]: string});
  'memory'?: (_avatarbridge_v1_SessionMemory | null);
}

export interface FullSession__Output {
  'persona': (_avatarbridge_v1_AvatarPersona__Output | null);
  'interactivity_type': (_avatarbridge_v1_InteractivityType__Output);
  'participation': (_avatarbridge_v1_Participation__Output);
  'llm_configuration_id': (string);
  'dynamic_variables': ({[key: string]: string});
  'memory': (_avatarbridge_v1_SessionMemory__Output | null);
}

// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { AudioFormat as _avatarbridge_v1_AudioFormat, AudioFormat__Output as _avatarbridge_v1_AudioFormat__Output } from '../../avatarbridge/v1/AudioFormat.js';
import type { NewSession as _avatarbridge_v1_NewSession, NewSession__Output as _avatarbridge_v1_NewSession__Output } from '../../avatarbridge/v1/NewSession.js';
import type { AttachSession as _avatarbridge_v1_AttachSession, AttachSession__Output as _avatarbridge_v1_AttachSession__Output } from '../../avatarbridge/v1/AttachSession.js';
import type { BridgeOptions as _avatarbridge_v1_BridgeOptions, BridgeOptions__Output as _avatarbridge_v1_BridgeOptions__Output } from '../../avatarbridge/v1/BridgeOptions.js';

export interface SessionConfig {
  'input_audio'?: (_avatarbridge_v1_AudioFormat | null);
  'create'?: (_avatarbridge_v1_NewSession | null);
  'attach'?: (_avatarbridge_v1_AttachSession | null);
  'options'?: (_avatarbridge_v1_BridgeOptions | null);
  'session'?: "create"|"attach";
}

export interface SessionConfig__Output {
  'input_audio': (_avatarbridge_v1_AudioFormat__Output | null);
  'create'?: (_avatarbridge_v1_NewSession__Output | null);
  'attach'?: (_avatarbridge_v1_AttachSession__Output | null);
  'options': (_avatarbridge_v1_BridgeOptions__Output | null);
  'session'?: "create"|"attach";
}

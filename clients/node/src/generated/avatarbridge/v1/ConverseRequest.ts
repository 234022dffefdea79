// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { SessionConfig as _avatarbridge_v1_SessionConfig, SessionConfig__Output as _avatarbridge_v1_SessionConfig__Output } from '../../avatarbridge/v1/SessionConfig.js';
import type { AudioChunk as _avatarbridge_v1_AudioChunk, AudioChunk__Output as _avatarbridge_v1_AudioChunk__Output } from '../../avatarbridge/v1/AudioChunk.js';
import type { SpeakEnd as _avatarbridge_v1_SpeakEnd, SpeakEnd__Output as _avatarbridge_v1_SpeakEnd__Output } from '../../avatarbridge/v1/SpeakEnd.js';
import type { Interrupt as _avatarbridge_v1_Interrupt, Interrupt__Output as _avatarbridge_v1_Interrupt__Output } from '../../avatarbridge/v1/Interrupt.js';
import type { StartListening as _avatarbridge_v1_StartListening, StartListening__Output as _avatarbridge_v1_StartListening__Output } from '../../avatarbridge/v1/StartListening.js';
import type { StopListening as _avatarbridge_v1_StopListening, StopListening__Output as _avatarbridge_v1_StopListening__Output } from '../../avatarbridge/v1/StopListening.js';
import type { KeepAlive as _avatarbridge_v1_KeepAlive, KeepAlive__Output as _avatarbridge_v1_KeepAlive__Output } from '../../avatarbridge/v1/KeepAlive.js';
import type { SpeakText as _avatarbridge_v1_SpeakText, SpeakText__Output as _avatarbridge_v1_SpeakText__Output } from '../../avatarbridge/v1/SpeakText.js';
import type { SpeakResponse as _avatarbridge_v1_SpeakResponse, SpeakResponse__Output as _avatarbridge_v1_SpeakResponse__Output } from '../../avatarbridge/v1/SpeakResponse.js';
import type { PushToTalkStart as _avatarbridge_v1_PushToTalkStart, PushToTalkStart__Output as _avatarbridge_v1_PushToTalkStart__Output } from '../../avatarbridge/v1/PushToTalkStart.js';
import type { PushToTalkStop as _avatarbridge_v1_PushToTalkStop, PushToTalkStop__Output as _avatarbridge_v1_PushToTalkStop__Output } from '../../avatarbridge/v1/PushToTalkStop.js';

export interface ConverseRequest {
  'request_id'?: (string);
  'config'?: (_avatarbridge_v1_SessionConfig | null);
  'audio'?: (_avatarbridge_v1_AudioChunk | null);
  'speak_end'?: (_avatarbridge_v1_SpeakEnd | null);
  'interrupt'?: (_avatarbridge_v1_Interrupt | null);
  'start_listening'?: (_avatarbridge_v1_StartListening | null);
  'stop_listening'?: (_avatarbridge_v1_StopListening | null);
  'keep_alive'?: (_avatarbridge_v1_KeepAlive | null);
  'speak_text'?: (_avatarbridge_v1_SpeakText | null);
  'speak_response'?: (_avatarbridge_v1_SpeakResponse | null);
  'push_to_talk_start'?: (_avatarbridge_v1_PushToTalkStart | null);
  'push_to_talk_stop'?: (_avatarbridge_v1_PushToTalkStop | null);
  'request'?: "config"|"audio"|"speak_end"|"interrupt"|"start_listening"|"stop_listening"|"keep_alive"|"speak_text"|"speak_response"|"push_to_talk_start"|"push_to_talk_stop";
}

export interface ConverseRequest__Output {
  'request_id': (string);
  'config'?: (_avatarbridge_v1_SessionConfig__Output | null);
  'audio'?: (_avatarbridge_v1_AudioChunk__Output | null);
  'speak_end'?: (_avatarbridge_v1_SpeakEnd__Output | null);
  'interrupt'?: (_avatarbridge_v1_Interrupt__Output | null);
  'start_listening'?: (_avatarbridge_v1_StartListening__Output | null);
  'stop_listening'?: (_avatarbridge_v1_StopListening__Output | null);
  'keep_alive'?: (_avatarbridge_v1_KeepAlive__Output | null);
  'speak_text'?: (_avatarbridge_v1_SpeakText__Output | null);
  'speak_response'?: (_avatarbridge_v1_SpeakResponse__Output | null);
  'push_to_talk_start'?: (_avatarbridge_v1_PushToTalkStart__Output | null);
  'push_to_talk_stop'?: (_avatarbridge_v1_PushToTalkStop__Output | null);
  'request'?: "config"|"audio"|"speak_end"|"interrupt"|"start_listening"|"stop_listening"|"keep_alive"|"speak_text"|"speak_response"|"push_to_talk_start"|"push_to_talk_stop";
}

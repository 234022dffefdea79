// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto

import type { SessionStarted as _avatarbridge_v1_SessionStarted, SessionStarted__Output as _avatarbridge_v1_SessionStarted__Output } from '../../avatarbridge/v1/SessionStarted.js';
import type { SessionStateChanged as _avatarbridge_v1_SessionStateChanged, SessionStateChanged__Output as _avatarbridge_v1_SessionStateChanged__Output } from '../../avatarbridge/v1/SessionStateChanged.js';
import type { AvatarSpeakStarted as _avatarbridge_v1_AvatarSpeakStarted, AvatarSpeakStarted__Output as _avatarbridge_v1_AvatarSpeakStarted__Output } from '../../avatarbridge/v1/AvatarSpeakStarted.js';
import type { AvatarSpeakEnded as _avatarbridge_v1_AvatarSpeakEnded, AvatarSpeakEnded__Output as _avatarbridge_v1_AvatarSpeakEnded__Output } from '../../avatarbridge/v1/AvatarSpeakEnded.js';
import type { AvatarSpeakInterrupted as _avatarbridge_v1_AvatarSpeakInterrupted, AvatarSpeakInterrupted__Output as _avatarbridge_v1_AvatarSpeakInterrupted__Output } from '../../avatarbridge/v1/AvatarSpeakInterrupted.js';
import type { AvatarStateChanged as _avatarbridge_v1_AvatarStateChanged, AvatarStateChanged__Output as _avatarbridge_v1_AvatarStateChanged__Output } from '../../avatarbridge/v1/AvatarStateChanged.js';
import type { UserSpeakStarted as _avatarbridge_v1_UserSpeakStarted, UserSpeakStarted__Output as _avatarbridge_v1_UserSpeakStarted__Output } from '../../avatarbridge/v1/UserSpeakStarted.js';
import type { UserSpeakEnded as _avatarbridge_v1_UserSpeakEnded, UserSpeakEnded__Output as _avatarbridge_v1_UserSpeakEnded__Output } from '../../avatarbridge/v1/UserSpeakEnded.js';
import type { Transcription as _avatarbridge_v1_Transcription, Transcription__Output as _avatarbridge_v1_Transcription__Output } from '../../avatarbridge/v1/Transcription.js';
import type { PushToTalkResult as _avatarbridge_v1_PushToTalkResult, PushToTalkResult__Output as _avatarbridge_v1_PushToTalkResult__Output } from '../../avatarbridge/v1/PushToTalkResult.js';
import type { SessionStopped as _avatarbridge_v1_SessionStopped, SessionStopped__Output as _avatarbridge_v1_SessionStopped__Output } from '../../avatarbridge/v1/SessionStopped.js';
import type { Warning as _avatarbridge_v1_Warning, Warning__Output as _avatarbridge_v1_Warning__Output } from '../../avatarbridge/v1/Warning.js';
import type { Error as _avatarbridge_v1_Error, Error__Output as _avatarbridge_v1_Error__Output } from '../../avatarbridge/v1/Error.js';
import type { UpstreamEvent as _avatarbridge_v1_UpstreamEvent, UpstreamEvent__Output as _avatarbridge_v1_UpstreamEvent__Output } from '../../avatarbridge/v1/UpstreamEvent.js';
import type { AudioBufferUpdated as _avatarbridge_v1_AudioBufferUpdated, AudioBufferUpdated__Output as _avatarbridge_v1_AudioBufferUpdated__Output } from '../../avatarbridge/v1/AudioBufferUpdated.js';
import type { AudioDropped as _avatarbridge_v1_AudioDropped, AudioDropped__Output as _avatarbridge_v1_AudioDropped__Output } from '../../avatarbridge/v1/AudioDropped.js';

export interface ConverseResponse {
  'request_id'?: (string);
  'session_started'?: (_avatarbridge_v1_SessionStarted | null);
  'session_state_changed'?: (_avatarbridge_v1_SessionStateChanged | null);
  'avatar_speak_started'?: (_avatarbridge_v1_AvatarSpeakStarted | null);
  'avatar_speak_ended'?: (_avatarbridge_v1_AvatarSpeakEnded | null);
  'avatar_speak_interrupted'?: (_avatarbridge_v1_AvatarSpeakInterrupted | null);
  'avatar_state_changed'?: (_avatarbridge_v1_AvatarStateChanged | null);
  'user_speak_started'?: (_avatarbridge_v1_UserSpeakStarted | null);
  'user_speak_ended'?: (_avatarbridge_v1_UserSpeakEnded | null);
  'transcription'?: (_avatarbridge_v1_Transcription | null);
  'push_to_talk_result'?: (_avatarbridge_v1_PushToTalkResult | null);
  'session_stopped'?: (_avatarbridge_v1_SessionStopped | null);
  'warning'?: (_avatarbridge_v1_Warning | null);
  'error'?: (_avatarbridge_v1_Error | null);
  'upstream_event'?: (_avatarbridge_v1_UpstreamEvent | null);
  'audio_buffer_updated'?: (_avatarbridge_v1_AudioBufferUpdated | null);
  'audio_dropped'?: (_avatarbridge_v1_AudioDropped | null);
  'event'?: "session_started"|"session_state_changed"|"avatar_speak_started"|"avatar_speak_ended"|"avatar_speak_interrupted"|"avatar_state_changed"|"user_speak_started"|"user_speak_ended"|"transcription"|"push_to_talk_result"|"session_stopped"|"warning"|"error"|"upstream_event"|"audio_buffer_updated"|"audio_dropped";
}

export interface ConverseResponse__Output {
  'request_id': (string);
  'session_started'?: (_avatarbridge_v1_SessionStarted__Output | null);
  'session_state_changed'?: (_avatarbridge_v1_SessionStateChanged__Output | null);
  'avatar_speak_started'?: (_avatarbridge_v1_AvatarSpeakStarted__Output | null);
  'avatar_speak_ended'?: (_avatarbridge_v1_AvatarSpeakEnded__Output | null);
  'avatar_speak_interrupted'?: (_avatarbridge_v1_AvatarSpeakInterrupted__Output | null);
  'avatar_state_changed'?: (_avatarbridge_v1_AvatarStateChanged__Output | null);
  'user_speak_started'?: (_avatarbridge_v1_UserSpeakStarted__Output | null);
  'user_speak_ended'?: (_avatarbridge_v1_UserSpeakEnded__Output | null);
  'transcription'?: (_avatarbridge_v1_Transcription__Output | null);
  'push_to_talk_result'?: (_avatarbridge_v1_PushToTalkResult__Output | null);
  'session_stopped'?: (_avatarbridge_v1_SessionStopped__Output | null);
  'warning'?: (_avatarbridge_v1_Warning__Output | null);
  'error'?: (_avatarbridge_v1_Error__Output | null);
  'upstream_event'?: (_avatarbridge_v1_UpstreamEvent__Output | null);
  'audio_buffer_updated'?: (_avatarbridge_v1_AudioBufferUpdated__Output | null);
  'audio_dropped'?: (_avatarbridge_v1_AudioDropped__Output | null);
  'event'?: "session_started"|"session_state_changed"|"avatar_speak_started"|"avatar_speak_ended"|"avatar_speak_interrupted"|"avatar_state_changed"|"user_speak_started"|"user_speak_ended"|"transcription"|"push_to_talk_result"|"session_stopped"|"warning"|"error"|"upstream_event"|"audio_buffer_updated"|"audio_dropped";
}

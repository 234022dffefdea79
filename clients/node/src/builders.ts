// First requests (SessionConfig) for the common cases, with the oneofs and Structs filled in.
import type { AudioFormat } from './generated/avatarbridge/v1/AudioFormat.js';
import type { ConverseRequest } from './generated/avatarbridge/v1/ConverseRequest.js';
import type { FullSession } from './generated/avatarbridge/v1/FullSession.js';
import type { NewSession } from './generated/avatarbridge/v1/NewSession.js';
import { type JsonObject, toStruct } from './struct.js';

/** LiveAvatar's sandbox avatar ("Wayne"); sandbox sessions are free and last 60 s. */
export const SANDBOX_AVATAR_ID = 'dd73ea75-1218-4ef3-92ce-606d5f7fbc0a';

export interface SessionOptions {
  avatarId?: string;
  /** Default: true for the sandbox avatar, false for any other (the sandbox refuses them). */
  sandbox?: boolean;
  /** Format of the audio this client sends (LITE audio, FULL push-to-talk). */
  inputAudio?: AudioFormat;
  maxSessionDurationSeconds?: number;
  /** Extra LiveAvatar token fields, as a plain object (sent as a google.protobuf.Struct). */
  extraTokenFields?: JsonObject;
  firstPacketMs?: number;
}

export interface FullOptions extends SessionOptions {
  /** The LiveAvatar context (the avatar's LLM prompt); without one the avatar never answers. */
  contextId?: string;
  voiceId?: string;
  language?: string;
  voiceSettings?: JsonObject;
  interactivity?: FullSession['interactivity_type'];
  participation?: FullSession['participation'];
}

function newSession(options: SessionOptions, mode: Pick<NewSession, 'lite' | 'full'>): ConverseRequest {
  const avatarId = options.avatarId ?? SANDBOX_AVATAR_ID;
  const create: NewSession = {
    avatar_id: avatarId,
    is_sandbox: options.sandbox ?? avatarId === SANDBOX_AVATAR_ID,
    max_session_duration_seconds: options.maxSessionDurationSeconds ?? 0,
    ...mode,
  };
  if (options.extraTokenFields) create.extra_token_fields = toStruct(options.extraTokenFields);
  return {
    config: {
      create,
      input_audio: options.inputAudio ?? null,
      options: options.firstPacketMs ? { first_packet_ms: options.firstPacketMs } : null,
    },
  };
}

export function liteSession(options: SessionOptions = {}): ConverseRequest {
  return newSession(options, { lite: {} });
}

export function fullSession(options: FullOptions = {}): ConverseRequest {
  const full: FullSession = {
    persona: {
      context_id: options.contextId ?? '',
      voice_id: options.voiceId ?? '',
      language: options.language ?? '',
      voice_settings: options.voiceSettings ? toStruct(options.voiceSettings) : null,
    },
  };
  if (options.interactivity) full.interactivity_type = options.interactivity;
  if (options.participation) full.participation = options.participation;
  return newSession(options, { full });
}

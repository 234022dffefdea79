"""Builders for SessionConfig messages, so callers needn't assemble nested protos by hand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from avatarbridge.v1 import avatar_bridge_pb2 as pb

__all__ = [
    "SANDBOX_AVATAR_ID",
    "attach_full",
    "attach_lite",
    "audio_format",
    "bridge_options",
    "full_session",
    "lite_session",
]

SANDBOX_AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
"""LiveAvatar's sandbox avatar ("Wayne")."""


def audio_format(
    encoding: pb.AudioEncoding.ValueType = pb.AUDIO_ENCODING_LINEAR16,
    sample_rate_hertz: int = 24_000,
    channel_count: int = 1,
) -> pb.AudioFormat:
    """An AudioFormat; the default is LiveAvatar's own (24 kHz mono PCM16), which needs no
    conversion."""
    return pb.AudioFormat(
        encoding=encoding, sample_rate_hertz=sample_rate_hertz, channel_count=channel_count
    )


def bridge_options(
    *,
    first_packet_ms: int = 0,
    keep_alive_idle_seconds: int = 0,
    ready_timeout_seconds: int = 0,
) -> pb.BridgeOptions:
    """Per-conversation bridge tuning; zero keeps the server's default."""
    return pb.BridgeOptions(
        first_packet_ms=first_packet_ms,
        keep_alive_idle_seconds=keep_alive_idle_seconds,
        ready_timeout_seconds=ready_timeout_seconds,
    )


def _struct(values: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    if values is None:
        return None
    message = struct_pb2.Struct()
    message.update(values)
    return message


def _new_session(
    avatar_id: str,
    sandbox: bool,
    video_quality: pb.VideoQuality.ValueType,
    video_encoding: pb.VideoEncoding.ValueType,
    max_session_duration_seconds: int,
    extra_token_fields: Mapping[str, Any] | None,
) -> pb.NewSession:
    video = None
    if video_quality or video_encoding:
        video = pb.VideoSettings(quality=video_quality, encoding=video_encoding)
    return pb.NewSession(
        avatar_id=avatar_id,
        is_sandbox=sandbox,
        video_settings=video,
        max_session_duration_seconds=max_session_duration_seconds,
        extra_token_fields=_struct(extra_token_fields),
    )


def lite_session(
    avatar_id: str = SANDBOX_AVATAR_ID,
    *,
    sandbox: bool = False,
    input_audio: pb.AudioFormat | None = None,
    livekit_room: pb.LiveKitRoom | None = None,
    video_quality: pb.VideoQuality.ValueType = pb.VIDEO_QUALITY_UNSPECIFIED,
    video_encoding: pb.VideoEncoding.ValueType = pb.VIDEO_ENCODING_UNSPECIFIED,
    max_session_duration_seconds: int = 0,
    extra_token_fields: Mapping[str, Any] | None = None,
    options: pb.BridgeOptions | None = None,
) -> pb.SessionConfig:
    """Config for a new LITE session: the client's audio becomes the avatar's voice.

    ``input_audio`` defaults to 24 kHz mono PCM16.
    """
    create = _new_session(
        avatar_id,
        sandbox,
        video_quality,
        video_encoding,
        max_session_duration_seconds,
        extra_token_fields,
    )
    create.lite.SetInParent()
    if livekit_room is not None:
        create.lite.livekit_room.CopyFrom(livekit_room)
    return pb.SessionConfig(
        input_audio=input_audio or audio_format(), create=create, options=options
    )


def full_session(
    avatar_id: str = SANDBOX_AVATAR_ID,
    *,
    sandbox: bool = False,
    context_id: str = "",
    voice_id: str = "",
    language: str = "",
    voice_settings: Mapping[str, Any] | None = None,
    stt_provider: str = "",
    interactivity: pb.InteractivityType.ValueType = pb.INTERACTIVITY_TYPE_UNSPECIFIED,
    participation: pb.Participation.ValueType = pb.PARTICIPATION_UNSPECIFIED,
    llm_configuration_id: str = "",
    dynamic_variables: Mapping[str, str] | None = None,
    memory: pb.SessionMemory | None = None,
    input_audio: pb.AudioFormat | None = None,
    video_quality: pb.VideoQuality.ValueType = pb.VIDEO_QUALITY_UNSPECIFIED,
    video_encoding: pb.VideoEncoding.ValueType = pb.VIDEO_ENCODING_UNSPECIFIED,
    max_session_duration_seconds: int = 0,
    extra_token_fields: Mapping[str, Any] | None = None,
    options: pb.BridgeOptions | None = None,
) -> pb.SessionConfig:
    """Config for a new FULL session: LiveAvatar listens, thinks and speaks by itself.

    ``input_audio`` is only needed when the bridge is the user (participation USER) and the
    client streams microphone audio; leave it unset for a conversation of commands only.
    """
    create = _new_session(
        avatar_id,
        sandbox,
        video_quality,
        video_encoding,
        max_session_duration_seconds,
        extra_token_fields,
    )
    create.full.CopyFrom(
        pb.FullSession(
            persona=pb.AvatarPersona(
                voice_id=voice_id,
                context_id=context_id,
                language=language,
                voice_settings=_struct(voice_settings),
                stt_provider=stt_provider,
            ),
            interactivity_type=interactivity,
            participation=participation,
            llm_configuration_id=llm_configuration_id,
            dynamic_variables=dict(dynamic_variables or {}),
            memory=memory,
        )
    )
    return pb.SessionConfig(input_audio=input_audio, create=create, options=options)


def attach_lite(
    session_id: str,
    ws_url: str,
    *,
    input_audio: pb.AudioFormat | None = None,
    stop_on_end: bool = False,
    options: pb.BridgeOptions | None = None,
) -> pb.SessionConfig:
    """Config to attach to a LITE session started elsewhere, through its ``ws_url``."""
    return pb.SessionConfig(
        input_audio=input_audio or audio_format(),
        attach=pb.AttachSession(
            session_id=session_id,
            lite=pb.LiteAttachment(ws_url=ws_url),
            stop_on_end=stop_on_end,
        ),
        options=options,
    )


def attach_full(
    session_id: str,
    livekit_url: str,
    livekit_token: str,
    *,
    participation: pb.Participation.ValueType = pb.PARTICIPATION_UNSPECIFIED,
    input_audio: pb.AudioFormat | None = None,
    stop_on_end: bool = False,
    options: pb.BridgeOptions | None = None,
) -> pb.SessionConfig:
    """Config to attach to a FULL session started elsewhere, through its LiveKit room."""
    return pb.SessionConfig(
        input_audio=input_audio,
        attach=pb.AttachSession(
            session_id=session_id,
            full=pb.FullAttachment(
                livekit_url=livekit_url,
                livekit_token=livekit_token,
                participation=participation,
            ),
            stop_on_end=stop_on_end,
        ),
        options=options,
    )

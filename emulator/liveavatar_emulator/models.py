"""Request bodies of the REST API (reference §2.4-2.6), as pydantic models.

FastAPI turns validation failures into LiveAvatar's own 422 ``{"detail": [...]}`` shape. Every
model allows extra fields: real clients send undocumented ones (``video_quality``,
``avatar_persona`` in LITE) and the service tolerates them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from .sessions import EndReason


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow")


class VideoSettings(_Tolerant):
    """``video_settings``."""

    quality: Literal["very_high", "high", "medium", "low"] = "high"
    encoding: Literal["VP8", "H264"] = "H264"


class AvatarPersona(_Tolerant):
    """FULL ``avatar_persona``; ``voice_settings``/``stt_config`` are kept loosely typed."""

    voice_id: UUID | None = None
    context_id: UUID | None = None
    language: str = "en"
    voice_settings: dict[str, Any] | None = None
    stt_config: dict[str, Any] | None = None


class Memory(_Tolerant):
    """FULL ``memory``."""

    prev_session_id: UUID | None = None
    session_memory_id: UUID | None = None


class LiveKitConfig(_Tolerant):
    """LITE ``livekit_config`` (bring your own room): all three strings required."""

    livekit_url: str
    livekit_room: str
    livekit_client_token: str


class AgoraConfig(_Tolerant):
    """LITE ``agora_config``: all four strings required."""

    agora_app_id: str
    agora_token: str
    agora_channel: str
    agora_uid: str


class _TokenCommon(_Tolerant):
    avatar_id: UUID
    is_sandbox: bool = False
    video_settings: VideoSettings | None = None
    max_session_duration: PositiveInt | None = None


class FullTokenRequest(_TokenCommon):
    """``mode: FULL``: LiveAvatar runs the whole conversation."""

    mode: Literal["FULL"]
    avatar_persona: AvatarPersona
    interactivity_type: Literal["CONVERSATIONAL", "PUSH_TO_TALK"] = "CONVERSATIONAL"
    llm_configuration_id: UUID | None = None
    dynamic_variables: dict[str, str] | None = None
    memory: Memory | None = None

    @field_validator("dynamic_variables")
    @classmethod
    def _limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > 50:
            raise ValueError("at most 50 dynamic variables")
        for key, item in value.items():
            if len(key) > 64:
                raise ValueError("dynamic variable names are at most 64 characters")
            if len(item) > 1000:
                raise ValueError("dynamic variable values are at most 1000 characters")
        return value


class LiteTokenRequest(_TokenCommon):
    """``mode: LITE`` (legacy ``CUSTOM`` is treated the same): we send the audio."""

    mode: Literal["LITE", "CUSTOM"]
    livekit_config: LiveKitConfig | None = None
    agora_config: AgoraConfig | None = None
    elevenlabs_agent_config: dict[str, Any] | None = None
    openai_realtime_config: dict[str, Any] | None = None
    gemini_realtime_config: dict[str, Any] | None = None


TokenRequest = Annotated[FullTokenRequest | LiteTokenRequest, Field(discriminator="mode")]


class StartRequest(_Tolerant):
    """Optional start body; the session comes from the Bearer token."""

    session_id: UUID | None = None


class StopRequest(_Tolerant):
    """``StopSessionSchema``; ``reason`` defaults to ``UNKNOWN`` like the OpenAPI field."""

    session_id: UUID | None = None
    reason: EndReason = "UNKNOWN"


class KeepAliveRequest(_Tolerant):
    """``KeepSessionAliveSchema``."""

    session_id: UUID | None = None

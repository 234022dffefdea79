"""Validate a Converse SessionConfig and turn it into a plan: what to create or attach to.

Pure code: no I/O. Every problem raises `InvalidRequest` naming the field and what is expected,
so a client sees exactly what to fix in the INVALID_ARGUMENT status message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format

from avatar_bridge.audio import AudioFormat, AudioFormatError
from avatar_bridge.config import SessionDefaults
from avatar_bridge.errors import InvalidRequest, PermissionDenied
from avatar_bridge.security.allowlist import HostAllowlist, NotAllowed
from avatarbridge.v1 import avatar_bridge_pb2 as pb

LITE = pb.MODE_LITE
FULL = pb.MODE_FULL

_QUALITY = {
    pb.VIDEO_QUALITY_LOW: "low",
    pb.VIDEO_QUALITY_MEDIUM: "medium",
    pb.VIDEO_QUALITY_HIGH: "high",
    pb.VIDEO_QUALITY_VERY_HIGH: "very_high",
}
_ENCODING = {pb.VIDEO_ENCODING_H264: "H264", pb.VIDEO_ENCODING_VP8: "VP8"}
_INTERACTIVITY = {
    pb.INTERACTIVITY_TYPE_UNSPECIFIED: "CONVERSATIONAL",
    pb.INTERACTIVITY_TYPE_CONVERSATIONAL: "CONVERSATIONAL",
    pb.INTERACTIVITY_TYPE_PUSH_TO_TALK: "PUSH_TO_TALK",
}


@dataclass(frozen=True)
class SessionOptions:
    """The bridge's per-conversation tuning after defaults are applied."""

    first_packet_ms: int
    packet_ms: int
    low_water_ms: int
    keep_alive_idle_s: float
    ready_timeout_s: float
    drain_timeout_s: float
    max_pending_ms: int


@dataclass(frozen=True)
class Plan:
    """What a Converse call will do, decided from its first request."""

    mode: pb.Mode.ValueType
    options: SessionOptions
    input_audio: AudioFormat | None
    """The declared input format, or None for a commands-only conversation."""
    token_body: dict[str, Any] | None = None
    """LiveAvatar token request body, for a new session; None when attaching."""
    attach_session_id: str = ""
    attach_ws_url: str = field(default="", repr=False)
    attach_livekit_url: str = ""
    attach_livekit_token: str = field(default="", repr=False)
    participation: pb.Participation.ValueType = pb.PARTICIPATION_USER
    push_to_talk: bool = False
    stop_on_end: bool = True
    """Stop the upstream session when the conversation ends."""

    @property
    def attached(self) -> bool:
        return self.token_body is None


def plan_from_config(
    config: pb.SessionConfig,
    defaults: SessionDefaults,
    *,
    allowlist: HostAllowlist | None = None,
) -> Plan:
    """Validate `config` and return the plan; raise InvalidRequest naming every problem.

    The options, the audio format and the session part are checked independently, so a config
    with three problems reports three (BadRequest field violations). Attach URLs must match
    `allowlist` (default: LiveAvatar's hosts), else PermissionDenied.
    """
    problems: list[InvalidRequest] = []
    options = _options(config.options, defaults, problems)
    audio = None
    if config.HasField("input_audio"):
        try:
            audio = _audio_format(config.input_audio)
        except InvalidRequest as exc:
            problems.append(exc)
    try:
        plan = _plan_session(config, options, audio, problems)
    except InvalidRequest as exc:
        problems.append(exc)
    if problems:
        raise InvalidRequest.combine(problems)
    if plan.attached:
        _check_targets(plan, allowlist or HostAllowlist())
    return plan


def _plan_session(
    config: pb.SessionConfig,
    options: SessionOptions,
    audio: AudioFormat | None,
    problems: list[InvalidRequest],
) -> Plan:
    which = config.WhichOneof("session")
    if which == "create":
        return _plan_create(config.create, options, audio, problems)
    if which == "attach":
        return _plan_attach(config.attach, options, audio)
    raise InvalidRequest(
        "config.session is not set: expected config.create (a new LiveAvatar session) "
        "or config.attach (a session started elsewhere)"
    )


def _audio_format(audio: pb.AudioFormat) -> AudioFormat:
    """The declared input format, validated once by the audio module."""
    try:
        return AudioFormat.from_proto(audio)
    except AudioFormatError as exc:
        raise InvalidRequest(f"config.input_audio.{exc}") from exc


def _options(
    opts: pb.BridgeOptions, defaults: SessionDefaults, problems: list[InvalidRequest]
) -> SessionOptions:
    def pick(value: int, default: float, low: int, high: int, name: str) -> float:
        if value == 0:
            return default
        if not low <= value <= high:
            problems.append(
                InvalidRequest(
                    f"config.options.{name} {value} is out of range: expected {low} to "
                    f"{high}, or 0 for the server default"
                )
            )
            return default
        return value

    return SessionOptions(
        first_packet_ms=int(
            pick(opts.first_packet_ms, defaults.first_packet_ms, 20, 2000, "first_packet_ms")
        ),
        packet_ms=defaults.packet_ms,
        low_water_ms=defaults.low_water_ms,
        keep_alive_idle_s=pick(
            opts.keep_alive_idle_seconds,
            defaults.keep_alive_idle_s,
            5,
            240,
            "keep_alive_idle_seconds",
        ),
        ready_timeout_s=pick(
            opts.ready_timeout_seconds, defaults.ready_timeout_s, 1, 120, "ready_timeout_seconds"
        ),
        drain_timeout_s=defaults.drain_timeout_s,
        max_pending_ms=defaults.max_pending_ms,
    )


def _plan_create(
    new: pb.NewSession,
    options: SessionOptions,
    audio: AudioFormat | None,
    problems: list[InvalidRequest],
) -> Plan:
    if not new.avatar_id.strip():
        problems.append(
            InvalidRequest("config.create.avatar_id is empty: expected a LiveAvatar avatar id")
        )
    if new.max_session_duration_seconds < 0:
        problems.append(
            InvalidRequest(
                "config.create.max_session_duration_seconds is negative: expected seconds, "
                "or 0 for the account's limit"
            )
        )
    body: dict[str, Any] = {"avatar_id": new.avatar_id.strip(), "is_sandbox": new.is_sandbox}
    if new.HasField("video_settings"):
        video: dict[str, str] = {}
        if new.video_settings.quality in _QUALITY:
            video["quality"] = _QUALITY[new.video_settings.quality]
        if new.video_settings.encoding in _ENCODING:
            video["encoding"] = _ENCODING[new.video_settings.encoding]
        if video:
            body["video_settings"] = video
    if new.max_session_duration_seconds:
        body["max_session_duration"] = new.max_session_duration_seconds

    which = new.WhichOneof("mode")
    participation = pb.PARTICIPATION_USER
    push_to_talk = False
    if which == "lite":
        mode = LITE
        body["mode"] = "LITE"
        if new.lite.HasField("livekit_room"):
            room = new.lite.livekit_room
            for name in ("url", "room", "token"):
                if not getattr(room, name):
                    raise InvalidRequest(
                        f"config.create.lite.livekit_room.{name} is empty: a bring-your-own "
                        "LiveKit room needs url, room and token"
                    )
            body["livekit_config"] = {
                "livekit_url": room.url,
                "livekit_room": room.room,
                "livekit_client_token": room.token,
            }
    elif which == "full":
        mode = FULL
        body["mode"] = "FULL"
        body.update(_full_fields(new.full))
        participation = new.full.participation or pb.PARTICIPATION_USER
        push_to_talk = new.full.interactivity_type == pb.INTERACTIVITY_TYPE_PUSH_TO_TALK
    else:
        raise InvalidRequest(
            "config.create.mode is not set: expected config.create.lite {} or config.create.full {}"
        )

    if new.HasField("extra_token_fields"):
        extra = json_format.MessageToDict(new.extra_token_fields)
        clash = sorted(set(extra) & set(body))
        if clash:
            raise InvalidRequest(
                f"config.create.extra_token_fields sets {', '.join(clash)}, which typed fields "
                "already set: use the typed fields"
            )
        body.update(extra)
    if mode == FULL and audio is not None and participation == pb.PARTICIPATION_CONTROLLER:
        raise InvalidRequest(
            "config.input_audio is set but participation is CONTROLLER: a controller sends "
            "commands only; use PARTICIPATION_USER to stream the user's microphone"
        )
    return Plan(
        mode=mode,
        options=options,
        input_audio=audio,
        token_body=body,
        participation=participation,
        push_to_talk=push_to_talk,
    )


def _full_fields(full: pb.FullSession) -> dict[str, Any]:
    persona: dict[str, Any] = {"language": full.persona.language or "en"}
    if full.persona.voice_id:
        persona["voice_id"] = full.persona.voice_id
    if full.persona.context_id:
        persona["context_id"] = full.persona.context_id
    if full.persona.HasField("voice_settings"):
        persona["voice_settings"] = json_format.MessageToDict(full.persona.voice_settings)
    if full.persona.stt_provider:
        persona["stt_config"] = {"provider": full.persona.stt_provider}
    fields: dict[str, Any] = {
        "avatar_persona": persona,
        "interactivity_type": _INTERACTIVITY.get(full.interactivity_type, "CONVERSATIONAL"),
    }
    if full.llm_configuration_id:
        fields["llm_configuration_id"] = full.llm_configuration_id
    if full.dynamic_variables:
        if len(full.dynamic_variables) > 50:
            raise InvalidRequest(
                f"config.create.full.dynamic_variables has {len(full.dynamic_variables)} "
                "entries: expected at most 50"
            )
        for key, value in full.dynamic_variables.items():
            if len(key) > 64 or len(value) > 1000:
                raise InvalidRequest(
                    f"config.create.full.dynamic_variables[{key[:64]!r}] is too long: "
                    "expected keys up to 64 and values up to 1000 characters"
                )
        fields["dynamic_variables"] = dict(full.dynamic_variables)
    if full.HasField("memory"):
        memory = {
            k: v
            for k, v in (
                ("prev_session_id", full.memory.prev_session_id),
                ("session_memory_id", full.memory.session_memory_id),
            )
            if v
        }
        if memory:
            fields["memory"] = memory
    return fields


def _plan_attach(
    attach: pb.AttachSession, options: SessionOptions, audio: AudioFormat | None
) -> Plan:
    if not attach.session_id.strip():
        raise InvalidRequest("config.attach.session_id is empty: expected a LiveAvatar session id")
    which = attach.WhichOneof("target")
    if which == "lite":
        if not attach.lite.ws_url.startswith(("ws://", "wss://")):
            raise InvalidRequest(
                "config.attach.lite.ws_url must be the ws:// or wss:// URL that LiveAvatar's "
                "start call returned"
            )
        return Plan(
            mode=LITE,
            options=options,
            input_audio=audio,
            attach_session_id=attach.session_id.strip(),
            attach_ws_url=attach.lite.ws_url,
            stop_on_end=attach.stop_on_end,
        )
    if which == "full":
        if not attach.full.livekit_url or not attach.full.livekit_token:
            raise InvalidRequest(
                "config.attach.full needs livekit_url and livekit_token from LiveAvatar's start"
            )
        participation = attach.full.participation or pb.PARTICIPATION_USER
        if audio is not None and participation == pb.PARTICIPATION_CONTROLLER:
            raise InvalidRequest(
                "config.input_audio is set but participation is CONTROLLER: a controller sends "
                "commands only"
            )
        return Plan(
            mode=FULL,
            options=options,
            input_audio=audio,
            attach_session_id=attach.session_id.strip(),
            attach_livekit_url=attach.full.livekit_url,
            attach_livekit_token=attach.full.livekit_token,
            participation=participation,
            stop_on_end=attach.stop_on_end,
        )
    raise InvalidRequest(
        "config.attach.target is not set: expected config.attach.lite {ws_url} or "
        "config.attach.full {livekit_url, livekit_token}"
    )


def _check_targets(plan: Plan, allowlist: HostAllowlist) -> None:
    """No open proxy: the bridge dials only allowed hosts, decided before any connection."""
    try:
        if plan.attach_ws_url:
            allowlist.check(plan.attach_ws_url, "config.attach.lite.ws_url")
        if plan.attach_livekit_url:
            allowlist.check(plan.attach_livekit_url, "config.attach.full.livekit_url")
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from None

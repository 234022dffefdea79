"""plan_from_config, the pure validation of Converse's first message, pinned field by field.

Ranges and defaults come from the .proto comments (BridgeOptions: first_packet_ms 20 to 2,000,
keep_alive_idle_seconds 5 to 240, ready_timeout_seconds 1 to 120, zero takes the server
default; at most 50 dynamic_variables; language empty takes "en") and LiveAvatar's token body
(docs/reference liveavatar-api.md). Every expected value is written here literally.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2

from avatar_bridge.config import SessionDefaults
from avatar_bridge.errors import InvalidRequest, PermissionDenied
from avatar_bridge.security.allowlist import HostAllowlist
from avatar_bridge.session_config import Plan, plan_from_config
from avatarbridge.v1 import avatar_bridge_pb2 as pb

AVATAR = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
# Distinct from every range bound, so a default that leaks through is recognisable.
DEFAULTS = SessionDefaults(
    first_packet_ms=333,
    packet_ms=777,
    low_water_ms=222,
    keep_alive_idle_s=44.0,
    ready_timeout_s=17.0,
    drain_timeout_s=29.0,
    max_pending_ms=9_111,
)
LITE_WS = "wss://webrtc-signaling.liveavatar.com/v1/ws/abc"
LIVEKIT = "wss://heygen-feapbkvq.livekit.cloud"


def lite_config(**options: int) -> pb.SessionConfig:
    return pb.SessionConfig(
        create=pb.NewSession(avatar_id=AVATAR, lite=pb.LiteSession()),
        options=pb.BridgeOptions(**options),
    )


def plan(config: pb.SessionConfig, allowlist: HostAllowlist | None = None) -> Plan:
    return plan_from_config(config, DEFAULTS, allowlist=allowlist)


def problem(config: pb.SessionConfig) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        plan(config)
    return caught.value


# -- BridgeOptions ------------------------------------------------------------------------------


def test_unset_options_take_every_server_default() -> None:
    options = plan(lite_config()).options
    assert options.first_packet_ms == 333
    assert options.packet_ms == 777
    assert options.low_water_ms == 222
    assert options.keep_alive_idle_s == 44.0
    assert options.ready_timeout_s == 17.0
    assert options.drain_timeout_s == 29.0
    assert options.max_pending_ms == 9_111


@pytest.mark.parametrize(
    ("name", "value", "attribute"),
    [
        ("first_packet_ms", 20, "first_packet_ms"),
        ("first_packet_ms", 2000, "first_packet_ms"),
        ("keep_alive_idle_seconds", 5, "keep_alive_idle_s"),
        ("keep_alive_idle_seconds", 240, "keep_alive_idle_s"),
        ("ready_timeout_seconds", 1, "ready_timeout_s"),
        ("ready_timeout_seconds", 120, "ready_timeout_s"),
    ],
)
def test_options_at_the_range_bounds_are_taken(name: str, value: int, attribute: str) -> None:
    assert getattr(plan(lite_config(**{name: value})).options, attribute) == value


@pytest.mark.parametrize(
    ("name", "value", "low", "high"),
    [
        ("first_packet_ms", 19, 20, 2000),
        ("first_packet_ms", 2001, 20, 2000),
        ("first_packet_ms", -1, 20, 2000),
        ("keep_alive_idle_seconds", 4, 5, 240),
        ("keep_alive_idle_seconds", 241, 5, 240),
        ("ready_timeout_seconds", -1, 1, 120),
        ("ready_timeout_seconds", 121, 1, 120),
    ],
)
def test_options_out_of_range_name_the_field_and_the_range(
    name: str, value: int, low: int, high: int
) -> None:
    error = problem(lite_config(**{name: value}))
    expected = (
        f"config.options.{name} {value} is out of range: expected {low} to {high}, "
        "or 0 for the server default"
    )
    assert error.message == expected
    assert error.violations == ((f"config.options.{name}", expected),)


def test_one_option_in_range_keeps_the_others_at_their_defaults() -> None:
    options = plan(lite_config(keep_alive_idle_seconds=30)).options
    assert (options.first_packet_ms, options.keep_alive_idle_s, options.ready_timeout_s) == (
        333,
        30,
        17.0,
    )
    options = plan(lite_config(first_packet_ms=21, ready_timeout_seconds=119)).options
    assert (options.first_packet_ms, options.keep_alive_idle_s, options.ready_timeout_s) == (
        21,
        44.0,
        119,
    )


def test_three_problems_are_reported_together_in_order() -> None:
    config = pb.SessionConfig(
        options=pb.BridgeOptions(first_packet_ms=5, ready_timeout_seconds=500),
        input_audio=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=1),
        create=pb.NewSession(avatar_id="  ", lite=pb.LiteSession()),
    )
    error = problem(config)
    fields = [path for path, _ in error.violations]
    assert fields == [
        "config.options.first_packet_ms",
        "config.options.ready_timeout_seconds",
        "config.input_audio.sample_rate_hertz",
        "config.create.avatar_id",
    ]
    assert error.message.startswith("4 problems: config.options.first_packet_ms 5 is out")
    assert error.violations[2][1] == (
        "config.input_audio.sample_rate_hertz 1 is out of range: expected 8000 to 48000"
    )


# -- input audio ----------------------------------------------------------------------------------


def test_input_audio_is_none_for_a_commands_only_conversation() -> None:
    assert plan(lite_config()).input_audio is None


def test_declared_input_audio_is_carried_into_the_plan() -> None:
    config = lite_config()
    config.input_audio.CopyFrom(
        pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000)
    )
    audio = plan(config).input_audio
    assert audio is not None
    assert (audio.sample_rate_hz, audio.channels) == (8000, 1)


def test_an_input_audio_problem_alone_is_reported_as_it_is() -> None:
    config = lite_config()
    config.input_audio.CopyFrom(pb.AudioFormat(sample_rate_hertz=16000))
    error = problem(config)
    assert error.message.startswith("config.input_audio.encoding is not set")
    assert error.violations[0][0] == "config.input_audio.encoding"


# -- create: the token body -----------------------------------------------------------------------


def test_lite_create_token_body() -> None:
    config = pb.SessionConfig(
        create=pb.NewSession(avatar_id=f"  {AVATAR} ", lite=pb.LiteSession(), is_sandbox=True)
    )
    result = plan(config)
    assert result.mode == pb.MODE_LITE
    assert result.token_body == {"avatar_id": AVATAR, "is_sandbox": True, "mode": "LITE"}
    assert result.attached is False
    assert result.attach_session_id == ""
    assert result.participation == pb.PARTICIPATION_USER
    assert result.push_to_talk is False
    assert result.stop_on_end is True


def test_not_sandbox_by_default() -> None:
    assert plan(lite_config()).token_body == {
        "avatar_id": AVATAR,
        "is_sandbox": False,
        "mode": "LITE",
    }


@pytest.mark.parametrize(
    ("quality", "encoding", "video"),
    [
        (pb.VIDEO_QUALITY_LOW, pb.VIDEO_ENCODING_H264, {"quality": "low", "encoding": "H264"}),
        (pb.VIDEO_QUALITY_MEDIUM, pb.VIDEO_ENCODING_VP8, {"quality": "medium", "encoding": "VP8"}),
        (pb.VIDEO_QUALITY_HIGH, 0, {"quality": "high"}),
        (pb.VIDEO_QUALITY_VERY_HIGH, 0, {"quality": "very_high"}),
        (0, pb.VIDEO_ENCODING_VP8, {"encoding": "VP8"}),
        (0, 0, None),
    ],
)
def test_video_settings_map_to_liveavatar_names(
    quality: int, encoding: int, video: dict[str, str] | None
) -> None:
    config = lite_config()
    config.create.video_settings.CopyFrom(pb.VideoSettings(quality=quality, encoding=encoding))  # type: ignore[arg-type]
    body = plan(config).token_body
    assert body is not None
    assert body.get("video_settings") == video


def test_max_session_duration_is_sent_when_set() -> None:
    config = lite_config()
    config.create.max_session_duration_seconds = 1
    body = plan(config).token_body
    assert body is not None
    assert body["max_session_duration"] == 1
    assert "max_session_duration" not in (plan(lite_config()).token_body or {})


def test_negative_max_session_duration_is_rejected() -> None:
    config = lite_config()
    config.create.max_session_duration_seconds = -1
    error = problem(config)
    assert error.message == (
        "config.create.max_session_duration_seconds is negative: expected seconds, "
        "or 0 for the account's limit"
    )


def test_empty_avatar_id_is_rejected() -> None:
    config = pb.SessionConfig(create=pb.NewSession(avatar_id=" \t", lite=pb.LiteSession()))
    assert problem(config).message == (
        "config.create.avatar_id is empty: expected a LiveAvatar avatar id"
    )


def test_create_without_a_mode_is_rejected() -> None:
    config = pb.SessionConfig(create=pb.NewSession(avatar_id=AVATAR))
    assert problem(config).message == (
        "config.create.mode is not set: expected config.create.lite {} or config.create.full {}"
    )


def test_config_without_a_session_is_rejected() -> None:
    assert problem(pb.SessionConfig()).message == (
        "config.session is not set: expected config.create (a new LiveAvatar session) "
        "or config.attach (a session started elsewhere)"
    )


def test_bring_your_own_livekit_room() -> None:
    config = lite_config()
    config.create.lite.livekit_room.CopyFrom(
        pb.LiveKitRoom(url="wss://mine.example", room="r1", token="tok")
    )
    body = plan(config).token_body
    assert body is not None
    assert body["livekit_config"] == {
        "livekit_url": "wss://mine.example",
        "livekit_room": "r1",
        "livekit_client_token": "tok",
    }


@pytest.mark.parametrize("missing", ["url", "room", "token"])
def test_livekit_room_needs_url_room_and_token(missing: str) -> None:
    room = {"url": "wss://mine.example", "room": "r1", "token": "tok"}
    room[missing] = ""
    config = lite_config()
    config.create.lite.livekit_room.CopyFrom(pb.LiveKitRoom(**room))
    assert problem(config).message == (
        f"config.create.lite.livekit_room.{missing} is empty: a bring-your-own "
        "LiveKit room needs url, room and token"
    )


def full_config(**full: Any) -> pb.SessionConfig:
    return pb.SessionConfig(create=pb.NewSession(avatar_id=AVATAR, full=pb.FullSession(**full)))


def test_minimal_full_token_body() -> None:
    result = plan(full_config())
    assert result.mode == pb.MODE_FULL
    assert result.token_body == {
        "avatar_id": AVATAR,
        "is_sandbox": False,
        "mode": "FULL",
        "avatar_persona": {"language": "en"},
        "interactivity_type": "CONVERSATIONAL",
    }
    assert result.participation == pb.PARTICIPATION_USER
    assert result.push_to_talk is False


def test_full_token_body_with_every_field() -> None:
    voice_settings = struct_pb2.Struct()
    voice_settings.update({"provider": "elevenLabs", "speed": 1.5})
    persona = pb.AvatarPersona(
        voice_id="v-1",
        context_id="c-1",
        language="fr",
        voice_settings=voice_settings,
        stt_provider="deepgram",
    )
    config = full_config(
        persona=persona,
        interactivity_type=pb.INTERACTIVITY_TYPE_PUSH_TO_TALK,
        participation=pb.PARTICIPATION_CONTROLLER,
        llm_configuration_id="llm-1",
        dynamic_variables={"name": "Ada"},
        memory=pb.SessionMemory(prev_session_id="s-0", session_memory_id="m-0"),
    )
    result = plan(config)
    assert result.token_body == {
        "avatar_id": AVATAR,
        "is_sandbox": False,
        "mode": "FULL",
        "avatar_persona": {
            "language": "fr",
            "voice_id": "v-1",
            "context_id": "c-1",
            "voice_settings": {"provider": "elevenLabs", "speed": 1.5},
            "stt_config": {"provider": "deepgram"},
        },
        "interactivity_type": "PUSH_TO_TALK",
        "llm_configuration_id": "llm-1",
        "dynamic_variables": {"name": "Ada"},
        "memory": {"prev_session_id": "s-0", "session_memory_id": "m-0"},
    }
    assert result.participation == pb.PARTICIPATION_CONTROLLER
    assert result.push_to_talk is True


def test_conversational_interactivity_is_not_push_to_talk() -> None:
    result = plan(full_config(interactivity_type=pb.INTERACTIVITY_TYPE_CONVERSATIONAL))
    assert result.push_to_talk is False
    assert (result.token_body or {})["interactivity_type"] == "CONVERSATIONAL"


def test_memory_keeps_only_the_ids_that_are_set() -> None:
    body = plan(full_config(memory=pb.SessionMemory(session_memory_id="m-0"))).token_body
    assert (body or {})["memory"] == {"session_memory_id": "m-0"}
    body = plan(full_config(memory=pb.SessionMemory())).token_body
    assert "memory" not in (body or {})


def test_fifty_dynamic_variables_of_the_longest_sizes_are_taken() -> None:
    variables = {f"{i:02d}" + "k" * 62: "v" * 1000 for i in range(50)}
    body = plan(full_config(dynamic_variables=variables)).token_body
    assert (body or {})["dynamic_variables"] == variables


def test_fifty_one_dynamic_variables_are_rejected() -> None:
    variables = {f"k{i}": "v" for i in range(51)}
    assert problem(full_config(dynamic_variables=variables)).message == (
        "config.create.full.dynamic_variables has 51 entries: expected at most 50"
    )


@pytest.mark.parametrize(("key", "value"), [("k" * 65, "v"), ("k", "v" * 1001)])
def test_a_dynamic_variable_too_long_is_rejected(key: str, value: str) -> None:
    assert problem(full_config(dynamic_variables={key: value})).message == (
        f"config.create.full.dynamic_variables[{key[:64]!r}] is too long: "
        "expected keys up to 64 and values up to 1000 characters"
    )


def test_extra_token_fields_are_merged() -> None:
    config = lite_config()
    config.create.extra_token_fields.update({"agora_config": {"app_id": "a"}})
    body = plan(config).token_body
    assert body == {
        "avatar_id": AVATAR,
        "is_sandbox": False,
        "mode": "LITE",
        "agora_config": {"app_id": "a"},
    }


def test_extra_token_fields_may_not_override_typed_fields() -> None:
    config = full_config()
    config.create.extra_token_fields.update({"mode": "LITE", "avatar_persona": {}, "x": 1})
    assert problem(config).message == (
        "config.create.extra_token_fields sets avatar_persona, mode, which typed fields "
        "already set: use the typed fields"
    )


def test_full_controller_with_input_audio_is_rejected() -> None:
    config = full_config(participation=pb.PARTICIPATION_CONTROLLER)
    config.input_audio.CopyFrom(
        pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000)
    )
    assert problem(config).message == (
        "config.input_audio is set but participation is CONTROLLER: a controller sends "
        "commands only; use PARTICIPATION_USER to stream the user's microphone"
    )
    config.create.full.participation = pb.PARTICIPATION_USER
    assert plan(config).input_audio is not None


# -- attach ---------------------------------------------------------------------------------------


def test_attach_lite() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id=" s-1 ", lite=pb.LiteAttachment(ws_url=LITE_WS), stop_on_end=True
        )
    )
    result = plan(config)
    assert result.attached is True
    assert result.token_body is None
    assert result.mode == pb.MODE_LITE
    assert result.attach_session_id == "s-1"
    assert result.attach_ws_url == LITE_WS
    assert result.stop_on_end is True
    assert result.options.first_packet_ms == 333


def test_attach_leaves_the_session_running_by_default() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id="s-1", lite=pb.LiteAttachment(ws_url="ws://a.liveavatar.com/x")
        )
    )
    assert plan(config).stop_on_end is False


@pytest.mark.parametrize("url", ["https://a.liveavatar.com/ws", "", "a.liveavatar.com"])
def test_attach_lite_needs_a_websocket_url(url: str) -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(session_id="s-1", lite=pb.LiteAttachment(ws_url=url))
    )
    assert problem(config).message == (
        "config.attach.lite.ws_url must be the ws:// or wss:// URL that LiveAvatar's "
        "start call returned"
    )


def test_attach_needs_a_session_id() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(session_id=" ", lite=pb.LiteAttachment(ws_url=LITE_WS))
    )
    assert problem(config).message == (
        "config.attach.session_id is empty: expected a LiveAvatar session id"
    )


def test_attach_needs_a_target() -> None:
    config = pb.SessionConfig(attach=pb.AttachSession(session_id="s-1"))
    assert problem(config).message == (
        "config.attach.target is not set: expected config.attach.lite {ws_url} or "
        "config.attach.full {livekit_url, livekit_token}"
    )


def test_attach_full() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id="s-2",
            full=pb.FullAttachment(livekit_url=LIVEKIT, livekit_token="lk"),
            stop_on_end=True,
        )
    )
    result = plan(config)
    assert result.attached is True
    assert result.mode == pb.MODE_FULL
    assert result.attach_session_id == "s-2"
    assert result.attach_livekit_url == LIVEKIT
    assert result.attach_livekit_token == "lk"
    assert result.attach_ws_url == ""
    assert result.participation == pb.PARTICIPATION_USER
    assert result.stop_on_end is True


@pytest.mark.parametrize(("url", "token"), [("", "lk"), (LIVEKIT, "")])
def test_attach_full_needs_url_and_token(url: str, token: str) -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id="s-2", full=pb.FullAttachment(livekit_url=url, livekit_token=token)
        )
    )
    assert problem(config).message == (
        "config.attach.full needs livekit_url and livekit_token from LiveAvatar's start"
    )


def test_attach_full_controller() -> None:
    attachment = pb.FullAttachment(
        livekit_url=LIVEKIT, livekit_token="lk", participation=pb.PARTICIPATION_CONTROLLER
    )
    config = pb.SessionConfig(attach=pb.AttachSession(session_id="s-2", full=attachment))
    assert plan(config).participation == pb.PARTICIPATION_CONTROLLER
    config.input_audio.CopyFrom(
        pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000)
    )
    assert problem(config).message == (
        "config.input_audio is set but participation is CONTROLLER: a controller sends "
        "commands only"
    )


def test_attach_full_user_with_input_audio_is_taken() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id="s-2", full=pb.FullAttachment(livekit_url=LIVEKIT, livekit_token="lk")
        ),
        input_audio=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000),
    )
    assert plan(config).input_audio is not None


# -- the attach allowlist -------------------------------------------------------------------------


def test_attach_to_a_host_off_the_default_allowlist_is_denied() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id="s-1", lite=pb.LiteAttachment(ws_url="ws://127.0.0.1:9/x")
        )
    )
    with pytest.raises(PermissionDenied) as caught:
        plan(config)
    assert caught.value.message.startswith(
        "config.attach.lite.ws_url names a host this bridge may not connect to"
    )


def test_attach_full_to_a_host_off_the_allowlist_is_denied() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id="s-2",
            full=pb.FullAttachment(livekit_url="wss://evil.example", livekit_token="lk"),
        )
    )
    with pytest.raises(PermissionDenied) as caught:
        plan(config)
    assert caught.value.message.startswith(
        "config.attach.full.livekit_url names a host this bridge may not connect to"
    )


def test_a_given_allowlist_replaces_the_default() -> None:
    local = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id="s-1", lite=pb.LiteAttachment(ws_url="ws://127.0.0.1:9/x")
        )
    )
    only_local = HostAllowlist(("127.0.0.1:9",))
    assert plan(local, only_local).attach_ws_url == "ws://127.0.0.1:9/x"
    hosted = pb.SessionConfig(
        attach=pb.AttachSession(session_id="s-1", lite=pb.LiteAttachment(ws_url=LITE_WS))
    )
    with pytest.raises(PermissionDenied):
        plan(hosted, only_local)


def test_a_new_session_is_not_checked_against_the_allowlist() -> None:
    config = lite_config()
    config.create.lite.livekit_room.CopyFrom(
        pb.LiveKitRoom(url="wss://mine.example", room="r1", token="tok")
    )
    assert plan(config, HostAllowlist(())).token_body is not None


def test_an_interactivity_type_unknown_to_this_bridge_is_sent_as_conversational() -> None:
    # Proto3 enums are open: a newer client may send a value this bridge does not know.
    result = plan(full_config(interactivity_type=99))
    assert (result.token_body or {})["interactivity_type"] == "CONVERSATIONAL"
    assert result.push_to_talk is False


def test_attach_lite_carries_the_declared_input_audio() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(session_id="s-1", lite=pb.LiteAttachment(ws_url=LITE_WS)),
        input_audio=pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000),
    )
    audio = plan(config).input_audio
    assert audio is not None
    assert audio.sample_rate_hz == 8000


def test_attach_full_takes_options_and_leaves_the_session_running_by_default() -> None:
    config = pb.SessionConfig(
        attach=pb.AttachSession(
            session_id="s-2", full=pb.FullAttachment(livekit_url=LIVEKIT, livekit_token="lk")
        ),
        options=pb.BridgeOptions(ready_timeout_seconds=7),
    )
    result = plan(config)
    assert result.stop_on_end is False
    assert result.options.ready_timeout_s == 7
    assert result.options.first_packet_ms == 333

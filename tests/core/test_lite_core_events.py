"""LITE core: client commands, and LiveAvatar's events mapped to client events.

From the README ("The API", "Errors"), the .proto comments and the LITE protocol
(/work/shared/reference/liveavatar-api.md section 3): session and avatar states, buffer
acknowledgements echoing the request they answer, errors (UPPER_SNAKE_CASE, source upstream)
and warnings, events found by `event_id`, `task.id` or `source_event_id`.
"""

from __future__ import annotations

from typing import Any

import pytest

from avatar_bridge.errors import InvalidRequest
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .lite_harness import Harness, tone

# Client requests.


@pytest.mark.parametrize(
    ("member", "value", "wire"),
    [
        ("start_listening", pb.StartListening(), "agent.start_listening"),
        ("stop_listening", pb.StopListening(), "agent.stop_listening"),
        ("keep_alive", pb.KeepAlive(), "session.keep_alive"),
    ],
)
def test_a_command_goes_upstream_with_a_fresh_event_id_that_errors_map_back(
    member: str, value: Any, wire: str
) -> None:
    h = Harness()
    h.connect()
    h.request("r1", **{member: value})
    assert h.upstream == [{"type": wire, "event_id": "id1"}]
    h.up(type="error", error={"type": "invalid_request_error", "message": "no", "event_id": "id1"})
    assert h.with_rid("error") == [
        ("r1", pb.Error(code="INVALID_REQUEST_ERROR", message="LiveAvatar: no", source=2))
    ]


def test_a_command_without_request_id_is_not_remembered() -> None:
    h = Harness()
    h.connect()
    h.request("", start_listening=pb.StartListening())
    h.request("r2", stop_listening=pb.StopListening())
    h.up(type="error", error={"type": "server_error", "message": "m", "event_id": "id1"})
    assert [rid for rid, _ in h.with_rid("error")] == [""]


def test_config_after_the_first_request_is_an_in_stream_error() -> None:
    for connected in (False, True):
        h = Harness()
        if connected:
            h.connect()
        h.request("c1", config=pb.SessionConfig())
        assert h.with_rid("error") == [
            (
                "c1",
                pb.Error(
                    code="INVALID_COMMAND",
                    message="config may only be sent in the first request; ignored",
                    source=pb.ERROR_SOURCE_BRIDGE,
                ),
            )
        ]
        assert h.failures == []
        h.connect()
        assert h.upstream == []  # Not held for later either.


@pytest.mark.parametrize(
    ("member", "value", "name"),
    [
        ("speak_text", pb.SpeakText(text="hi"), "SpeakText"),
        ("speak_response", pb.SpeakResponse(text="hi"), "SpeakResponse"),
        ("push_to_talk_start", pb.PushToTalkStart(), "PushToTalkStart"),
        ("push_to_talk_stop", pb.PushToTalkStop(), "PushToTalkStop"),
    ],
)
def test_full_only_commands_are_unsupported_in_mode_even_before_connected(
    member: str, value: Any, name: str
) -> None:
    h = Harness()
    h.request("f1", **{member: value})
    assert h.with_rid("error") == [
        (
            "f1",
            pb.Error(
                code="UNSUPPORTED_IN_MODE",
                message=f"{name} is a FULL-mode command; this is a LITE session, "
                "where the client's audio is the avatar's speech",
                source=pb.ERROR_SOURCE_BRIDGE,
            ),
        )
    ]
    h.connect()
    assert h.upstream == []


def test_a_request_with_nothing_set_is_an_invalid_command() -> None:
    h = Harness()
    h.connect()
    h.request("n1")
    assert h.with_rid("error") == [
        (
            "n1",
            pb.Error(
                code="INVALID_COMMAND",
                message="request has no audio or command set",
                source=pb.ERROR_SOURCE_BRIDGE,
            ),
        )
    ]
    assert h.upstream == []
    assert h.failures == []


def test_audio_without_a_declared_input_format_ends_the_call() -> None:
    h = Harness(fmt=None)
    h.connect()
    h.audio(tone(100), rid="a1")
    assert len(h.failures) == 1
    error = h.failures[0].error
    assert isinstance(error, InvalidRequest)
    assert error.message == (
        "audio sent but config.input_audio was not set: declare the encoding, "
        "sample rate and channel count in the first request"
    )
    assert h.upstream == []


def test_a_commands_only_session_drops_nothing_and_has_no_pending_audio() -> None:
    h = Harness(fmt=None)
    h.request("l", start_listening=pb.StartListening())
    assert h.core.pending_audio_ms() == 0
    h.interrupt("i")
    h.connect()
    assert h.kinds_up() == ["agent.start_listening"]
    h.close()
    assert h.dropped() == []


def test_a_chunk_of_partial_frames_ends_the_call_even_before_connected() -> None:
    from avatar_bridge.audio import AudioEncoding, AudioFormat

    h = Harness(AudioFormat(AudioEncoding.LINEAR16, 24000, 1))
    h.audio(b"\x00" * 7)
    assert len(h.failures) == 1
    assert isinstance(h.failures[0].error, InvalidRequest)
    assert "multiple of 2" in h.failures[0].error.message
    assert h.core.pending_audio_ms() == 0  # The bad chunk was not held.


def test_speak_end_with_no_audio_is_an_empty_utterance_warning() -> None:
    h = Harness()
    h.connect()
    h.speak_end("e1")
    assert h.with_rid("warning") == [
        (
            "e1",
            pb.Warning(
                code="EMPTY_UTTERANCE",
                message="speak_end with no audio since the last speak_end or interrupt; "
                "nothing to speak",
            ),
        )
    ]
    assert h.upstream == []


def test_an_utterance_of_empty_chunks_sends_nothing_and_warns_nothing() -> None:
    h = Harness()
    h.connect()
    h.audio(b"", rid="z")
    h.speak_end("e1")
    assert h.upstream == []
    assert h.events[1:] == []


# Session state.


@pytest.mark.parametrize(
    ("wire", "state"),
    [
        ("new", pb.SESSION_STATE_CONNECTING),
        ("connecting", pb.SESSION_STATE_CONNECTING),
        ("CONNECTING", pb.SESSION_STATE_CONNECTING),
        ("closing", pb.SESSION_STATE_CLOSING),
        ("closed", pb.SESSION_STATE_CLOSED),
        ("disconnected", pb.SESSION_STATE_CLOSED),
    ],
)
def test_session_states_map_to_the_api_and_do_not_make_the_session_ready(
    wire: str, state: int
) -> None:
    h = Harness()
    h.request("l", start_listening=pb.StartListening())
    h.up(type="session.state_updated", state=wire)
    assert h.of("session_state_changed") == [pb.SessionStateChanged(state=state)]
    assert h.upstream == []
    assert not h.core.ready


def test_connected_in_any_case_makes_the_session_ready_once() -> None:
    h = Harness()
    h.request("l", start_listening=pb.StartListening())
    h.up(type="session.state_updated", state="Connected")
    assert h.core.ready
    assert h.kinds_up() == ["agent.start_listening"]
    h.up(type="session.state_updated", state="connected")  # Redelivered: nothing replays.
    assert h.kinds_up() == ["agent.start_listening"]
    assert (
        h.of("session_state_changed")
        == [pb.SessionStateChanged(state=pb.SESSION_STATE_CONNECTED)] * 2
    )


def test_an_unknown_session_state_passes_through_as_an_upstream_event() -> None:
    h = Harness()
    h.up(type="session.state_updated", state="warming_up", _received_at=1.0)
    assert h.kinds() == ["upstream_event"]
    event = h.of("upstream_event")[0]
    assert event.type == "session.state_updated"
    assert dict(event.payload) == {"type": "session.state_updated", "state": "warming_up"}
    assert not h.core.ready


def test_a_state_event_without_a_state_passes_through() -> None:
    h = Harness()
    h.up(type="session.state_updated")
    assert h.kinds() == ["upstream_event"]


def test_the_session_is_ready_only_after_connected() -> None:
    h = Harness()
    assert not h.core.ready
    h.connect()
    assert h.core.ready


# Avatar state.


@pytest.mark.parametrize(
    ("event", "previous", "state"),
    [
        ({"previous_state": "idle", "new_state": "listening"}, 1, 2),
        ({"previous_state": "LISTENING", "new_state": "Talking"}, 2, 3),
        ({"previous_state": "talking", "new_state": "idle"}, 3, 1),
        ({"state": "listening"}, 0, 2),  # LiveKit's plugin tolerates `state` for `new_state`.
        ({"previous_state": "thinking", "new_state": "dreaming"}, 0, 0),
        ({"previous_state": "idle", "new_state": "talking", "state": "idle"}, 1, 3),
    ],
)
def test_avatar_states_map_to_the_api(event: dict[str, str], previous: int, state: int) -> None:
    h = Harness()
    h.connect()
    h.up(type="agent.state_updated", **event)
    assert h.of("avatar_state_changed") == [
        pb.AvatarStateChanged(previous_state=previous, state=state)
    ]
    assert h.speak_events() == []


def _two_committed_turns(h: Harness) -> tuple[str, str]:
    h.connect()
    h.audio(tone(400), rid="A")
    h.speak_end()
    h.audio(tone(400), rid="B")
    h.speak_end()
    return h.speak_id(0), h.speak_id(1)


def test_talking_starts_the_oldest_turn_and_idle_ends_it() -> None:
    h = Harness()
    _two_committed_turns(h)
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.up(type="agent.state_updated", previous_state="talking", new_state="idle")
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.up(type="agent.state_updated", previous_state="talking", new_state="listening")
    assert h.speak_events() == [
        ("started", "A"),
        ("ended", "A"),
        ("started", "B"),
        ("ended", "B"),
    ]


def test_the_avatar_state_comes_before_the_speak_event_it_causes() -> None:
    h = Harness()
    _two_committed_turns(h)
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.up(type="agent.state_updated", previous_state="talking", new_state="idle")
    assert h.kinds() == [
        "session_state_changed",
        "avatar_state_changed",
        "avatar_speak_started",
        "avatar_state_changed",
        "avatar_speak_ended",
    ]


def test_leaving_talking_for_any_state_ends_the_playing_turn() -> None:
    h = Harness()
    _two_committed_turns(h)
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.up(type="agent.state_updated", previous_state="talking", new_state="thinking")
    assert h.speak_events() == [("started", "A"), ("ended", "A")]


def test_idle_or_listening_ends_the_playing_turn_whatever_the_previous_state() -> None:
    for new_state in ("idle", "listening"):
        h = Harness()
        _two_committed_turns(h)
        h.up(type="agent.state_updated", new_state="talking")
        h.up(type="agent.state_updated", new_state=new_state)
        assert h.speak_events() == [("started", "A"), ("ended", "A")]


def test_state_changes_with_no_turn_playing_yield_only_the_state() -> None:
    h = Harness()
    _two_committed_turns(h)
    h.up(type="agent.state_updated", previous_state="idle", new_state="listening")
    h.up(type="agent.state_updated", previous_state="listening", new_state="idle")
    h.up(type="agent.state_updated", previous_state="thinking", new_state="dreaming")
    assert h.speak_events() == []
    assert len(h.of("avatar_state_changed")) == 3


# Speak events, found by id.


def test_speak_events_find_their_turn_by_event_id_then_task_id_then_source_event_id() -> None:
    h = Harness()
    a, b = _two_committed_turns(h)
    h.up(type="agent.speak_started", task={"id": b})
    h.up(type="agent.speak_ended", source_event_id=b)
    h.up(type="agent.speak_started", event_id=a, task={"id": b})
    h.up(type="agent.speak_ended", event_id="unknown", task={"id": a})
    assert h.speak_events() == [("started", "B"), ("ended", "B"), ("started", "A"), ("ended", "A")]


def test_ids_that_are_not_strings_or_a_task_that_is_not_an_object_are_ignored() -> None:
    """Without a usable id the event goes to the oldest turn it can apply to."""
    h = Harness()
    _a, b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=7, task=b, source_event_id=["x"])
    assert h.speak_events() == [("started", "A")]
    h.up(type="agent.speak_ended", task={"id": 3})
    assert h.speak_events() == [("started", "A"), ("ended", "A")]


def test_a_speak_end_event_with_no_turn_in_flight_is_ignored() -> None:
    h = Harness()
    h.connect()
    h.up(type="agent.speak_started")
    h.up(type="agent.speak_ended")
    h.up(type="agent.speak_interrupted")
    assert h.speak_events() == []


def test_a_speak_ended_before_any_start_still_yields_started_then_ended() -> None:
    """Exactly one started before the ended, even when LiveAvatar skipped speak_started."""
    h = Harness()
    _a, b = _two_committed_turns(h)
    h.up(type="agent.speak_ended", event_id=b)
    assert h.speak_events() == [("started", "B"), ("ended", "B")]


def test_speak_events_echo_the_utterance_id_as_request_id() -> None:
    h = Harness()
    a, _b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.speak_ended", event_id=a)
    assert [rid for rid, _ in h.with_rid("avatar_speak_started")] == ["A"]
    assert [rid for rid, _ in h.with_rid("avatar_speak_ended")] == ["A"]


def test_speak_interrupted_without_an_interrupt_ends_a_started_turn_interrupted() -> None:
    h = Harness()
    a, _b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.speak_interrupted", event_id=a)
    h.up(type="agent.speak_interrupted", event_id=a)  # Redelivered.
    h.up(type="agent.speak_ended", event_id=a)
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]


def test_interrupted_events_echo_the_utterance_id_as_request_id() -> None:
    h = Harness()
    a, _b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.speak_interrupted", event_id=a)
    h.interrupt()
    h.up(type="agent.speak_started", event_id=h.speak_id(1))
    h.advance(5)  # B's interrupt is never confirmed: reported after the grace period.
    assert h.with_rid("avatar_speak_interrupted") == [
        ("A", pb.AvatarSpeakInterrupted(utterance_id="A")),
    ]
    assert h.speak_events()[-1] == ("interrupted", "A")


def test_every_started_turn_is_reported_interrupted_when_the_interrupt_is_confirmed() -> None:
    h = Harness()
    a, b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.speak_started", event_id=b)  # LiveAvatar overlapped them.
    h.interrupt("i")
    h.up(type="agent.audio_buffer_cleared", source_event_id=h.upstream[-1]["event_id"])
    assert h.speak_events() == [
        ("started", "A"),
        ("started", "B"),
        ("interrupted", "A"),
        ("interrupted", "B"),
    ]
    assert [rid for rid, _ in h.with_rid("avatar_speak_interrupted")] == ["A", "B"]


def test_after_liveavatar_interrupts_an_utterance_nothing_more_is_reported_for_it() -> None:
    """The client may keep streaming the utterance LiveAvatar cut: it stays over."""
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    uid = h.speak_id()
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_interrupted", event_id=uid)
    h.audio(tone(400))
    h.speak_end()
    assert h.sent("agent.speak_end") == [{"type": "agent.speak_end", "event_id": uid}]
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.up(type="agent.state_updated", previous_state="talking", new_state="idle")
    assert h.speak_events() == [("started", "u"), ("interrupted", "u")]


def test_events_naming_an_utterance_that_never_reached_liveavatar_yield_nothing() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(100), rid="u")  # Below the first packet: its event_id id1 never went.
    h.interrupt()
    h.up(type="agent.speak_started", event_id="id1")
    h.up(type="agent.speak_ended", event_id="id1")
    h.up(type="agent.audio_buffer_appended", source_event_id="id1")
    assert h.speak_events() == []
    assert h.of("audio_buffer_updated") == [
        pb.AudioBufferUpdated(action=pb.AUDIO_BUFFER_ACTION_APPENDED, utterance_id="")
    ]


def test_speak_interrupted_for_a_turn_that_never_started_yields_nothing() -> None:
    h = Harness()
    _a, b = _two_committed_turns(h)
    h.up(type="agent.speak_interrupted", event_id=b)
    assert h.speak_events() == []


def test_speak_interrupted_with_no_id_applies_to_the_playing_turn() -> None:
    h = Harness()
    _two_committed_turns(h)
    h.up(type="agent.state_updated", new_state="talking")
    h.up(type="agent.speak_interrupted")
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]


def test_an_ended_turn_before_the_clients_speak_end_is_a_gap_and_a_start_resumes_it() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    uid = h.speak_id()
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)  # Ran dry.
    h.up(type="agent.speak_ended", event_id=uid)  # A second end in the gap changes nothing.
    h.audio(tone(400))
    h.up(type="agent.speak_started", event_id=uid)  # Resumed: not a second start.
    h.speak_end()
    assert h.speak_events() == [("started", "u")]  # More audio came: not over at speak_end.
    h.up(type="agent.speak_ended", event_id=uid)
    assert h.speak_events() == [("started", "u"), ("ended", "u")]


def test_a_gap_that_got_more_audio_is_not_ended_by_speak_end() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    uid = h.speak_id()
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.up(type="agent.state_updated", previous_state="talking", new_state="idle")  # Ran dry.
    h.audio(tone(400))  # Sent in the gap.
    h.speak_end()
    assert h.speak_events() == [("started", "u")]
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")  # Resumed.
    assert h.speak_events() == [("started", "u")]
    h.up(type="agent.speak_ended", event_id=uid)
    assert h.speak_events() == [("started", "u"), ("ended", "u")]


def test_a_gap_is_ended_by_speak_end_even_when_audio_below_a_packet_waited() -> None:
    """Audio that arrived in the gap but was not sent yet goes at speak_end: the turn is then
    not over until LiveAvatar says so."""
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    uid = h.speak_id()
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)
    h.advance(1)
    h.audio(tone(40))
    h.speak_end()
    assert h.speak_events() == [("started", "u")]


# Buffer acknowledgements.


def test_appended_names_the_utterance_and_echoes_its_id() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u1")
    h.speak_end("e1")
    uid = h.speak_id()
    h.up(type="agent.audio_buffer_appended", event_id="ack1", source_event_id=uid)
    assert h.with_rid("audio_buffer_updated") == [
        (
            "u1",
            pb.AudioBufferUpdated(action=pb.AUDIO_BUFFER_ACTION_APPENDED, utterance_id="u1"),
        )
    ]


def test_committed_echoes_the_speak_end_request_id() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u1")
    h.speak_end("e1")
    uid = h.speak_id()
    h.up(type="agent.audio_buffer_committed", event_id="ack2", source_event_id=uid)
    assert h.with_rid("audio_buffer_updated") == [
        (
            "e1",
            pb.AudioBufferUpdated(action=pb.AUDIO_BUFFER_ACTION_COMMITTED, utterance_id="u1"),
        )
    ]


def test_committed_for_a_speak_end_without_request_id_echoes_the_utterance() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u1")
    h.speak_end()
    h.up(type="agent.audio_buffer_committed", source_event_id=h.speak_id())
    assert [rid for rid, _ in h.with_rid("audio_buffer_updated")] == ["u1"]


def test_cleared_echoes_the_interrupt_and_ends_the_interrupted_turn_at_once() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u1")
    h.up(type="agent.speak_started", event_id=h.speak_id())
    h.interrupt("i1")
    interrupt_id = h.upstream[-1]["event_id"]
    assert h.upstream[-1] == {"type": "agent.interrupt", "event_id": interrupt_id}
    assert h.speak_events() == [("started", "u1")]
    h.up(type="agent.audio_buffer_cleared", source_event_id=interrupt_id)
    assert h.with_rid("audio_buffer_updated") == [
        ("i1", pb.AudioBufferUpdated(action=pb.AUDIO_BUFFER_ACTION_CLEARED, utterance_id=""))
    ]
    assert h.speak_events() == [("started", "u1"), ("interrupted", "u1")]
    h.advance(10)  # No second report when the grace period would have ended.
    assert h.speak_events() == [("started", "u1"), ("interrupted", "u1")]


def test_buffer_events_for_unknown_ids_carry_no_ids() -> None:
    h = Harness()
    h.connect()
    for kind, action in [
        ("agent.audio_buffer_appended", pb.AUDIO_BUFFER_ACTION_APPENDED),
        ("agent.audio_buffer_committed", pb.AUDIO_BUFFER_ACTION_COMMITTED),
        ("agent.audio_buffer_cleared", pb.AUDIO_BUFFER_ACTION_CLEARED),
    ]:
        h.up(type=kind, source_event_id="nobody")
        assert h.with_rid("audio_buffer_updated")[-1] == (
            "",
            pb.AudioBufferUpdated(action=action, utterance_id=""),
        )


def test_cleared_without_an_interrupt_ends_no_turn() -> None:
    h = Harness()
    a, _b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.audio_buffer_cleared")
    assert h.speak_events() == [("started", "A")]


# Errors and warnings from LiveAvatar.


@pytest.mark.parametrize(
    ("event", "code", "message"),
    [
        (
            {"error": {"type": "server_error", "message": "boom"}},
            "SERVER_ERROR",
            "LiveAvatar: boom",
        ),
        ({"error": {"type": "server_error"}}, "SERVER_ERROR", "LiveAvatar: server_error"),
        ({"error": {}}, "ERROR", "LiveAvatar: error"),
        ({"message": "flat"}, "ERROR", "LiveAvatar: flat"),
        ({"error": "text", "message": "flat"}, "ERROR", "LiveAvatar: flat"),
    ],
)
def test_upstream_errors_are_in_stream_errors_in_upper_case(
    event: dict[str, Any], code: str, message: str
) -> None:
    h = Harness()
    h.connect()
    h.up(type="error", **event)
    assert h.with_rid("error") == [
        ("", pb.Error(code=code, message=message, source=pb.ERROR_SOURCE_UPSTREAM))
    ]
    assert h.failures == []


def test_an_error_naming_an_utterance_echoes_its_speak_end_request_id() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u1")
    h.speak_end("e1")
    h.up(type="error", error={"type": "invalid_request_error", "event_id": h.speak_id()})
    assert [rid for rid, _ in h.with_rid("error")] == ["e1"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"error": {"type": "video_starvation", "message": "audio too slow"}}, "audio too slow"),
        ({"error": {"type": "video_starvation"}}, "video_starvation"),
    ],
)
def test_video_starvation_is_a_warning_not_an_error(event: dict[str, Any], message: str) -> None:
    h = Harness()
    h.connect()
    h.up(type="error", **event)
    assert h.of("warning") == [pb.Warning(code="VIDEO_STARVATION", message=message)]
    assert h.of("error") == []


@pytest.mark.parametrize(
    ("event", "code", "message"),
    [
        ({"warning": {"type": "slow_audio", "message": "m"}}, "SLOW_AUDIO", "m"),
        ({"warning": {"type": "slow_audio"}}, "SLOW_AUDIO", "SLOW_AUDIO"),
        ({"warning": {}}, "UPSTREAM_WARNING", "UPSTREAM_WARNING"),
        ({"warning": {"message": "x"}}, "UPSTREAM_WARNING", "x"),
        ({"message": "flat"}, "WARNING", "flat"),
        ({"warning": "text"}, "WARNING", "WARNING"),
    ],
)
def test_upstream_warnings_become_warnings_in_upper_case(
    event: dict[str, Any], code: str, message: str
) -> None:
    h = Harness()
    h.connect()
    h.up(type="warning", **event)
    assert h.of("warning") == [pb.Warning(code=code, message=message)]


def test_unknown_events_pass_through_without_the_transports_annotations() -> None:
    h = Harness()
    h.up(type="agent.new_thing", value=3, _received_at=12.5)
    assert h.kinds() == ["upstream_event"]
    event = h.of("upstream_event")[0]
    assert event.type == "agent.new_thing"
    assert dict(event.payload) == {"type": "agent.new_thing", "value": 3.0}


def test_an_event_without_a_type_passes_through_with_an_empty_type() -> None:
    h = Harness()
    h.up(value=1)
    assert [e.type for e in h.of("upstream_event")] == [""]

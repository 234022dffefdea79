"""The FULL core's documented behaviour, pinned closely enough that a one-token change fails.

Driven directly (sans-I/O) like test_full_core.py, whose Harness it reuses. Expected values are
written from the README, the .proto comments and the LiveAvatar reference (FULL events and
commands, /work/shared/reference/liveavatar-api.md §4), never imported from the core.
"""

from __future__ import annotations

import uuid

import pytest

from avatar_bridge.audio import AudioConverter, AudioEncoding, AudioFormat
from avatar_bridge.errors import FailedPrecondition, InvalidRequest
from avatar_bridge.full.core import FullCore
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .test_full_core import Harness, options

PCM24K = AudioFormat(AudioEncoding.LINEAR16, 24000, 1)
"""LiveAvatar's own format: passes through unchanged, so byte counts are exact."""
BYTES_PER_MS_24K = 48
"""24 kHz mono PCM16 is 48 bytes per millisecond."""
IDLE_S = 60.0
"""The keep-alive idle window the Harness is built with (options() in test_full_core.py)."""
DRAIN_S = 30.0
"""The drain timeout the Harness is built with."""
PCM16K_100MS = b"\x10\x00" * 1600
"""100 ms of 16 kHz PCM16: 2400 output samples (4800 bytes) once converted and flushed."""


def speak(h: Harness, rid: str, text: str = "hello") -> str:
    """Send SpeakText; return the event_id the core gave its command."""
    h.request(rid, speak_text=pb.SpeakText(text=text))
    return h.last_command_id()


def events_of(h: Harness, kind: str) -> list[pb.ConverseResponse]:
    return [e for e in h.events if e.WhichOneof("event") == kind]


def published_bytes(h: Harness) -> int:
    return sum(len(a) for a in h.audio)


# Construction defaults.


def test_default_event_ids_are_fresh_uuids() -> None:
    core = FullCore(options(), None, now=0.0)
    first = core.handle_request(pb.ConverseRequest(start_listening=pb.StartListening()), 0.0)
    second = core.handle_request(pb.ConverseRequest(stop_listening=pb.StopListening()), 0.0)
    ids = [a.message["event_id"] for a in first + second if hasattr(a, "message")]
    assert len(ids) == 2 and ids[0] != ids[1]
    for event_id in ids:
        assert str(uuid.UUID(event_id)) == event_id


def test_default_session_is_not_push_to_talk_and_publishes_audio() -> None:
    core = FullCore(options(), AudioConverter(PCM24K), now=0.0)
    actions = core.handle_request(
        pb.ConverseRequest(audio=pb.AudioChunk(data=b"\x01\x00" * 480)), 0.0
    )
    assert [a.pcm for a in actions if hasattr(a, "pcm")] == [b"\x01\x00" * 480]


def test_a_fresh_core_has_nothing_pending_no_end_reason_and_is_not_drained() -> None:
    h = Harness()
    assert h.core.pending_audio_ms() == 0.0
    assert h.core.stopped_reason == ""
    assert not h.core.drained  # Only a half-close can drain a conversation.
    assert h.core.ready


# Error texts the client reads (in-stream errors and failed calls).


def test_speak_end_in_full_names_the_commands_to_use() -> None:
    h = Harness()
    h.request("e", speak_end=pb.SpeakEnd())
    assert h.events[-1].request_id == "e"
    assert h.events[-1].error == pb.Error(
        code="UNSUPPORTED_IN_MODE",
        message="SpeakEnd is a LITE-mode command; this is a FULL session, where LiveAvatar "
        "speaks by itself: use SpeakText or SpeakResponse",
        source=pb.ERROR_SOURCE_BRIDGE,
    )


def test_a_second_config_is_an_invalid_command_and_ignored() -> None:
    h = Harness()
    h.request("c", config=pb.SessionConfig())
    assert h.events[-1].request_id == "c"
    assert h.events[-1].error == pb.Error(
        code="INVALID_COMMAND",
        message="config may only be sent in the first request; ignored",
        source=pb.ERROR_SOURCE_BRIDGE,
    )
    assert h.upstream == [] and not h.failures


def test_a_request_with_nothing_set_is_an_invalid_command() -> None:
    h = Harness()
    h.request("n")
    assert h.events[-1].request_id == "n"
    assert h.events[-1].error == pb.Error(
        code="INVALID_COMMAND",
        message="request has no audio or command set",
        source=pb.ERROR_SOURCE_BRIDGE,
    )


def test_empty_speak_text_names_the_field() -> None:
    h = Harness()
    h.request("t", speak_response=pb.SpeakResponse(text=""))
    assert h.events[-1].error.message == "speak_response.text is empty: expected the text"
    assert h.events[-1].request_id == "t"


def test_controller_audio_message() -> None:
    h = Harness(participation=pb.PARTICIPATION_CONTROLLER)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00" * 160))
    error = h.failures[0].error
    assert isinstance(error, FailedPrecondition)
    assert error.message == (
        "audio sent on a CONTROLLER conversation: a controller sends commands "
        "only; use PARTICIPATION_USER to stream the user's microphone"
    )


def test_audio_without_input_format_message() -> None:
    h = Harness(fmt=None)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00"))
    error = h.failures[0].error
    assert isinstance(error, InvalidRequest)
    assert error.message == (
        "audio sent but config.input_audio was not set: declare the encoding, "
        "sample rate and channel count in the first request"
    )


@pytest.mark.parametrize("push_to_talk", [False, True])
def test_a_partial_frame_fails_the_call_with_the_format_error(push_to_talk: bool) -> None:
    h = Harness(push_to_talk=push_to_talk)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00\x00"))  # PCM16 frames are 2 bytes.
    assert len(h.failures) == 1
    error = h.failures[0].error
    assert isinstance(error, InvalidRequest)
    assert error.message.startswith("audio chunk of 3 bytes is not a whole number of frames")
    assert h.audio == []


# Warnings the transport reports as `bridge.warning`.


def test_bridge_warning_becomes_a_warning_with_its_code_and_message() -> None:
    h = Harness()
    h.take(
        h.core.handle_upstream(
            {"event_type": "bridge.warning", "code": "AGENT_LEFT", "message": "agent left"}, 0.0
        )
    )
    assert h.kinds() == ["session_state_changed", "warning"]
    assert h.events[-1].warning == pb.Warning(code="AGENT_LEFT", message="agent left")


def test_bridge_warning_without_message_repeats_the_code() -> None:
    h = Harness()
    h.take(h.core.handle_upstream({"event_type": "bridge.warning", "code": "AVATAR_LEFT"}, 0.0))
    assert h.events[-1].warning == pb.Warning(code="AVATAR_LEFT", message="AVATAR_LEFT")


def test_bridge_warning_without_code_is_upstream_warning() -> None:
    h = Harness()
    h.take(h.core.handle_upstream({"event_type": "bridge.warning", "message": "odd"}, 0.0))
    assert h.events[-1].warning == pb.Warning(code="UPSTREAM_WARNING", message="odd")


# The first input of any kind announces CONNECTED, then the input's own events follow.


@pytest.mark.parametrize(
    "event",
    [
        {"event_type": "user.transcription", "text": "hi"},
        {"event_type": "user.push_to_talk_started"},
        {"event_type": "avatar.speak_started"},
    ],
)
def test_the_first_upstream_event_still_announces_connected(event: dict[str, str]) -> None:
    h = Harness()
    h.take(h.core.handle_upstream(event, 0.0))
    assert h.kinds()[0] == "session_state_changed"
    assert h.events[0].session_state_changed.state == pb.SESSION_STATE_CONNECTED
    assert len(h.events) == 2


def test_an_event_without_event_type_passes_through_untyped() -> None:
    h = Harness()
    h.take(h.core.handle_upstream({"value": 1}, 0.0))
    assert h.events[-1].upstream_event.type == ""
    assert h.events[-1].upstream_event.payload["value"] == 1


# Keep-alive: every command restarts the idle window.


@pytest.mark.parametrize(
    "member",
    [
        {"speak_text": pb.SpeakText(text="x")},
        {"interrupt": pb.Interrupt()},
        {"start_listening": pb.StartListening()},
        {"stop_listening": pb.StopListening()},
        {"push_to_talk_start": pb.PushToTalkStart()},
        {"push_to_talk_stop": pb.PushToTalkStop()},
        {"keep_alive": pb.KeepAlive()},
    ],
)
def test_every_command_restarts_the_idle_window(member: dict[str, object]) -> None:
    h = Harness(fmt=None)
    h.advance(0.0)
    h.now = 10.0
    h.request("r", **member)
    assert h.core.next_deadline() == 10.0 + IDLE_S
    h.advance(IDLE_S - 1)  # 69 s: one second short of the window.
    assert all(m["event_type"] != "session.keep_alive" for m in h.upstream[1:])
    h.advance(1.0)
    assert h.upstream[-1] == {"event_type": "session.keep_alive"}


# Drops outside push-to-talk: reported when a stretch is one second old, not before.


def test_a_drop_is_not_reported_by_the_timer_before_one_second() -> None:
    h = Harness(push_to_talk=True)
    h.request("a", audio=pb.AudioChunk(data=PCM16K_100MS))
    h.advance(0.5)
    h.advance(0.4995)
    assert "audio_dropped" not in h.kinds()
    h.advance(0.0005)
    assert h.kinds()[-1] == "audio_dropped"


def test_a_drop_is_reported_by_the_request_that_makes_it_one_second_old() -> None:
    h = Harness(push_to_talk=True)
    h.request("a", audio=pb.AudioChunk(data=PCM16K_100MS))
    h.now = 0.9995
    h.request("b", audio=pb.AudioChunk(data=PCM16K_100MS))
    assert "audio_dropped" not in h.kinds()
    h.now = 1.0
    h.request("c", audio=pb.AudioChunk(data=PCM16K_100MS))
    dropped = events_of(h, "audio_dropped")
    assert len(dropped) == 1
    assert dropped[0].audio_dropped == pb.AudioDropped(
        utterance_id="a",
        input_byte_count=3 * 3200,
        duration_ms=300,
        reason=pb.DROP_REASON_OUTSIDE_PUSH_TO_TALK,
    )


def test_an_empty_chunk_outside_the_window_reports_no_drop() -> None:
    h = Harness(push_to_talk=True)
    h.request("a", audio=pb.AudioChunk(data=b""))
    h.request("p", push_to_talk_start=pb.PushToTalkStart())
    h.advance(2.0)
    assert "audio_dropped" not in h.kinds()


# Push-to-talk: the window's state, its answers and the converter.


def test_audio_after_a_stop_is_not_published() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.upstream_event("user.push_to_talk_started", None)
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))
    assert h.audio  # Open and confirmed: published.
    h.request("p2", push_to_talk_stop=pb.PushToTalkStop())
    before = published_bytes(h)
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))
    assert published_bytes(h) == before  # Closed by the stop command.
    h.upstream_event("user.push_to_talk_stopped", None)
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))
    assert published_bytes(h) == before  # And still closed once LiveAvatar confirms.


def test_a_confirmed_window_stays_open_when_a_second_start_is_refused() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.upstream_event("user.push_to_talk_started", None)
    h.request("p2", push_to_talk_start=pb.PushToTalkStart())
    h.upstream_event("user.push_to_talk_start_failed", None, reason="already started")
    assert h.events[-1].request_id == "p2"
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))
    assert h.audio  # The first window is still open.


def test_a_refused_first_start_closes_the_window() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.upstream_event("user.push_to_talk_start_failed", None)
    h.request("a", audio=pb.AudioChunk(data=PCM16K_100MS))
    assert h.audio == []


def test_a_started_answer_opens_the_window_for_the_user_audio() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.upstream_event("user.push_to_talk_started", h.last_command_id())
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))
    assert h.audio


def test_a_second_start_inside_an_open_window_keeps_the_converter_state() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))
    h.request("p2", push_to_talk_start=pb.PushToTalkStart())
    h.request("p3", push_to_talk_stop=pb.PushToTalkStop())
    assert published_bytes(h) == 4800  # 100 ms at 24 kHz, nothing the resampler held is lost.


def test_a_start_in_a_plain_session_keeps_the_converter_state() -> None:
    h = Harness()
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))
    h.request("p", push_to_talk_start=pb.PushToTalkStart())
    h.take(h.core.handle_client_eof(h.now))
    assert published_bytes(h) == 4800


def test_a_new_window_starts_its_audio_afresh_after_a_refused_one() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))  # Converted: the resampler holds a tail.
    h.upstream_event("user.push_to_talk_start_failed", None)
    first = published_bytes(h)
    h.request("p2", push_to_talk_start=pb.PushToTalkStart())
    h.upstream_event("user.push_to_talk_started", None)
    h.request(audio=pb.AudioChunk(data=PCM16K_100MS))
    h.request("p3", push_to_talk_stop=pb.PushToTalkStop())
    assert published_bytes(h) - first == 4800  # Only the new window's 100 ms.


def test_push_to_talk_answers_match_by_source_then_oldest_waiting() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.request("p2", push_to_talk_start=pb.PushToTalkStart())
    second = h.last_command_id()
    h.upstream_event("user.push_to_talk_started", second)
    assert h.events[-1].request_id == "p2"
    h.upstream_event("user.push_to_talk_started", None)
    assert h.events[-1].request_id == "p1"
    h.upstream_event("user.push_to_talk_started", None)  # Nothing left waiting.
    assert h.events[-1].request_id == ""
    h.upstream_event("user.push_to_talk_started", "not-a-command-of-ours")
    assert h.events[-1].request_id == ""


def test_a_stop_answer_without_source_answers_the_stop() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.request("p2", push_to_talk_stop=pb.PushToTalkStop())
    h.upstream_event("user.push_to_talk_stopped", None)
    assert h.events[-1].request_id == "p2"
    assert h.events[-1].push_to_talk_result.outcome == pb.PUSH_TO_TALK_OUTCOME_STOPPED


def test_push_to_talk_result_message_is_the_reason_else_the_message_else_empty() -> None:
    h = Harness(push_to_talk=True)
    h.upstream_event("user.push_to_talk_stop_failed", None, message="not started")
    assert h.events[-1].push_to_talk_result == pb.PushToTalkResult(
        outcome=pb.PUSH_TO_TALK_OUTCOME_STOP_FAILED, message="not started"
    )
    h.upstream_event("user.push_to_talk_stop_failed", None, reason="r", message="m")
    assert h.events[-1].push_to_talk_result.message == "r"
    h.upstream_event("user.push_to_talk_stopped", None)
    assert h.events[-1].push_to_talk_result == pb.PushToTalkResult(
        outcome=pb.PUSH_TO_TALK_OUTCOME_STOPPED, message=""
    )


# Commands are remembered (event_id -> request_id) for the last 4096 commands.


def test_answers_map_back_for_the_last_4096_commands() -> None:
    h = Harness(push_to_talk=True)
    ids = []
    for i in range(4097):
        h.request(f"p{i}", push_to_talk_start=pb.PushToTalkStart())
        ids.append(h.last_command_id())
    h.upstream_event("user.push_to_talk_started", ids[1])
    assert h.events[-1].request_id == "p1"  # The 4096 most recent are remembered.
    h.upstream_event("user.push_to_talk_started", ids[0])
    assert h.events[-1].request_id == ""  # The oldest was forgotten.


# Transcriptions.


def test_transcriptions_without_text_and_user_transcriptions_carry_no_request() -> None:
    h = Harness()
    event_id = speak(h, "a")
    h.upstream_event("user.transcription", event_id, text="me")
    assert h.events[-1].request_id == ""
    assert h.events[-1].transcription.speaker == pb.SPEAKER_USER
    h.upstream_event("user.transcription.chunk", None)
    assert h.events[-1].request_id == ""
    assert h.events[-1].transcription == pb.Transcription(speaker=pb.SPEAKER_USER, text="")


def test_an_avatar_transcription_of_an_unknown_command_carries_no_request() -> None:
    h = Harness()
    h.upstream_event("avatar.transcription", "someone-else", text="hi")
    assert h.events[-1].request_id == ""
    assert h.events[-1].transcription == pb.Transcription(
        speaker=pb.SPEAKER_AVATAR, text="hi", is_final=True
    )


def test_a_heard_speak_command_is_waited_for_past_the_start_grace() -> None:
    h = Harness()
    event_id = speak(h, "a")
    h.upstream_event("avatar.transcription", event_id, text="hello")  # LiveAvatar took it up.
    h.take(h.core.handle_client_eof(h.now))
    h.advance(5.0)
    assert not h.core.drained
    h.upstream_event("avatar.speak_started", event_id)
    h.upstream_event("avatar.speak_ended", event_id)
    assert h.core.drained


# Turns.


def test_a_new_start_ends_the_playing_turn() -> None:
    h = Harness()
    first = speak(h, "a")
    second = speak(h, "b")
    h.upstream_event("avatar.speak_started", first)
    h.upstream_event("avatar.speak_started", second)  # No speak_ended for "a".
    assert [(e.WhichOneof("event"), e.request_id) for e in h.events[1:]] == [
        ("avatar_speak_started", "a"),
        ("avatar_speak_ended", "a"),
        ("avatar_speak_started", "b"),
    ]
    assert h.events[2].avatar_speak_ended.utterance_id == "a"
    h.upstream_event("avatar.speak_ended", second)
    assert h.events[-1].avatar_speak_ended == pb.AvatarSpeakEnded(utterance_id="b")


def test_turns_that_follow_each_other_each_get_one_pair() -> None:
    h = Harness()
    for rid in ("a", "b", "c"):
        event_id = speak(h, rid)
        h.upstream_event("avatar.speak_started", event_id)
        h.upstream_event("avatar.speak_ended", event_id)
    assert [(e.WhichOneof("event"), e.request_id) for e in h.events[1:]] == [
        (kind, rid) for rid in "abc" for kind in ("avatar_speak_started", "avatar_speak_ended")
    ]
    h.take(h.core.close())
    assert len(h.events) == 7  # Nothing playing: close adds nothing.


def test_an_end_without_start_uses_the_request_id_for_both_halves() -> None:
    h = Harness()
    event_id = speak(h, "a")
    h.upstream_event("avatar.speak_ended", event_id)
    assert [e.request_id for e in h.events[1:]] == ["a", "a"]
    assert h.events[1].avatar_speak_started.utterance_id == "a"
    assert h.events[2].avatar_speak_ended.utterance_id == "a"


def test_an_unsourced_end_with_nothing_playing_is_its_own_turn() -> None:
    h = Harness()
    h.take(h.core.handle_upstream({"event_type": "avatar.speak_ended", "event_id": "E1"}, 0.0))
    assert h.kinds()[1:] == ["avatar_speak_started", "avatar_speak_ended"]
    assert h.events[1].avatar_speak_started.utterance_id == "E1"
    assert h.events[2].avatar_speak_ended.utterance_id == "E1"
    assert h.events[1].request_id == h.events[2].request_id == ""


def test_an_unsourced_start_while_one_plays_is_a_new_turn() -> None:
    h = Harness()
    h.take(h.core.handle_upstream({"event_type": "avatar.speak_started", "event_id": "E1"}, 0.0))
    h.take(h.core.handle_upstream({"event_type": "avatar.speak_started", "event_id": "E2"}, 0.0))
    assert [(e.WhichOneof("event"), e.request_id) for e in h.events[1:]] == [
        ("avatar_speak_started", ""),
        ("avatar_speak_ended", ""),
        ("avatar_speak_started", ""),
    ]
    assert h.events[2].avatar_speak_ended.utterance_id == "E1"
    assert h.events[3].avatar_speak_started.utterance_id == "E2"
    h.take(h.core.handle_upstream({"event_type": "avatar.speak_ended", "event_id": "E3"}, 0.0))
    assert h.events[-1].avatar_speak_ended.utterance_id == "E2"


def test_a_turn_of_a_command_the_bridge_dropped_keeps_its_request_id() -> None:
    h = Harness()
    queued = speak(h, "a")
    h.request("stop", interrupt=pb.Interrupt())  # "a" had not started: no longer tracked.
    h.upstream_event("avatar.speak_started", queued)
    h.upstream_event("avatar.speak_ended", queued)
    assert [(e.WhichOneof("event"), e.request_id) for e in h.events[1:]] == [
        ("avatar_speak_started", "a"),
        ("avatar_speak_ended", "a"),
    ]
    assert h.events[1].avatar_speak_started.utterance_id == "a"


def test_a_turn_of_a_foreign_command_is_named_by_its_source() -> None:
    h = Harness()
    h.upstream_event("avatar.speak_started", "foreign-1")
    h.upstream_event("avatar.speak_started", "foreign-1")
    h.upstream_event("avatar.speak_ended", "foreign-1")
    h.upstream_event("avatar.speak_ended", "foreign-1")
    assert h.kinds()[1:] == ["avatar_speak_started", "avatar_speak_ended"]
    assert h.events[1].avatar_speak_started == pb.AvatarSpeakStarted(utterance_id="foreign-1")
    assert h.events[2].avatar_speak_ended == pb.AvatarSpeakEnded(utterance_id="foreign-1")
    assert h.events[1].request_id == h.events[2].request_id == ""


def test_a_source_that_is_not_a_string_is_no_source() -> None:
    h = Harness()
    h.take(
        h.core.handle_upstream(
            {"event_type": "avatar.speak_started", "event_id": "E1", "source_event_id": 7}, 0.0
        )
    )
    assert h.events[-1].avatar_speak_started.utterance_id == "E1"


def test_an_interrupted_turn_answers_its_request() -> None:
    h = Harness()
    event_id = speak(h, "a")
    h.upstream_event("avatar.speak_started", event_id)
    h.request("stop", interrupt=pb.Interrupt())
    h.upstream_event("avatar.speak_ended", event_id)
    assert h.events[-1].request_id == "a"
    assert h.events[-1].avatar_speak_interrupted == pb.AvatarSpeakInterrupted(utterance_id="a")


# Deadlines and drain.


def test_backpressure_deadline_is_when_the_queue_falls_to_max_pending() -> None:
    h = Harness(fmt=PCM24K, max_pending_ms=500)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00" * 24000))  # 1 s of 24 kHz.
    assert h.core.pending_audio_ms() == pytest.approx(1000.0, abs=1e-6)
    assert h.core.next_deadline() == pytest.approx(0.5, abs=1e-9)
    h.advance(0.5)
    assert h.core.next_deadline() == IDLE_S  # At the threshold: only the idle window is left.


def test_after_half_close_the_deadline_is_the_end_of_the_queued_audio() -> None:
    h = Harness(fmt=PCM24K)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00" * 2400))  # 100 ms.
    h.take(h.core.handle_client_eof(0.0))
    assert h.core.next_deadline() == pytest.approx(0.1, abs=1e-9)


def test_after_half_close_with_nothing_owed_the_deadline_is_the_drain_timeout() -> None:
    h = Harness()
    h.take(h.core.handle_client_eof(0.0))
    assert h.core.next_deadline() == DRAIN_S
    assert h.core.drained


def test_a_heard_turn_is_bounded_by_the_drain_timeout_not_the_start_grace() -> None:
    h = Harness()
    event_id = speak(h, "a")
    h.upstream_event("avatar.speak_started", event_id)
    h.take(h.core.handle_client_eof(0.0))
    assert h.core.next_deadline() == DRAIN_S
    h.advance(DRAIN_S - 1)
    assert not h.core.drained
    h.advance(1.0)
    assert h.core.drained  # Time ran out.


def test_an_unanswered_command_is_not_given_up_before_the_start_grace() -> None:
    h = Harness()
    speak(h, "a")
    h.take(h.core.handle_client_eof(0.0))
    h.advance(1.0)
    assert not h.core.drained
    h.advance(4.0)
    assert h.core.drained


def test_half_close_with_a_turn_the_avatar_started_itself() -> None:
    h = Harness()
    h.take(h.core.handle_upstream({"event_type": "avatar.speak_started", "event_id": "E1"}, 0.0))
    h.take(h.core.handle_client_eof(0.0))
    h.advance(6.0)
    assert not h.core.drained  # Still speaking.
    h.take(h.core.handle_upstream({"event_type": "avatar.speak_ended", "event_id": "E2"}, 6.0))
    assert h.core.drained


def test_half_close_without_input_audio_format() -> None:
    h = Harness(fmt=None)
    h.request("p", push_to_talk_start=pb.PushToTalkStart())
    h.request("q", push_to_talk_stop=pb.PushToTalkStop())
    h.take(h.core.handle_client_eof(0.0))
    assert not h.failures and h.audio == []


# Close.


def test_close_reports_the_pending_drop_and_the_interrupted_turn() -> None:
    h = Harness(push_to_talk=True)
    event_id = speak(h, "a")
    h.upstream_event("avatar.speak_started", event_id)
    h.request("x", audio=pb.AudioChunk(data=PCM16K_100MS))
    h.take(h.core.close())
    assert h.kinds()[-2:] == ["audio_dropped", "avatar_speak_interrupted"]
    assert h.events[-2].audio_dropped.reason == pb.DROP_REASON_OUTSIDE_PUSH_TO_TALK
    assert h.events[-1].request_id == "a"


def test_close_with_nothing_unplayed_reports_no_drop() -> None:
    h = Harness(fmt=PCM24K)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00" * 240))  # 10 ms.
    h.advance(0.02)
    h.take(h.core.close())
    assert "audio_dropped" not in h.kinds()


def test_close_accounts_one_unplayed_millisecond_exactly() -> None:
    h = Harness(fmt=PCM24K)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00" * 24))  # 1 ms: 48 bytes.
    h.take(h.core.close())
    assert h.events[-1].audio_dropped == pb.AudioDropped(
        input_byte_count=BYTES_PER_MS_24K,
        duration_ms=1,
        reason=pb.DROP_REASON_SESSION_ENDED,
    )
    assert h.core.pending_audio_ms() == 0.0
    assert h.core.next_deadline() == IDLE_S


def test_an_answer_to_a_start_sent_without_request_id_no_longer_holds_the_drain() -> None:
    h = Harness(push_to_talk=True)
    h.request(push_to_talk_start=pb.PushToTalkStart())  # No request_id: nothing to map back.
    h.upstream_event("user.push_to_talk_started", h.last_command_id())
    assert h.events[-1].request_id == ""
    h.take(h.core.handle_client_eof(h.now))
    assert h.core.drained  # Answered: nothing is owed any more.


def test_an_unanswered_push_to_talk_command_holds_the_drain() -> None:
    h = Harness(push_to_talk=True)
    h.request("p", push_to_talk_start=pb.PushToTalkStart())
    h.take(h.core.handle_client_eof(h.now))
    assert not h.core.drained
    h.upstream_event("user.push_to_talk_started", None)
    assert h.core.drained

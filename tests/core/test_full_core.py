"""The FULL sans-I/O core, driven directly: no room, no sockets, a hand-moved clock."""

from __future__ import annotations

from typing import Any

from avatar_bridge.actions import Action, Emit, Fail, PublishAudio, SendUpstream
from avatar_bridge.audio import AudioConverter, AudioEncoding, AudioFormat
from avatar_bridge.errors import FailedPrecondition, InvalidRequest
from avatar_bridge.full.core import FullCore
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .lite_harness import options  # The README's session defaults, shared by both cores.

PCM16K = AudioFormat(AudioEncoding.LINEAR16, 16000, 1)

# Expected values written from the spec (README, .proto), never imported from the core.
KEEP_ALIVE_EVENT = "session.keep_alive"
"""The keep-alive the core asks for; FULL's transport answers it with LiveAvatar's REST call."""
DROP_REPORT_S = 1.0
"""A stretch dropped outside push-to-talk is reported at most one second late."""
START_GRACE_S = 5.0
"""After half-close, an unanswered speak command is waited for five seconds."""


class Harness:
    """A core plus everything it asked for, in order."""

    def __init__(
        self,
        fmt: AudioFormat | None = PCM16K,
        *,
        participation: pb.Participation.ValueType = pb.PARTICIPATION_USER,
        push_to_talk: bool = False,
        **opts: Any,
    ) -> None:
        self.now = 0.0
        self.counter = 0
        self.core = FullCore(
            options(**opts),
            AudioConverter(fmt) if fmt else None,
            now=0.0,
            participation=participation,
            push_to_talk=push_to_talk,
            session_id="s1",
            new_id=self._id,
        )
        self.upstream: list[dict[str, Any]] = []
        self.audio: list[bytes] = []
        self.events: list[pb.ConverseResponse] = []
        self.failures: list[Fail] = []

    def _id(self) -> str:
        self.counter += 1
        return f"id{self.counter}"

    def take(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendUpstream):
                self.upstream.append(action.message)
            elif isinstance(action, PublishAudio):
                self.audio.append(action.pcm)
            elif isinstance(action, Emit):
                self.events.append(action.response)
            elif isinstance(action, Fail):
                self.failures.append(action)

    def request(self, request_id: str = "", **member: Any) -> None:
        self.take(
            self.core.handle_request(pb.ConverseRequest(request_id=request_id, **member), self.now)
        )

    def upstream_event(self, event_type: str, source: str | None = None, **fields: Any) -> None:
        event = {"event_id": f"up-{len(self.upstream)}-{event_type}", "event_type": event_type}
        event.update(source_event_id=source, **fields)
        self.take(self.core.handle_upstream(event, self.now))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.take(self.core.handle_timer(self.now))

    def kinds(self) -> list[str]:
        return [e.WhichOneof("event") or "" for e in self.events]

    def last_command_id(self) -> str:
        return str(self.upstream[-1]["event_id"])


def test_first_input_announces_connected_at_once() -> None:
    h = Harness()
    assert h.core.next_deadline() == 0.0
    h.advance(0.0)
    assert h.kinds() == ["session_state_changed"]
    assert h.events[0].session_state_changed.state == pb.SESSION_STATE_CONNECTED
    h.advance(0.0)
    assert h.kinds() == ["session_state_changed"]  # Only once.


def test_speak_text_maps_answers_back_to_the_request() -> None:
    h = Harness()
    h.request("say-1", speak_text=pb.SpeakText(text="hello"))
    assert h.upstream == [{"event_id": "id1", "event_type": "avatar.speak_text", "text": "hello"}]
    h.upstream_event("avatar.transcription", "id1", text="hello")
    h.upstream_event("avatar.speak_started", "id1")
    h.upstream_event("avatar.speak_ended", "id1")
    answers = [e for e in h.events if e.request_id == "say-1"]
    assert [e.WhichOneof("event") for e in answers] == [
        "transcription",
        "avatar_speak_started",
        "avatar_speak_ended",
    ]
    assert answers[0].transcription == pb.Transcription(
        speaker=pb.SPEAKER_AVATAR, text="hello", is_final=True
    )
    assert answers[1].avatar_speak_started.utterance_id == "say-1"
    assert answers[2].avatar_speak_ended.utterance_id == "say-1"


def test_speak_response_partials_and_unnamed_request_uses_the_event_id() -> None:
    h = Harness()
    h.request(speak_response=pb.SpeakResponse(text="hi"))
    assert h.upstream[-1]["event_type"] == "avatar.speak_response"
    h.upstream_event("avatar.transcription.chunk", "id1", text="You")
    h.upstream_event("avatar.transcription", "id1", text="You said: hi")
    h.upstream_event("avatar.speak_started", "id1")
    h.upstream_event("avatar.speak_ended", "id1")
    texts = [e.transcription for e in h.events if e.HasField("transcription")]
    assert [t.is_final for t in texts] == [False, True]
    started = next(e for e in h.events if e.HasField("avatar_speak_started"))
    assert started.avatar_speak_started.utterance_id == "id1"
    assert started.request_id == ""


def test_exactly_one_start_and_end_per_turn_despite_duplicates() -> None:
    h = Harness()
    h.request("a", speak_text=pb.SpeakText(text="x"))
    h.upstream_event("avatar.speak_started", "id1")
    h.upstream_event("avatar.speak_started", "id1")
    h.upstream_event("avatar.speak_ended", "id1")
    h.upstream_event("avatar.speak_ended", "id1")
    assert h.kinds()[1:] == ["avatar_speak_started", "avatar_speak_ended"]


def test_end_without_start_still_reports_a_pair() -> None:
    h = Harness()
    h.request("a", speak_text=pb.SpeakText(text="x"))
    h.upstream_event("avatar.speak_ended", "id1")
    assert h.kinds()[1:] == ["avatar_speak_started", "avatar_speak_ended"]


def test_turns_the_avatar_starts_itself_use_its_event_id() -> None:
    h = Harness()
    h.upstream_event("avatar.speak_started", None)
    own = h.events[-1].avatar_speak_started.utterance_id
    assert own.startswith("up-")
    h.upstream_event("avatar.speak_ended", None)
    assert h.events[-1].avatar_speak_ended.utterance_id == own


def test_interrupt_marks_the_playing_turn_interrupted_and_keeps_user_audio() -> None:
    h = Harness()
    h.request("a", speak_text=pb.SpeakText(text="long"))
    h.upstream_event("avatar.speak_started", "id1")
    h.request("stop", interrupt=pb.Interrupt())
    assert h.upstream[-1] == {"event_id": "id2", "event_type": "avatar.interrupt"}
    h.upstream_event("avatar.speak_ended", "id1")  # Even without "interrupted": true.
    assert h.kinds()[-1] == "avatar_speak_interrupted"
    assert h.events[-1].avatar_speak_interrupted.utterance_id == "a"
    h.request(audio=pb.AudioChunk(data=b"\x00\x01" * 1600))
    assert h.audio and "audio_dropped" not in h.kinds()


def test_speak_ended_flagged_interrupted_is_an_interruption() -> None:
    h = Harness()
    h.request("a", speak_text=pb.SpeakText(text="x"))
    h.upstream_event("avatar.speak_started", "id1")
    h.upstream_event("avatar.speak_ended", "id1", interrupted=True)
    assert h.kinds()[-1] == "avatar_speak_interrupted"


def test_commands_map_to_full_event_types() -> None:
    h = Harness()
    h.request(start_listening=pb.StartListening())
    h.request(stop_listening=pb.StopListening())
    h.request(push_to_talk_start=pb.PushToTalkStart())
    h.request(push_to_talk_stop=pb.PushToTalkStop())
    h.request(keep_alive=pb.KeepAlive())
    assert [m["event_type"] for m in h.upstream] == [
        "avatar.start_listening",
        "avatar.stop_listening",
        "user.start_push_to_talk",
        "user.stop_push_to_talk",
        KEEP_ALIVE_EVENT,
    ]
    assert h.upstream[-1] == {"event_type": KEEP_ALIVE_EVENT}


def test_speak_end_is_unsupported_in_full_and_empty_text_is_invalid() -> None:
    h = Harness()
    h.request("e", speak_end=pb.SpeakEnd())
    h.request("t", speak_text=pb.SpeakText(text="  "))
    errors = [e for e in h.events if e.HasField("error")]
    assert [(e.request_id, e.error.code) for e in errors] == [
        ("e", "UNSUPPORTED_IN_MODE"),
        ("t", "INVALID_COMMAND"),
    ]
    assert "FULL" in errors[0].error.message
    assert h.upstream == [] and not h.failures


def test_idle_keep_alive_after_the_idle_window() -> None:
    h = Harness(keep_alive_idle_s=30.0)
    h.advance(0.0)
    assert h.core.next_deadline() == 30.0
    h.advance(29.0)
    assert h.upstream == []
    h.advance(1.0)
    assert h.upstream == [{"event_type": KEEP_ALIVE_EVENT}]
    assert h.core.next_deadline() == 60.0


def test_user_audio_is_converted_and_published() -> None:
    h = Harness()
    h.request(audio=pb.AudioChunk(data=b"\x10\x00" * 16000))  # 1 s at 16 kHz.
    published = sum(len(a) for a in h.audio)
    assert 0 < published <= 48000
    assert h.core.pending_audio_ms() > 900  # Plays in real time.
    h.advance(1.0)
    assert h.core.pending_audio_ms() == 0


def test_backpressure_deadline_releases_the_client() -> None:
    h = Harness(max_pending_ms=500)
    h.request(audio=pb.AudioChunk(data=b"\x10\x00" * 16000))
    assert h.core.pending_audio_ms() >= 500
    deadline = h.core.next_deadline()
    assert deadline is not None and 0 < deadline < 1.0
    h.advance(deadline)
    assert h.core.pending_audio_ms() <= 500


def test_controller_audio_fails_precondition() -> None:
    h = Harness(participation=pb.PARTICIPATION_CONTROLLER)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00" * 160))
    assert isinstance(h.failures[0].error, FailedPrecondition)
    assert "CONTROLLER" in h.failures[0].error.message


def test_audio_without_input_format_is_invalid() -> None:
    h = Harness(fmt=None)
    h.request(audio=pb.AudioChunk(data=b"\x00\x00"))
    assert isinstance(h.failures[0].error, InvalidRequest)


def test_audio_outside_push_to_talk_is_dropped_and_reported_once_per_stretch() -> None:
    h = Harness(push_to_talk=True)
    for i in range(3):
        h.request(f"a{i}", audio=pb.AudioChunk(data=b"\x00\x00" * 1600))  # 100 ms each.
    assert h.audio == [] and "audio_dropped" not in h.kinds()
    h.request("p", push_to_talk_start=pb.PushToTalkStart())
    dropped = [e for e in h.events if e.HasField("audio_dropped")]
    assert len(dropped) == 1
    assert dropped[0].request_id == "a0"
    assert dropped[0].audio_dropped == pb.AudioDropped(
        utterance_id="a0",
        input_byte_count=3 * 3200,
        duration_ms=300,
        reason=pb.DROP_REASON_OUTSIDE_PUSH_TO_TALK,
    )
    h.request(audio=pb.AudioChunk(data=b"\x00\x00" * 1600))
    assert h.audio  # Published inside the window (open from the start command on).


def test_long_stretch_outside_push_to_talk_is_reported_by_the_timer() -> None:
    h = Harness(push_to_talk=True)
    h.request("a", audio=pb.AudioChunk(data=b"\x00\x00" * 1600))
    assert h.core.next_deadline() == DROP_REPORT_S
    h.advance(DROP_REPORT_S)
    assert h.kinds()[-1] == "audio_dropped"


def test_push_to_talk_results_and_window_state() -> None:
    h = Harness(push_to_talk=True)
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    h.upstream_event("user.push_to_talk_start_failed", "id1", reason="nope")
    result = h.events[-1]
    assert result.request_id == "p1"
    assert result.push_to_talk_result == pb.PushToTalkResult(
        outcome=pb.PUSH_TO_TALK_OUTCOME_START_FAILED, message="nope"
    )
    h.request(audio=pb.AudioChunk(data=b"\x00\x00" * 160))
    assert h.audio == []  # The refused window is closed again.
    h.request("p2", push_to_talk_start=pb.PushToTalkStart())
    h.upstream_event("user.push_to_talk_started", None)  # No source: oldest waiting start.
    assert h.events[-1].request_id == "p2"
    assert h.events[-1].push_to_talk_result.outcome == pb.PUSH_TO_TALK_OUTCOME_STARTED
    h.request("p3", push_to_talk_stop=pb.PushToTalkStop())
    h.upstream_event("user.push_to_talk_stopped", h.last_command_id())
    assert h.events[-1].request_id == "p3"
    h.upstream_event("user.push_to_talk_stop_failed", None, message="not started")
    assert h.events[-1].push_to_talk_result.outcome == pb.PUSH_TO_TALK_OUTCOME_STOP_FAILED


def test_push_to_talk_stop_flushes_the_window_audio_before_the_command() -> None:
    h = Harness(push_to_talk=True)
    h.request(push_to_talk_start=pb.PushToTalkStart())
    actions = h.core.handle_request(
        pb.ConverseRequest(audio=pb.AudioChunk(data=b"\x10\x00" * 1600)), 0.0
    )
    h.take(actions)
    actions = h.core.handle_request(pb.ConverseRequest(push_to_talk_stop=pb.PushToTalkStop()), 0.0)
    kinds = [type(a).__name__ for a in actions]
    assert kinds[-1] == "SendUpstream"
    assert "PublishAudio" in kinds  # The resampler's tail goes before the stop.


def test_user_events_and_transcriptions() -> None:
    h = Harness()
    h.upstream_event("user.speak_started")
    h.upstream_event("user.transcription.chunk", text="hel")
    h.upstream_event("user.speak_ended")
    h.upstream_event("user.transcription", text="hello")
    assert h.kinds()[1:] == [
        "user_speak_started",
        "transcription",
        "user_speak_ended",
        "transcription",
    ]
    assert h.events[2].transcription == pb.Transcription(speaker=pb.SPEAKER_USER, text="hel")
    assert h.events[4].transcription.is_final


def test_session_stopped_reads_end_reason_or_stop_reason() -> None:
    for fields, expected in (
        ({"end_reason": "IDLE_TIMEOUT"}, "IDLE_TIMEOUT"),
        ({"stop_reason": "MAX_DURATION_REACHED"}, "MAX_DURATION_REACHED"),
        ({}, "UNKNOWN"),
    ):
        h = Harness()
        h.upstream_event("session.stopped", **fields)
        assert h.core.stopped_reason == expected
        assert h.events[-1].session_state_changed.state == pb.SESSION_STATE_CLOSING


def test_unknown_events_pass_through_without_private_keys() -> None:
    h = Harness()
    h.upstream_event("agent.something_new", value=3, _sender="liveavatar-agent-s1")
    event = h.events[-1].upstream_event
    assert event.type == "agent.something_new"
    assert event.payload["value"] == 3
    assert "_sender" not in event.payload


def test_drain_waits_for_the_avatar_then_ends() -> None:
    h = Harness()
    h.request("a", speak_text=pb.SpeakText(text="x"))
    h.take(h.core.handle_client_eof(h.now))
    assert not h.core.drained
    h.upstream_event("avatar.speak_started", "id1")
    h.upstream_event("avatar.speak_ended", "id1")
    assert h.core.drained


def test_drain_gives_up_on_a_speak_command_never_answered() -> None:
    h = Harness()
    h.request("a", speak_response=pb.SpeakResponse(text="x"))  # Restricted mode: no answer.
    h.take(h.core.handle_client_eof(h.now))
    assert h.core.next_deadline() == START_GRACE_S
    h.advance(START_GRACE_S)
    assert h.core.drained


def test_drain_waits_for_published_audio_to_play() -> None:
    h = Harness()
    h.request(audio=pb.AudioChunk(data=b"\x10\x00" * 8000))  # 0.5 s.
    h.take(h.core.handle_client_eof(h.now))
    assert not h.core.drained
    h.advance(0.6)
    assert h.core.drained


def test_close_interrupts_the_playing_turn_and_accounts_unplayed_audio() -> None:
    h = Harness()
    h.request("a", speak_text=pb.SpeakText(text="x"))
    h.upstream_event("avatar.speak_started", "id1")
    h.request(audio=pb.AudioChunk(data=b"\x10\x00" * 16000))
    h.take(h.core.close())
    assert h.kinds()[-2:] == ["avatar_speak_interrupted", "audio_dropped"]
    assert h.events[-1].audio_dropped.reason == pb.DROP_REASON_SESSION_ENDED
    assert h.events[-1].audio_dropped.duration_ms > 900

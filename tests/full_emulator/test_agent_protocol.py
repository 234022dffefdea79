"""The emulated FULL agent's protocol, driven directly over a room without WebRTC (no netns).

Names, topics and fields are written literally from /work/shared/reference/liveavatar-api.md
§4 (FULL): commands on ``agent-control``, events on ``agent-response`` with the envelope
``event_id, event_type, session_id, source_event_id``; participants ``heygen`` and
``liveavatar-agent-<session_id>``; push-to-talk events; ``session.stopped`` with the reason under
both ``end_reason`` and ``stop_reason``. The emulator's own decisions are those its module
docstring states (restricted mode never answers, interrupt sends ``interrupted: true``, ...).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import pytest

from liveavatar_emulator.full import SessionAgent
from liveavatar_emulator.full.sfu.participant import ReceivedData, VirtualParticipant
from liveavatar_emulator.full.sfu.room import Room
from liveavatar_emulator.full.vad import SpeechSegment

from .conftest import StubSession, fast_config, token_request

WAIT_S = 10.0
LONG_TEXT = " ".join(["word"] * 400)  # 160 s of speech at 150 wpm: still talking when checked


class Agent:
    """One agent in a room with a virtual ``client`` that sends commands and collects events."""

    def __init__(self, time_scale: float = 0.001, **request: Any) -> None:
        self.session = StubSession(token_request(**request))
        self.room = Room(self.session.id)
        self.events: list[dict[str, Any]] = []
        self.other_topics: list[str] = []
        self.client = VirtualParticipant("client", on_data=self._on_data)
        self.room.add(self.client)
        self.agent = SessionAgent(self.session, self.room, fast_config(time_scale=time_scale))
        self.agent.start()
        self._changed = asyncio.Event()

    def _on_data(self, data: ReceivedData) -> None:
        if data.topic != "agent-response":
            self.other_topics.append(data.topic)
            return
        assert data.sender == f"liveavatar-agent-{self.session.id}"
        self.events.append(json.loads(data.payload))
        self._changed.set()

    def send(self, body: Any, *, to: list[str] | None = None, topic: str = "agent-control") -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.room.inject(self.client, topic, raw, destinations=to)

    def types(self) -> list[str]:
        return [e["event_type"] for e in self.events]

    async def wait_for(self, event_type: str, count: int = 1) -> dict[str, Any]:
        async def loop() -> dict[str, Any]:
            while True:
                found = [e for e in self.events if e["event_type"] == event_type]
                if len(found) >= count:
                    return found[count - 1]
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(loop(), WAIT_S)

    async def settle(self) -> None:
        """Let every ready callback run (commands are handled synchronously on arrival)."""
        for _ in range(20):
            await asyncio.sleep(0)


async def test_participants_join_avatar_first_and_state_starts_idle() -> None:
    a = Agent()
    agent_id = f"liveavatar-agent-{a.session.id}"
    assert list(a.room.participants) == ["client", "heygen", agent_id]
    assert a.agent in a.room.observers
    assert a.agent.state_json() == {
        "session_id": a.session.id,
        "avatar_identity": "heygen",
        "agent_identity": agent_id,
        "restricted_mode": False,
        "push_to_talk_session": False,
        "push_to_talk_active": False,
        "listening": False,
        "speaking": False,
        "queued_utterances": 0,
        "commands": [],
        "unknown_commands": [],
        "stopped": False,
    }
    await a.agent.stop("USER_CLOSED")
    assert a.agent not in a.room.observers
    assert a.agent.state_json()["stopped"] is True


async def test_restricted_push_to_talk_session_state() -> None:
    a = Agent(context=False, interactivity="PUSH_TO_TALK")
    state = a.agent.state_json()
    assert state["restricted_mode"] is True
    assert state["push_to_talk_session"] is True
    await a.agent.stop("USER_CLOSED")


async def test_speak_text_envelope_and_order() -> None:
    a = Agent()
    a.send({"event_type": "avatar.speak_text", "event_id": "cmd-1", "text": "hello there world"})
    await a.wait_for("avatar.speak_ended")
    assert a.types() == ["avatar.transcription", "avatar.speak_started", "avatar.speak_ended"]
    for event in a.events:
        assert event["session_id"] == a.session.id
        assert event["source_event_id"] == "cmd-1"
        assert str(uuid.UUID(event["event_id"])) == event["event_id"]
    assert len({e["event_id"] for e in a.events}) == 3
    assert a.events[0]["text"] == "hello there world"
    assert set(a.events[1]) == {"event_id", "event_type", "session_id", "source_event_id"}
    assert set(a.events[2]) == {"event_id", "event_type", "session_id", "source_event_id"}
    assert a.agent.speaking is False
    assert a.agent.media.caption == ""
    assert a.other_topics == []
    (record,) = a.agent.commands
    assert record["sender"] == "client"
    assert record["command"]["event_id"] == "cmd-1"
    assert isinstance(record["time"], float)
    assert a.session.touches == 1
    await a.agent.stop("USER_CLOSED")


async def test_while_speaking_the_avatar_is_speaking_and_plays_its_voice() -> None:
    a = Agent(time_scale=1.0)
    a.send({"event_type": "avatar.speak_text", "event_id": "u", "text": LONG_TEXT})
    await a.wait_for("avatar.speak_started")
    assert a.agent.speaking is True
    assert a.agent.media.caption == LONG_TEXT
    loop_now = asyncio.get_running_loop().time()
    # 400 words at 150 words per minute: 160 s of voice, scheduled from speak_started on.
    assert loop_now + 159 < a.agent.media.timeline.end() <= loop_now + 160
    assert a.agent.state_json()["speaking"] is True
    a.send({"event_type": "avatar.interrupt"})
    ended = await a.wait_for("avatar.speak_ended")
    assert ended["interrupted"] is True
    assert ended["source_event_id"] == "u"
    assert a.agent.speaking is False
    assert a.agent.media.caption == ""
    assert a.agent.media.timeline.end() < loop_now + 60  # the rest of the voice was cut
    await a.agent.stop("USER_CLOSED")


async def test_commands_without_usable_id_or_text() -> None:
    a = Agent()
    a.send({"event_type": "avatar.speak_text", "event_id": "", "text": 5})
    await a.wait_for("avatar.speak_ended")
    assert {e["source_event_id"] for e in a.events} == {None}
    assert a.events[0]["text"] == ""
    a.send({"event_type": "avatar.speak_text", "event_id": 7, "text": "x"})
    await a.wait_for("avatar.speak_ended", count=2)
    assert {e["source_event_id"] for e in a.events} == {None}
    await a.agent.stop("USER_CLOSED")


async def test_queued_utterances_are_spoken_in_order() -> None:
    a = Agent()
    a.send({"event_type": "avatar.speak_text", "event_id": "one", "text": "first"})
    a.send({"event_type": "avatar.speak_text", "event_id": "two", "text": "second"})
    assert a.agent.state_json()["queued_utterances"] >= 1
    await a.wait_for("avatar.speak_ended", count=2)
    assert [(e["event_type"], e["source_event_id"]) for e in a.events] == [
        ("avatar.transcription", "one"),
        ("avatar.speak_started", "one"),
        ("avatar.speak_ended", "one"),
        ("avatar.transcription", "two"),
        ("avatar.speak_started", "two"),
        ("avatar.speak_ended", "two"),
    ]
    await a.agent.stop("USER_CLOSED")


async def test_speak_response_streams_chunks_then_final_transcription() -> None:
    a = Agent()
    a.send({"event_type": "avatar.speak_response", "event_id": "r1", "text": "how  are you"})
    await a.wait_for("avatar.speak_ended")
    chunks = [e["text"] for e in a.events if e["event_type"] == "avatar.transcription.chunk"]
    assert chunks == ["You", " said:", " how", " are", " you"]
    assert a.types()[5:] == ["avatar.transcription", "avatar.speak_started", "avatar.speak_ended"]
    assert a.events[5]["text"] == "You said: how are you"
    assert {e["source_event_id"] for e in a.events} == {"r1"}
    await a.agent.stop("USER_CLOSED")


async def test_restricted_mode_never_answers_but_repeats_text() -> None:
    a = Agent(context=False)
    a.send({"event_type": "avatar.speak_response", "event_id": "r1", "text": "hi"})
    await a.settle()
    assert a.events == []
    assert a.agent.state_json()["queued_utterances"] == 0
    assert len(a.agent.commands) == 1 and a.agent.unknown_commands == []
    a.send({"event_type": "avatar.speak_text", "event_id": "t1", "text": "hi"})
    await a.wait_for("avatar.speak_ended")
    assert {e["source_event_id"] for e in a.events} == {"t1"}
    await a.agent.stop("USER_CLOSED")


async def test_interrupt_while_the_reply_streams_sends_nothing_more() -> None:
    a = Agent(time_scale=1.0)  # 0.05 s between chunks
    a.send({"event_type": "avatar.speak_response", "event_id": "r1", "text": LONG_TEXT})
    await a.wait_for("avatar.transcription.chunk")
    a.send({"event_type": "avatar.interrupt", "event_id": "i1"})
    await a.settle()
    seen = len(a.events)
    await asyncio.sleep(0.2)  # several chunk intervals: a still-running stream would show
    assert len(a.events) == seen
    assert set(a.types()) == {"avatar.transcription.chunk"}
    assert a.agent.speaking is False
    await a.agent.stop("USER_CLOSED")


async def test_interrupt_when_idle_sends_nothing_and_drops_queue() -> None:
    a = Agent(time_scale=1.0)
    a.send({"event_type": "avatar.interrupt", "event_id": "i0"})
    a.agent.interrupt()  # idle, nothing current: a no-op, not an error
    await a.settle()
    assert a.events == []
    a.send({"event_type": "avatar.speak_text", "event_id": "long", "text": LONG_TEXT})
    a.send({"event_type": "avatar.speak_text", "event_id": "q1", "text": "queued"})
    a.send({"event_type": "avatar.speak_text", "event_id": "q2", "text": "queued"})
    await a.wait_for("avatar.speak_started")
    assert a.agent.state_json()["queued_utterances"] == 2
    a.agent.interrupt()
    assert a.agent.state_json()["queued_utterances"] == 0
    await a.wait_for("avatar.speak_ended")
    await a.settle()
    assert {e["source_event_id"] for e in a.events} == {"long"}
    await a.agent.stop("USER_CLOSED")


async def test_listening_pose_is_recorded_without_events() -> None:
    a = Agent()
    a.send({"event_type": "avatar.start_listening", "event_id": "l1"})
    assert a.agent.listening is True
    assert a.agent.state_json()["listening"] is True
    a.send({"event_type": "avatar.stop_listening", "event_id": "l2"})
    assert a.agent.listening is False
    a.send({"event_type": "avatar.start_listening", "event_id": "l3"})
    assert a.agent.listening is True
    await a.settle()
    assert a.events == []
    assert a.agent.unknown_commands == []
    assert len(a.agent.commands) == 3
    await a.agent.stop("USER_CLOSED")


async def test_push_to_talk_window_events_and_reasons() -> None:
    a = Agent(interactivity="PUSH_TO_TALK")
    a.send({"event_type": "user.stop_push_to_talk", "event_id": "p0"})
    a.send({"event_type": "user.start_push_to_talk", "event_id": "p1"})
    assert a.agent.state_json()["push_to_talk_active"] is True
    a.send({"event_type": "user.start_push_to_talk", "event_id": "p2"})
    a.send({"event_type": "user.stop_push_to_talk", "event_id": "p3"})
    assert a.agent.ptt_active is False
    a.send({"event_type": "user.stop_push_to_talk", "event_id": "p4"})
    await a.settle()
    assert [(e["event_type"], e["source_event_id"], e.get("reason")) for e in a.events] == [
        ("user.push_to_talk_stop_failed", "p0", "push-to-talk not started"),
        ("user.push_to_talk_started", "p1", None),
        ("user.push_to_talk_start_failed", "p2", "push-to-talk already started"),
        ("user.push_to_talk_stopped", "p3", None),
        ("user.push_to_talk_stop_failed", "p4", "push-to-talk not started"),
    ]
    await a.agent.stop("USER_CLOSED")


async def test_push_to_talk_refused_in_a_conversational_session() -> None:
    a = Agent()
    a.send({"event_type": "user.start_push_to_talk", "event_id": "p1"})
    await a.settle()
    assert [(e["event_type"], e["source_event_id"], e["reason"]) for e in a.events] == [
        ("user.push_to_talk_start_failed", "p1", "session is not PUSH_TO_TALK")
    ]
    assert a.agent.ptt_active is False
    await a.agent.stop("USER_CLOSED")


async def test_malformed_and_unknown_commands_are_recorded_unanswered() -> None:
    a = Agent()
    a.send(b"\xffnot json")
    a.send([1, 2])
    a.send({"event_type": 3})
    a.send({"text": "no type"})
    a.send({"event_type": "avatar.fly", "event_id": "f"})
    a.send({"event_type": "avatar.speak_text", "text": "other topic"}, topic="chat")
    await a.settle()
    assert a.events == []
    unknown = a.agent.unknown_commands
    assert len(unknown) == 5
    assert unknown[0]["command"] is None
    assert unknown[0]["raw"] == "\ufffdnot json"
    assert unknown[1]["raw"] == "[1, 2]"
    assert unknown[2]["raw"] == '{"event_type": 3}'
    assert "raw" not in unknown[4]
    assert unknown[4]["command"] == {"event_type": "avatar.fly", "event_id": "f"}
    assert {u["sender"] for u in unknown} == {"client"}
    assert a.agent.commands == [unknown[4]]
    assert a.session.touches == 5  # every command on agent-control, none on another topic
    await a.agent.stop("USER_CLOSED")


async def test_commands_addressed_to_one_participant_are_handled_once() -> None:
    a = Agent()
    agent_id = f"liveavatar-agent-{a.session.id}"
    a.send({"event_type": "avatar.start_listening"}, to=["heygen"])
    assert a.agent.listening is True
    a.send({"event_type": "avatar.stop_listening"}, to=[agent_id])
    assert a.agent.listening is False
    a.send({"event_type": "avatar.start_listening"}, to=["heygen", agent_id])
    a.send({"event_type": "avatar.fly"}, to=["heygen"])
    a.send({"event_type": "avatar.speak_text", "text": "x"}, to=["heygen"], topic="chat")
    await a.settle()
    assert a.agent.listening is True
    assert len(a.agent.commands) == 4  # one record each, not one per receiving participant
    assert len(a.agent.unknown_commands) == 1
    assert a.session.touches == 4
    await a.agent.stop("USER_CLOSED")


async def test_stop_announces_once_and_then_ignores_everything() -> None:
    a = Agent(time_scale=1.0)
    a.send({"event_type": "avatar.speak_text", "event_id": "u", "text": LONG_TEXT})
    await a.wait_for("avatar.speak_started")
    await a.agent.stop("MAX_DURATION_REACHED")
    stopped = a.events[-1]
    assert stopped["event_type"] == "session.stopped"
    assert stopped["end_reason"] == "MAX_DURATION_REACHED"
    assert stopped["stop_reason"] == "MAX_DURATION_REACHED"
    assert stopped["source_event_id"] is None
    assert stopped["session_id"] == a.session.id
    assert a.types() == ["avatar.transcription", "avatar.speak_started", "session.stopped"]
    assert a.agent.speaking is False
    await a.agent.stop("USER_CLOSED")
    touches = a.session.touches
    a.send({"event_type": "avatar.speak_text", "event_id": "late", "text": "x"})
    a.send(b"junk")
    a.agent.on_speech_started("client", "TR_x", 0.0)
    a.agent.on_speech_ended("client", "TR_x", SpeechSegment(0.0, 1.0, -10.0))
    await asyncio.sleep(0.05)
    assert a.types()[-1] == "session.stopped"
    assert a.types().count("session.stopped") == 1
    assert a.session.touches == touches
    assert a.agent.unknown_commands == []
    assert a.agent.state_json()["queued_utterances"] == 0


async def test_user_speech_is_reported_and_answered() -> None:
    a = Agent()
    a.agent.on_speech_started("client", "TR_u", 0.0)
    assert a.session.touches == 1
    a.agent.on_speech_ended("client", "TR_u", SpeechSegment(0.0, 2.25, -12.0))
    assert a.session.touches == 2
    await a.wait_for("avatar.speak_ended")
    assert a.types()[:3] == ["user.speak_started", "user.speak_ended", "user.transcription"]
    assert a.events[2]["text"] == "heard 2.25 s of speech"
    assert {e["source_event_id"] for e in a.events} == {None}
    final = next(e for e in a.events if e["event_type"] == "avatar.transcription")
    assert final["text"] == "You said: heard 2.25 s of speech"
    chunks = [e["text"] for e in a.events if e["event_type"] == "avatar.transcription.chunk"]
    assert "".join(chunks) == "You said: heard 2.25 s of speech"
    assert len(chunks) == 7  # the answer streams word by word, like speak_response
    # The same track ending again (no new start) is not a new segment.
    count = len(a.events)
    a.agent.on_speech_ended("client", "TR_u", SpeechSegment(3.0, 4.0, -12.0))
    await a.settle()
    assert len(a.events) == count
    await a.agent.stop("USER_CLOSED")


async def test_user_speech_in_restricted_mode_is_reported_not_answered() -> None:
    a = Agent(context=False)
    a.agent.on_speech_started("client", "TR_u", 0.0)
    a.agent.on_speech_ended("client", "TR_u", SpeechSegment(0.0, 1.0, -12.0))
    await a.settle()
    await asyncio.sleep(0.05)
    assert a.types() == ["user.speak_started", "user.speak_ended", "user.transcription"]
    assert a.agent.state_json()["queued_utterances"] == 0
    await a.agent.stop("USER_CLOSED")


async def test_avatar_and_agent_speech_is_not_user_speech() -> None:
    a = Agent()
    agent_id = f"liveavatar-agent-{a.session.id}"
    for who in ("heygen", agent_id):
        a.agent.on_speech_started(who, "TR_" + who, 0.0)
        a.agent.on_speech_ended(who, "TR_" + who, SpeechSegment(0.0, 1.0, -12.0))
    await a.settle()
    assert a.events == []
    assert a.session.touches == 0
    await a.agent.stop("USER_CLOSED")


async def test_user_speech_barges_in_on_the_avatar() -> None:
    a = Agent(time_scale=1.0)
    a.send({"event_type": "avatar.speak_text", "event_id": "u", "text": LONG_TEXT})
    a.send({"event_type": "avatar.speak_text", "event_id": "q", "text": "queued"})
    await a.wait_for("avatar.speak_started")
    a.agent.on_speech_started("client", "TR_u", 0.0)
    ended = await a.wait_for("avatar.speak_ended")
    assert ended["interrupted"] is True and ended["source_event_id"] == "u"
    assert "user.speak_started" in a.types()
    assert a.agent.state_json()["queued_utterances"] == 0
    await a.agent.stop("USER_CLOSED")


async def test_push_to_talk_gates_user_speech_by_its_window() -> None:
    a = Agent(interactivity="PUSH_TO_TALK", context=False)
    a.agent.on_speech_started("client", "TR_a", 0.0)
    a.agent.on_speech_ended("client", "TR_a", SpeechSegment(0.0, 1.0, -12.0))
    await a.settle()
    assert a.events == [] and a.session.touches == 0
    a.send({"event_type": "user.start_push_to_talk", "event_id": "p"})
    a.agent.on_speech_started("client", "TR_a", 1.0)
    a.send({"event_type": "user.stop_push_to_talk", "event_id": "s"})
    a.agent.on_speech_ended("client", "TR_a", SpeechSegment(1.0, 1.0, -12.0))
    await a.settle()
    assert a.types() == [
        "user.push_to_talk_started",
        "user.speak_started",
        "user.push_to_talk_stopped",
        "user.speak_ended",
        "user.transcription",
    ]
    await a.agent.stop("USER_CLOSED")


async def test_user_speech_barges_in_on_a_streaming_reply() -> None:
    a = Agent(time_scale=1.0)  # 0.05 s between chunks
    a.send({"event_type": "avatar.speak_response", "event_id": "r1", "text": LONG_TEXT})
    await a.wait_for("avatar.transcription.chunk")
    assert a.agent.speaking is False  # still streaming: not yet speaking
    a.agent.on_speech_started("client", "TR_u", 0.0)
    await a.settle()
    seen = len(a.events)
    await asyncio.sleep(0.2)  # several chunk intervals: a still-running stream would show
    assert len(a.events) == seen
    assert a.types()[-1] == "user.speak_started"
    assert "avatar.transcription" not in a.types()
    await a.agent.stop("USER_CLOSED")


async def test_user_speech_before_the_queued_utterance_starts_does_not_drop_it() -> None:
    a = Agent()
    a.send({"event_type": "avatar.speak_text", "event_id": "u", "text": "soon"})
    a.agent.on_speech_started("client", "TR_u", 0.0)  # nothing is being said yet
    ended = await a.wait_for("avatar.speak_ended")
    assert ended["source_event_id"] == "u"
    assert "interrupted" not in ended
    await a.agent.stop("USER_CLOSED")


async def test_one_log_line_per_lifecycle_step(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="liveavatar_emulator.full.agent")
    a = Agent(context=False, interactivity="PUSH_TO_TALK")
    sid = a.session.id
    a.send({"event_type": "avatar.fly"})
    a.send({"event_type": "avatar.speak_response", "text": "hi"})
    a.agent.on_speech_started("client", "TR_u", 0.0)
    a.send({"event_type": "user.start_push_to_talk"})
    a.agent.on_speech_started("client", "TR_u", 1.0)
    a.agent.on_speech_ended("client", "TR_u", SpeechSegment(1.0, 2.5, -12.0))
    await a.agent.stop("USER_CLOSED")
    b = Agent()
    await b.agent.stop("IDLE_TIMEOUT")
    lines = [r.getMessage() for r in caplog.records if r.name == "liveavatar_emulator.full.agent"]
    assert lines == [
        f"session {sid}: agent started (context=restricted, interactivity=PUSH_TO_TALK)",
        f"session {sid}: ignoring unknown command 'avatar.fly'",
        f"session {sid}: restricted mode, not answering",
        f"session {sid}: speech outside push-to-talk window ignored",
        f"session {sid}: user speech 1.50 s",
        f"session {sid}: agent stopped (USER_CLOSED)",
        f"session {b.session.id}: agent started (context=yes, interactivity=CONVERSATIONAL)",
        f"session {b.session.id}: agent stopped (IDLE_TIMEOUT)",
    ]

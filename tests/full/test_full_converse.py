"""The bridge's FULL leg end to end: gRPC Converse → bridge → real LiveKit SDK → emulated room.

Run inside the network namespace:
``bash tests/netns/run.sh .venv/bin/pytest tests/full -m full``
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from server.helpers import SANDBOX_AVATAR_ID, WAIT_S, Stream, event_kind

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FullEnv

pytestmark = pytest.mark.full

CONTEXT_ID = "11111111-2222-3333-4444-555555555555"


def full_config(
    *,
    push_to_talk: bool = False,
    context: bool = True,
    input_audio: pb.AudioFormat | None = None,
    participation: pb.Participation.ValueType = pb.PARTICIPATION_USER,
    **create: Any,
) -> pb.ConverseRequest:
    """A first request that creates a FULL session."""
    interactivity = (
        pb.INTERACTIVITY_TYPE_PUSH_TO_TALK if push_to_talk else pb.INTERACTIVITY_TYPE_CONVERSATIONAL
    )
    full = pb.FullSession(
        persona=pb.AvatarPersona(context_id=CONTEXT_ID if context else ""),
        interactivity_type=interactivity,
        participation=participation,
    )
    new = pb.NewSession(avatar_id=SANDBOX_AVATAR_ID, full=full, **create)
    config = pb.SessionConfig(create=new)
    if input_audio is not None:
        config.input_audio.CopyFrom(input_audio)
    return pb.ConverseRequest(config=config)


async def open_full(env: FullEnv, **kwargs: Any) -> tuple[Stream, pb.SessionStarted]:
    """Open a FULL conversation and read up to SessionStateChanged(CONNECTED)."""
    stream = Stream(env.bridge.stub)
    await stream.send(full_config(**kwargs))
    started = await stream.started()
    await stream.until(
        "session_state_changed",
        lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
    )
    return stream, started


async def end_normally(stream: Stream) -> pb.SessionStopped:
    """Half-close and read to the end: the last event is session_stopped, the call OK."""
    await stream.half_close()
    return await stream.stopped()


def speak_text(text: str, request_id: str) -> pb.ConverseRequest:
    return pb.ConverseRequest(request_id=request_id, speak_text=pb.SpeakText(text=text))


async def test_speak_text_reports_transcription_then_started_and_ended(env: FullEnv) -> None:
    stream, started = await open_full(env)
    assert started.mode == pb.MODE_FULL
    assert started.livekit_url
    assert not started.livekit_client_token  # The bridge itself joined with it.
    await stream.send(speak_text("hello there from the bridge", "say-1"))
    ended = await stream.until("avatar_speak_ended")
    assert ended.request_id == "say-1"
    assert ended.avatar_speak_ended.utterance_id == "say-1"
    answers = [e for e in stream.events if e.request_id == "say-1"]
    assert [event_kind(e) for e in answers] == [
        "transcription",
        "avatar_speak_started",
        "avatar_speak_ended",
    ]
    transcription = answers[0].transcription
    assert transcription.speaker == pb.SPEAKER_AVATAR
    assert transcription.is_final
    assert transcription.text == "hello there from the bridge"
    assert answers[1].avatar_speak_started.utterance_id == "say-1"
    stopped = await end_normally(stream)
    assert stopped.reason == pb.STOP_REASON_CLIENT_ENDED
    # The spec's wire form: a reliable `agent-control` data packet from the bridge's participant,
    # UTF-8 JSON {"event_type": "avatar.speak_text", "text": ...}.
    room = env.backend.server.get_room(started.session_id)
    assert room is not None
    commands = [
        p.payload_json()
        for p in room.recorder.packets
        if p.topic == "agent-control" and not p.virtual_sender and p.reliable
    ]
    speak = [c for c in commands if c and c.get("event_type") == "avatar.speak_text"]
    assert len(speak) == 1, commands
    assert speak[0]["text"] == "hello there from the bridge"
    assert speak[0]["event_id"]


def speak_response(text: str, request_id: str) -> pb.ConverseRequest:
    return pb.ConverseRequest(request_id=request_id, speak_response=pb.SpeakResponse(text=text))


def command(request_id: str = "", **member: Any) -> pb.ConverseRequest:
    return pb.ConverseRequest(request_id=request_id, **member)


def answers(stream: Stream, request_id: str) -> list[pb.ConverseResponse]:
    return [e for e in stream.events if e.request_id == request_id]


async def test_speak_response_streams_partials_then_the_final(env: FullEnv) -> None:
    stream, _ = await open_full(env)
    await stream.send(speak_response("what a day", "ask-1"))
    await stream.until("avatar_speak_ended")
    events = answers(stream, "ask-1")
    kinds = [event_kind(e) for e in events]
    assert kinds[-2:] == ["avatar_speak_started", "avatar_speak_ended"], kinds
    texts = [e.transcription for e in events if event_kind(e) == "transcription"]
    partials = [t for t in texts if not t.is_final]
    finals = [t for t in texts if t.is_final]
    assert len(partials) >= 2 and len(finals) == 1, texts
    assert texts[-1].is_final  # The final comes after every partial.
    assert all(t.speaker == pb.SPEAKER_AVATAR for t in texts)
    # Avatar partials are increments: appended in order they make the final text.
    assert "".join(t.text for t in partials) == finals[0].text == "You said: what a day"
    await end_normally(stream)


async def test_interrupt_mid_speech_reports_interrupted(env: FullEnv) -> None:
    stream, _ = await open_full(env)
    long_text = " ".join(["word"] * 400)  # 160 s at 150 wpm, 8 s at the tests' time scale.
    await stream.send(speak_text(long_text, "long-1"))
    await stream.until("avatar_speak_started")
    await stream.send(command("stop-1", interrupt=pb.Interrupt()))
    cut = await stream.until("avatar_speak_interrupted")
    assert cut.request_id == "long-1"
    assert cut.avatar_speak_interrupted.utterance_id == "long-1"
    kinds = [event_kind(e) for e in answers(stream, "long-1")]
    assert kinds == ["transcription", "avatar_speak_started", "avatar_speak_interrupted"], kinds
    assert "avatar_speak_ended" not in stream.kinds()
    await end_normally(stream)


async def test_start_and_stop_listening_reach_the_agent(env: FullEnv) -> None:
    stream, started = await open_full(env)
    agent = env.backend.agent_for(started.session_id)
    assert agent is not None
    await stream.send(command("l-1", start_listening=pb.StartListening()))
    await poll(lambda: agent.listening)
    await stream.send(command("l-2", stop_listening=pb.StopListening()))
    await poll(lambda: len(agent.commands) >= 2 and not agent.listening)
    types = [c["command"]["event_type"] for c in agent.commands]
    assert types == ["avatar.start_listening", "avatar.stop_listening"]
    assert all(c["command"].get("event_id") for c in agent.commands)
    await end_normally(stream)
    assert "error" not in stream.kinds()


async def test_push_to_talk_start_and_stop(env: FullEnv) -> None:
    stream, _ = await open_full(env, push_to_talk=True)
    await stream.send(command("p-1", push_to_talk_start=pb.PushToTalkStart()))
    first = await stream.until("push_to_talk_result")
    assert first.request_id == "p-1"
    assert first.push_to_talk_result.outcome == pb.PUSH_TO_TALK_OUTCOME_STARTED
    await stream.send(command("p-2", push_to_talk_stop=pb.PushToTalkStop()))
    second = await stream.until("push_to_talk_result")
    assert second.request_id == "p-2"
    assert second.push_to_talk_result.outcome == pb.PUSH_TO_TALK_OUTCOME_STOPPED
    await end_normally(stream)


async def test_push_to_talk_start_fails_in_a_conversational_session(env: FullEnv) -> None:
    stream, _ = await open_full(env)
    await stream.send(command("p-1", push_to_talk_start=pb.PushToTalkStart()))
    result = await stream.until("push_to_talk_result")
    assert result.request_id == "p-1"
    assert result.push_to_talk_result.outcome == pb.PUSH_TO_TALK_OUTCOME_START_FAILED
    assert "PUSH_TO_TALK" in result.push_to_talk_result.message
    await end_normally(stream)


async def test_push_to_talk_stop_without_start_fails(env: FullEnv) -> None:
    stream, _ = await open_full(env, push_to_talk=True)
    await stream.send(command("p-1", push_to_talk_stop=pb.PushToTalkStop()))
    result = await stream.until("push_to_talk_result")
    assert result.request_id == "p-1"
    assert result.push_to_talk_result.outcome == pb.PUSH_TO_TALK_OUTCOME_STOP_FAILED
    assert result.push_to_talk_result.message
    await end_normally(stream)


async def test_speak_end_is_unsupported_in_full_and_the_stream_goes_on(env: FullEnv) -> None:
    stream, _ = await open_full(env)
    await stream.send(command("e-1", speak_end=pb.SpeakEnd()))
    error = await stream.until("error")
    assert error.request_id == "e-1"
    assert error.error.code == "UNSUPPORTED_IN_MODE"
    assert "FULL" in error.error.message
    await stream.send(speak_text("still here", "say-2"))
    ended = await stream.until("avatar_speak_ended")
    assert ended.request_id == "say-2"
    await end_normally(stream)


async def poll(predicate: Callable[[], Any]) -> Any:
    """Poll in-process emulator state (it has no change notification), bounded."""
    for _ in range(int(WAIT_S / 0.02)):
        if result := predicate():
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached within the wait bound")

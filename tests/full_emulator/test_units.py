"""FULL emulator pieces that need no WebRTC: VAD, speech helpers, join parsing, agent logic."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from typing import Any

import numpy as np
import pytest
from livekit.protocol import rtc

from liveavatar_emulator.full import FullModeConfig, SessionAgent, agent_identity
from liveavatar_emulator.full.sfu.join import JoinError, bearer_token, parse_v0, parse_v1
from liveavatar_emulator.full.sfu.participant import ReceivedData, VirtualParticipant
from liveavatar_emulator.full.sfu.room import Room
from liveavatar_emulator.full.speech import describe_heard_speech, generate_reply, reply_chunks
from liveavatar_emulator.full.vad import SpeechSegment, VoiceActivityDetector

from .conftest import StubSession, fast_config, token_request

# -- VAD --------------------------------------------------------------------------------


def _tone(seconds: float, rate: int, level: float = 0.3) -> np.ndarray[Any, Any]:
    t = np.arange(int(seconds * rate)) / rate
    return level * np.sin(2 * np.pi * 1000 * t)


def test_vad_measures_two_second_tone() -> None:
    rate = 48000
    vad = VoiceActivityDetector(sample_rate=rate)
    signal = np.concatenate([np.zeros(rate // 2), _tone(2.0, rate), np.zeros(rate)])
    events = []
    for i in range(0, signal.size, 441):  # odd chunk size: frames straddle chunks
        events += vad.feed(signal[i : i + 441])
    assert [e.kind for e in events] == ["started", "ended"]
    (segment,) = vad.segments
    assert segment.start_s == pytest.approx(0.5, abs=0.02)
    assert segment.duration_s == pytest.approx(2.0, abs=0.04)


def test_vad_hangover_bridges_short_pauses_and_flush_closes() -> None:
    rate = 16000
    vad = VoiceActivityDetector(sample_rate=rate, hangover_ms=500)
    pause = np.zeros(int(0.3 * rate))
    vad.feed(np.concatenate([_tone(0.5, rate), pause, _tone(0.5, rate)]))
    assert vad.in_speech and vad.segments == []
    (ended,) = vad.flush()
    assert ended.segment is not None
    assert ended.segment.duration_s == pytest.approx(1.3, abs=0.04)


def test_vad_ignores_quiet_noise_and_short_clicks() -> None:
    rate = 16000
    vad = VoiceActivityDetector(sample_rate=rate)
    rng = np.random.default_rng(1)
    assert vad.feed(rng.normal(0, 0.001, rate)) == []  # about -60 dBFS
    assert vad.feed(np.concatenate([_tone(0.04, rate), np.zeros(rate)])) == []  # < onset


# -- speech helpers and config ------------------------------------------------------------


def test_reply_chunks_append_to_reply() -> None:
    reply = generate_reply("  what   is  this ")
    assert reply == "You said: what is this"
    assert "".join(reply_chunks(reply)) == reply
    assert len(reply_chunks(reply)) == 5
    assert describe_heard_speech(1.996) == "heard 2.00 s of speech"


def test_speak_duration_formula() -> None:
    cfg = FullModeConfig(speaking_rate_wpm=150, min_speak_s=0.5, time_scale=1.0)
    assert cfg.speak_duration_s("one two three four five") == pytest.approx(2.0)
    assert cfg.speak_duration_s("hi") == pytest.approx(0.5)
    assert FullModeConfig(time_scale=0.1).speak_duration_s("one two three four five") == (
        pytest.approx(0.2)
    )


# -- join parsing -------------------------------------------------------------------------


def _wrapped(req: rtc.JoinRequest, gz: bool) -> str:
    body = req.SerializeToString()
    wrapped = rtc.WrappedJoinRequest(
        compression=rtc.WrappedJoinRequest.GZIP if gz else rtc.WrappedJoinRequest.NONE,
        join_request=gzip.compress(body) if gz else body,
    )
    return base64.urlsafe_b64encode(wrapped.SerializeToString()).decode().rstrip("=")


@pytest.mark.parametrize("gz", [False, True])
def test_parse_v1_join_request(gz: bool) -> None:
    req = rtc.JoinRequest(
        metadata="m",
        publisher_offer=rtc.SessionDescription(type="offer", sdp="v=0\r\n", id=3),
    )
    req.connection_settings.auto_subscribe = True
    params = parse_v1(_wrapped(req, gz))
    assert params.protocol_version == "v1"
    assert params.metadata == "m"
    assert params.publisher_offer is not None and params.publisher_offer.id == 3


def test_parse_join_errors_and_tokens() -> None:
    with pytest.raises(JoinError) as err:
        parse_v1("!!!not-base64")
    assert err.value.status == 400
    with pytest.raises(JoinError):
        parse_v1(None)
    assert parse_v0({"auto_subscribe": "0", "sdk": "python"}).auto_subscribe is False
    assert bearer_token("Bearer abc", None) == "abc"
    assert bearer_token(None, "q") == "q"
    assert bearer_token("Basic x", None) is None


# -- agent logic over a room without WebRTC ----------------------------------------------


class Harness:
    """A room with a virtual 'client' that sends commands and collects events."""

    def __init__(self, **request: Any) -> None:
        self.session = StubSession(token_request(**request))
        self.room = Room(self.session.id)
        self.events: list[dict[str, Any]] = []
        self.client = VirtualParticipant("client", on_data=self._on_data)
        self.room.add(self.client)
        self.agent = SessionAgent(self.session, self.room, fast_config(time_scale=0.01))
        self.agent.start()

    def _on_data(self, data: ReceivedData) -> None:
        if data.topic == "agent-response":
            assert data.sender == agent_identity(self.session.id)
            self.events.append(json.loads(data.payload))

    def send(self, event_type: str, event_id: str | None = "e1", **fields: Any) -> None:
        body: dict[str, Any] = {"event_type": event_type, **fields}
        if event_id:
            body["event_id"] = event_id
        self.room.inject(self.client, "agent-control", json.dumps(body).encode())

    def types(self) -> list[str]:
        return [e["event_type"] for e in self.events]

    async def wait_for(self, event_type: str) -> dict[str, Any]:
        async def loop() -> dict[str, Any]:
            while True:
                for e in self.events:
                    if e["event_type"] == event_type:
                        return e
                await asyncio.sleep(0.005)

        return await asyncio.wait_for(loop(), 5)


async def test_agent_speak_text_and_stop() -> None:
    h = Harness()
    assert set(h.room.participants) == {"client", "heygen", agent_identity(h.session.id)}
    h.send("avatar.speak_text", text="hello world")
    await h.wait_for("avatar.speak_ended")
    assert h.types() == ["avatar.transcription", "avatar.speak_started", "avatar.speak_ended"]
    assert {e["source_event_id"] for e in h.events} == {"e1"}
    await h.agent.stop("USER_CLOSED")
    assert h.events[-1]["event_type"] == "session.stopped"
    assert h.events[-1]["end_reason"] == h.events[-1]["stop_reason"] == "USER_CLOSED"
    h.send("avatar.speak_text", text="too late")
    await asyncio.sleep(0.05)
    assert h.types()[-1] == "session.stopped"


async def test_agent_interrupt_drops_queue_and_ignores_bad_commands() -> None:
    h = Harness()
    h.send("avatar.speak_text", text=" ".join(["w"] * 1000), event_id="long")
    h.send("avatar.speak_text", text="queued", event_id="queued")
    await h.wait_for("avatar.speak_started")
    h.send("avatar.interrupt", event_id=None)
    ended = await h.wait_for("avatar.speak_ended")
    assert ended == {**ended, "interrupted": True, "source_event_id": "long"}
    h.room.inject(h.client, "agent-control", b"not json")
    h.send("avatar.fly")
    await asyncio.sleep(0.05)
    assert "queued" not in {e["source_event_id"] for e in h.events}
    assert len(h.agent.unknown_commands) == 2
    assert h.session.touches == 5
    await h.agent.stop("USER_CLOSED")


async def test_agent_user_speech_gating_and_answer() -> None:
    h = Harness(interactivity="PUSH_TO_TALK")
    segment = SpeechSegment(0.0, 1.5, -10.0)
    h.agent.on_speech_started("client", "TR_a", 0.0)
    h.agent.on_speech_ended("client", "TR_a", segment)
    assert h.events == []  # outside the push-to-talk window
    h.send("user.start_push_to_talk", event_id=None)
    h.agent.on_speech_started("client", "TR_a", 2.0)
    h.agent.on_speech_ended("client", "TR_a", segment)
    await h.wait_for("avatar.speak_ended")
    assert h.types()[:4] == [
        "user.push_to_talk_started",
        "user.speak_started",
        "user.speak_ended",
        "user.transcription",
    ]
    assert h.events[3]["text"] == "heard 1.50 s of speech"
    final = next(e for e in h.events if e["event_type"] == "avatar.transcription")
    assert final["text"] == "You said: heard 1.50 s of speech"
    await h.agent.stop("MAX_DURATION_REACHED")

"""The avatar-bridge-client CLI, run in-process against the fake bridge."""

from __future__ import annotations

import io
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from avatar_bridge_client import cli
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FakeClock, FakeServer


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


async def run(fake_bridge: FakeServer, *argv: str, clock: FakeClock | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = await cli.run(
        [*argv, "--target", fake_bridge.target], stdout=out, stderr=err, clock=clock or FakeClock()
    )
    return Result(code, out.getvalue(), err.getvalue())


def kinds(fake_bridge: FakeServer) -> list[str]:
    return [r.WhichOneof("request") or "" for r in fake_bridge.fake.last.requests]


async def test_say_streams_the_wav_and_waits_for_the_utterance(
    fake_bridge: FakeServer, speech_wav: Path
) -> None:
    clock = FakeClock()
    result = await run(fake_bridge, "say", str(speech_wav), "--sandbox", clock=clock)
    assert result.code == 0, result.err
    assert result.lines == [
        'session_started session_id: "sess-1" mode: MODE_LITE',
        'avatar_speak_started [say-1] utterance_id: "say-1"',
        'avatar_speak_ended [say-1] utterance_id: "say-1"',
        "session_stopped reason: STOP_REASON_CLIENT_ENDED",
    ]
    recorded = fake_bridge.fake.last
    config = recorded.requests[0].config
    assert config.create.is_sandbox and config.create.HasField("lite")
    assert config.input_audio == pb.AudioFormat(
        encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000, channel_count=2
    )
    assert kinds(fake_bridge) == ["config", "audio", "audio", "audio", "audio", "speak_end"]
    assert recorded.requests[1].request_id == "say-1"
    assert recorded.half_closed
    assert clock.sleeps == pytest.approx([0.1, 0.1, 0.1])  # paced at real time
    assert result.err == ""  # stderr is not a terminal: no progress bar


async def test_say_json_progress_and_no_realtime(fake_bridge: FakeServer, speech_wav: Path) -> None:
    clock = FakeClock()
    result = await run(
        fake_bridge,
        "say",
        str(speech_wav),
        "--json",
        "--progress",
        "--no-realtime",
        "--chunk-ms",
        "50",
        "--request-id",
        "hello",
        clock=clock,
    )
    assert result.code == 0
    events = [json.loads(line) for line in result.lines]
    assert events[0] == {"session_started": {"session_id": "sess-1", "mode": "MODE_LITE"}}
    assert events[2] == {
        "request_id": "hello",
        "avatar_speak_ended": {"utterance_id": "hello"},
    }
    assert clock.sleeps == []
    assert kinds(fake_bridge).count("audio") == 7
    assert "\r[##############################] 100% 0.3/0.3 s\n" in result.err


async def test_say_attach_needs_ws_url(fake_bridge: FakeServer, speech_wav: Path) -> None:
    with pytest.raises(SystemExit) as info:
        await run(fake_bridge, "say", str(speech_wav), "--attach", "s-1")
    assert info.value.code == 2
    result = await run(
        fake_bridge, "say", str(speech_wav), "--attach", "s-1", "--ws-url", "wss://w"
    )
    assert result.code == 0
    attach = fake_bridge.fake.last.requests[0].config.attach
    assert (attach.session_id, attach.lite.ws_url) == ("s-1", "wss://w")


async def test_say_bad_wav_is_a_usage_error(fake_bridge: FakeServer, tmp_path: Path) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(b"nope")
    result = await run(fake_bridge, "say", str(path))
    assert result.code == 2
    assert "not a PCM WAV file" in result.err


async def test_refused_session_exits_64_plus_code(
    fake_bridge: FakeServer, speech_wav: Path
) -> None:
    result = await run(fake_bridge, "say", str(speech_wav), "--avatar-id", "missing")
    assert result.code == 64 + 5  # NOT_FOUND
    assert "NOT_FOUND: avatar missing not found" in result.err


async def test_text_waits_for_its_utterance(fake_bridge: FakeServer) -> None:
    result = await run(
        fake_bridge, "text", "hello", "--context-id", "ctx", "--voice-id", "v", "--language", "de"
    )
    assert result.code == 0, result.err
    assert 'avatar_speak_ended [text-1] utterance_id: "text-1"' in result.lines
    assert kinds(fake_bridge) == ["config", "speak_text"]
    persona = fake_bridge.fake.last.requests[0].config.create.full.persona
    assert (persona.context_id, persona.voice_id, persona.language) == ("ctx", "v", "de")
    assert fake_bridge.fake.last.requests[1].speak_text.text == "hello"


async def test_respond_sends_speak_response(fake_bridge: FakeServer) -> None:
    result = await run(fake_bridge, "respond", "an answer", "--request-id", "r7")
    assert result.code == 0
    assert fake_bridge.fake.last.requests[1] == pb.ConverseRequest(
        request_id="r7", speak_response=pb.SpeakResponse(text="an answer")
    )


async def test_error_event_for_the_command_exits_1(fake_bridge: FakeServer) -> None:
    result = await run(fake_bridge, "text", "fail")
    assert result.code == 1
    assert 'error [text-1] code: "INVALID_COMMAND" message: "scripted failure"' in result.lines
    assert result.lines[-1] == "session_stopped reason: STOP_REASON_CLIENT_ENDED"


async def test_fatal_status_mid_conversation(fake_bridge: FakeServer) -> None:
    result = await run(fake_bridge, "text", "abort")
    assert result.code == 64 + 3  # INVALID_ARGUMENT
    assert "INVALID_ARGUMENT: text is scripted to abort" in result.err


async def test_events_until_the_session_ends(fake_bridge: FakeServer) -> None:
    fake_bridge.fake.end_at_once = True
    result = await run(fake_bridge, "events", "--mode", "full", "--participation", "controller")
    assert result.code == 0
    assert result.lines == [
        'session_started session_id: "sess-1" mode: MODE_FULL',
        "session_stopped reason: STOP_REASON_MAX_DURATION_REACHED",
    ]
    full = fake_bridge.fake.last.requests[0].config.create.full
    assert full.participation == pb.PARTICIPATION_CONTROLLER


async def test_ptt(fake_bridge: FakeServer, speech_wav: Path) -> None:
    result = await run(fake_bridge, "ptt", str(speech_wav), "--context-id", "ctx", "--no-realtime")
    assert result.code == 0, result.err
    assert kinds(fake_bridge) == [
        "config",
        "push_to_talk_start",
        *["audio"] * 4,
        "push_to_talk_stop",
    ]
    full = fake_bridge.fake.last.requests[0].config.create.full
    assert full.interactivity_type == pb.INTERACTIVITY_TYPE_PUSH_TO_TALK
    assert 'transcription speaker: SPEAKER_USER text: "hello there" is_final: true' in (
        result.lines
    )
    assert 'avatar_speak_ended utterance_id: "ev-9"' in result.lines


async def test_sessions_and_stop(fake_bridge: FakeServer) -> None:
    result = await run(fake_bridge, "sessions", "--page-size", "2")
    assert result.code == 0
    assert [line.split()[1] for line in result.lines] == ['"s-0"', '"s-1"', '"s-2"']
    assert "3 active sessions" in result.err

    result = await run(fake_bridge, "stop", "s-2", "--reason", "idle_timeout", "--json")
    assert result.code == 0
    assert json.loads(result.out) == {"session_id": "s-2", "had_conversation": True}
    assert fake_bridge.fake.stopped[-1].reason == pb.STOP_REASON_IDLE_TIMEOUT

    result = await run(fake_bridge, "stop", "missing")
    assert result.code == 64 + 5
    assert fake_bridge.fake.stopped[-1].reason == pb.STOP_REASON_UNSPECIFIED


class _InterruptOn(io.StringIO):
    """stdout that sends the process a SIGINT once a line containing ``marker`` is written."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self._marker = marker
        self._sent = False

    def write(self, text: str) -> int:
        written = super().write(text)
        if self._marker in text and not self._sent:
            self._sent = True
            os.kill(os.getpid(), signal.SIGINT)
        return written


async def test_ctrl_c_half_closes_and_prints_the_end(fake_bridge: FakeServer) -> None:
    out, err = _InterruptOn("session_started"), io.StringIO()
    code = await cli.run(["events", "--target", fake_bridge.target], stdout=out, stderr=err)
    assert code == 130
    assert out.getvalue().splitlines()[-1] == "session_stopped reason: STOP_REASON_CLIENT_ENDED"
    assert fake_bridge.fake.last.half_closed

"""The user's microphone through the bridge's FULL leg: client audio → 24 kHz track → the
emulated agent's voice detection and speech-to-text.

Run inside the network namespace:
``bash tests/netns/run.sh .venv/bin/pytest tests/full -m full``
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from server.helpers import Stream

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FullEnv
from .test_full_converse import command, end_normally, full_config, open_full

pytestmark = pytest.mark.full

CHUNK_S = 0.1
TONE_S = 2.0


def tone(rate: int, encoding: pb.AudioEncoding.ValueType, seconds: float = TONE_S) -> bytes:
    """A 1 kHz tone at half scale, mono."""
    t = np.arange(round(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    if encoding == pb.AUDIO_ENCODING_FLOAT32:
        return x.astype("<f4").tobytes()
    return np.round(x * 32767).astype("<i2").tobytes()


async def stream_in_real_time(stream: Stream, data: bytes, rate: int, width: int) -> None:
    """Send `data` in 100 ms chunks at the pace it would be recorded (pacing, not a check)."""
    step = round(rate * CHUNK_S) * width
    loop = asyncio.get_running_loop()
    began = loop.time()
    for i, start in enumerate(range(0, len(data), step)):
        await asyncio.sleep(max(0.0, began + i * CHUNK_S - loop.time()))
        chunk = pb.AudioChunk(data=data[start : start + step])
        await stream.send(pb.ConverseRequest(request_id=f"a-{i}", audio=chunk))


def heard_seconds(transcription: pb.Transcription) -> float:
    match = re.fullmatch(r"heard (\d+\.\d+) s of speech", transcription.text)
    assert match, transcription.text
    return float(match.group(1))


def heard_whole_tone(transcription: pb.Transcription) -> bool:
    """The agent heard the whole tone: no audio lost (at most 10 % short). Real-time pacing on a
    loaded machine can stretch the speech with gaps, so the upper bound is generous (a
    duplicated tone, twice as long, still fails)."""
    return 0.9 * TONE_S <= heard_seconds(transcription) <= 1.5 * TONE_S


@pytest.mark.parametrize(
    ("rate", "encoding", "width"),
    [(16000, pb.AUDIO_ENCODING_LINEAR16, 2), (48000, pb.AUDIO_ENCODING_FLOAT32, 4)],
    ids=["16k-linear16", "48k-float32"],
)
async def test_streamed_tone_reaches_the_agent_as_user_speech(
    env: FullEnv, rate: int, encoding: pb.AudioEncoding.ValueType, width: int
) -> None:
    fmt = pb.AudioFormat(encoding=encoding, sample_rate_hertz=rate, channel_count=1)
    stream, started = await open_full(env, context=False, input_audio=fmt)
    await stream_in_real_time(stream, tone(rate, encoding), rate, width)
    await stream.until("user_speak_started")
    await stream.until("user_speak_ended")
    said = await stream.until("transcription", lambda e: e.transcription.speaker == pb.SPEAKER_USER)
    assert said.transcription.is_final
    assert heard_whole_tone(said.transcription), said
    room = env.backend.inspect_room(started.session_id)
    assert room is not None
    tracks = [t for t in room["audio"] if t["participant"] == "client"]
    assert len(tracks) == 1, room["audio"]
    assert tracks[0]["sample_rate"] in (24000, 48000)  # Opus may decode at 48 kHz.
    await end_normally(stream)
    assert "error" not in stream.kinds()


async def test_push_to_talk_window_carries_speech_and_audio_outside_is_dropped(
    env: FullEnv,
) -> None:
    rate = 16000
    fmt = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=rate)
    stream, _ = await open_full(env, context=False, push_to_talk=True, input_audio=fmt)
    outside = tone(rate, pb.AUDIO_ENCODING_LINEAR16, seconds=0.3)
    await stream.send(pb.ConverseRequest(request_id="early", audio=pb.AudioChunk(data=outside)))
    await stream.send(command("p-1", push_to_talk_start=pb.PushToTalkStart()))
    dropped = await stream.until("audio_dropped")
    assert dropped.request_id == "early"
    assert dropped.audio_dropped.reason == pb.DROP_REASON_OUTSIDE_PUSH_TO_TALK
    assert dropped.audio_dropped.input_byte_count == len(outside)
    assert dropped.audio_dropped.duration_ms == 300
    result = await stream.until("push_to_talk_result")
    assert result.push_to_talk_result.outcome == pb.PUSH_TO_TALK_OUTCOME_STARTED
    await stream_in_real_time(stream, tone(rate, pb.AUDIO_ENCODING_LINEAR16), rate, 2)
    await stream.send(command("p-2", push_to_talk_stop=pb.PushToTalkStop()))
    said = await stream.until("transcription", lambda e: e.transcription.speaker == pb.SPEAKER_USER)
    assert heard_whole_tone(said.transcription), said
    results = [e for e in stream.events if e.request_id == "p-2"]
    assert [e.push_to_talk_result.outcome for e in results] == [pb.PUSH_TO_TALK_OUTCOME_STOPPED]
    await end_normally(stream)


async def test_controller_audio_is_refused_by_the_config_check(env: FullEnv) -> None:
    fmt = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000)
    stream = Stream(env.bridge.stub)
    await stream.send(full_config(input_audio=fmt, participation=pb.PARTICIPATION_CONTROLLER))
    await stream.half_close()
    code, details = await stream.status()
    assert code.name == "INVALID_ARGUMENT", details
    assert "CONTROLLER" in details

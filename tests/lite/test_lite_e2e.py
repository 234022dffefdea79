"""LITE end to end: client → bridge (gRPC) → emulator (REST + WebSocket), over real sockets.

The PCM the emulator received is checked against an expectation computed without the bridge's
audio code: the input is encoded here with struct and the reference G.711 levels, and decoded
with formulas from the specs, and the reference resampling is soxr run once over the whole
signal.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import soxr
from audio.g711_reference import ALAW_LEVELS, MULAW_LEVELS, alaw_level, encode_nearest, mulaw_level
from conftest import Bridge

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from liveavatar_emulator import Emulator

FAMILIES = ["documented", "observed", "both"]
SANDBOX_AVATAR = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
WAIT_S = 30.0
ENC = {
    "LINEAR16": pb.AUDIO_ENCODING_LINEAR16,
    "FLOAT32": pb.AUDIO_ENCODING_FLOAT32,
    "MULAW": pb.AUDIO_ENCODING_MULAW,
    "ALAW": pb.AUDIO_ENCODING_ALAW,
}


def lite_config(encoding: str, rate: int, channels: int, **options: int) -> pb.ConverseRequest:
    return pb.ConverseRequest(
        config=pb.SessionConfig(
            input_audio=pb.AudioFormat(
                encoding=ENC[encoding], sample_rate_hertz=rate, channel_count=channels
            ),
            create=pb.NewSession(avatar_id=SANDBOX_AVATAR, lite=pb.LiteSession()),
            options=pb.BridgeOptions(**options),
        )
    )


def signal(rate: int, channels: int, seconds: float) -> np.ndarray:
    """A deterministic two-tone test signal, shape (frames, channels), in [-0.6, 0.6]."""
    t = np.arange(int(rate * seconds)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t)
    right = 0.3 * np.sin(2 * np.pi * 660 * t) + 0.3 * np.sin(2 * np.pi * 97 * t)
    return np.stack([left, right][:channels], axis=1)


def encode(samples: np.ndarray, encoding: str) -> bytes:
    """Interleaved bytes of `samples` in `encoding`, with the standard library."""
    flat = samples.reshape(-1)
    ints = [max(-32768, min(32767, round(x * 32767))) for x in flat]
    pcm16 = struct.pack(f"<{len(ints)}h", *ints)
    if encoding == "LINEAR16":
        return pcm16
    if encoding == "FLOAT32":
        return struct.pack(f"<{len(flat)}f", *flat.tolist())
    if encoding == "MULAW":
        return encode_nearest(ints, MULAW_LEVELS)
    return encode_nearest(ints, ALAW_LEVELS)


def decode_reference(data: bytes, encoding: str, channels: int) -> np.ndarray:
    """Float mono from `data`, by the specs' formulas (not the bridge's tables)."""
    if encoding == "LINEAR16":
        values = np.array(struct.unpack(f"<{len(data) // 2}h", data), dtype=np.float64) / 32768
    elif encoding == "FLOAT32":
        values = np.array(struct.unpack(f"<{len(data) // 4}f", data), dtype=np.float64)
    elif encoding == "MULAW":
        values = np.array([mulaw_level(b) for b in data], dtype=np.float64) / 32768
    else:
        values = np.array([alaw_level(b) for b in data], dtype=np.float64) / 32768
    return values.reshape(-1, channels).mean(axis=1)


def snr_db(reference: np.ndarray, actual: np.ndarray) -> float:
    noise = np.sum((reference - actual) ** 2)
    return math.inf if noise == 0 else 10 * math.log10(np.sum(reference**2) / noise)


async def requests(items: Sequence[pb.ConverseRequest]) -> AsyncIterator[pb.ConverseRequest]:
    for item in items:
        yield item


async def converse(
    bridge: Bridge, items: Sequence[pb.ConverseRequest]
) -> list[pb.ConverseResponse]:
    """Send every request, half-close, and collect every event until the call ends."""
    call = bridge.stub.Converse(requests(items))
    return [event async for event in call]


async def read_rest(call: Any) -> list[pb.ConverseResponse]:
    """Read a read/write-style call to its end (async-for may not be mixed with read())."""
    events = []
    while (event := await asyncio.wait_for(call.read(), WAIT_S)) is not grpc.aio.EOF:
        events.append(event)
    return events


def chunked(data: bytes, frame: int, sizes: Sequence[int]) -> list[bytes]:
    """Split into chunks of whole frames, cycling through `sizes` (in frames)."""
    out, offset, index = [], 0, 0
    while offset < len(data):
        size = sizes[index % len(sizes)] * frame
        out.append(data[offset : offset + size])
        offset += size
        index += 1
    return out


async def emulator_json(bridge: Bridge, path: str) -> Any:
    async with httpx.AsyncClient(base_url=bridge.server.config.api_url) as client:
        response = await client.get(path)
        response.raise_for_status()
        return response.json() if "json" in response.headers["content-type"] else response.content


def kinds(events: Sequence[pb.ConverseResponse]) -> list[str]:
    return [str(e.WhichOneof("event")) for e in events]


@pytest.fixture(autouse=True)
async def no_session_left_active(bridge: Bridge) -> AsyncIterator[None]:
    yield
    # A stop after a cancelled call runs shielded in the background: give it a moment. A
    # leaked session never clears, so this still fails on a real leak.
    for _ in range(50):
        active = await emulator_json(bridge, "/_emulator/active")
        if not active["active"]:
            return
        await asyncio.sleep(0.1)
    assert active["active"] == [], "an upstream session was left running"


CASES = [("LINEAR16", r, c) for r in (8000, 16000, 22050, 24000, 44100, 48000) for c in (1, 2)]
CASES += [
    (e, r, c) for e in ("FLOAT32", "MULAW", "ALAW") for r in (8000, 24000, 48000) for c in (1, 2)
]


@pytest.fixture
def emulator_settings() -> dict[str, Any]:
    return {"playback_time_scale": 0.02}


@pytest.mark.parametrize(("encoding", "rate", "channels"), CASES)
async def test_received_pcm_matches_an_independent_expectation(
    bridge: Bridge, encoding: str, rate: int, channels: int
) -> None:
    data = encode(signal(rate, channels, 1.3), encoding)
    frame = {"LINEAR16": 2, "FLOAT32": 4}.get(encoding, 1) * channels
    items = [lite_config(encoding, rate, channels)]
    chunks = chunked(data, frame, sizes=[rate // 50, 7, rate // 10, 333])
    items += [
        pb.ConverseRequest(request_id="u1" if i == 0 else "", audio=pb.AudioChunk(data=c))
        for i, c in enumerate(chunks)
    ]
    items.append(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
    events = await converse(bridge, items)

    session_id = events[0].session_started.session_id
    received = await emulator_json(bridge, f"/_emulator/sessions/{session_id}/audio")
    if (encoding, rate, channels) == ("LINEAR16", 24000, 1):
        assert received == data
    else:
        reference = decode_reference(data, encoding, channels)
        if rate != 24000:
            reference = soxr.resample(reference, rate, 24000, quality="HQ")
        actual = np.frombuffer(received, dtype="<i2").astype(np.float64) / 32768
        assert len(actual) == len(reference)
        assert snr_db(reference, actual) >= 60.0
    assert kinds(events).count("avatar_speak_started") == 1
    assert kinds(events).count("avatar_speak_ended") == 1
    assert events[-1].session_stopped.reason == pb.STOP_REASON_CLIENT_ENDED


@pytest.mark.parametrize(
    "emulator_settings",
    [{"playback_time_scale": 0.02, "lite_event_profile": p} for p in FAMILIES],
    ids=FAMILIES,
)
async def test_each_event_family_gives_one_started_and_one_ended_per_utterance(
    bridge: Bridge, emulator: Emulator, emulator_settings: dict[str, Any]
) -> None:
    assert emulator.config.lite_event_profile == emulator_settings["lite_event_profile"]
    pcm = encode(signal(24000, 1, 0.8), "LINEAR16")
    items = [lite_config("LINEAR16", 24000, 1)]
    for n in (1, 2):
        items.append(pb.ConverseRequest(request_id=f"utt-{n}", audio=pb.AudioChunk(data=pcm)))
        items.append(pb.ConverseRequest(request_id=f"end-{n}", speak_end=pb.SpeakEnd()))
    events = await converse(bridge, items)
    started = [
        e.avatar_speak_started.utterance_id for e in events if e.HasField("avatar_speak_started")
    ]
    ended = [e.avatar_speak_ended.utterance_id for e in events if e.HasField("avatar_speak_ended")]
    assert started == ["utt-1", "utt-2"]
    assert ended == ["utt-1", "utt-2"]
    for event in events:
        if event.HasField("avatar_speak_started") or event.HasField("avatar_speak_ended"):
            assert event.request_id in ("utt-1", "utt-2")


@pytest.mark.parametrize("emulator_settings", [{}], ids=["real-time-playback"])
async def test_interrupt_stops_the_avatar_and_nothing_sent_before_plays_after(
    bridge: Bridge,
) -> None:
    # Real-time playback here, so the avatar is mid-utterance when the interrupt lands.
    pcm = encode(signal(24000, 1, 3.0), "LINEAR16")
    call = bridge.stub.Converse()
    await call.write(lite_config("LINEAR16", 24000, 1))
    await call.write(pb.ConverseRequest(request_id="long", audio=pb.AudioChunk(data=pcm)))
    await call.write(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
    seen: list[pb.ConverseResponse] = []

    async def until(kind: str) -> pb.ConverseResponse:
        while True:
            event = await asyncio.wait_for(call.read(), WAIT_S)
            assert event is not grpc.aio.EOF, f"stream ended before {kind}"
            seen.append(event)
            if event.WhichOneof("event") == kind:
                return event

    started = await until("session_started")
    session_id = started.session_started.session_id
    await until("avatar_speak_started")
    await call.write(pb.ConverseRequest(request_id="stop-it", interrupt=pb.Interrupt()))
    interrupted = await until("avatar_speak_interrupted")
    assert interrupted.avatar_speak_interrupted.utterance_id == "long"
    played_at_interrupt = await emulator_json(bridge, f"/_emulator/sessions/{session_id}/played")

    # A second utterance plays in full; the first never resumes.
    short = encode(signal(24000, 1, 0.3), "LINEAR16")
    await call.write(pb.ConverseRequest(request_id="next", audio=pb.AudioChunk(data=short)))
    await call.write(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
    ended = await until("avatar_speak_ended")
    assert ended.avatar_speak_ended.utterance_id == "next"
    await call.done_writing()
    seen += await read_rest(call)

    played_after = await emulator_json(bridge, f"/_emulator/sessions/{session_id}/played")
    first_now = played_after["utterances"][0]
    first_then = played_at_interrupt["utterances"][0]
    assert first_now["played_bytes"] == first_then["played_bytes"]
    assert first_now["played_bytes"] < len(pcm)
    assert first_now["played_bytes"] + first_now["discarded_bytes"] == len(pcm)
    assert played_after["utterances"][1]["played_bytes"] == len(short)
    assert kinds(seen).count("avatar_speak_ended") == 1  # Only "next" ended normally.


# time_scale 0.005 turns LiveAvatar's 300 s idle timeout into 1.5 s.
@pytest.mark.parametrize("emulator_settings", [{"time_scale": 0.005}], ids=["idle-1.5s"])
@pytest.mark.parametrize("bridge_settings", [{"keep_alive_idle_s": 0.5}], ids=["keepalive-0.5s"])
async def test_keep_alive_keeps_the_session_past_the_idle_timeout(
    bridge: Bridge, emulator: Emulator
) -> None:
    assert emulator.config.scaled(emulator.config.idle_timeout_s) < 2.0
    call = bridge.stub.Converse()
    await call.write(lite_config("LINEAR16", 24000, 1))
    first = await asyncio.wait_for(call.read(), WAIT_S)
    session_id = first.session_started.session_id
    await asyncio.sleep(4.0)  # More than twice the idle timeout, with no client traffic.
    summary = await emulator_json(bridge, f"/_emulator/sessions/{session_id}")
    assert summary["status"] != "ended"
    await call.done_writing()
    events = await read_rest(call)
    assert events[-1].session_stopped.reason == pb.STOP_REASON_CLIENT_ENDED
    summary = await emulator_json(bridge, f"/_emulator/sessions/{session_id}")
    assert summary["end_reason"] == "USER_CLOSED"


@pytest.mark.parametrize("emulator_settings", [{"time_scale": 0.005}], ids=["idle-1.5s"])
async def test_without_keep_alive_the_idle_timeout_ends_the_session_and_the_client_is_told(
    bridge: Bridge,
) -> None:
    # The bridge's keep-alive stays at its 60 s default, far beyond the 1.5 s idle timeout.
    call = bridge.stub.Converse()
    await call.write(lite_config("LINEAR16", 24000, 1))
    events = await read_rest(call)
    stopped = events[-1].session_stopped
    assert stopped.reason == pb.STOP_REASON_IDLE_TIMEOUT
    assert stopped.upstream_reason == "IDLE_TIMEOUT"
    assert await call.code() == grpc.StatusCode.OK

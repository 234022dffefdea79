"""End-to-end truth check: a LITE conversation through the bridge (gRPC) while a LiveKit
viewer, joined with the livekit_client_token the bridge handed out, records the avatar's audio.

What the viewer hears must be what the gRPC client streamed (envelope cross-correlation, see
test_avatar_media.best_correlation), starting within ONSET_TOLERANCE_S of the bridge's
avatar_speak_started, and an interrupt must cut it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import numpy as np
import pytest
from conftest import API_KEY, emulator_config, running_bridge

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from liveavatar_emulator import Emulator
from liveavatar_emulator.full import LiveKitFullBackend

from .conftest import RATE, WAIT_S, Viewer
from .test_avatar_media import (
    LOUD,
    MIN_CORRELATION,
    ONSET_TOLERANCE_S,
    STOP_TOLERANCE_S,
    best_correlation,
    pattern_signal,
)

pytestmark = pytest.mark.full

SANDBOX_AVATAR = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"


@pytest.fixture
async def bridge_emu(backend: LiveKitFullBackend) -> AsyncIterator[Emulator]:
    assert API_KEY
    async with Emulator(emulator_config(), full_backend=backend) as emulator:
        yield emulator


async def next_event(call: grpc.aio.StreamStreamCall, kind: str) -> pb.ConverseResponse:
    while True:
        event = await asyncio.wait_for(call.read(), WAIT_S)
        assert event is not grpc.aio.EOF, f"call ended before {kind}"
        if event.WhichOneof("event") == kind:
            return event


def audio_requests(samples: np.ndarray, chunk_ms: int = 100) -> list[pb.ConverseRequest]:
    raw = samples.astype("<i2").tobytes()
    step = RATE * 2 * chunk_ms // 1000
    return [
        pb.ConverseRequest(audio=pb.AudioChunk(data=raw[i : i + step]))
        for i in range(0, len(raw), step)
    ]


async def heard_silence_after_speech(viewer: Viewer, quiet_frames: int = 50) -> None:
    """Wait (bounded) until the viewer has heard speech then `quiet_frames` quiet 10 ms frames:
    on a loaded machine the avatar's audio can reach the viewer well after the bridge's
    avatar_speak_ended, and a recording cut by the clock would miss its end. Counts frames
    heard, not time; the stop-time assertion below checks the timing on its own."""
    async with asyncio.timeout(WAIT_S):
        while True:
            levels = [rms for _, rms in viewer.recording.frame_rms()]
            loud = [i for i, rms in enumerate(levels) if rms > LOUD]
            if loud and len(levels) - 1 - loud[-1] >= quiet_frames:
                return
            await asyncio.sleep(0.1)  # The recording has no change event.


async def test_viewer_hears_what_the_grpc_client_streamed(bridge_emu: Emulator) -> None:
    loop = asyncio.get_running_loop()
    streamed = pattern_signal(3.0, seed=21)
    t = np.arange(int(4.0 * RATE)) / RATE
    long_tone = (0.3 * 32767 * np.sin(2 * np.pi * 330 * t)).astype(np.int16)
    viewer = Viewer()
    async with running_bridge(bridge_emu.base_url, {}) as bridge:
        call = bridge.stub.Converse()
        try:
            await call.write(
                pb.ConverseRequest(
                    config=pb.SessionConfig(
                        input_audio=pb.AudioFormat(
                            encoding=pb.AUDIO_ENCODING_LINEAR16,
                            sample_rate_hertz=RATE,
                            channel_count=1,
                        ),
                        create=pb.NewSession(avatar_id=SANDBOX_AVATAR, lite=pb.LiteSession()),
                    )
                )
            )
            started = (await next_event(call, "session_started")).session_started
            assert started.livekit_client_token, "the bridge handed out no viewer token"
            await viewer.connect(started.livekit_url, started.livekit_client_token)
            await asyncio.sleep(0.5)  # the upstream socket's `connected`

            for request in audio_requests(streamed):
                await call.write(request)
            await call.write(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
            await next_event(call, "avatar_speak_started")
            first_started_at = loop.time()
            await next_event(call, "avatar_speak_ended")
            first_ended_at = loop.time()
            await asyncio.sleep(STOP_TOLERANCE_S)
            await heard_silence_after_speech(viewer)
            first_part = viewer.recording.pcm()
            first_frames = len(viewer.recording.samples)

            for request in audio_requests(long_tone):
                await call.write(request)
            await call.write(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
            await next_event(call, "avatar_speak_started")
            await asyncio.sleep(1.0)
            await call.write(pb.ConverseRequest(interrupt=pb.Interrupt()))
            cut_at = loop.time()
            await asyncio.sleep(STOP_TOLERANCE_S + 1.5)
            await call.done_writing()
        finally:
            call.cancel()
            await viewer.close()

    score = best_correlation(streamed, first_part)
    assert score > MIN_CORRELATION, f"envelope correlation {score:.3f}"
    frames = viewer.recording.frame_rms()
    loud_first = [at for at, rms in frames[:first_frames] if rms > LOUD]
    assert first_started_at <= loud_first[0] <= first_started_at + ONSET_TOLERANCE_S
    assert loud_first[-1] <= first_ended_at + STOP_TOLERANCE_S
    second = frames[first_frames:]
    heard_s = 0.01 * sum(1 for _, rms in second if rms > LOUD)
    assert 0.5 <= heard_s <= 2.5, f"heard {heard_s:.2f} s of a 4 s tone interrupted after ~1 s"
    assert all(rms < LOUD for at, rms in second if at > cut_at + STOP_TOLERANCE_S)

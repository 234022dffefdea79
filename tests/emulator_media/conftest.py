"""Fixtures for the avatar media tests: the emulator with its LiveKit server, and a viewer.

Marked ``full``: the viewer is the real livekit SDK (libwebrtc ignores loopback), so these run
inside ``tests/netns/run.sh`` and are skipped, with the reason printed, elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from emulator.helpers import fast
from livekit import rtc

from liveavatar_emulator import Emulator
from liveavatar_emulator.full import FullModeConfig, LiveKitFullBackend

NETNS_SKIP_REASON = (
    "needs a private network namespace (libwebrtc ignores loopback); run: "
    "bash tests/netns/run.sh .venv/bin/pytest tests/emulator_media -m full"
)
CONNECT_S = 25.0
WAIT_S = 15.0
RATE = 24_000


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``full`` tests outside the network namespace."""
    if os.environ.get("AVATAR_BRIDGE_NETNS"):
        return
    for item in items:
        if "full" in item.keywords and "emulator_media" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=NETNS_SKIP_REASON))


@pytest.fixture
async def backend() -> AsyncIterator[LiveKitFullBackend]:
    async with LiveKitFullBackend(FullModeConfig(port=0, stop_flush_s=0.1)) as b:
        yield b


@pytest.fixture
async def emu(backend: LiveKitFullBackend) -> AsyncIterator[Emulator]:
    """Real-time session timers: on a loaded machine a browser or a WebRTC join may take
    longer than the scaled idle timeout or max duration of the fast config."""
    async with Emulator(fast(time_scale=1.0), full_backend=backend) as emulator:
        yield emulator


@dataclass
class Recording:
    """Audio a viewer heard: 24 kHz mono samples, and the loop time each 10 ms frame arrived."""

    samples: list[np.ndarray] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    video_frames: int = 0
    video_size: tuple[int, int] = (0, 0)

    def pcm(self) -> np.ndarray:
        return np.concatenate(self.samples) if self.samples else np.zeros(0, np.int16)

    def frame_rms(self) -> list[tuple[float, float]]:
        """(arrival time, RMS 0..1) per received frame."""
        return [
            (t, float(np.sqrt(np.mean((s.astype(np.float64) / 32768.0) ** 2))))
            for t, s in zip(self.arrivals, self.samples, strict=True)
        ]


class Viewer:
    """A real LiveKit client that subscribes to the avatar and records what it hears/sees."""

    def __init__(self, avatar_identity: str = "heygen") -> None:
        self.room = rtc.Room()
        self.avatar_identity = avatar_identity
        self.recording = Recording()
        self.audio_ready = asyncio.Event()
        self.video_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.room.on("track_subscribed", self._on_track)

    def _on_track(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if participant.identity != self.avatar_identity:
            return
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._tasks.append(asyncio.create_task(self._record_audio(track)))
        elif track.kind == rtc.TrackKind.KIND_VIDEO:
            self._tasks.append(asyncio.create_task(self._count_video(track)))

    async def _record_audio(self, track: rtc.Track) -> None:
        loop = asyncio.get_running_loop()
        stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
        self.audio_ready.set()
        async for event in stream:
            data = np.frombuffer(bytes(event.frame.data), dtype=np.int16).copy()
            self.recording.samples.append(data)
            self.recording.arrivals.append(loop.time())

    async def _count_video(self, track: rtc.Track) -> None:
        stream = rtc.VideoStream(track)
        self.video_ready.set()
        async for event in stream:
            self.recording.video_frames += 1
            self.recording.video_size = (event.frame.width, event.frame.height)

    async def connect(self, url: str, token: str) -> Viewer:
        await asyncio.wait_for(self.room.connect(url, token), CONNECT_S)
        await asyncio.wait_for(self.audio_ready.wait(), WAIT_S)
        await asyncio.wait_for(self.video_ready.wait(), WAIT_S)
        return self

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.room.disconnect(), 10)


@pytest.fixture
async def viewer() -> AsyncIterator[Viewer]:
    v = Viewer()
    yield v
    await v.close()

"""Fixtures: a fake bridge on an in-process grpc.aio server (port 0), and a fast clock."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

from .fake_bridge import FakeBridge


@dataclass
class FakeServer:
    """The running fake and its address."""

    fake: FakeBridge
    target: str


@pytest.fixture
async def fake_bridge() -> AsyncIterator[FakeServer]:
    server = grpc.aio.server()
    fake = FakeBridge()
    pb_grpc.add_AvatarBridgeServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield FakeServer(fake, f"127.0.0.1:{port}")
    finally:
        await server.stop(None)


@dataclass
class FakeClock:
    """Time that only moves when someone sleeps; records every sleep."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def write_wav(path: Path, frames: bytes, *, rate: int, channels: int, width: int = 2) -> Path:
    """Write a PCM WAV file with the stdlib."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return path


@pytest.fixture
def speech_wav(tmp_path: Path) -> Path:
    """0.35 s of 16 kHz stereo PCM16 (a ramp, so chunks differ)."""
    frames = b"".join(i.to_bytes(2, "little", signed=True) * 2 for i in range(5600))
    return write_wav(tmp_path / "speech.wav", frames, rate=16000, channels=2)

"""Fixtures for admission, limits and status tests: an emulator and a bridge with chosen limits."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest
from conftest import API_KEY  # tests/conftest.py
from server.helpers import Inspector

from avatar_bridge.config import Limits, SecurityConfig, ServerConfig
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator


@dataclass
class LimitedBridge:
    """A bridge with its own Limits, a stub, and the emulator it talks to."""

    server: BridgeServer
    channel: grpc.aio.Channel
    stub: pb_grpc.AvatarBridgeServiceStub
    target: str
    emulator: Emulator
    emu: Inspector


@contextlib.asynccontextmanager
async def limited_bridge(emulator: Emulator, **limits: Any) -> AsyncIterator[LimitedBridge]:
    """A bridge on a free loopback port with `limits` overriding the default Limits."""
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=emulator.base_url,
        api_key=API_KEY,
        shutdown_grace_s=5.0,
        limits=replace(Limits(), **limits),
        # The attach tests dial targets on loopback, outside the default attach allowlist.
        security=SecurityConfig(attach_allow=("127.0.0.1",)),
    )
    server = BridgeServer(config)
    port = await server.start()
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(target)
    inspector = Inspector(emulator.base_url)
    try:
        yield LimitedBridge(
            server,
            channel,
            pb_grpc.AvatarBridgeServiceStub(channel),
            target,
            emulator,
            inspector,
        )
    finally:
        await inspector.aclose()
        await channel.close()
        await server.stop(grace_s=5.0)


@pytest.fixture
def emulator_settings() -> dict[str, Any]:
    """Audio plays 20 times faster than real time; session timers stay real."""
    return {"playback_time_scale": 0.05}

"""Fixtures for the reliability tests: an in-process bridge with short REST timeouts, emulator
inspection, and Redis when the binary exists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from conftest import API_KEY  # tests/conftest.py

# Shared fixtures, registered here by name.
from server.fixtures import emulator_settings as emulator_settings
from server.fixtures import inspector as inspector
from server.fixtures import redis_url as redis_url
from server.helpers import WAIT_S, Inspector

from avatar_bridge.config import ServerConfig
from avatar_bridge.liveavatar.rest import RestConfig
from avatar_bridge.registry import Timing
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator

REST_TIMEOUT_S = 2.0


@dataclass
class Env:
    server: BridgeServer
    stub: pb_grpc.AvatarBridgeServiceStub
    emu: Inspector


@pytest.fixture
def rest_timeout_s() -> float:
    """The bridge's REST timeout (and how long a client waits for a token); short for the
    fault tests, overridden by tests that only need a working LiveAvatar."""
    return REST_TIMEOUT_S


@pytest.fixture
async def env(
    emulator: Emulator, inspector: Inspector, rest_timeout_s: float
) -> AsyncIterator[Env]:
    config = ServerConfig(listen="127.0.0.1:0", api_url=emulator.base_url, api_key=API_KEY)
    server = BridgeServer(
        config,
        rest_config=RestConfig(
            api_key=API_KEY,
            base_url=emulator.base_url,
            timeout_s=rest_timeout_s,
            attempts=3,
            backoff_initial_s=0.02,
        ),
        timing=Timing(
            token_wait_s=rest_timeout_s,
            late_answer_s=WAIT_S,
            stop_backoff_initial_s=0.05,
            stop_backoff_max_s=0.2,
        ),
    )
    port = await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Env(server, pb_grpc.AvatarBridgeServiceStub(channel), inspector)
    await server.stop(grace_s=5.0)

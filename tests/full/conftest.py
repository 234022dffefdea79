"""Fixtures for the bridge's FULL leg end to end: the emulator with its LiveKit-compatible
server, and a bridge that joins rooms with the real `livekit` SDK.

These tests are marked `full`: WebRTC ignores loopback, so they run only inside the network
namespace of tests/netns/run.sh (`bash tests/netns/run.sh .venv/bin/pytest tests/full -m full`);
tests/conftest.py skips them elsewhere, with the reason printed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import Bridge, emulator_config, running_bridge  # tests/conftest.py
from server.helpers import WAIT_S, Inspector  # tests/server/helpers.py

from avatar_bridge.full.leg import connect_full_leg
from avatar_bridge.security.allowlist import host_entry
from liveavatar_emulator import Emulator
from liveavatar_emulator.full import FullModeConfig, LiveKitFullBackend


@pytest.fixture
def full_settings() -> dict[str, Any]:
    """FullModeConfig overrides; override in a test module or per test."""
    return {}


@pytest.fixture
async def backend(full_settings: dict[str, Any]) -> AsyncIterator[LiveKitFullBackend]:
    """The emulated LiveKit server and agent; the avatar speaks 20 times faster than real time."""
    values: dict[str, Any] = {"port": 0, "time_scale": 0.05, "stop_flush_s": 0.2}
    values.update(full_settings)
    async with LiveKitFullBackend(FullModeConfig(**values)) as b:
        yield b


@pytest.fixture
async def full_emulator(
    backend: LiveKitFullBackend, emulator_settings: dict[str, Any]
) -> AsyncIterator[Emulator]:
    async with Emulator(config=emulator_config(**emulator_settings), full_backend=backend) as emu:
        yield emu


@pytest.fixture
async def full_bridge(
    full_emulator: Emulator, backend: LiveKitFullBackend, bridge_settings: dict[str, Any]
) -> AsyncIterator[Bridge]:
    """tests/conftest.py's `bridge`, with the FULL leg installed."""
    async with running_bridge(
        full_emulator.base_url,
        bridge_settings,
        full_leg=connect_full_leg,
        # The LiveKit server's endpoint, as the embedded emulator adds it (FULL attach dials it).
        attach_allow=(host_entry(backend.livekit_url),),
    ) as running:
        yield running


@dataclass
class FullEnv:
    bridge: Bridge
    emu: Inspector
    backend: LiveKitFullBackend


@pytest.fixture
async def env(
    full_bridge: Bridge, full_emulator: Emulator, backend: LiveKitFullBackend
) -> AsyncIterator[FullEnv]:
    """The bridge, the emulator and its LiveKit server. Afterwards no upstream session may be
    active and no participant of the bridge may remain in any room (checked before the bridge
    shuts down, whose own cleanup would hide leftovers)."""
    inspector = Inspector(full_emulator.base_url)
    try:
        yield FullEnv(full_bridge, inspector, backend)
        left = await inspector.wait_none_active()
        assert not left, f"upstream sessions left active after the test: {left}"
        stayed = await wait_no_bridge_participant(backend)
        assert not stayed, f"bridge participants left in LiveKit rooms: {stayed}"
    finally:
        await inspector.aclose()


def bridge_participants(backend: LiveKitFullBackend) -> list[str]:
    """`room/identity` of every real (non-emulated) participant in an open room."""
    return [
        f"{name}/{identity}"
        for name, room in backend.server.rooms.items()
        for identity, participant in room.participants.items()
        if not participant.virtual
    ]


async def wait_no_bridge_participant(backend: LiveKitFullBackend) -> list[str]:
    """Poll (bounded) until no real participant is in any open room; returns those left."""
    for _ in range(int(WAIT_S / 0.05)):
        if not bridge_participants(backend):
            return []
        await asyncio.sleep(0.05)  # The SFU's state has no change notification.
    return bridge_participants(backend)

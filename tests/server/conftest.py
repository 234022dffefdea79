"""Fixtures for the server tests: an emulator inspector, and a bridge that must leave nothing
running upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from liveavatar_emulator import Emulator

from .helpers import Inspector


@pytest.fixture
def emulator_settings() -> dict[str, Any]:
    """Audio plays 20 times faster than real time; session timers stay real."""
    return {"playback_time_scale": 0.05}


@pytest.fixture
async def inspector(emulator: Emulator) -> AsyncIterator[Inspector]:
    inspector = Inspector(emulator.base_url)
    try:
        yield inspector
    finally:
        await inspector.aclose()


@dataclass
class Env:
    bridge: Any
    """tests/conftest.py's Bridge: server, channel, stub, target."""
    emu: Inspector


@pytest.fixture
async def env(bridge: Any, inspector: Inspector) -> AsyncIterator[Env]:
    """The bridge and the emulator; afterwards no upstream session may be left active.

    Checked before the bridge shuts down (whose shutdown would stop leftovers and hide them).
    """
    yield Env(bridge, inspector)
    left = await inspector.wait_none_active()
    assert not left, f"upstream sessions left active after the test: {left}"

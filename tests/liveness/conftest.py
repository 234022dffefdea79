"""Fixtures for the liveness tests: the bridge against the emulator, with fault controls.

Audio plays in real time here (the bridge's playback estimate is compared with the emulator's
record), and every test must leave no upstream session active.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from liveavatar_emulator import Emulator

from .faults import FaultyEmulator


@pytest.fixture
def bridge_settings() -> dict[str, Any]:
    """Short bounds so faults show within a test's time; the reconnect policy stays default."""
    return {"upstream_silence_s": 1.5}


@pytest.fixture
async def emu(emulator: Emulator, bridge: Any) -> AsyncIterator[FaultyEmulator]:
    """The emulator's inspection and fault API; afterwards no session may be left active."""
    faulty = FaultyEmulator(emulator.base_url)
    try:
        yield faulty
        left = await faulty.wait_none_active()
        assert not left, f"upstream sessions left active after the test: {left}"
    finally:
        await faulty.aclose()

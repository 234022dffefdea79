"""Fixtures the server and reliability tests share (their conftests import them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
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

"""Fixtures for the reliability tests: emulator inspection, and Redis when the binary exists."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from server.helpers import Inspector

from liveavatar_emulator import Emulator

from .helpers import redis_server


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


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    """Debian's redis-server; .ci/run installs it, so CI never skips."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    async with redis_server(tmp_path) as url:
        yield url

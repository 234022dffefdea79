"""Fixtures the server, reliability and scale tests share (their conftests or modules import
them)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from reliability.helpers import redis_server

from liveavatar_emulator import Emulator

from .helpers import Inspector
from .process import emulator_process


@pytest.fixture
def emulator_settings() -> dict[str, Any]:
    """Audio plays 20 times faster than real time; session timers stay real."""
    return {"playback_time_scale": 0.05}


@pytest.fixture(name="emulator")
async def emulator_as_process() -> AsyncIterator[str]:
    """Overrides `emulator` in a module that imports it: the emulator's URL, served by its own
    `liveavatar-emulator` process so the test's many clients and bridges do not slow it."""
    async with emulator_process() as url:
        yield url


@pytest.fixture
async def inspector(emulator: Emulator | str) -> AsyncIterator[Inspector]:
    """The emulator's inspection API, in-process (`Emulator`) or a process's URL (`str`)."""
    inspector = Inspector(emulator if isinstance(emulator, str) else emulator.base_url)
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

"""Fixtures for the server tests: an emulator inspector, and a bridge that must leave nothing
running upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

# Shared fixtures, registered here by name.
from .fixtures import emulator_settings as emulator_settings
from .fixtures import inspector as inspector
from .helpers import Inspector


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

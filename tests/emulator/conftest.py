"""Fixtures for emulator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from liveavatar_emulator import Emulator

from .helpers import WAIT, running


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """Emulator with the ``FAST`` config."""
    async with running() as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client bound to ``emu``."""
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        yield http

"""One started LITE session with its socket connected, shared by the LITE WebSocket tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from liveavatar_emulator import Emulator, EmulatorConfig
from liveavatar_emulator.sessions import Session

from .helpers import WAIT, LiteClient, lite_ws, running, started_lite


@asynccontextmanager
async def lite(
    config: EmulatorConfig, *, wait_connected: bool = True, stall_s: float = 0.0
) -> AsyncIterator[tuple[Emulator, httpx.AsyncClient, Session, LiteClient, str]]:
    """Emulator, HTTP client, started LITE session, its socket and ``ws_url`` (to reconnect).
    ``stall_s``: the session's events are stalled that long (``/ws_stall``) before the socket
    opens."""
    async with (
        running(config) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, _, data = await started_lite(http)
        session = emu.registry.get(sid)
        assert session is not None
        if stall_s:
            resp = await http.post(f"/_emulator/sessions/{sid}/ws_stall", json={"seconds": stall_s})
            assert resp.json()["stalls"] == 1
        async with lite_ws(data["ws_url"], wait_connected=wait_connected) as ws:
            yield emu, http, session, ws, data["ws_url"]

"""A bridge with any ServerConfig, in-process on a free loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from conftest import API_KEY, Bridge, serving

from avatar_bridge.config import Limits, ServerConfig, SessionDefaults
from avatar_bridge.server import BridgeServer


@contextlib.asynccontextmanager
async def bridge_at(
    api_url: str,
    *,
    limits: dict[str, Any] | None = None,
    session: dict[str, Any] | None = None,
    grace_s: float = 5.0,
) -> AsyncIterator[Bridge]:
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=api_url,
        api_key=API_KEY,
        shutdown_grace_s=grace_s,
        limits=replace(Limits(), **(limits or {})),
        session=replace(SessionDefaults(), **(session or {})),
    )
    async with serving(BridgeServer(config), grace_s) as running:
        yield running

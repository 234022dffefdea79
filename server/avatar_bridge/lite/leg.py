"""The service's LITE leg factory: open the session's WebSocket, pair it with a LiteCore."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from avatar_bridge.audio import AudioConverter
from avatar_bridge.errors import FailedPrecondition
from avatar_bridge.leg import Leg
from avatar_bridge.lite.core import LiteCore
from avatar_bridge.lite.transport import LiteTransport
from avatar_bridge.liveavatar.rest import StartedSession
from avatar_bridge.session_config import Plan


async def connect_lite_leg(
    plan: Plan,
    started: StartedSession,
    now: float,
    *,
    converter: AudioConverter | None,
    keep_alive: Callable[[], Awaitable[None]],
    log_extra: dict[str, Any],
) -> Leg:
    """Connect to the LITE session's ws_url. LITE keeps itself alive with session.keep_alive
    on the socket (the core schedules it), so the REST `keep_alive` is not used."""
    if not started.ws_url:
        raise FailedPrecondition(
            "LiveAvatar started the LITE session without a ws_url (a connector session?): "
            "this bridge needs the LITE WebSocket"
        )
    transport = LiteTransport(started.ws_url, open_timeout_s=plan.options.ready_timeout_s)
    await transport.connect()
    now = max(now, asyncio.get_running_loop().time())  # Connecting took a while.
    return Leg(core=LiteCore(plan.options, converter, now=now), transport=transport)

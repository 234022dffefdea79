"""The service's LITE leg factory: open the session's WebSocket (reconnecting while LiveAvatar
says the session lives), pair it with a LiteCore."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from avatar_bridge.audio import AudioConverter
from avatar_bridge.config import SessionDefaults
from avatar_bridge.errors import FailedPrecondition
from avatar_bridge.leg import Leg, LegFactory
from avatar_bridge.lite.core import LiteCore
from avatar_bridge.lite.recovery import (
    ReconnectingLiteTransport,
    ReconnectPolicy,
    session_alive_check,
)
from avatar_bridge.lite.transport import LiteTransport
from avatar_bridge.liveavatar.rest import StartedSession
from avatar_bridge.session_config import Plan

GetSession = Callable[[str], Awaitable[dict[str, Any]]]
"""LiveAvatar's REST get-session call: is a session whose socket dropped still alive?"""


def lite_leg_factory(get_session: GetSession, defaults: SessionDefaults) -> LegFactory:
    """The LITE leg of a server whose REST client answers `get_session`."""

    async def connect_lite_leg(
        plan: Plan,
        started: StartedSession,
        now: float,
        *,
        converter: AudioConverter | None,
        keep_alive: Callable[[], Awaitable[None]],
        log_extra: dict[str, Any],
    ) -> Leg:
        """Connect to the LITE session's ws_url. LITE keeps itself alive with
        session.keep_alive on the socket (the core schedules it), so the REST `keep_alive` is
        not used."""
        if not started.ws_url:
            raise FailedPrecondition(
                "LiveAvatar started the LITE session without a ws_url (a connector session?): "
                "this bridge needs the LITE WebSocket"
            )
        ws_url, open_timeout_s = started.ws_url, plan.options.ready_timeout_s

        async def connect() -> LiteTransport:
            socket = LiteTransport(ws_url, open_timeout_s=open_timeout_s)
            await socket.connect()
            return socket

        transport = ReconnectingLiteTransport(
            connect,
            session_alive=session_alive_check(get_session, started.session_id),
            policy=ReconnectPolicy(
                attempts=defaults.reconnect_attempts, ready_timeout_s=open_timeout_s
            ),
            log_extra=log_extra,
        )
        await transport.connect()
        now = max(now, asyncio.get_running_loop().time())  # Connecting took a while.
        core = LiteCore(
            plan.options, converter, now=now, silence_timeout_s=defaults.upstream_silence_s
        )
        return Leg(core=core, transport=transport)

    return connect_lite_leg

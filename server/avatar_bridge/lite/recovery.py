"""A LITE WebSocket leg that survives a dropped connection while the session lives.

LiveAvatar allows a reconnect to the same `ws_url` (reference §3.6), but what it had buffered is
lost and the new socket drops commands until it reports `connected` again. So, when the socket
closes without the bridge asking:

1. Ask LiveAvatar (REST get session) whether the session is still alive. Ended, or no answer:
   the close stands and the conversation ends as before (its end reason is looked up).
2. Reconnect with capped attempts and exponential backoff. Every attempt re-checks that the
   session is alive, so a session that ends meanwhile is not chased.
3. Until the new socket reports `connected`, audio and speak ends are dropped (LiveAvatar would
   drop them too; the core reports that audio as lost) and other commands wait, then go in order.
4. After `connected`, hand the core a `bridge.upstream_reconnected` event naming when the drop
   happened: it ends the turns in flight and tells the client how much audio was lost.

A refused handshake counts as a failed attempt; when every attempt fails the original close is
raised, so the conversation ends as UPSTREAM_LOST with the reason the socket gave.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from avatar_bridge.errors import UpstreamClosed, UpstreamError
from avatar_bridge.lite.core import RECONNECTED_EVENT
from avatar_bridge.lite.transport import LiteTransport

log = logging.getLogger(__name__)

_DROPPED_WHILE_DOWN = frozenset({"agent.speak", "agent.speak_end"})
"""Commands that belong to the lost buffer: sending them after the reconnect would play a
fragment of an utterance whose start never played."""


@dataclass(frozen=True)
class ReconnectPolicy:
    """How hard to try before a dropped LITE WebSocket ends the conversation."""

    attempts: int = 3
    """Reconnect attempts per drop; 0 turns reconnecting off."""
    first_backoff_s: float = 0.2
    """Wait before the first attempt; doubled after each failed one."""
    max_backoff_s: float = 2.0
    ready_timeout_s: float = 10.0
    """Longest wait for the new socket's `connected` state."""


SessionAlive = Callable[[], Awaitable[bool]]
"""Whether LiveAvatar says the session is still running (False when it cannot say)."""
Connect = Callable[[], Awaitable[LiteTransport]]


class ReconnectingLiteTransport:
    """The conversation's LITE leg: a LiteTransport, replaced after an unexpected close."""

    def __init__(
        self,
        connect: Connect,
        *,
        session_alive: SessionAlive,
        policy: ReconnectPolicy,
        log_extra: dict[str, Any] | None = None,
    ) -> None:
        self._connect = connect
        self._alive = session_alive
        self._policy = policy
        self._extra = dict(log_extra or {})
        self._inner: LiteTransport | None = None
        self._closing = False
        self._down_since: float | None = None
        """Loop time of the drop while recovering; None when the socket is usable."""
        self._attempts = 0
        self._held: list[dict[str, Any]] = []
        self._ready_events: deque[dict[str, Any]] = deque()

    async def connect(self) -> None:
        self._inner = await self._connect()

    async def send(self, message: dict[str, Any]) -> None:
        if self._down_since is None:
            try:
                await self._require().send(message)
                return
            except UpstreamClosed:
                if self._closing or self._policy.attempts <= 0:
                    raise
                # The receive side sees the same close and decides whether to reconnect.
                self._down_since = asyncio.get_running_loop().time()
        if message.get("type") not in _DROPPED_WHILE_DOWN:
            self._held.append(message)

    async def receive(self) -> dict[str, Any]:
        """The next event; reconnects a dropped socket when the session is still alive."""
        while True:
            if self._ready_events:
                return self._ready_events.popleft()
            try:
                if self._down_since is not None and self._attempts:
                    # Waiting for the new socket's connected state: bounded.
                    async with asyncio.timeout(self._policy.ready_timeout_s):
                        event = await self._require().receive()
                else:
                    event = await self._require().receive()
            except TimeoutError:
                raise UpstreamClosed(
                    "the reconnected LITE WebSocket never reported state connected within "
                    f"{self._policy.ready_timeout_s:g} s"
                ) from None
            except UpstreamClosed as exc:
                if self._closing or self._policy.attempts <= 0:
                    raise
                await self._reconnect(exc)
                continue
            if self._attempts and _is_connected(event):
                await self._recovered(event)
                continue
            return event

    async def close(self) -> None:
        self._closing = True
        if self._inner is not None:
            await self._inner.close()

    # Recovery.

    async def _reconnect(self, cause: UpstreamClosed) -> None:
        loop = asyncio.get_running_loop()
        if self._down_since is None:
            self._down_since = loop.time()
        backoff = self._policy.first_backoff_s
        for attempt in range(1, self._policy.attempts + 1):
            if not await self._alive():
                raise cause
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._policy.max_backoff_s)
            try:
                fresh = await self._connect()
            except UpstreamError as exc:
                log.info(
                    "LITE reconnect attempt failed",
                    extra={**self._extra, "attempt": attempt, "error": exc.message},
                )
                continue
            old, self._inner = self._inner, fresh
            if old is not None:
                await old.close()
            self._attempts = attempt
            log.info(
                "LITE WebSocket reconnected",
                extra={**self._extra, "attempt": attempt, "close_code": cause.close_code},
            )
            return
        raise UpstreamClosed(
            f"{cause.message}; {self._policy.attempts} reconnect attempt(s) failed",
            close_code=cause.close_code,
            close_reason=cause.close_reason,
        )

    async def _recovered(self, connected: dict[str, Any]) -> None:
        """The new socket is ready: replay held commands, then tell the core."""
        assert self._down_since is not None
        down_since, attempts = self._down_since, self._attempts
        self._down_since, self._attempts = None, 0
        held, self._held = self._held, []
        for message in held:
            await self.send(message)
        self._ready_events.append(connected)
        self._ready_events.append(
            {"type": RECONNECTED_EVENT, "dropped_at": down_since, "attempts": attempts}
        )

    def _require(self) -> LiteTransport:
        if self._inner is None:
            raise RuntimeError("ReconnectingLiteTransport used before connect()")
        return self._inner


def _is_connected(event: dict[str, Any]) -> bool:
    return (
        event.get("type") == "session.state_updated"
        and str(event.get("state", "")).lower() == "connected"
    )


ALIVE_CHECK_TIMEOUT_S = 5.0


def session_alive_check(
    get_session: Callable[[str], Awaitable[dict[str, Any]]], session_id: str
) -> SessionAlive:
    """A SessionAlive that asks LiveAvatar's REST API: an active entry has no end time."""

    async def alive() -> bool:
        try:
            entry = await asyncio.wait_for(get_session(session_id), ALIVE_CHECK_TIMEOUT_S)
        except (UpstreamError, TimeoutError):
            return False  # Unknown: never chase a session LiveAvatar may have ended.
        return not entry.get("end_reason") and not entry.get("end_at")

    return alive

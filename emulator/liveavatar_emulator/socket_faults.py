"""Per-session faults of the LITE WebSocket: stalls and refused reconnects.

Kept apart from ``faults.py`` (the REST middleware): these act inside ``lite_ws``, on one
session's socket. A stall holds every event the session would send until it ends (a real
stalled media server delivers late, in order); a refused reconnect answers the next N
handshakes of a session that already had a socket with HTTP 403, as an expired ``ws_url``
would. Closing a socket with a given code is ``Session.close_sockets`` (``/drop_ws``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass
class SocketFaultState:
    """One session's pending socket faults."""

    stall_until: float = 0.0
    """Loop time until which events are held."""
    refuse_reconnects: int = 0
    """How many more reconnect handshakes to refuse."""
    refused: int = 0
    """Reconnects refused so far (for assertions)."""
    stalls: int = 0


class SocketFaults:
    """Socket faults by session id; lives on ``app.state.socket_faults``."""

    def __init__(self) -> None:
        self._by_session: dict[str, SocketFaultState] = {}

    def of(self, session_id: str) -> SocketFaultState:
        return self._by_session.setdefault(session_id, SocketFaultState())

    def stall(self, session_id: str, seconds: float) -> SocketFaultState:
        state = self.of(session_id)
        state.stall_until = asyncio.get_running_loop().time() + seconds
        state.stalls += 1
        return state

    def refuse(self, session_id: str, count: int) -> SocketFaultState:
        state = self.of(session_id)
        state.refuse_reconnects = count
        return state

    async def wait_stall(self, session_id: str) -> None:
        """Hold the caller while the session's stall lasts (no-op without one)."""
        state = self._by_session.get(session_id)
        if state is None:
            return
        remaining = state.stall_until - asyncio.get_running_loop().time()
        if remaining > 0:
            await asyncio.sleep(remaining)

    def refuses(self, session_id: str, *, previous_connections: int) -> bool:
        """Whether to refuse this handshake (only reconnects: the first socket is let in)."""
        state = self._by_session.get(session_id)
        if state is None or previous_connections == 0 or state.refuse_reconnects <= 0:
            return False
        state.refuse_reconnects -= 1
        state.refused += 1
        return True

    def snapshot(self, session_id: str) -> dict[str, Any]:
        state = self.of(session_id)
        remaining = max(0.0, state.stall_until - asyncio.get_running_loop().time())
        return {
            "stall_remaining_s": round(remaining, 3),
            "stalls": state.stalls,
            "refuse_reconnects": state.refuse_reconnects,
            "refused": state.refused,
        }

    def reset(self) -> None:
        self._by_session.clear()


def socket_faults(state: Any) -> SocketFaults:
    """The app's SocketFaults (``app.state``), created on first use."""
    faults = getattr(state, "socket_faults", None)
    if not isinstance(faults, SocketFaults):
        faults = SocketFaults()
        state.socket_faults = faults
    return faults

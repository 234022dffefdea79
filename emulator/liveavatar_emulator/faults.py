"""Fault injection for ``/v1`` endpoints: fail or delay the next N calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from fastapi import Request, Response

from .envelope import error_response

logger = logging.getLogger(__name__)


@dataclass
class FaultState:
    """Pending faults. ``delay_s`` is real seconds (not time-scaled)."""

    fail_next: int = 0
    status: int = 503
    code: int | None = None
    message: str = "Service temporarily unavailable (injected fault)"
    delay_next: int = 0
    delay_s: float = 0.0
    failed: int = 0
    """How many calls were failed so far (for assertions)."""
    delayed: int = 0


class FaultInjector:
    """Holds the fault state and applies it as HTTP middleware on ``/v1`` paths."""

    def __init__(self) -> None:
        self.state = FaultState()

    def configure(
        self,
        *,
        fail_next: int,
        status: int,
        message: str | None,
        code: int | None,
        delay_s: float,
        delay_next: int | None,
    ) -> None:
        """Replace the pending faults (counters of past faults are kept)."""
        self.state.fail_next = fail_next
        self.state.status = status
        self.state.code = code
        if message is not None:
            self.state.message = message
        self.state.delay_s = delay_s
        if delay_next is None:
            delay_next = (fail_next or 1) if delay_s > 0 else 0
        self.state.delay_next = delay_next
        logger.info("faults armed: fail_next=%d status=%d delay_s=%.3f", fail_next, status, delay_s)

    def reset(self) -> None:
        """Clear everything."""
        self.state = FaultState()

    def snapshot(self) -> dict[str, object]:
        """JSON view of the state."""
        return asdict(self.state)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Delay and/or fail matching requests before they reach the route."""
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        st = self.state
        if st.delay_next > 0:
            st.delay_next -= 1
            st.delayed += 1
            await asyncio.sleep(st.delay_s)
        if st.fail_next > 0:
            st.fail_next -= 1
            st.failed += 1
            return error_response(st.status, st.message, st.code)
        return await call_next(request)

"""An asyncio loop on virtual time: sleeping jumps the clock instead of waiting.

The emulator's playback model is timed by ``loop.time()``; on this loop a test can say "0.25 s
later" exactly and instantly, so played-byte counts and event times are exact, whatever the load
on the machine. I/O still works (the selector is polled without blocking); only the waits for
timers are skipped.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    """Returns ready I/O at once; with none ready, advances the clock by the timeout."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        ready: list[tuple[Any, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("virtual-time loop deadlocked: nothing scheduled, nothing ready")
        self._clock.now += timeout
        return []


class VirtualClock:
    """The loop's notion of now (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector loop whose ``time()`` only moves when every task waits for a timer."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        super().__init__(_JumpingSelector(self.clock))

    def time(self) -> float:
        return self.clock.now


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

"""LagMonitor: a blocked event loop reads as overloaded, and recovers when the loop does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from avatar_bridge.lag import LagMonitor, LagPolicy
from server.helpers import WAIT_S  # tests/server/helpers.py


def _block_loop() -> None:
    """A handler that holds the loop for 200 ms: what overload looks like to the monitor."""
    time.sleep(0.2)


async def _until(predicate: Callable[[LagMonitor], bool], monitor: LagMonitor) -> None:
    async with asyncio.timeout(WAIT_S):
        while not predicate(monitor):  # noqa: ASYNC110 (lag has no event to wait on)
            await asyncio.sleep(0.01)


async def test_a_blocked_loop_is_overloaded_until_it_recovers() -> None:
    monitor = LagMonitor(LagPolicy(interval_s=0.01, threshold_s=0.05, smoothing=0.5))
    monitor.start()
    try:
        await asyncio.sleep(0.05)
        assert not monitor.overloaded()
        loop = asyncio.get_running_loop()
        for _ in range(3):
            loop.call_soon(_block_loop)
            await asyncio.sleep(0.02)
        await _until(lambda m: m.overloaded(), monitor)
        _, worst = monitor.percentiles(0.5, 1.0)
        assert worst >= 0.15  # at least one sample saw most of a 200 ms block
        await _until(lambda m: not m.overloaded(), monitor)
    finally:
        monitor.stop()

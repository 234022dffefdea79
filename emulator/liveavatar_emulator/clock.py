"""Scaled time: emulated durations become real sleeps via one multiplier."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class Clock:
    """Converts between emulated and real seconds (``real = emulated * time_scale``)."""

    def __init__(self, time_scale: float) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale

    def real(self, emulated_s: float) -> float:
        """Real seconds corresponding to an emulated duration."""
        return emulated_s * self.time_scale

    def emulated(self, real_s: float) -> float:
        """Emulated seconds corresponding to a real duration."""
        return real_s / self.time_scale

    async def sleep(self, emulated_s: float) -> None:
        """Sleep for an emulated duration."""
        await asyncio.sleep(max(0.0, self.real(emulated_s)))

    @staticmethod
    def monotonic() -> float:
        """Real monotonic time (seconds)."""
        return time.monotonic()

    @staticmethod
    def utcnow() -> datetime:
        """Wall-clock time for timestamps shown to clients."""
        return datetime.now(UTC)

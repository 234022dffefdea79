"""Event-loop lag: how late the loop runs a callback it was asked to run on time.

One timer callback every `interval_s`; its lateness is the loop's lag. Cheap (one callback per
interval, no task), so it can run in production: admission asks `overloaded()` before taking a
new conversation, so a saturated loop refuses new work instead of slowing every admitted session.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LagPolicy:
    """When the loop counts as overloaded."""

    interval_s: float = 0.05
    """How often the lag is sampled."""
    threshold_s: float = 0.050
    """Smoothed lag above which new work is refused."""
    smoothing: float = 0.2
    """Weight of the newest sample in the moving average (0..1)."""
    keep_samples: int = 100_000
    """Raw samples kept for reports (a bounded ring; about 80 min at 50 ms)."""


class LagMonitor:
    """Samples the running loop's lag. `start()` in the loop, `stop()` when done."""

    def __init__(self, policy: LagPolicy | None = None) -> None:
        self.policy = policy or LagPolicy()
        self._samples: deque[float] = deque(maxlen=self.policy.keep_samples)
        self._smoothed = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._schedule(self._loop.time())

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def overloaded(self) -> bool:
        """True while the smoothed lag is above the policy's threshold."""
        return self._smoothed > self.policy.threshold_s

    @property
    def smoothed_s(self) -> float:
        return self._smoothed

    def reset(self) -> None:
        """Forget the raw samples (a benchmark step starts)."""
        self._samples.clear()

    def percentiles(self, *quantiles: float) -> list[float]:
        """Lag in seconds at each quantile (0..1) of the samples since the last reset."""
        ordered = sorted(self._samples)
        if not ordered:
            return [0.0 for _ in quantiles]
        last = len(ordered) - 1
        return [ordered[min(last, round(q * last))] for q in quantiles]

    def _schedule(self, now: float) -> None:
        assert self._loop is not None
        self._due = now + self.policy.interval_s
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        lag = max(0.0, now - self._due)
        self._samples.append(lag)
        alpha = self.policy.smoothing
        self._smoothed = alpha * lag + (1 - alpha) * self._smoothed
        self._schedule(now)

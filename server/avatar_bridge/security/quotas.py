"""Per-principal quotas: concurrent conversations and conversation starts per minute.

Self-contained so the admission point can call it next to the global session limit:
`check_and_take(principal)` either raises LimitExceeded or returns a handle whose `release()`
gives the conversation slot back when the conversation ends.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from avatar_bridge.errors import LimitExceeded
from avatar_bridge.security.principal import Principal, Quota

WINDOW_S = 60.0


class QuotaHandle:
    """One admitted conversation; `release()` is idempotent."""

    def __init__(self, release: Callable[[], None] | None) -> None:
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class QuotaPolicy:
    """Quotas for every principal; a principal's own quota overrides `default`."""

    def __init__(
        self, default: Quota | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.default = default or Quota()
        self._clock = clock
        self._active: dict[str, int] = {}
        self._starts: dict[str, deque[float]] = {}

    def active(self, name: str) -> int:
        return self._active.get(name, 0)

    def check_and_take(self, principal: Principal) -> QuotaHandle:
        quota = principal.quota or self.default
        name = principal.name
        now = self._clock()
        starts = self._recent_starts(name, now)
        active = self._active.get(name, 0)
        if quota.max_conversations and active >= quota.max_conversations:
            raise LimitExceeded(
                f"principal {name!r} already drives {active} conversations, its limit of "
                f"{quota.max_conversations}: retry when one of them ends",
                subject=f"principal:{name}:conversations",
            )
        if quota.starts_per_minute and len(starts) >= quota.starts_per_minute:
            retry_s = max(1, math.ceil(starts[0] + WINDOW_S - now))
            raise LimitExceeded(
                f"principal {name!r} started {len(starts)} conversations in the last minute, "
                f"its limit of {quota.starts_per_minute} per minute: retry in {retry_s} s",
                subject=f"principal:{name}:starts_per_minute",
                retry_after_s=retry_s,
            )
        return self._take(name, starts, now)

    def record(self, principal: Principal) -> QuotaHandle:
        """Count a conversation admitted elsewhere (the fleet store) without checking, so a
        fallback to these counters knows what this process already drives."""
        now = self._clock()
        return self._take(principal.name, self._recent_starts(principal.name, now), now)

    def _recent_starts(self, name: str, now: float) -> deque[float]:
        """`name`'s starts within the last minute (older ones dropped)."""
        starts = self._starts.setdefault(name, deque())
        while starts and starts[0] <= now - WINDOW_S:
            starts.popleft()
        return starts

    def _take(self, name: str, starts: deque[float], now: float) -> QuotaHandle:
        starts.append(now)
        self._active[name] = self._active.get(name, 0) + 1
        return QuotaHandle(lambda: self._give_back(name))

    def _give_back(self, name: str) -> None:
        left = self._active.get(name, 0) - 1
        if left > 0:
            self._active[name] = left
        else:
            self._active.pop(name, None)


UNLIMITED = QuotaPolicy()

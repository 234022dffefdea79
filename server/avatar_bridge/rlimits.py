"""Open-file limit at start-up: enough file descriptors for --max-sessions FULL sessions.

A FULL session holds a LiveKit room in the SDK's native core: UDP sockets per ICE candidate,
a signalling WebSocket, eventfds and pipes of its WebRTC threads. The FULL benchmark measured
9-12 per session (benchmarks/results/full_latest.md; 48-73 before the leg stopped offering
recvonly video); `FDS_PER_FULL_SESSION` keeps a margin for joins in flight.
A common soft limit of 1,024 runs out near 14 sessions, and Kubernetes has no pod field for
`nofile`: the container inherits the runtime's limits. So at start-up the bridge raises its own
soft limit towards what --max-sessions needs, up to the hard limit (no privilege needed), and
warns when even the hard limit is too low, naming how many FULL sessions fit.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger(__name__)

FDS_PER_FULL_SESSION = 40
"""File descriptors budgeted per FULL session (measured 9-12 connected)."""
BASE_FDS = 256
"""The process without sessions: gRPC, the REST client, logs, the Python runtime."""


@dataclass(frozen=True)
class NofileLimit:
    """RLIMIT_NOFILE against what --max-sessions needs."""

    needed: int
    soft_before: int
    soft: int
    hard: int

    @property
    def sufficient(self) -> bool:
        return self.soft >= self.needed

    @property
    def full_sessions(self) -> int:
        """FULL sessions the soft limit has room for."""
        return max(0, (self.soft - BASE_FDS) // FDS_PER_FULL_SESSION)


def _finite(value: int) -> int:
    return 2**62 if value == resource.RLIM_INFINITY else value


def raise_nofile(max_sessions: int) -> NofileLimit:
    """Raise the soft RLIMIT_NOFILE to what `max_sessions` FULL sessions need (never above the
    hard limit, never lowered)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = BASE_FDS + max_sessions * FDS_PER_FULL_SESSION
    before = soft
    if _finite(soft) < needed:
        target = min(needed, _finite(hard))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # A sandbox may refuse; the warning says so.
            log.info("could not raise RLIMIT_NOFILE", extra={"error": str(exc)})
    return NofileLimit(needed, _finite(before), _finite(soft), _finite(hard))


def check_nofile(max_sessions: int) -> NofileLimit:
    """raise_nofile(), logged: info when raised, a warning when still too low."""
    limit = raise_nofile(max_sessions)
    if limit.soft != limit.soft_before:
        log.info(
            "raised the open-file limit for FULL sessions",
            extra={"from": limit.soft_before, "to": limit.soft, "hard": limit.hard},
        )
    if not limit.sufficient:
        log.warning(
            f"open-file limit {limit.soft} (hard {limit.hard}) has room for about "
            f"{limit.full_sessions} FULL sessions, --max-sessions is {max_sessions} "
            f"({limit.needed} needed): raise the hard limit (docker run --ulimit "
            f"nofile={limit.needed}, systemd LimitNOFILE=) or lower --max-sessions",
            extra={"needed": limit.needed, "soft": limit.soft, "hard": limit.hard},
        )
    return limit

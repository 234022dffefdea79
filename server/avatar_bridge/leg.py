"""What the service needs of a mode: a factory that connects an upstream leg for a session.

Each mode (LITE in lite/leg.py, FULL in full/leg.py) provides one; the service picks the factory
by the plan's mode and otherwise knows nothing of either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from avatar_bridge.audio import AudioConverter
from avatar_bridge.conversation import Core, Transport
from avatar_bridge.liveavatar.rest import StartedSession
from avatar_bridge.session_config import Plan


@dataclass(frozen=True)
class Leg:
    """A connected upstream leg and the core that drives it."""

    core: Core
    transport: Transport


class LegFactory(Protocol):
    """Connect a leg: (plan, started session, now, ...) → Leg.

    `keep_alive` runs LiveAvatar's REST keep-alive for the session (FULL has no data command
    for it); `log_extra` identifies the conversation in log records.
    """

    def __call__(
        self,
        plan: Plan,
        started: StartedSession,
        now: float,
        *,
        converter: AudioConverter | None,
        keep_alive: Callable[[], Awaitable[None]],
        log_extra: dict[str, Any],
    ) -> Awaitable[Leg]: ...

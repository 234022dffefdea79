"""Admission: who may start a conversation now, decided once, before any REST call.

Two bounded pools, each a counter with try-acquire (never a queue: a caller over a limit is
refused at once with RESOURCE_EXHAUSTED naming the limit, so it can retry elsewhere):

- *pending*: streams that have not yet sent their config (`--max-pending-configs`); a stream
  holds one of these only while it waits for its first request.
- *sessions*: conversations that may hold an upstream session (`--max-sessions`); taken by
  `admit()` after the config is read and before the token request, released on every exit.

Extra rules (a per-principal quota, load shedding) plug into the same `admit()` call as
`AdmissionPolicy` objects: each either refuses (raises LimitExceeded or another BridgeError) or
takes something and returns how to give it back. A refusal by any rule gives back what the rules
before it took, so a refused call holds nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from avatar_bridge.errors import LimitExceeded, Overloaded
from avatar_bridge.security.principal import Principal

log = logging.getLogger(__name__)

Release = Callable[[], object]
"""Gives back what an admission rule took; called exactly once."""


class AdmissionPolicy(Protocol):
    """An extra admission rule, checked after the global session limit."""

    def check_and_take(self, principal: Principal) -> Release:
        """Take what `principal` needs, or raise a BridgeError (LimitExceeded) to refuse."""
        ...


class OverloadSignal(Protocol):
    """Anything that can tell the process is overloaded (e.g. an event-loop lag monitor)."""

    def overloaded(self) -> bool: ...


class Slots:
    """A bounded counter: `try_acquire()` succeeds while fewer than `limit` are held."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a slot limit must be at least 1, got {limit}")
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        """Most slots ever held at once (for tests and the closing figures)."""

    def try_acquire(self) -> bool:
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        return True

    def release(self) -> None:
        if self.in_use <= 0:
            raise RuntimeError("released a slot that was not held")
        self.in_use -= 1


class Ticket:
    """What one admitted call holds; `release()` gives it all back, once, in reverse order.

    Usable as a context manager. `release_after(task)` defers the release until an upstream
    stop finishes, so a session still being stopped keeps counting against the limit.
    """

    def __init__(self, releases: Sequence[Release] = ()) -> None:
        self._releases = list(releases)
        self._deferred = False
        self.released = False

    def add(self, give_back: Release) -> None:
        """Hold one more thing (an async admission step's take, e.g. a fleet quota lease)."""
        if self.released:
            give_back()
            return
        self._releases.append(give_back)

    def release(self) -> None:
        """Give back everything now (idempotent); a no-op once deferred to a task."""
        if self.released or self._deferred:
            return
        self._release_now()

    def release_after(self, task: asyncio.Future[Any]) -> None:
        """Hold the ticket until `task` is done, whatever its outcome."""
        if self.released:
            return
        if task.done():
            self._release_now()
            return
        self._deferred = True
        task.add_done_callback(lambda _: self._release_now())

    def _release_now(self) -> None:
        if self.released:
            return
        self.released = True
        releases, self._releases = self._releases, []
        for give_back in reversed(releases):
            try:
                give_back()
            except Exception:
                # A broken rule must not keep the other slots taken.
                log.exception("an admission release failed")

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Admission:
    """The single admission point of the process (one per server)."""

    def __init__(
        self,
        *,
        max_sessions: int,
        max_pending_configs: int,
        policies: Sequence[AdmissionPolicy] = (),
    ) -> None:
        self.sessions = Slots(max_sessions)
        self.pending = Slots(max_pending_configs)
        self._policies = list(policies)

    def add_policy(self, policy: AdmissionPolicy) -> None:
        """Add a rule checked by every later `admit()` (quotas, load shedding)."""
        self._policies.append(policy)

    def await_config(self) -> Ticket:
        """A slot for a stream that has not sent its config yet, or LimitExceeded."""
        if not self.pending.try_acquire():
            raise LimitExceeded(
                f"{self.pending.limit} streams are already waiting to send their config, this "
                "bridge's limit (--max-pending-configs): send the config in the first request, "
                "retry later or on another instance",
                subject="server:max_pending_configs",
                retry_after_s=1.0,
            )
        return Ticket((self.pending.release,))

    def admit(self, principal: Principal) -> Ticket:
        """Take a session slot and whatever each policy needs, or raise; nothing is held then."""
        if not self.sessions.try_acquire():
            raise LimitExceeded(
                f"this bridge already drives {self.sessions.limit} conversations, its limit "
                "(--max-sessions): retry later or on another instance",
                subject="server:max_sessions",
                retry_after_s=1.0,
            )
        releases: list[Release] = [self.sessions.release]
        try:
            for policy in self._policies:
                releases.append(policy.check_and_take(principal))
        except BaseException:
            Ticket(releases).release()
            raise
        return Ticket(releases)


def grpc_queue_options(max_sessions: int, max_pending_configs: int) -> list[tuple[str, int]]:
    """gRPC server options that leave every refusal to admission.

    gRPC core queues calls that arrived before the handler loop picked them up, and past its
    default limits (1,000 soft, 3,000 hard) cancels them: a burst of idle streams then ends
    CANCELLED, which tells the client nothing. The queue is raised well past the two admission
    bounds, so each call reaches Converse and gets RESOURCE_EXHAUSTED naming the limit.
    """
    queue = max(10_000, 4 * (max_sessions + max_pending_configs))
    return [
        ("grpc.server.max_pending_requests", queue),
        ("grpc.server.max_pending_requests_hard_limit", queue),
    ]


class UpstreamSessionCap:
    """The session limit counts LiveAvatar sessions, not calls: a call that was cancelled while
    its session was being created or stopped has given its slot back, but the session it left
    still bills until the registry stops it. Refuse while that many are held."""

    def __init__(self, held: Callable[[], int], limit: int) -> None:
        self._held = held
        self._limit = limit

    def check_and_take(self, principal: Principal) -> Release:
        # The admitting call's own slot is already taken: compare what others hold.
        if self._held() >= self._limit:
            raise LimitExceeded(
                f"this bridge already drives {self._limit} conversations or holds their LiveAvatar "
                "sessions (some still being created or stopped), its limit (--max-sessions): "
                "retry later or on another instance"
            )
        return _nothing


class ShedWhenOverloaded:
    """Load shedding as a policy: refuse new conversations while `signal` says overloaded."""

    def __init__(self, signal: OverloadSignal) -> None:
        self._signal = signal

    def check_and_take(self, principal: Principal) -> Release:
        if self._signal.overloaded():
            raise Overloaded(
                "this bridge is overloaded (its event loop lags): retry on another instance"
            )
        return _nothing


def _nothing() -> None:
    """The release of a policy that takes nothing."""

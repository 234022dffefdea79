"""The authenticated caller of the current gRPC call."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

CONVERSE = "converse"
"""Role: may call Converse."""
OPERATE = "operate"
"""Role: may call ListSessions and StopSession."""
ROLES = frozenset({CONVERSE, OPERATE})


@dataclass(frozen=True)
class Quota:
    """Per-principal limits; 0 means unlimited."""

    max_conversations: int = 0
    """Conversations this principal may drive at once."""
    starts_per_minute: int = 0
    """Converse calls this principal may open in any 60-second window."""


@dataclass(frozen=True)
class Principal:
    """A caller: its name, its roles, and its own quota (None: the server default)."""

    name: str
    roles: frozenset[str]
    quota: Quota | None = None
    via: str = "none"
    """How it was authenticated: "api-key", "mtls" or "none" (authentication is off)."""

    def may(self, role: str) -> bool:
        return role in self.roles


ANONYMOUS = Principal("anonymous", ROLES)
"""Every caller when authentication is off (plaintext loopback development)."""

_current: ContextVar[Principal] = ContextVar("avatar_bridge_principal", default=ANONYMOUS)


def current_principal() -> Principal:
    """The principal of the call this code runs in (set by the interceptor)."""
    return _current.get()


def set_current_principal(principal: Principal) -> None:
    _current.set(principal)

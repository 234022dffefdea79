"""The journal's contract, and an in-memory backend for embedded use and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Entry:
    """One owned (or maybe-owned) session."""

    intent_id: str
    """Written before the token request; the key of the entry."""
    session_id: str
    """Empty while the token answer is outstanding (or was lost)."""
    owner: str
    """The process or replica that wrote it."""
    created_at: float
    """Unix time of the intent."""


class Journal(Protocol):
    """Where owned sessions are recorded durably. Every method is async and never blocks."""

    owner: str
    """This process's (or replica's) identity in the entries it writes."""

    heartbeat_s: float | None
    """How often `maintain` must run; None when the backend needs no upkeep."""

    async def open(self) -> list[Entry]:
        """Prepare the store; return the entries a dead owner left, now adopted by this one."""
        ...

    async def record_intent(self, intent_id: str) -> None:
        """A token request is about to go out."""
        ...

    async def record_session(self, intent_id: str, session_id: str) -> None:
        """The intent's session id is known."""
        ...

    async def forget(self, intent_id: str) -> None:
        """The session is stopped or gone, or the intent created nothing."""
        ...

    async def maintain(self) -> list[Entry]:
        """Renew this owner's lease; adopt and return entries of owners whose lease expired."""
        ...

    async def close(self) -> None: ...


class MemoryJournal:
    """No durability: for embedded bridges and the emulator-backed default. A crash forgets."""

    heartbeat_s: float | None = None

    def __init__(self, owner: str = "memory") -> None:
        self.owner = owner
        self.entries: dict[str, Entry] = {}

    async def open(self) -> list[Entry]:
        return []

    async def record_intent(self, intent_id: str) -> None:
        self.entries[intent_id] = Entry(intent_id, "", self.owner, 0.0)

    async def record_session(self, intent_id: str, session_id: str) -> None:
        self.entries[intent_id] = Entry(intent_id, session_id, self.owner, 0.0)

    async def forget(self, intent_id: str) -> None:
        self.entries.pop(intent_id, None)

    async def maintain(self) -> list[Entry]:
        return []

    async def close(self) -> None:
        return None

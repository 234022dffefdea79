"""The slice of the session registry's ``Session`` that the FULL backend uses."""

from __future__ import annotations

from typing import Any, Protocol


class FullSession(Protocol):
    """What :class:`~liveavatar_emulator.full.backend.LiveKitFullBackend` needs from a session.

    ``id`` doubles as the LiveKit room name; ``token_request`` is the token request body
    (``avatar_persona`` and ``interactivity_type`` are read); ``touch()`` resets the idle timer.
    """

    @property
    def id(self) -> str:
        """Session id (also the room name)."""
        ...

    @property
    def token_request(self) -> dict[str, Any]:
        """The ``POST /v1/sessions/token`` body."""
        ...

    def touch(self) -> None:
        """Record activity (resets the idle timer)."""
        ...

"""Sessions, their timers and the registry that owns them.

A session is created by ``POST /v1/sessions/token``, started by ``/start`` and ended exactly once
by stop, idle timeout, max duration / sandbox limit, credits running out, or the emulator
shutting down. Ending closes the LITE socket (if any) and notifies listeners such as the FULL
backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, get_args

from .clock import Clock
from .config import EmulatorConfig

logger = logging.getLogger(__name__)

Mode = Literal["LITE", "FULL"]

#: ``SessionEndReasonEnum`` from the OpenAPI spec (reference §2.3).
EndReason = Literal[
    "UNKNOWN",
    "USER_DISCONNECTED",
    "SERVER_ERROR",
    "IDLE_TIMEOUT",
    "NO_CREDITS",
    "USER_CLOSED",
    "AVATAR_DELETED",
    "MAX_DURATION_REACHED",
    "ZOMBIE_SESSION_REAP",
    "AGENT_HANG_UP",
]
END_REASONS: tuple[str, ...] = get_args(EndReason)

#: Credits per minute (reference §1); sandbox sessions are free.
CREDITS_PER_MINUTE: dict[str, float] = {"LITE": 1.0, "FULL": 2.0}


class SessionStatus(StrEnum):
    """Lifecycle of a session."""

    CREATED = "created"
    STARTED = "started"
    ENDED = "ended"


@dataclass
class CommandRecord:
    """One LITE WS message as received (never holds the audio itself)."""

    type: str
    event_id: str | None
    size: int
    at: float
    """Real seconds since the session was created."""
    dropped: bool = False
    note: str | None = None
    """Why it was dropped or flagged (``not_connected``, ``oversize``, ``unknown_type``...)."""


@dataclass
class EventRecord:
    """One event the emulator sent on the LITE WS."""

    type: str
    event_id: str | None
    source_event_id: str | None
    at: float


@dataclass
class UtteranceRecord:
    """Playback accounting of one utterance (all speak chunks up to speak_end/interrupt)."""

    id: str
    received_bytes: int = 0
    played_bytes: int = 0
    discarded_bytes: int = 0
    chunks: int = 0
    committed: bool = False
    speaks: int = 0
    """How many speak_started cycles it took (> 1 after starvation)."""
    starvations: int = 0
    end: str | None = None
    """``played``, ``interrupted``, ``disconnected`` or ``None`` while in progress."""


class SessionSocket(Protocol):
    """What a session needs from its LITE WebSocket connection."""

    async def close(self, code: int, reason: str) -> None:
        """Close the socket (idempotent)."""


class PlaybackProbe(Protocol):
    """Live view of a connection's player, for inspection."""

    def progress(self) -> tuple[int, int]:
        """(bytes of the current segment already played, bytes still buffered), at one instant."""
        ...


class AvatarSink(Protocol):
    """Where the playback model sends what the avatar plays (the avatar's media tracks)."""

    def schedule(self, start: float, pcm: bytes) -> None:
        """The avatar plays ``pcm`` (PCM16LE 24 kHz) from loop time ``start``."""

    def cut(self, at: float) -> None:
        """Nothing scheduled from loop time ``at`` on is played."""

    def set_caption(self, text: str) -> None:
        """The utterance shown on the avatar ('' when idle)."""


EndListener = Callable[["Session", str], Awaitable[None]]


class FullBackend(Protocol):
    """Seam for the FULL-mode LiveKit emulation (implemented in ``liveavatar_emulator.full``)."""

    livekit_url: str

    def tokens_for(self, session: Session) -> tuple[str, str | None]:
        """(client_token, agent_token or None) for the session's room."""
        ...

    async def session_started(self, session: Session) -> None:
        """Create the room and the emulated participants."""
        ...

    async def session_ended(self, session: Session, reason: str) -> None:
        """Send ``session.stopped`` and tear the room down."""
        ...

    async def lite_session_started(
        self, session: Session, room_name: str | None = None, identity: str | None = None
    ) -> AvatarSink:
        """Put a LITE session's avatar into its hosted room (or the caller's room)."""
        ...

    async def lite_session_remote(self, session: Session, url: str, token: str) -> AvatarSink:
        """Put a LITE session's avatar into the caller's room on another LiveKit server."""
        ...

    def verifies(self, token: str) -> tuple[str, str] | None:
        """(room, identity) a LiveKit token grants on the backend's server, or None."""
        ...

    def mint(self, room: str, identity: str, *, agent: bool = False) -> str:
        """A LiveKit token the backend's server accepts."""
        ...

    def avatar_room(self, session_id: str) -> tuple[str, str] | None:
        """(room, avatar identity) where the session's avatar publishes, if it does."""
        ...


class Session:
    """One emulated LiveAvatar session."""

    def __init__(
        self,
        registry: SessionRegistry,
        *,
        mode: Mode,
        token_request: dict[str, Any],
        is_sandbox: bool,
        max_duration_s: int,
    ) -> None:
        self._registry = registry
        self._config = registry.config
        self._clock = registry.clock
        self.id: str = str(uuid.uuid4())
        self.mode: Mode = mode
        self.token_request: dict[str, Any] = token_request
        self.is_sandbox: bool = is_sandbox
        self.max_duration_s: int = max_duration_s
        self.status: SessionStatus = SessionStatus.CREATED
        self.created_at: datetime = Clock.utcnow()
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.updated_at: datetime = self.created_at
        self.end_reason: str | None = None
        self.credits_consumed: float = 0.0
        self.ws_token: str | None = None
        """Secret in ``ws_url`` (LITE only, set at start)."""
        self.ended: asyncio.Event = asyncio.Event()

        self.commands: list[CommandRecord] = []
        self.events: list[EventRecord] = []
        self.records: list[dict[str, Any]] = []
        self.pcm: bytearray = bytearray()
        """Every PCM byte accepted into the avatar's buffer, in arrival order."""
        self.counters: Counter[str] = Counter()
        self.utterances: list[UtteranceRecord] = []
        self.ws_connections: int = 0
        self.playback: PlaybackProbe | None = None
        self.avatar_media: AvatarSink | None = None
        """The avatar's media in its LiveKit room (LITE with a LiveKit server), else None."""

        self._created_mono = Clock.monotonic()
        self._started_mono: float | None = None
        self._ended_mono: float | None = None
        self._last_activity = self._created_mono
        self._sockets: list[SessionSocket] = []
        self._listeners: list[EndListener] = []
        self._timers: list[asyncio.Task[None]] = [
            asyncio.create_task(self._watch_idle(), name=f"idle-{self.id}")
        ]

    # -- activity and lifecycle ------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Not ended yet (created or started)."""
        return self.status is not SessionStatus.ENDED

    def elapsed(self) -> float:
        """Real seconds since creation (used to timestamp logs)."""
        return Clock.monotonic() - self._created_mono

    def touch(self) -> None:
        """Record activity: pushes the idle deadline out."""
        self._last_activity = Clock.monotonic()

    def start(self) -> None:
        """Mark started and arm the max-duration / sandbox / credit timer."""
        self.status = SessionStatus.STARTED
        self.started_at = self.updated_at = Clock.utcnow()
        self._started_mono = Clock.monotonic()
        self.touch()
        limit_s, reason = self._limit()
        self._timers.append(
            asyncio.create_task(self._watch_limit(limit_s, reason), name=f"limit-{self.id}")
        )
        logger.info(
            "session %s started (%s, sandbox=%s, limit %.0fs -> %s)",
            self.id,
            self.mode,
            self.is_sandbox,
            limit_s,
            reason,
        )

    def _limit(self) -> tuple[float, str]:
        """The earliest of max duration, sandbox limit and credit exhaustion (emulated s)."""
        candidates: list[tuple[float, str]] = [(float(self.max_duration_s), "MAX_DURATION_REACHED")]
        if self.is_sandbox:
            candidates.append((self._config.sandbox_limit_s, "MAX_DURATION_REACHED"))
        rate = self.credit_rate()
        if rate > 0:
            candidates.append((self._registry.credits / rate * 60.0, "NO_CREDITS"))
        return min(candidates, key=lambda c: c[0])

    def credit_rate(self) -> float:
        """Credits per emulated minute."""
        return 0.0 if self.is_sandbox else CREDITS_PER_MINUTE[self.mode]

    def duration_s(self) -> float:
        """Emulated seconds between start and end (or now); 0 if never started."""
        if self._started_mono is None:
            return 0.0
        end = self._ended_mono if self._ended_mono is not None else Clock.monotonic()
        return self._clock.emulated(end - self._started_mono)

    async def end(self, reason: str, *, close_code: int | None = None) -> bool:
        """End the session once; later calls are no-ops. Returns whether this call ended it."""
        if self.status is SessionStatus.ENDED:
            return False
        self.status = SessionStatus.ENDED
        self.end_reason = reason
        self.ended_at = self.updated_at = Clock.utcnow()
        self._ended_mono = Clock.monotonic()
        self.credits_consumed = round(self.duration_s() / 60.0 * self.credit_rate(), 4)
        self._registry.charge(self.credits_consumed)
        current = asyncio.current_task()
        for timer in self._timers:
            if timer is not current:
                timer.cancel()
        self.ended.set()
        logger.info("session %s ended: %s", self.id, reason)
        code = self._config.ws_close_code if close_code is None else close_code
        for sock in list(self._sockets):
            await sock.close(code, reason)
        for listener in list(self._listeners):
            try:
                await listener(self, reason)
            except Exception:
                logger.exception("end listener failed for session %s", self.id)
        return True

    def add_end_listener(self, listener: EndListener) -> None:
        """Call ``listener(session, reason)`` when the session ends."""
        self._listeners.append(listener)

    async def _watch_idle(self) -> None:
        while True:
            deadline = self._last_activity + self._clock.real(self._config.idle_timeout_s)
            remaining = deadline - Clock.monotonic()
            if remaining <= 0:
                await self.end("IDLE_TIMEOUT")
                return
            await asyncio.sleep(remaining)

    async def _watch_limit(self, limit_s: float, reason: str) -> None:
        await self._clock.sleep(limit_s)
        await self.end(reason)

    # -- LITE socket bookkeeping -----------------------------------------------------------

    def attach_socket(self, sock: SessionSocket) -> list[SessionSocket]:
        """Register a new LITE socket; returns the ones it replaces (caller closes them)."""
        previous = self._sockets
        self._sockets = [sock]
        self.ws_connections += 1
        return previous

    def detach_socket(self, sock: SessionSocket) -> None:
        """Forget a socket that has gone away."""
        with contextlib.suppress(ValueError):
            self._sockets.remove(sock)

    async def close_sockets(self, code: int, reason: str) -> int:
        """Close the LITE socket(s) without ending the session; returns how many."""
        socks = list(self._sockets)
        for sock in socks:
            await sock.close(code, reason)
        return len(socks)

    @property
    def ws_connected(self) -> bool:
        """Whether a LITE socket is currently attached."""
        return bool(self._sockets)

    # -- recording ---------------------------------------------------------------------------

    def record(self, kind: str, payload: dict[str, Any]) -> None:
        """Free-form record for the inspection API (used by the FULL backend)."""
        self.records.append({"kind": kind, "at": round(self.elapsed(), 6), **payload})
        self.counters[kind] += 1

    def record_command(self, rec: CommandRecord) -> None:
        """Log one received LITE command."""
        self.commands.append(rec)
        self.counters[rec.type if not rec.dropped else f"dropped:{rec.type}"] += 1

    def played_summary(self) -> dict[str, Any]:
        """Received vs played vs discarded audio, overall and per utterance."""
        in_flight, buffered = self.playback.progress() if self.playback else (0, 0)
        return {
            "received_bytes": len(self.pcm),
            "played_bytes": sum(u.played_bytes for u in self.utterances) + in_flight,
            "discarded_bytes": sum(u.discarded_bytes for u in self.utterances),
            "buffered_bytes": buffered,
            "utterances": [asdict(u) for u in self.utterances],
        }


class SessionRegistry:
    """All sessions of one emulator instance, plus the shared credit balance."""

    def __init__(self, config: EmulatorConfig, full_backend: FullBackend | None = None) -> None:
        self.config = config
        self.clock = Clock(config.time_scale)
        self.full_backend = full_backend
        self.credits: float = config.initial_credits
        self._sessions: dict[str, Session] = {}

    def create(
        self,
        *,
        mode: Mode,
        token_request: dict[str, Any],
        is_sandbox: bool,
        max_duration_s: int,
    ) -> Session:
        """Create (but do not start) a session."""
        session = Session(
            self,
            mode=mode,
            token_request=token_request,
            is_sandbox=is_sandbox,
            max_duration_s=max_duration_s,
        )
        self._sessions[session.id] = session
        logger.info("session %s created (%s)", session.id, mode)
        return session

    def get(self, session_id: str) -> Session | None:
        """The session with this id, if any."""
        return self._sessions.get(session_id)

    def all(self) -> list[Session]:
        """Every session, oldest first."""
        return list(self._sessions.values())

    def active(self) -> list[Session]:
        """Sessions not ended yet."""
        return [s for s in self._sessions.values() if s.active]

    def charge(self, credits: float) -> None:
        """Deduct consumed credits."""
        self.credits = max(0.0, self.credits - credits)

    async def end_all(self, reason: str = "UNKNOWN", *, close_code: int | None = None) -> None:
        """End every active session."""
        for session in self.active():
            await session.end(reason, close_code=close_code)

    async def reset(self) -> None:
        """End everything, forget all sessions and restore the credit balance."""
        await self.end_all()
        self._sessions.clear()
        self.credits = self.config.initial_credits

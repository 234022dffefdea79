"""Which conversations are live, and which upstream sessions this process must still stop.

A LiveAvatar session the bridge created is recorded here the moment its token exists (before
start, so a failed start is stopped too) and forgotten only once a REST stop succeeded or
LiveAvatar ended it itself. Stops run as tasks held by the registry, so a cancelled Converse
call cannot abandon one, and shutdown waits for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from avatar_bridge.errors import UpstreamError
from avatarbridge.v1 import avatar_bridge_pb2 as pb

log = logging.getLogger(__name__)


class Stoppable(Protocol):
    """A live conversation, as the registry sees it."""

    def request_stop(self, reason: pb.StopReason.ValueType, detail: str = "") -> None: ...


StopCall = Callable[[str, str], Awaitable[None]]
"""stop(session_id, liveavatar_reason)."""


class SessionRegistry:
    """Live conversations by session id, and upstream sessions owed a stop."""

    def __init__(self, stop_call: StopCall) -> None:
        self._stop_call = stop_call
        self._conversations: dict[str, Stoppable] = {}
        self._owned: set[str] = set()
        self._stops: dict[str, asyncio.Task[bool]] = {}
        self._all_done = asyncio.Event()
        self._all_done.set()
        self._closing: tuple[pb.StopReason.ValueType, str] | None = None

    @property
    def conversation_count(self) -> int:
        return len(self._conversations)

    def has_conversation(self, session_id: str) -> bool:
        return session_id in self._conversations

    def owned_sessions(self) -> set[str]:
        return set(self._owned)

    def own(self, session_id: str) -> None:
        """Record a session this process created and must stop."""
        self._owned.add(session_id)

    def disown(self, session_id: str) -> None:
        """LiveAvatar ended the session itself; nothing to stop."""
        self._owned.discard(session_id)

    def attach(self, session_id: str, conversation: Stoppable) -> None:
        self._conversations[session_id] = conversation
        self._all_done.clear()
        if self._closing is not None:
            # It was still connecting when shutdown began.
            conversation.request_stop(*self._closing)

    def detach(self, session_id: str) -> None:
        self._conversations.pop(session_id, None)
        if not self._conversations:
            self._all_done.set()

    def request_stop(self, session_id: str, reason: pb.StopReason.ValueType, detail: str) -> bool:
        """Tell the conversation driving `session_id` to end; False if there is none."""
        conversation = self._conversations.get(session_id)
        if conversation is None:
            return False
        conversation.request_stop(reason, detail)
        return True

    def stop_all(self, reason: pb.StopReason.ValueType, detail: str) -> None:
        self._closing = (reason, detail)
        for conversation in list(self._conversations.values()):
            conversation.request_stop(reason, detail)

    async def wait_conversations(self, within_s: float) -> bool:
        """Wait until no conversation is live; False on timeout."""
        try:
            await asyncio.wait_for(self._all_done.wait(), within_s)
        except TimeoutError:
            return False
        return True

    def stop_upstream(self, session_id: str, reason: str = "USER_CLOSED") -> asyncio.Task[bool]:
        """Start (or join) the REST stop of an owned session; the task outlives its caller."""
        task = self._stops.get(session_id)
        if task is None:
            task = asyncio.create_task(self._stop(session_id, reason), name=f"stop-{session_id}")
            self._stops[session_id] = task
        return task

    async def stop_everything(self, within_s: float) -> None:
        """Stop every owned session not yet stopped, and wait for every stop in flight."""
        for session_id in list(self._owned):
            self.stop_upstream(session_id)
        pending = [t for t in self._stops.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=within_s)
        if self._owned:
            log.error(
                "upstream sessions could not be stopped",
                extra={"session_ids": sorted(self._owned)},
            )

    async def _stop(self, session_id: str, reason: str) -> bool:
        try:
            await self._stop_call(session_id, reason)
        except UpstreamError as exc:
            # 4xx on stop means LiveAvatar no longer has it running: nothing is left to stop.
            if getattr(exc, "http_status", 500) < 500:
                log.info(
                    "upstream session already gone",
                    extra={"session_id": session_id, "error": exc.message},
                )
                self._owned.discard(session_id)
                return True
            log.error(
                "failed to stop upstream session",
                extra={"session_id": session_id, "error": exc.message},
            )
            self._stops.pop(session_id, None)
            return False
        else:
            log.info("upstream session stopped", extra={"session_id": session_id, "reason": reason})
            self._owned.discard(session_id)
            return True

"""Which conversations are live, and which upstream sessions this process must still stop.

Ownership is never held by a client's call, which can be cancelled at any await:

* `create` journals an intent, then runs token and start in a task the registry owns. A client
  that leaves (or gives up) only stops waiting; the task goes on, and a session it still creates
  is stopped at once. A token answer that comes late is still caught and its session stopped.
* A session is owned (in memory and in the journal) from the moment its id is known, and
  forgotten only once a REST stop succeeded or LiveAvatar said it is gone (a 4xx).
* A failed stop is retried with capped, jittered backoff for as long as the process runs;
  shutdown waits for stops in flight within its grace, and what is left stays in the journal
  for the next start (SQLite) or another replica (Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from avatar_bridge.errors import UpstreamError, UpstreamOutcomeUnknown, UpstreamUnavailable
from avatar_bridge.journal import Entry, Journal, MemoryJournal
from avatar_bridge.liveavatar.rest import SessionToken, StartedSession
from avatarbridge.v1 import avatar_bridge_pb2 as pb

log = logging.getLogger(__name__)

T = TypeVar("T")

SHUTTING_DOWN = "the bridge is shutting down: retry on another instance"


class ShuttingDown(UpstreamUnavailable):
    """Shutdown cut a call that was still being set up."""

    def __init__(self) -> None:
        super().__init__(SHUTTING_DOWN)


class Stoppable(Protocol):
    """A live conversation, as the registry sees it."""

    def request_stop(self, reason: pb.StopReason.ValueType, detail: str = "") -> None: ...


class SessionApi(Protocol):
    """The REST calls the registry makes (LiveAvatarClient)."""

    async def create_token(
        self, body: dict[str, Any], *, answer_wait_s: float | None = None
    ) -> SessionToken: ...

    async def start_session(self, token: SessionToken) -> StartedSession: ...

    async def stop_session(self, session_id: str, reason: str = "USER_CLOSED") -> None: ...


@dataclass(frozen=True)
class Timing:
    """How long the registry waits, and how it backs off."""

    token_wait_s: float = 10.0
    """A client waits this long for the token answer before it is told UNAVAILABLE."""
    late_answer_s: float = 60.0
    """The registry keeps listening for a token answer this long, to stop a late session."""
    stop_backoff_initial_s: float = 0.5
    stop_backoff_max_s: float = 30.0
    """Cap of one sleep between stop attempts (jittered ±20 %, then capped)."""


class SessionRegistry:
    """Live conversations by session id, and upstream sessions owed a stop."""

    def __init__(
        self,
        api: SessionApi,
        journal: Journal | None = None,
        timing: Timing = Timing(),
    ) -> None:
        self._api = api
        self._journal: Journal = journal or MemoryJournal()
        self._timing = timing
        self._conversations: dict[str, Stoppable] = {}
        self._owned: dict[str, str] = {}
        self._unnamed_openings = 0
        """Openings whose token request is out: a session may exist that has no id here yet."""
        """session id → journal intent id."""
        self._stops: dict[str, asyncio.Task[bool]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        """Openings, late token answers and journal writes: awaited at shutdown."""
        self._all_done = asyncio.Event()
        self._all_done.set()
        self._closing: tuple[pb.StopReason.ValueType, str] | None = None
        self._closing_event = asyncio.Event()
        self._maintainer: asyncio.Task[None] | None = None
        self.stopped_count = 0
        """Upstream sessions this registry stopped (or found gone); for logs and tests."""

    # Journal and recovery.

    async def open(self) -> None:
        """Open the journal; stop every session a dead owner left in it."""
        self.recover(await self._journal.open())
        if self._journal.heartbeat_s:
            self._maintainer = asyncio.create_task(self._maintain(self._journal.heartbeat_s))

    async def close(self) -> None:
        """Last step of shutdown, after the grace: end the registry's own tasks (stops and
        openings still running past the grace would outlive the REST client that shutdown
        closes next). What they had not stopped stays in the journal for the next start."""
        if self._maintainer is not None:
            self._maintainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintainer
        left = [task for task in self._tasks if not task.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
        await self._journal.close()

    def recover(self, entries: list[Entry]) -> None:
        """Stop what another (dead) owner held; report intents whose id was never learned."""
        for entry in entries:
            if entry.session_id:
                log.warning(
                    "recovering an orphaned upstream session",
                    extra={"session_id": entry.session_id, "previous_owner": entry.owner},
                )
                self._owned[entry.session_id] = entry.intent_id
                self.stop_upstream(entry.session_id, "USER_CLOSED")
            else:
                # The token answer never reached the dead owner: the id is unknowable, and
                # guessing from the account's session list could stop another app's session.
                # LiveAvatar's idle timeout ends it; say so once, then drop the intent.
                log.warning(
                    "an orphaned token request may have created a session whose id was never "
                    "learned; LiveAvatar's idle timeout will end it",
                    extra={"intent": entry.intent_id, "previous_owner": entry.owner},
                )
                self._spawn(self._journal_forget(entry.intent_id))

    async def _maintain(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                self.recover(await self._journal.maintain())
            except Exception as exc:  # a journal outage must not end the loop.
                log.error("journal upkeep failed", extra={"error": repr(exc)})

    # Conversations.

    @property
    def conversation_count(self) -> int:
        return len(self._conversations)

    @property
    def closing(self) -> bool:
        return self._closing is not None

    def has_conversation(self, session_id: str) -> bool:
        return session_id in self._conversations

    def owned_sessions(self) -> set[str]:
        return set(self._owned)

    @property
    def upstream_sessions(self) -> int:
        """LiveAvatar sessions this process may hold: owned (live or still being stopped) plus
        those whose token request is out. What the session limit bounds."""
        return len(self._owned) + self._unnamed_openings

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
        self._closing_event.set()
        for conversation in list(self._conversations.values()):
            conversation.request_stop(reason, detail)

    async def wait_conversations(self, within_s: float) -> bool:
        """Wait until no conversation is live; False on timeout."""
        try:
            await asyncio.wait_for(self._all_done.wait(), within_s)
        except TimeoutError:
            return False
        return True

    async def unless_closing(self, work: Awaitable[T]) -> T:
        """Await `work`, but give up with UNAVAILABLE once shutdown begins (setup is cut)."""
        task = asyncio.ensure_future(work)
        closing = asyncio.ensure_future(self._closing_event.wait())
        try:
            await asyncio.wait({task, closing}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()  # The caller was cancelled: so is the work it waited for.
            raise
        finally:
            closing.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise ShuttingDown()

    # Ownership.

    async def create(self, token_body: dict[str, Any], log_extra: dict[str, Any]) -> StartedSession:
        """Token and start in a registry task; the caller only waits for it."""
        if self._closing is not None:
            raise ShuttingDown()
        intent = uuid.uuid4().hex
        try:
            await asyncio.shield(self._journal.record_intent(intent))
        except asyncio.CancelledError:
            self._spawn(self._journal_forget(intent))
            raise
        except Exception as exc:
            # Never create a session the journal cannot hold.
            log.error("journal write failed", extra={**log_extra, "error": repr(exc)})
            raise UpstreamUnavailable(
                "the bridge cannot record the session in its journal: retry later"
            ) from exc
        opening = self._spawn(self._open(intent, token_body, log_extra))
        waiter = asyncio.ensure_future(asyncio.shield(opening))
        try:
            return await self.unless_closing(waiter)
        except BaseException:
            # The client left or shutdown cut the wait: whatever the opening creates is stopped.
            opening.add_done_callback(self._stop_abandoned)
            raise

    def _stop_abandoned(self, opening: asyncio.Task[StartedSession]) -> None:
        if opening.cancelled() or opening.exception() is not None:
            return  # _open already stopped what it had created.
        self.stop_upstream(opening.result().session_id, "USER_CLOSED")

    async def _open(
        self, intent: str, token_body: dict[str, Any], log_extra: dict[str, Any]
    ) -> StartedSession:
        self._unnamed_openings += 1
        try:
            token = await self._token(intent, token_body, log_extra)
            await self._own(intent, token.session_id)
        finally:
            self._unnamed_openings -= 1
        if self._closing is not None:
            # Shutdown began while the token was out: stop it now rather than start it first.
            self.stop_upstream(token.session_id, "USER_CLOSED")
            raise ShuttingDown()
        try:
            started = await self._api.start_session(token)
        except BaseException:
            self.stop_upstream(token.session_id, "SERVER_ERROR")
            raise
        if started.session_id != token.session_id:
            await self._own(uuid.uuid4().hex, started.session_id)
        return started

    async def _token(
        self, intent: str, token_body: dict[str, Any], log_extra: dict[str, Any]
    ) -> SessionToken:
        call = self._spawn(
            self._api.create_token(token_body, answer_wait_s=self._timing.late_answer_s)
        )
        try:
            return await asyncio.wait_for(asyncio.shield(call), self._timing.token_wait_s)
        except TimeoutError:
            call.add_done_callback(lambda done: self._late_token(intent, done, log_extra))
            raise UpstreamOutcomeUnknown(
                f"LiveAvatar did not answer the token request within "
                f"{self._timing.token_wait_s:g} s; not retried (it may have created a session, "
                "which the bridge stops if the answer still arrives)"
            ) from None
        except UpstreamOutcomeUnknown:
            self._report_lost_intent(intent, log_extra)
            raise
        except BaseException:
            # An answer (4xx, 5xx after retries) or no connection: nothing was created.
            self._spawn(self._journal_forget(intent))
            raise

    def _late_token(
        self, intent: str, call: asyncio.Task[SessionToken], log_extra: dict[str, Any]
    ) -> None:
        if call.cancelled() or call.exception() is not None:
            self._report_lost_intent(intent, log_extra)
            return
        session_id = call.result().session_id
        log.warning(
            "a late token answer created a session; stopping it",
            extra={**log_extra, "session_id": session_id},
        )

        async def own_and_stop() -> None:
            await self._own(intent, session_id)
            self.stop_upstream(session_id, "USER_CLOSED")

        self._spawn(own_and_stop())

    def _report_lost_intent(self, intent: str, log_extra: dict[str, Any]) -> None:
        log.warning(
            "a token request got no answer and may have created a session whose id is unknown; "
            "LiveAvatar's idle timeout will end it",
            extra={**log_extra, "intent": intent},
        )
        self._spawn(self._journal_forget(intent))

    async def adopt(self, session_id: str) -> None:
        """Own a session this process did not create (attach with stop_on_end)."""
        await self._own(uuid.uuid4().hex, session_id)

    async def _own(self, intent: str, session_id: str) -> None:
        self._owned[session_id] = intent
        try:
            await self._journal.record_session(intent, session_id)
        except Exception as exc:  # owned in memory; stopped while we run.
            log.error("journal write failed", extra={"session_id": session_id, "error": repr(exc)})

    async def disown(self, session_id: str) -> None:
        """LiveAvatar ended the session itself (or an operator stopped it): nothing to stop."""
        intent = self._owned.pop(session_id, None)
        if intent is not None:
            await self._journal_forget(intent)

    async def _journal_forget(self, intent: str) -> None:
        try:
            await self._journal.forget(intent)
        except Exception as exc:  # a stale entry only costs a 4xx on recovery.
            log.error("journal write failed", extra={"intent": intent, "error": repr(exc)})

    # Stops.

    def stop_upstream(self, session_id: str, reason: str = "USER_CLOSED") -> asyncio.Task[bool]:
        """Start (or join) the REST stop of an owned session; the task outlives its caller."""
        task = self._stops.get(session_id)
        if task is None:
            task = asyncio.create_task(
                self._stop_until_done(session_id, reason), name=f"stop-{session_id}"
            )
            self._stops[session_id] = task
            task.add_done_callback(lambda _: self._stops.pop(session_id, None))
        return task

    async def stop_everything(self, within_s: float) -> set[str]:
        """Stop every owned session, wait for openings and stops in flight; return leftovers.

        Leftovers stay in the journal: the next start (or another replica) stops them.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()))
        for session_id in list(self._owned):
            self.stop_upstream(session_id)
        if self._stops:
            await asyncio.wait(set(self._stops.values()), timeout=max(0.0, deadline - loop.time()))
        left = set(self._owned)
        if left:
            log.error(
                "upstream sessions could not be stopped before exit; the journal keeps them",
                extra={
                    "session_ids": sorted(left),
                    "stops_in_flight": sum(not t.done() for t in self._stops.values()),
                    "registry_tasks_in_flight": sum(not t.done() for t in self._tasks),
                },
            )
        for task in list(self._stops.values()) + list(self._tasks):
            task.cancel()
        return left

    async def _stop_until_done(self, session_id: str, reason: str) -> bool:
        delay = self._timing.stop_backoff_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._api.stop_session(session_id, reason)
            except UpstreamError as exc:
                if 400 <= getattr(exc, "http_status", 500) < 500:
                    # 4xx on stop: LiveAvatar no longer has it running.
                    log.info(
                        "upstream session already gone",
                        extra={"session_id": session_id, "error": exc.message},
                    )
                    break
                log.warning(
                    "failed to stop upstream session; retrying",
                    extra={"session_id": session_id, "attempt": attempt, "error": exc.message},
                )
            except Exception as exc:  # keep trying whatever went wrong.
                log.warning(
                    "failed to stop upstream session; retrying",
                    extra={"session_id": session_id, "attempt": attempt, "error": repr(exc)},
                )
            else:
                log.info(
                    "upstream session stopped", extra={"session_id": session_id, "reason": reason}
                )
                break
            await asyncio.sleep(
                min(delay * random.uniform(0.8, 1.2), self._timing.stop_backoff_max_s)
            )
            delay = min(delay * 2, self._timing.stop_backoff_max_s)
        self.stopped_count += 1
        await self.disown(session_id)
        return True

    def _spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

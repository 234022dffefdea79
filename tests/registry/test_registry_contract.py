"""The session registry's contract, driven directly against the emulator's REST (real sockets).

README, "Never leaking a session": every session the bridge creates is stopped exactly once; a
failed stop is retried with capped, jittered backoff until it succeeds or LiveAvatar answers 4xx;
a token answer that comes late is still stopped; shutdown cuts setup, waits within its grace and
names only the sessions left (which stay in the journal).

The registry talks to an in-process emulator over loopback HTTP; faults come from the emulator's
own rules (liveavatar_emulator/faults.py). The REST client makes one attempt per call, so every
retry seen here is the registry's. Expected values are written from the README and the
registry's documented defaults, never imported from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import pytest_asyncio
from conftest import API_KEY, emulator_config  # tests/conftest.py
from server.helpers import WAIT_S

import avatar_bridge.registry as registry_module
from avatar_bridge.errors import UpstreamOutcomeUnknown, UpstreamUnavailable
from avatar_bridge.journal import Entry, MemoryJournal
from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig
from avatar_bridge.registry import SessionRegistry, Timing
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from liveavatar_emulator import Emulator
from liveavatar_emulator.faults import FaultRule

AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
LITE_BODY = {"mode": "LITE", "avatar_id": AVATAR_ID}
SHUTTING_DOWN = "the bridge is shutting down: retry on another instance"
"""The UNAVAILABLE message a cut setup carries (README, shutdown)."""
FAST = Timing(
    token_wait_s=WAIT_S, late_answer_s=WAIT_S, stop_backoff_initial_s=0.01, stop_backoff_max_s=0.02
)


# Fixtures and helpers.


@dataclass
class Rig:
    emulator: Emulator
    api: LiveAvatarClient
    journal: MemoryJournal
    registry: SessionRegistry

    def arm(self, action: str, **rule: Any) -> FaultRule:
        armed: FaultRule = self.emulator.app.state.faults.add_rule(action, **rule)
        return armed

    def status(self, session_id: str) -> tuple[str, str | None]:
        session = self.emulator.registry.get(session_id)
        assert session is not None, session_id
        return str(session.status), session.end_reason

    def sessions(self) -> list[str]:
        return [s.id for s in self.emulator.registry.all()]

    def active(self) -> list[str]:
        return [s.id for s in self.emulator.registry.active()]


# One emulator for the module (starting one costs more than most tests here): every test runs
# in the module's event loop and starts from no sessions and no fault rules.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_emulator() -> AsyncIterator[Emulator]:
    async with Emulator(config=emulator_config()) as emu:
        yield emu


@pytest_asyncio.fixture(loop_scope="module")
async def emulator(shared_emulator: Emulator) -> AsyncIterator[Emulator]:
    await shared_emulator.registry.reset()
    shared_emulator.app.state.faults.reset()
    yield shared_emulator
    shared_emulator.app.state.faults.reset()


def rest(emulator: Emulator) -> LiveAvatarClient:
    return LiveAvatarClient(
        RestConfig(api_key=API_KEY, base_url=emulator.base_url, timeout_s=WAIT_S, attempts=1)
    )


@pytest_asyncio.fixture(loop_scope="module")
async def rig(emulator: Emulator) -> AsyncIterator[Rig]:
    api = rest(emulator)
    journal = MemoryJournal()
    registry = SessionRegistry(api, journal, FAST)
    await registry.open()
    try:
        yield Rig(emulator, api, journal, registry)
    finally:
        emulator.app.state.faults.reset()  # What a test left failing may now succeed.
        await registry.stop_everything(WAIT_S)
        await registry.close()
        await api.aclose()


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait (bounded by WAIT_S) until `check()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not check():
        assert loop.time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)


def ended(rig: Rig, session_id: str, reason: str = "USER_CLOSED") -> Callable[[], bool]:
    return lambda: rig.status(session_id) == ("ended", reason)


async def create(rig: Rig) -> str:
    started = await rig.registry.create(dict(LITE_BODY), {})
    return started.session_id


@dataclass
class Conversation:
    """A live conversation as the registry sees it: it records the stops it was asked for."""

    stops: list[tuple[int, str]] = field(default_factory=list)

    def request_stop(self, reason: pb.StopReason.ValueType, detail: str = "") -> None:
        self.stops.append((int(reason), detail))


class SleepRecorder:
    """Stands in for `asyncio` inside the registry module: records each backoff sleep and only
    yields, so a long backoff schedule is observed without waiting for it."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self._sleep = asyncio.sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await self._sleep(0)


class Jitter:
    """Stands in for `random` inside the registry module: the jitter factor is chosen here."""

    def __init__(self, factor_of: Callable[[float, float], float]) -> None:
        self.calls: list[tuple[float, float]] = []
        self._factor_of = factor_of

    def uniform(self, low: float, high: float) -> float:
        self.calls.append((low, high))
        return self._factor_of(low, high)


# Ownership and stops.


async def test_a_created_session_is_owned_journaled_and_stopped_once(rig: Rig) -> None:
    session_id = await create(rig)
    assert rig.status(session_id) == ("started", None)
    assert rig.registry.owned_sessions() == {session_id}
    assert rig.registry.upstream_sessions == 1
    assert [e.session_id for e in rig.journal.entries.values()] == [session_id]
    stop = rig.registry.stop_upstream(session_id)
    assert rig.registry.stop_upstream(session_id) is stop  # Joined, not a second stop.
    assert await stop is True
    assert rig.status(session_id) == ("ended", "USER_CLOSED")
    assert rig.registry.owned_sessions() == set()
    assert rig.registry.upstream_sessions == 0
    assert rig.journal.entries == {}
    assert rig.registry.stopped_count == 1
    assert await rig.registry.stop_everything(WAIT_S) == set()
    assert rig.registry.stopped_count == 1  # Nothing left to stop twice.
    assert stop.get_name() == f"stop-{session_id}"
    again = rig.registry.stop_upstream(session_id)  # A finished stop is not joined.
    assert again is not stop
    assert await again is True
    assert rig.registry.stopped_count == 2


async def test_openings_count_against_the_limit_before_their_id_is_known(rig: Rig) -> None:
    rig.arm("lose", endpoint="token", delay_s=0.3, times=2)
    openings = [asyncio.create_task(create(rig)) for _ in range(2)]
    await until(lambda: len(rig.sessions()) == 2, "both token requests reached LiveAvatar")
    assert rig.registry.upstream_sessions == 2 and rig.registry.owned_sessions() == set()
    ids = set(await asyncio.gather(*openings))
    assert rig.registry.owned_sessions() == ids and rig.registry.upstream_sessions == 2
    assert await rig.registry.stop_everything(WAIT_S) == set()
    assert rig.registry.upstream_sessions == 0
    assert rig.registry.stopped_count == 2


async def test_stop_names_the_reason_it_is_given(rig: Rig) -> None:
    session_id = await create(rig)
    await rig.registry.stop_upstream(session_id, "SERVER_ERROR")
    assert rig.status(session_id) == ("ended", "SERVER_ERROR")


async def test_a_failing_stop_is_retried_until_it_succeeds(rig: Rig) -> None:
    session_id = await create(rig)
    rule = rig.arm("error", endpoint="stop", status=503, times=3)
    assert await rig.registry.stop_upstream(session_id) is True
    assert rule.hits == 3
    assert rig.status(session_id) == ("ended", "USER_CLOSED")
    assert rig.registry.owned_sessions() == set() and rig.journal.entries == {}
    assert rig.registry.stopped_count == 1


@pytest.mark.parametrize("status", [500, 599])
async def test_a_5xx_on_stop_is_retried(rig: Rig, status: int) -> None:
    session_id = await create(rig)
    rule = rig.arm("error", endpoint="stop", status=status, times=1)
    await rig.registry.stop_upstream(session_id)
    assert rule.hits == 1
    assert rig.status(session_id) == ("ended", "USER_CLOSED")  # The retry stopped it.


@pytest.mark.parametrize("status", [400, 404, 499])
async def test_a_4xx_on_stop_means_gone_and_is_not_retried(rig: Rig, status: int) -> None:
    session_id = await create(rig)
    rule = rig.arm("error", endpoint="stop", status=status, times=1, message="Session not found")
    assert await rig.registry.stop_upstream(session_id) is True
    assert rule.hits == 1
    # No second call: the emulator (which only pretended) still runs it.
    assert rig.status(session_id) == ("started", None)
    assert rig.registry.owned_sessions() == set() and rig.journal.entries == {}
    assert rig.registry.stopped_count == 1


class FlakyStop:
    """The REST client, except that its first stop raises what no LiveAvatar answer can make
    it raise (a bug-shaped error): the emulator cannot express this, so it is wrapped here."""

    def __init__(self, api: LiveAvatarClient) -> None:
        self._api = api
        self.stop_calls = 0

    async def create_token(
        self, body: dict[str, Any], *, answer_wait_s: float | None = None
    ) -> Any:
        return await self._api.create_token(body, answer_wait_s=answer_wait_s)

    async def start_session(self, token: Any) -> Any:
        return await self._api.start_session(token)

    async def stop_session(self, session_id: str, reason: str = "USER_CLOSED") -> None:
        self.stop_calls += 1
        if self.stop_calls == 1:
            raise RuntimeError("not an upstream error")
        await self._api.stop_session(session_id, reason)


async def test_any_error_on_stop_is_retried(emulator: Emulator) -> None:
    api = rest(emulator)
    flaky = FlakyStop(api)
    registry = SessionRegistry(flaky, MemoryJournal(), FAST)
    try:
        started = await registry.create(dict(LITE_BODY), {})
        assert await registry.stop_upstream(started.session_id) is True
        assert flaky.stop_calls == 2
        session = emulator.registry.get(started.session_id)
        assert session is not None and session.end_reason == "USER_CLOSED"
    finally:
        await registry.close()
        await api.aclose()


def uniform_high(low: float, high: float) -> float:
    return high


def uniform_low(low: float, high: float) -> float:
    return low


@pytest.mark.parametrize(
    ("factor_of", "expected"),
    [
        # Documented defaults: first sleep 0.5 s, doubling, jittered ±20 % then capped at 30 s.
        (uniform_high, [0.6, 1.2, 2.4, 4.8, 9.6, 19.2, 30.0, 30.0]),
        (uniform_low, [0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 24.0, 24.0]),
    ],
)
async def test_stop_backoff_doubles_with_jitter_and_is_capped(
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    factor_of: Callable[[float, float], float],
    expected: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = rest(emulator)
    registry = SessionRegistry(api, MemoryJournal())  # The default Timing.
    try:
        started = await registry.create(dict(LITE_BODY), {})
        sleeps = SleepRecorder()
        jitter = Jitter(factor_of)
        monkeypatch.setattr(registry_module, "asyncio", sleeps)
        monkeypatch.setattr(registry_module, "random", jitter)
        rule = emulator.app.state.faults.add_rule("error", endpoint="stop", status=503, times=8)
        with caplog.at_level(logging.WARNING, logger="avatar_bridge.registry"):
            await registry.stop_upstream(started.session_id)
        assert rule.hits == 8
        assert sleeps.slept == pytest.approx(expected)
        retries = logged(caplog, "failed to stop upstream session; retrying")
        assert [r.attempt for r in retries] == [1, 2, 3, 4, 5, 6, 7, 8]  # type: ignore[attr-defined]
        assert set(jitter.calls) == {(0.8, 1.2)}
    finally:
        monkeypatch.undo()
        await registry.close()
        await api.aclose()


async def test_a_stop_of_a_session_the_process_adopted(rig: Rig) -> None:
    token = await rig.api.create_token(dict(LITE_BODY))
    await rig.api.start_session(token)
    await rig.registry.adopt(token.session_id)
    assert rig.registry.owned_sessions() == {token.session_id}
    assert [e.session_id for e in rig.journal.entries.values()] == [token.session_id]
    await rig.registry.stop_upstream(token.session_id)
    assert rig.status(token.session_id) == ("ended", "USER_CLOSED")
    assert rig.journal.entries == {}


async def test_disown_forgets_without_a_stop(rig: Rig) -> None:
    session_id = await create(rig)
    await rig.registry.disown(session_id)
    await rig.registry.disown(session_id)  # Twice is harmless.
    assert rig.registry.owned_sessions() == set() and rig.journal.entries == {}
    assert await rig.registry.stop_everything(WAIT_S) == set()
    assert rig.status(session_id) == ("started", None)  # LiveAvatar ended it itself (say).
    assert rig.registry.stopped_count == 0


# Openings that fail or are abandoned.


async def test_a_failed_start_is_stopped_as_a_server_error(rig: Rig) -> None:
    rig.arm("error", endpoint="start", status=500, times=1)
    with pytest.raises(UpstreamUnavailable):
        await create(rig)
    (session_id,) = rig.sessions()
    await until(ended(rig, session_id, "SERVER_ERROR"), "the created session is stopped")
    await until(lambda: rig.registry.owned_sessions() == set(), "it is forgotten")
    assert rig.journal.entries == {}
    assert rig.registry.upstream_sessions == 0


async def test_a_refused_token_leaves_nothing(rig: Rig) -> None:
    rig.arm("error", endpoint="token", status=400, times=1, message="bad avatar")
    with pytest.raises(Exception, match="bad avatar"):
        await create(rig)
    await until(lambda: rig.journal.entries == {}, "the intent is forgotten")
    assert rig.sessions() == [] and rig.registry.upstream_sessions == 0


async def test_a_client_that_leaves_during_start_has_its_session_stopped(rig: Rig) -> None:
    rig.arm("delay", endpoint="start", delay_s=0.3)
    waiting = asyncio.create_task(create(rig))
    await until(lambda: len(rig.sessions()) == 1, "the token answered")
    assert rig.registry.upstream_sessions == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    (session_id,) = rig.sessions()
    await until(ended(rig, session_id), "the abandoned session is stopped")
    await until(lambda: rig.registry.owned_sessions() == set(), "it is forgotten")
    assert rig.journal.entries == {}


async def test_a_client_that_leaves_before_a_failed_start_is_not_stopped_twice(rig: Rig) -> None:
    escaped: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: escaped.append(context))
    rig.arm("delay", endpoint="token", delay_s=0.3)
    rig.arm("error", endpoint="start", status=500, times=1)
    waiting = asyncio.create_task(create(rig))
    await until(lambda: rig.registry.upstream_sessions == 1, "the token request is out")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await until(lambda: len(rig.sessions()) == 1, "the token answered")
    (session_id,) = rig.sessions()
    await until(ended(rig, session_id, "SERVER_ERROR"), "the failed opening stops it")
    await until(lambda: rig.registry.owned_sessions() == set(), "it is forgotten")
    assert rig.registry.stopped_count == 1
    loop.set_exception_handler(None)
    assert escaped == []  # Nothing raised in a callback, out of everyone's sight.


# Token answers that come late, or never.


async def test_a_late_token_answer_is_stopped(emulator: Emulator) -> None:
    api = rest(emulator)
    journal = MemoryJournal()
    timing = Timing(token_wait_s=0.2, late_answer_s=WAIT_S, stop_backoff_initial_s=0.01)
    registry = SessionRegistry(api, journal, timing)
    rule = emulator.app.state.faults.add_rule("lose", endpoint="token", delay_s=0.6)
    try:
        with pytest.raises(UpstreamOutcomeUnknown) as caught:
            await registry.create(dict(LITE_BODY), {})
        assert caught.value.message == (
            "LiveAvatar did not answer the token request within 0.2 s; not retried (it may have "
            "created a session, which the bridge stops if the answer still arrives)"
        )
        assert len(journal.entries) == 1  # The intent is kept while the answer may come.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not (rule.hit_sessions and journal.entries == {}):
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        (session_id,) = rule.hit_sessions
        session = emulator.registry.get(session_id)
        assert session is not None and session.end_reason == "USER_CLOSED"
        assert str(session.status) == "ended"
        assert registry.owned_sessions() == set()
        assert registry.stopped_count == 1
    finally:
        await registry.close()
        await api.aclose()


async def test_a_token_answer_that_never_comes_drops_the_intent(rig: Rig) -> None:
    rig.arm("drop", endpoint="token")  # The route ran (a session exists), the answer is lost.
    with pytest.raises(UpstreamOutcomeUnknown):
        await create(rig)
    await until(lambda: rig.journal.entries == {}, "the intent is dropped")
    (session_id,) = rig.sessions()
    assert rig.status(session_id) == ("created", None)  # Its id is unknowable: idle timeout.
    assert rig.registry.owned_sessions() == set() and rig.registry.upstream_sessions == 0


async def test_a_late_token_wait_that_ends_without_answer_drops_the_intent(
    emulator: Emulator,
) -> None:
    api = rest(emulator)
    journal = MemoryJournal()
    registry = SessionRegistry(api, journal, Timing(token_wait_s=0.1, late_answer_s=0.5))
    emulator.app.state.faults.add_rule("delay", endpoint="token", delay_s=1.0)
    try:
        with pytest.raises(UpstreamOutcomeUnknown):
            await registry.create(dict(LITE_BODY), {})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while journal.entries:
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        assert registry.owned_sessions() == set()
        while not emulator.registry.all():  # The held request reaches the route at last.
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        (session,) = emulator.registry.all()
        assert str(session.status) == "created"  # Its id was never learned: idle timeout.
    finally:
        await registry.close()
        await api.aclose()


# Shutdown.


async def test_shutdown_cuts_a_token_wait_and_stops_its_session_unstarted(rig: Rig) -> None:
    rig.arm("lose", endpoint="token", delay_s=0.3)
    waiting = asyncio.create_task(create(rig))
    await until(lambda: rig.registry.upstream_sessions == 1, "the token request is out")
    assert not rig.registry.closing
    rig.registry.stop_all(pb.STOP_REASON_SERVER_SHUTDOWN, "bye")
    assert rig.registry.closing
    with pytest.raises(UpstreamUnavailable) as caught:
        await waiting
    assert caught.value.message == SHUTTING_DOWN
    await until(lambda: len(rig.sessions()) == 1, "the token request reached LiveAvatar")
    (session_id,) = rig.sessions()
    await until(ended(rig, session_id), "the opening stops it (before shutdown's own sweep)")
    assert await rig.registry.stop_everything(WAIT_S) == set()
    session = rig.emulator.registry.get(session_id)
    assert session is not None and session.started_at is None  # Never started.
    assert rig.journal.entries == {}


async def test_no_session_is_created_once_shutdown_began(rig: Rig) -> None:
    rig.registry.stop_all(pb.STOP_REASON_SERVER_SHUTDOWN, "")
    with pytest.raises(UpstreamUnavailable) as caught:
        await create(rig)
    assert caught.value.message == SHUTTING_DOWN
    assert rig.sessions() == [] and rig.journal.entries == {}


async def test_shutdown_names_only_the_sessions_it_could_not_stop(rig: Rig) -> None:
    kept = await create(rig)
    stopped = await create(rig)
    rig.arm("error", endpoint="stop", session_id=kept, status=503, times=-1)
    # Stopped before shutdown (by the REST stop, not by a short grace that a loaded host misses).
    await rig.registry.stop_upstream(stopped)
    left = await rig.registry.stop_everything(0.3)
    assert left == {kept}
    assert rig.status(stopped) == ("ended", "USER_CLOSED")
    assert rig.status(kept) == ("started", None)
    assert [e.session_id for e in rig.journal.entries.values()] == [kept]  # For the next start.
    assert rig.registry.owned_sessions() == {kept}


async def test_shutdown_waits_for_an_opening_then_stops_what_it_made(rig: Rig) -> None:
    rig.arm("delay", endpoint="start", delay_s=0.3)
    waiting = asyncio.create_task(create(rig))
    await until(lambda: len(rig.sessions()) == 1, "the token answered")
    waiting.cancel()
    left = await rig.registry.stop_everything(WAIT_S)
    assert left == set()
    (session_id,) = rig.sessions()
    assert rig.status(session_id) == ("ended", "USER_CLOSED")


async def test_shutdown_within_its_grace_cancels_what_is_still_running(rig: Rig) -> None:
    session_id = await create(rig)
    rig.arm("delay", endpoint="stop", delay_s=1.0, times=1)
    left = await rig.registry.stop_everything(0.2)
    assert left == {session_id}
    await asyncio.sleep(0)
    assert rig.registry.stop_upstream(session_id) is not None  # A fresh stop can still start.


# Conversations.


async def test_conversations_are_told_to_stop(rig: Rig) -> None:
    one, two = Conversation(), Conversation()
    rig.registry.attach("s1", one)
    rig.registry.attach("s2", two)
    assert rig.registry.conversation_count == 2
    assert rig.registry.has_conversation("s1") and not rig.registry.has_conversation("s3")
    assert rig.registry.request_stop("s1", pb.STOP_REASON_OPERATOR_STOPPED, "op") is True
    assert rig.registry.request_stop("s3", pb.STOP_REASON_OPERATOR_STOPPED, "op") is False
    assert one.stops == [(pb.STOP_REASON_OPERATOR_STOPPED, "op")] and two.stops == []
    assert await rig.registry.wait_conversations(0.05) is False
    rig.registry.stop_all(pb.STOP_REASON_SERVER_SHUTDOWN, "bye")
    assert one.stops[-1] == two.stops[-1] == (pb.STOP_REASON_SERVER_SHUTDOWN, "bye")
    late = Conversation()
    rig.registry.attach("s3", late)  # Was still connecting when shutdown began.
    assert late.stops == [(pb.STOP_REASON_SERVER_SHUTDOWN, "bye")]
    for session_id in ("s1", "s2"):
        rig.registry.detach(session_id)
    assert await rig.registry.wait_conversations(0.05) is False  # s3 is still live.
    rig.registry.detach("s3")
    rig.registry.detach("s3")
    assert rig.registry.conversation_count == 0
    assert await rig.registry.wait_conversations(WAIT_S) is True


async def test_no_conversation_means_nothing_to_wait_for(rig: Rig) -> None:
    assert await rig.registry.wait_conversations(WAIT_S) is True
    rig.registry.attach("s1", Conversation())
    rig.registry.detach("s1")
    assert await rig.registry.wait_conversations(WAIT_S) is True


async def test_setup_work_is_cut_by_shutdown_and_cancelled(rig: Rig) -> None:
    assert await rig.registry.unless_closing(asyncio.sleep(0, result="done")) == "done"
    cancelled = asyncio.Event()

    async def setup() -> str:
        try:
            await asyncio.sleep(WAIT_S)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    waiting = asyncio.create_task(rig.registry.unless_closing(setup()))
    await asyncio.sleep(0.01)
    rig.registry.stop_all(pb.STOP_REASON_SERVER_SHUTDOWN, "")
    with pytest.raises(UpstreamUnavailable, match="shutting down"):
        await waiting
    assert cancelled.is_set()


async def test_a_caller_cancelled_while_waiting_cancels_its_setup(rig: Rig) -> None:
    cancelled = asyncio.Event()

    async def setup() -> None:
        try:
            await asyncio.sleep(WAIT_S)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    waiting = asyncio.create_task(rig.registry.unless_closing(setup()))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(cancelled.wait(), WAIT_S)


# Journal: recovery, upkeep and outages.


class ScriptedJournal(MemoryJournal):
    """A memory journal whose open/maintain return what a dead owner left, and whose writes can
    be made to fail (a journal outage)."""

    def __init__(self, left: list[Entry], *, heartbeat_s: float | None = None) -> None:
        super().__init__("me")
        self.heartbeat_s = heartbeat_s
        self.left = left
        self.maintained = 0
        self.fail: set[str] = set()

    async def _maybe_fail(self, what: str) -> None:
        if what in self.fail:
            raise OSError(f"journal {what} failed")

    async def open(self) -> list[Entry]:
        for entry in self.left:
            self.entries[entry.intent_id] = entry
        return list(self.left)

    async def maintain(self) -> list[Entry]:
        self.maintained += 1
        await self._maybe_fail("maintain")
        found, self.left = self.left, []
        for entry in found:
            self.entries[entry.intent_id] = entry
        return found

    async def record_intent(self, intent_id: str) -> None:
        await self._maybe_fail("record_intent")
        await super().record_intent(intent_id)

    async def record_session(self, intent_id: str, session_id: str) -> None:
        await self._maybe_fail("record_session")
        await super().record_session(intent_id, session_id)

    async def forget(self, intent_id: str) -> None:
        await self._maybe_fail("forget")
        await super().forget(intent_id)


async def started_upstream(api: LiveAvatarClient) -> str:
    token = await api.create_token(dict(LITE_BODY))
    await api.start_session(token)
    return token.session_id


async def test_open_stops_what_a_dead_owner_left(emulator: Emulator) -> None:
    api = rest(emulator)
    orphan = await started_upstream(api)
    journal = ScriptedJournal(
        [Entry("i1", orphan, "dead", 0.0), Entry("i2", "", "dead", 0.0)]  # i2: id never known.
    )
    registry = SessionRegistry(api, journal, FAST)
    try:
        await registry.open()
        assert await registry.stop_everything(WAIT_S) == set()
        session = emulator.registry.get(orphan)
        assert session is not None and session.end_reason == "USER_CLOSED"
        assert journal.entries == {}
        assert registry.stopped_count == 1
    finally:
        await registry.close()
        await api.aclose()


async def test_upkeep_recovers_what_an_expired_owner_left_and_survives_outages(
    emulator: Emulator,
) -> None:
    api = rest(emulator)
    orphan = await started_upstream(api)
    journal = ScriptedJournal([], heartbeat_s=0.01)
    journal.fail.add("maintain")
    registry = SessionRegistry(api, journal, FAST)
    try:
        await registry.open()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while journal.maintained < 3:  # Failing upkeep goes on.
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        journal.left = [Entry("i1", orphan, "expired", 0.0)]
        journal.fail.clear()
        session = emulator.registry.get(orphan)
        assert session is not None
        while session.end_reason is None:
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        assert session.end_reason == "USER_CLOSED"
    finally:
        await registry.close()
        await api.aclose()
    count = journal.maintained
    await asyncio.sleep(0.05)
    assert journal.maintained == count  # close() ended the upkeep.


async def test_a_journal_that_cannot_record_the_intent_refuses_the_session(
    emulator: Emulator,
) -> None:
    api = rest(emulator)
    journal = ScriptedJournal([])
    journal.fail.add("record_intent")
    registry = SessionRegistry(api, journal, FAST)
    try:
        with pytest.raises(UpstreamUnavailable) as caught:
            await registry.create(dict(LITE_BODY), {})
        assert caught.value.message == (
            "the bridge cannot record the session in its journal: retry later"
        )
        assert emulator.registry.all() == []  # No token request went out.
    finally:
        await registry.close()
        await api.aclose()


async def test_a_journal_outage_after_the_intent_still_stops_the_session(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    api = rest(emulator)
    journal = ScriptedJournal([])
    registry = SessionRegistry(api, journal, FAST)
    try:
        journal.fail.update({"record_session", "forget"})
        with caplog.at_level(logging.ERROR, logger="avatar_bridge.registry"):
            started = await registry.create(dict(LITE_BODY), {})
            assert registry.owned_sessions() == {started.session_id}  # Owned in memory.
            await registry.stop_upstream(started.session_id)
        session = emulator.registry.get(started.session_id)
        assert session is not None and session.end_reason == "USER_CLOSED"
        assert registry.owned_sessions() == set()
        failures = [r for r in caplog.records if r.getMessage() == "journal write failed"]
        assert len(failures) == 2  # The session write and the forget, each said once.
    finally:
        await registry.close()
        await api.aclose()


async def test_close_ends_stops_still_running(rig: Rig) -> None:
    session_id = await create(rig)
    rig.arm("error", endpoint="stop", status=503, times=-1)
    stop = rig.registry.stop_upstream(session_id)
    await asyncio.sleep(0.05)
    assert not stop.done()
    assert await rig.registry.stop_everything(0.05) == {session_id}
    await asyncio.wait({stop}, timeout=WAIT_S)
    assert stop.cancelled()


# Logs: one line per event that matters to an operator, naming the session or the intent.


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "avatar_bridge.registry" and r.getMessage() == message
    ]


async def test_logs_of_a_stop_retried_then_done(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="avatar_bridge.registry")
    session_id = await create(rig)
    rig.arm("error", endpoint="stop", status=503, times=1, message="busy")
    await rig.registry.stop_upstream(session_id, "SERVER_ERROR")
    (retry,) = logged(caplog, "failed to stop upstream session; retrying")
    assert retry.levelno == logging.WARNING
    assert (retry.session_id, retry.attempt) == (session_id, 1)  # type: ignore[attr-defined]
    assert "busy" in retry.error  # type: ignore[attr-defined]
    (done,) = logged(caplog, "upstream session stopped")
    assert done.levelno == logging.INFO
    assert (done.session_id, done.reason) == (session_id, "SERVER_ERROR")  # type: ignore[attr-defined]


async def test_logs_of_a_stop_that_finds_the_session_gone(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="avatar_bridge.registry")
    session_id = await create(rig)
    rig.arm("error", endpoint="stop", status=404, times=1, message="Session not found")
    await rig.registry.stop_upstream(session_id)
    (gone,) = logged(caplog, "upstream session already gone")
    assert gone.levelno == logging.INFO
    assert gone.session_id == session_id  # type: ignore[attr-defined]
    assert "Session not found" in gone.error  # type: ignore[attr-defined]
    assert logged(caplog, "upstream session stopped") == []


async def test_logs_of_a_stop_that_raised_something_else(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="avatar_bridge.registry")
    api = rest(emulator)
    registry = SessionRegistry(FlakyStop(api), MemoryJournal(), FAST)
    try:
        started = await registry.create(dict(LITE_BODY), {})
        await registry.stop_upstream(started.session_id)
    finally:
        await registry.close()
        await api.aclose()
    (retry,) = logged(caplog, "failed to stop upstream session; retrying")
    assert retry.levelno == logging.WARNING
    assert retry.session_id == started.session_id  # type: ignore[attr-defined]
    assert retry.attempt == 1  # type: ignore[attr-defined]
    assert retry.error == "RuntimeError('not an upstream error')"  # type: ignore[attr-defined]


async def test_logs_of_shutdown_leftovers(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    kept = await create(rig)
    rig.arm("error", endpoint="stop", session_id=kept, status=503, times=-1)
    rig.arm("lose", endpoint="token", delay_s=10.0)  # An opening still waiting for its token.
    opening = asyncio.create_task(create(rig))
    await until(lambda: rig.registry.upstream_sessions == 2, "the token request is out")
    await rig.registry.stop_everything(0.3)
    await asyncio.wait({opening}, timeout=WAIT_S)
    (left,) = logged(
        caplog, "upstream sessions could not be stopped before exit; the journal keeps them"
    )
    assert left.levelno == logging.ERROR
    assert left.session_ids == [kept]  # type: ignore[attr-defined]
    assert left.stops_in_flight == 1  # type: ignore[attr-defined]
    # The opening and its token call are both registry tasks: counted as 2 (a loose count).
    assert left.registry_tasks_in_flight >= 1  # type: ignore[attr-defined]


async def test_no_leftover_log_when_everything_was_stopped(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await create(rig)
    assert await rig.registry.stop_everything(WAIT_S) == set()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_logs_of_recovery(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    api = rest(emulator)
    orphan = await started_upstream(api)
    journal = ScriptedJournal([Entry("i1", orphan, "dead-1", 0.0), Entry("i2", "", "dead-2", 0.0)])
    registry = SessionRegistry(api, journal, FAST)
    try:
        await registry.open()
        await registry.stop_everything(WAIT_S)
    finally:
        await registry.close()
        await api.aclose()
    (known,) = logged(caplog, "recovering an orphaned upstream session")
    assert known.levelno == logging.WARNING
    assert (known.session_id, known.previous_owner) == (orphan, "dead-1")  # type: ignore[attr-defined]
    (unknown,) = logged(
        caplog,
        "an orphaned token request may have created a session whose id was never learned; "
        "LiveAvatar's idle timeout will end it",
    )
    assert unknown.levelno == logging.WARNING
    assert (unknown.intent, unknown.previous_owner) == ("i2", "dead-2")  # type: ignore[attr-defined]


async def test_logs_of_journal_outages(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    api = rest(emulator)
    journal = ScriptedJournal([], heartbeat_s=0.01)
    registry = SessionRegistry(api, journal, FAST)
    try:
        journal.fail.update({"maintain", "record_session", "forget"})
        await registry.open()
        started = await registry.create(dict(LITE_BODY), {"call": "c1"})
        await registry.stop_upstream(started.session_id)
        journal.fail.add("record_intent")
        with pytest.raises(UpstreamUnavailable):
            await registry.create(dict(LITE_BODY), {"call": "c2"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not logged(caplog, "journal upkeep failed"):
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
    finally:
        await registry.close()
        await api.aclose()
    (upkeep, *_) = logged(caplog, "journal upkeep failed")
    assert upkeep.levelno == logging.ERROR
    assert upkeep.error == "OSError('journal maintain failed')"  # type: ignore[attr-defined]
    writes = logged(caplog, "journal write failed")
    assert all(r.levelno == logging.ERROR for r in writes)
    by_error = {r.error: r for r in writes}  # type: ignore[attr-defined]
    session_write = by_error["OSError('journal record_session failed')"]
    assert session_write.session_id == started.session_id  # type: ignore[attr-defined]
    forget = by_error["OSError('journal forget failed')"]
    assert isinstance(forget.intent, str) and len(forget.intent) == 32  # type: ignore[attr-defined]
    intent = by_error["OSError('journal record_intent failed')"]
    assert intent.call == "c2"  # type: ignore[attr-defined]


async def test_logs_of_token_answers_late_or_lost(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    api = rest(emulator)
    registry = SessionRegistry(api, MemoryJournal(), Timing(token_wait_s=0.2, late_answer_s=WAIT_S))
    faults = emulator.app.state.faults
    late = faults.add_rule("lose", endpoint="token", delay_s=0.6)
    try:
        with pytest.raises(UpstreamOutcomeUnknown):
            await registry.create(dict(LITE_BODY), {"call": "late"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        message = "a late token answer created a session; stopping it"
        while not logged(caplog, message):
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        (record,) = logged(caplog, message)
        assert record.levelno == logging.WARNING
        assert record.session_id == late.hit_sessions[0]  # type: ignore[attr-defined]
        assert record.call == "late"  # type: ignore[attr-defined]
        faults.add_rule("drop", endpoint="token")
        with pytest.raises(UpstreamOutcomeUnknown):
            await registry.create(dict(LITE_BODY), {"call": "lost"})
    finally:
        await registry.close()
        await api.aclose()
    (lost,) = logged(
        caplog,
        "a token request got no answer and may have created a session whose id is unknown; "
        "LiveAvatar's idle timeout will end it",
    )
    assert lost.levelno == logging.WARNING
    assert lost.call == "lost"  # type: ignore[attr-defined]
    assert isinstance(lost.intent, str) and len(lost.intent) == 32  # type: ignore[attr-defined]


async def test_shutdown_returns_within_its_grace_while_an_opening_hangs(rig: Rig) -> None:
    rig.arm("lose", endpoint="token", delay_s=10.0)  # The answer would come in 10 s.
    waiting = asyncio.create_task(create(rig))
    await until(lambda: rig.registry.upstream_sessions == 1, "the token request is out")
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await rig.registry.stop_everything(0.2) == set()  # No session id known yet.
    # The promise is "within the grace"; 5 s of slack for a loaded host, half the held answer.
    assert loop.time() - began < 5.0
    await asyncio.wait({waiting}, timeout=WAIT_S)
    assert waiting.done()


class GatedJournal(MemoryJournal):
    """Writes in order, like the SQLite and Redis journals; recording an intent waits on a gate."""

    def __init__(self) -> None:
        super().__init__("me")
        self.gate = asyncio.Event()
        self.writing = asyncio.Event()
        self._order = asyncio.Lock()

    async def record_intent(self, intent_id: str) -> None:
        async with self._order:
            self.writing.set()
            await self.gate.wait()
            await super().record_intent(intent_id)

    async def forget(self, intent_id: str) -> None:
        async with self._order:
            await super().forget(intent_id)


async def test_a_client_that_leaves_while_the_intent_is_written_leaves_nothing(
    emulator: Emulator,
) -> None:
    api = rest(emulator)
    journal = GatedJournal()
    registry = SessionRegistry(api, journal, FAST)
    try:
        waiting = asyncio.create_task(registry.create(dict(LITE_BODY), {}))
        await asyncio.wait_for(journal.writing.wait(), WAIT_S)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        journal.gate.set()
        assert await registry.stop_everything(WAIT_S) == set()
        assert journal.entries == {}  # Written, then forgotten.
        assert emulator.registry.all() == []  # No token request went out.
    finally:
        await registry.close()
        await api.aclose()


async def test_setup_that_fails_as_it_is_cancelled_still_reports_shutdown(rig: Rig) -> None:
    async def setup() -> None:
        try:
            await asyncio.sleep(WAIT_S)
        except asyncio.CancelledError:
            raise RuntimeError("torn down half-way") from None

    waiting = asyncio.create_task(rig.registry.unless_closing(setup()))
    await asyncio.sleep(0.01)
    rig.registry.stop_all(pb.STOP_REASON_SERVER_SHUTDOWN, "")
    with pytest.raises(UpstreamUnavailable) as caught:
        await waiting
    assert caught.value.message == SHUTTING_DOWN


class RenamingStart(FlakyStop):
    """The REST client, except that the start answer names another session id than the token's.
    The emulator always answers with the token's id, so this case needs the wrapper."""

    async def start_session(self, token: Any) -> Any:
        started = await self._api.start_session(token)
        return replace(started, session_id="renamed-by-start")

    async def stop_session(self, session_id: str, reason: str = "USER_CLOSED") -> None:
        await self._api.stop_session(session_id, reason)


async def test_a_start_answer_naming_another_session_owns_both(emulator: Emulator) -> None:
    api = rest(emulator)
    journal = MemoryJournal()
    registry = SessionRegistry(RenamingStart(api), journal, FAST)
    try:
        started = await registry.create(dict(LITE_BODY), {})
        assert started.session_id == "renamed-by-start"
        (token_session,) = [s.id for s in emulator.registry.all()]
        assert registry.owned_sessions() == {token_session, "renamed-by-start"}
        entries = list(journal.entries.values())
        assert sorted(e.session_id for e in entries) == sorted([token_session, "renamed-by-start"])
        assert all(len(e.intent_id) == 32 for e in entries)  # Two intents, both uuid4 hex.
        assert entries[0].intent_id != entries[1].intent_id
        assert await registry.stop_everything(WAIT_S) == set()  # The unknown id answers 404.
        session = emulator.registry.get(token_session)
        assert session is not None and session.end_reason == "USER_CLOSED"
    finally:
        await registry.close()
        await api.aclose()


async def test_close_ends_openings_still_running(emulator: Emulator) -> None:
    api = rest(emulator)
    patient = Timing(token_wait_s=60.0, late_answer_s=60.0)  # Only close() can end the wait.
    registry = SessionRegistry(api, MemoryJournal(), patient)
    emulator.app.state.faults.add_rule("lose", endpoint="token", delay_s=20.0)  # Past WAIT_S.
    waiting = asyncio.create_task(registry.create(dict(LITE_BODY), {}))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while registry.upstream_sessions != 1:
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        await registry.close()  # Returns normally: the cancelled opening is not an error here.
        await asyncio.wait({waiting}, timeout=WAIT_S)
        assert waiting.done()  # The opening was ended, not left to wait for its answer.
    finally:
        waiting.cancel()
        await api.aclose()

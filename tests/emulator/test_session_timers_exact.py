"""Session lifecycle and timers, driven directly on virtual time (reference §2.6, §2.7).

Idle timeout 5 minutes (keep-alive and any activity extend it), sandbox sessions end after
60 s, max duration as requested (clamped to the tier), credits 1 per minute for LITE and 2 for
FULL (the emulator README's figures), all ended with the ``SessionEndReasonEnum`` reasons. On a
virtual-time loop these lengths are exact: a timer that fires one emulated second early fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from liveavatar_emulator import EmulatorConfig
from liveavatar_emulator.clock import Clock
from liveavatar_emulator.sessions import (
    CommandRecord,
    Session,
    SessionRegistry,
    SessionStatus,
    UtteranceRecord,
)

from .virtual_time import run_virtual

TOL = 1e-6


@pytest.fixture(autouse=True)
def _monotonic_is_loop_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions read ``Clock.monotonic``; make it the virtual loop's clock."""
    monkeypatch.setattr(Clock, "monotonic", staticmethod(lambda: asyncio.get_running_loop().time()))


def now() -> float:
    return asyncio.get_running_loop().time()


def run(cfg: EmulatorConfig, body: Callable[[SessionRegistry], Awaitable[None]]) -> None:
    async def main() -> None:
        registry = SessionRegistry(cfg)
        try:
            await body(registry)
        finally:
            await registry.end_all()

    run_virtual(main())


def new(
    registry: SessionRegistry,
    *,
    mode: Any = "LITE",
    sandbox: bool = False,
    max_duration_s: int = 1200,
) -> Session:
    return registry.create(
        mode=mode, token_request={}, is_sandbox=sandbox, max_duration_s=max_duration_s
    )


async def ended_at(session: Session) -> float:
    await asyncio.wait_for(session.ended.wait(), 10_000)
    return now()


class FakeSocket:
    """Records the close it receives."""

    def __init__(self) -> None:
        self.closes: list[tuple[int, str]] = []

    async def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


# -- idle timeout -------------------------------------------------------------------------------


def test_idle_timeout_is_five_minutes_scaled() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        assert await ended_at(session) == pytest.approx(300 * 0.5, abs=TOL)
        assert session.end_reason == "IDLE_TIMEOUT"
        assert session.status is SessionStatus.ENDED

    run(EmulatorConfig(time_scale=0.5), body)


def test_activity_pushes_the_idle_deadline_out() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        await asyncio.sleep(200)
        session.touch()
        await asyncio.sleep(200)
        assert session.active
        session.touch()
        assert await ended_at(session) == pytest.approx(400 + 300, abs=TOL)

    run(EmulatorConfig(), body)


def test_start_counts_as_activity() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        await asyncio.sleep(250)
        session.start()
        assert session.status is SessionStatus.STARTED and session.started_at is not None
        assert await ended_at(session) == pytest.approx(250 + 300, abs=TOL)
        assert session.end_reason == "IDLE_TIMEOUT"

    run(EmulatorConfig(), body)


# -- duration limits ----------------------------------------------------------------------------


def keep_touching(session: Session) -> asyncio.Task[None]:
    """Activity every 100 s so the idle timeout never wins."""

    async def loop() -> None:
        while session.active:
            session.touch()
            await asyncio.sleep(100)

    return asyncio.create_task(loop())


def test_max_duration_ends_the_session_at_its_length() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry, max_duration_s=900)
        await asyncio.sleep(10)
        toucher = keep_touching(session)
        session.start()
        assert await ended_at(session) == pytest.approx(10 + 900, abs=TOL)
        assert session.end_reason == "MAX_DURATION_REACHED"
        await toucher

    run(EmulatorConfig(), body)


def test_sandbox_sessions_end_after_sixty_seconds_for_free() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry, sandbox=True, max_duration_s=900)
        session.start()
        assert await ended_at(session) == pytest.approx(60 * 0.1, abs=TOL)
        assert session.end_reason == "MAX_DURATION_REACHED"
        assert session.credit_rate() == 0.0
        assert session.credits_consumed == 0.0
        assert registry.credits == 10.0

    run(EmulatorConfig(time_scale=0.1, initial_credits=10.0), body)


def test_a_short_max_duration_beats_the_sandbox_limit() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry, sandbox=True, max_duration_s=30)
        session.start()
        assert await ended_at(session) == pytest.approx(30, abs=TOL)

    run(EmulatorConfig(), body)


@pytest.mark.parametrize(("mode", "per_minute"), [("LITE", 1.0), ("FULL", 2.0)])
def test_credits_running_out_end_with_no_credits(mode: str, per_minute: float) -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry, mode=mode)
        toucher = keep_touching(session)
        session.start()
        assert session.credit_rate() == per_minute
        # 5 credits last 5 / per_minute minutes.
        assert await ended_at(session) == pytest.approx(5 / per_minute * 60, abs=TOL)
        assert session.end_reason == "NO_CREDITS"
        assert session.credits_consumed == pytest.approx(5.0, abs=1e-4)
        assert registry.credits == pytest.approx(0.0, abs=1e-4)
        await toucher

    run(EmulatorConfig(initial_credits=5.0), body)


def test_max_duration_wins_a_tie_with_credits() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry, max_duration_s=120)
        toucher = keep_touching(session)
        session.start()
        assert await ended_at(session) == pytest.approx(120, abs=TOL)
        assert session.end_reason == "MAX_DURATION_REACHED"
        await toucher

    run(EmulatorConfig(initial_credits=2.0), body)


# -- ending ---------------------------------------------------------------------------------------


def test_end_is_once_and_charges_the_emulated_minutes() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry, mode="FULL")
        assert session.duration_s() == 0.0
        session.start()
        await asyncio.sleep(9)  # 90 emulated seconds at time_scale 0.1
        assert session.duration_s() == pytest.approx(90, abs=TOL)
        sock = FakeSocket()
        session.attach_socket(sock)
        calls: list[tuple[str, str]] = []

        async def broken(_s: Session, _r: str) -> None:
            raise RuntimeError("listener failure must not stop the others")

        async def listener(s: Session, reason: str) -> None:
            calls.append((s.id, reason))

        session.add_end_listener(broken)
        session.add_end_listener(listener)
        assert await session.end("USER_CLOSED") is True
        assert await session.end("IDLE_TIMEOUT") is False
        assert (session.end_reason, session.status) == ("USER_CLOSED", SessionStatus.ENDED)
        assert session.ended.is_set() and session.ended_at is not None
        assert session.updated_at == session.ended_at
        assert session.credits_consumed == 3.0  # 1.5 minutes x 2 credits
        assert registry.credits == 97.0
        assert sock.closes == [(1000, "USER_CLOSED")]
        assert calls == [(session.id, "USER_CLOSED")]
        await asyncio.sleep(10_000)  # its timers are gone: nothing ends it again
        assert session.end_reason == "USER_CLOSED" and session.duration_s() == pytest.approx(90)

    run(EmulatorConfig(time_scale=0.1, initial_credits=100.0), body)


def test_end_uses_the_configured_close_code_unless_told_otherwise() -> None:
    async def body(registry: SessionRegistry) -> None:
        first, second = new(registry), new(registry)
        socks = [FakeSocket(), FakeSocket()]
        first.attach_socket(socks[0])
        second.attach_socket(socks[1])
        await first.end("SERVER_ERROR")
        await second.end("SERVER_ERROR", close_code=1012)
        assert socks[0].closes == [(4001, "SERVER_ERROR")]
        assert socks[1].closes == [(1012, "SERVER_ERROR")]

    run(EmulatorConfig(ws_close_code=4001), body)


def test_credits_are_rounded_to_four_places_and_never_negative() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        session.start()
        await asyncio.sleep(1)  # 1/60 credit = 0.016666...
        await session.end("USER_CLOSED")
        assert session.credits_consumed == 0.0167
        registry.charge(5.0)
        assert registry.credits == 0.0

    run(EmulatorConfig(initial_credits=1.0), body)


# -- sockets and records ----------------------------------------------------------------------


def test_sockets_are_replaced_detached_and_closed_without_ending() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        a, b = FakeSocket(), FakeSocket()
        assert session.attach_socket(a) == []
        assert session.attach_socket(b) == [a]
        assert session.ws_connections == 2 and session.ws_connected
        session.detach_socket(a)  # already replaced: harmless
        assert await session.close_sockets(1001, "going away") == 1
        assert b.closes == [(1001, "going away")] and a.closes == []
        assert session.active
        session.detach_socket(b)
        assert not session.ws_connected
        assert await session.close_sockets(1001, "again") == 0

    run(EmulatorConfig(), body)


def test_records_and_counters() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        await asyncio.sleep(2)
        session.record("data_message", {"topic": "agent-control"})
        assert session.records == [{"kind": "data_message", "at": 2.0, "topic": "agent-control"}]
        session.record_command(CommandRecord("agent.speak", "U", 10, 0.0))
        session.record_command(CommandRecord("agent.speak", "V", 10, 0.0, dropped=True))
        assert session.counters["data_message"] == 1
        assert session.counters["agent.speak"] == 1
        assert session.counters["dropped:agent.speak"] == 1
        assert session.elapsed() == pytest.approx(2.0)

    run(EmulatorConfig(), body)


def test_played_summary_adds_the_segment_in_flight() -> None:
    class Probe:
        def progress(self) -> tuple[int, int]:
            return (100, 900)

    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        session.pcm.extend(b"\x00" * 3000)
        session.utterances.append(UtteranceRecord("A", played_bytes=1000, discarded_bytes=500))
        session.utterances.append(UtteranceRecord("B", played_bytes=400))
        assert session.played_summary()["played_bytes"] == 1400
        session.playback = Probe()
        summary = session.played_summary()
        assert {k: summary[k] for k in summary if k != "utterances"} == {
            "received_bytes": 3000,
            "played_bytes": 1500,
            "discarded_bytes": 500,
            "buffered_bytes": 900,
        }
        assert [u["id"] for u in summary["utterances"]] == ["A", "B"]

    run(EmulatorConfig(), body)


# -- the registry -----------------------------------------------------------------------------


def test_registry_lists_ends_all_and_resets() -> None:
    async def body(registry: SessionRegistry) -> None:
        a, b, c = new(registry), new(registry), new(registry)
        assert registry.all() == [a, b, c]
        assert registry.get(b.id) is b and registry.get("nope") is None
        await b.end("USER_CLOSED")
        assert registry.active() == [a, c]
        registry.charge(3.0)
        assert registry.credits == 7.0
        await registry.end_all()
        assert (a.end_reason, b.end_reason, c.end_reason) == ("UNKNOWN", "USER_CLOSED", "UNKNOWN")
        d = new(registry)
        sock = FakeSocket()
        d.attach_socket(sock)
        await registry.end_all("SERVER_ERROR", close_code=1012)
        assert d.end_reason == "SERVER_ERROR" and sock.closes == [(1012, "SERVER_ERROR")]
        await registry.reset()
        assert registry.all() == [] and registry.credits == 10.0

    run(EmulatorConfig(initial_credits=10.0), body)


def test_a_new_session_is_created_not_started() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry, mode="FULL", sandbox=True, max_duration_s=77)
        assert session.status is SessionStatus.CREATED and session.active
        assert (session.mode, session.is_sandbox, session.max_duration_s) == ("FULL", True, 77)
        assert session.started_at is None and session.ended_at is None
        assert session.updated_at == session.created_at
        assert session.end_reason is None and session.credits_consumed == 0.0
        assert session.ws_token is None and session.avatar_media is None
        assert session.playback is None and not session.ended.is_set()
        assert (session.ws_connections, session.ws_connected) == (0, False)
        assert session.commands == [] and session.events == [] and session.records == []
        assert bytes(session.pcm) == b"" and session.utterances == []
        assert session.played_summary() == {
            "received_bytes": 0,
            "played_bytes": 0,
            "discarded_bytes": 0,
            "buffered_bytes": 0,
            "utterances": [],
        }
        session.start()
        assert str(session.status) == "started"
        assert session.started_at is not None and session.updated_at == session.started_at
        assert session.started_at >= session.created_at

    run(EmulatorConfig(), body)


def timer_names(session: Session) -> set[str]:
    names = {task.get_name() for task in asyncio.all_tasks() if not task.done()}
    return names & {f"idle-{session.id}", f"limit-{session.id}"}


def test_timers_run_as_named_tasks_and_are_cancelled_at_the_end() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        assert timer_names(session) == {f"idle-{session.id}"}
        session.start()
        assert timer_names(session) == {f"idle-{session.id}", f"limit-{session.id}"}
        await session.end("USER_CLOSED")
        await asyncio.sleep(0)
        assert timer_names(session) == set()

    run(EmulatorConfig(), body)


def test_a_timer_that_ends_the_session_still_closes_and_notifies() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry, max_duration_s=30)
        sock = FakeSocket()
        session.attach_socket(sock)
        reasons: list[str] = []

        async def listener(_s: Session, reason: str) -> None:
            await asyncio.sleep(1)  # a listener that awaits must not be cut short
            reasons.append(reason)

        session.add_end_listener(listener)
        session.start()
        await asyncio.sleep(100)
        assert sock.closes == [(1000, "MAX_DURATION_REACHED")]
        assert reasons == ["MAX_DURATION_REACHED"]
        assert timer_names(session) == set()

    run(EmulatorConfig(), body)


def test_idle_deadline_moved_by_less_than_a_second_is_kept() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        await asyncio.sleep(0.5)
        session.touch()
        assert await ended_at(session) == pytest.approx(300.5, abs=TOL)

    run(EmulatorConfig(), body)


def test_clocks_count_from_creation_and_start() -> None:
    async def body(registry: SessionRegistry) -> None:
        await asyncio.sleep(7)
        session = registry.create(
            mode="LITE", token_request={"avatar_id": "A"}, is_sandbox=False, max_duration_s=600
        )
        assert session.token_request == {"avatar_id": "A"}
        await asyncio.sleep(2.5000004)
        assert session.elapsed() == pytest.approx(2.5000004, abs=1e-9)
        session.record("kind", {})
        session.record("kind", {})
        assert session.records[0]["at"] == 2.5  # rounded to the microsecond
        assert session.counters["kind"] == 2
        session.start()
        await asyncio.sleep(3)
        assert session.duration_s() == pytest.approx(3 / 0.5, abs=1e-6)

    run(EmulatorConfig(time_scale=0.5), body)


def test_command_log_counts_kept_and_dropped_apart() -> None:
    async def body(registry: SessionRegistry) -> None:
        session = new(registry)
        kept = CommandRecord("session.keep_alive", None, 30, 0.0)
        dropped = CommandRecord("agent.speak", "U", 10, 0.0, dropped=True)
        for rec in (kept, kept, dropped):
            session.record_command(rec)
        assert session.commands == [kept, kept, dropped]
        assert dict(session.counters) == {"session.keep_alive": 2, "dropped:agent.speak": 1}

    run(EmulatorConfig(), body)


def test_registry_keeps_its_full_backend() -> None:
    backend: Any = object()
    registry = SessionRegistry(EmulatorConfig(time_scale=0.25), full_backend=backend)
    assert registry.full_backend is backend
    assert registry.clock.time_scale == 0.25


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


def test_one_log_line_per_lifecycle_step() -> None:
    handler = _Lines()
    logger = logging.getLogger("liveavatar_emulator.sessions")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    ids: list[str] = []

    async def body(registry: SessionRegistry) -> None:
        session = new(registry, mode="FULL", sandbox=True, max_duration_s=900)
        ids.append(session.id)
        session.start()

        async def broken(_s: Session, _r: str) -> None:
            raise RuntimeError("boom")

        session.add_end_listener(broken)
        await session.end("USER_CLOSED")

    try:
        run(EmulatorConfig(), body)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    sid = ids[0]
    assert handler.lines == [
        ("INFO", f"session {sid} created (FULL)"),
        ("INFO", f"session {sid} started (FULL, sandbox=True, limit 60s -> MAX_DURATION_REACHED)"),
        ("INFO", f"session {sid} ended: USER_CLOSED"),
        ("ERROR", f"end listener failed for session {sid}"),
    ]

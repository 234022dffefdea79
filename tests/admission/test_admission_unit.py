"""The admission module on its own: slots, tickets, policies that plug into admit()."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from avatar_bridge.admission import Admission, ShedWhenOverloaded, Ticket, grpc_queue_options
from avatar_bridge.errors import BridgeError, LimitExceeded
from avatar_bridge.security.principal import Principal


class Quota:
    """A per-principal concurrency quota, as issue 8's QuotaPolicy plugs in."""

    def __init__(self, per_principal: int) -> None:
        self.per_principal = per_principal
        self.held: dict[str, int] = {}

    def check_and_take(self, caller: Principal) -> object:
        principal = caller.name
        if self.held.get(principal, 0) >= self.per_principal:
            raise LimitExceeded(f"{principal} already has {self.per_principal} conversations")
        self.held[principal] = self.held.get(principal, 0) + 1

        def give_back() -> None:
            self.held[principal] -= 1

        return give_back


class Lag:
    def __init__(self) -> None:
        self.lagging = False

    def overloaded(self) -> bool:
        return self.lagging


def test_session_slots_refuse_past_the_limit_and_come_back() -> None:
    admission = Admission(max_sessions=2, max_pending_configs=1)
    first, second = admission.admit(_who("a")), admission.admit(_who("b"))
    with pytest.raises(LimitExceeded) as refused:
        admission.admit(_who("c"))
    assert refused.value.grpc_code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "2 conversations" in refused.value.message and "--max-sessions" in refused.value.message
    first.release()
    first.release()  # idempotent: gives back once
    assert admission.sessions.in_use == 1
    with admission.admit(_who("c")):
        assert admission.sessions.in_use == 2
    second.release()
    assert (admission.sessions.in_use, admission.sessions.peak) == (0, 2)


def test_pending_config_slots_are_separate_from_sessions() -> None:
    admission = Admission(max_sessions=1, max_pending_configs=1)
    waiting = admission.await_config()
    with pytest.raises(LimitExceeded) as refused:
        admission.await_config()
    assert "--max-pending-configs" in refused.value.message
    admission.admit(_who("a"))  # a session slot is still free
    waiting.release()
    admission.await_config().release()
    assert admission.pending.in_use == 0


def test_a_policy_refusal_gives_back_what_was_taken_before_it() -> None:
    quota = Quota(per_principal=1)
    admission = Admission(max_sessions=10, max_pending_configs=10, policies=[quota])
    held = admission.admit(_who("alice"))
    with pytest.raises(LimitExceeded, match="alice already has 1"):
        admission.admit(_who("alice"))
    assert admission.sessions.in_use == 1, "the refused call holds no session slot"
    bob = admission.admit(_who("bob"))
    held.release()
    bob.release()
    assert admission.sessions.in_use == 0 and quota.held == {"alice": 0, "bob": 0}


def test_load_shedding_policy_refuses_unavailable_while_overloaded() -> None:
    lag = Lag()
    admission = Admission(max_sessions=10, max_pending_configs=10)
    admission.add_policy(ShedWhenOverloaded(lag))
    admission.admit(_who("a")).release()
    lag.lagging = True
    with pytest.raises(BridgeError) as shed:
        admission.admit(_who("a"))
    assert shed.value.grpc_code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert admission.sessions.in_use == 0


async def test_release_after_holds_the_ticket_until_the_task_ends() -> None:
    admission = Admission(max_sessions=1, max_pending_configs=1)
    ticket = admission.admit(_who("a"))
    gate = asyncio.Event()
    stop = asyncio.create_task(gate.wait())
    ticket.release_after(stop)
    ticket.release()  # the call ends: the slot stays taken while the stop runs
    assert admission.sessions.in_use == 1
    gate.set()
    await stop
    await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert admission.sessions.in_use == 0


def test_a_failing_release_does_not_keep_other_slots() -> None:
    given_back: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    ticket = Ticket([lambda: given_back.append("first"), broken])
    ticket.release()
    assert given_back == ["first"] and ticket.released


def test_grpc_queue_is_larger_than_both_admission_bounds() -> None:
    options = dict(grpc_queue_options(max_sessions=200, max_pending_configs=5000))
    assert options["grpc.server.max_pending_requests"] >= 5200
    assert options["grpc.server.max_pending_requests_hard_limit"] >= 5200


def _who(name: str) -> Principal:
    return Principal(name, frozenset({"converse"}))

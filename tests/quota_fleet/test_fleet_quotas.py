"""Fleet-wide quotas on a real redis-server: two bridges' quota steps share one principal's
budget, a killed holder's lease lapses, starts slide over a minute, and Redis going away falls
back (or refuses with --quota-fail-closed)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import textwrap

import pytest
from redis.asyncio import Redis
from server.helpers import WAIT_S

from avatar_bridge.errors import LimitExceeded
from avatar_bridge.security.principal import Principal, Quota
from avatar_bridge.security.quota_store import FleetQuotas, QuotaStoreDown, RedisQuotaStore
from avatar_bridge.security.quotas import QuotaPolicy

ALICE = Principal("alice", frozenset(), Quota(max_conversations=2))


def bridge(url: str, *, lease_s: float = 15.0, fail_closed: bool = False) -> FleetQuotas:
    """The quota step of one bridge process (its own Redis connection, its own fallback)."""
    return FleetQuotas(
        RedisQuotaStore(url, lease_s=lease_s, timeout_s=0.5),
        QuotaPolicy(),
        fail_closed=fail_closed,
    )


async def test_two_bridges_share_a_principals_conversations(redis_url: str) -> None:
    one, two = bridge(redis_url), bridge(redis_url)
    try:
        first = await one.take(ALICE)
        await two.take(ALICE)
        # The third, whichever bridge gets it, is over alice's 2.
        for side in (one, two):
            with pytest.raises(LimitExceeded) as refused:
                await side.take(ALICE)
            assert refused.value.subject == "principal:alice:conversations"
            assert "across the fleet" in refused.value.message
        # Another principal is not affected.
        await two.take(Principal("bob", frozenset(), Quota(max_conversations=1)))
        first()  # The release is async: retry until Redis has it, within WAIT_S.
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while True:
            try:
                await two.take(ALICE)
                break
            except LimitExceeded:
                assert asyncio.get_running_loop().time() < deadline, "slot never came back"
                await asyncio.sleep(0.05)
    finally:
        await one.close()
        await two.close()


async def test_concurrent_takes_never_overshoot(redis_url: str) -> None:
    sides = [bridge(redis_url) for _ in range(4)]
    try:
        outcomes = await asyncio.gather(
            *(sides[i % 4].take(ALICE) for i in range(20)), return_exceptions=True
        )
        assert sum(not isinstance(o, BaseException) for o in outcomes) == 2
        assert all(isinstance(o, LimitExceeded) for o in outcomes if isinstance(o, BaseException))
    finally:
        for side in sides:
            await side.close()


async def test_held_lease_is_renewed_past_its_lease_time(redis_url: str) -> None:
    holder, other = bridge(redis_url, lease_s=0.6), bridge(redis_url, lease_s=0.6)
    solo = Principal("solo", frozenset(), Quota(max_conversations=1))
    try:
        await holder.take(solo)
        await asyncio.sleep(2.0)  # Over three lease times: only renewal keeps it.
        with pytest.raises(LimitExceeded):
            await other.take(solo)
    finally:
        await holder.close()
        await other.close()


HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from avatar_bridge.security.principal import Principal, Quota
    from avatar_bridge.security.quota_store import FleetQuotas, RedisQuotaStore
    from avatar_bridge.security.quotas import QuotaPolicy

    async def main() -> None:
        quotas = FleetQuotas(RedisQuotaStore(sys.argv[1], lease_s=1.0), QuotaPolicy())
        await quotas.take(Principal("solo", frozenset(), Quota(max_conversations=1)))
        print("holding", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_a_killed_holders_lease_expires(redis_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, redis_url, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    solo = Principal("solo", frozenset(), Quota(max_conversations=1))
    other = bridge(redis_url)
    try:
        assert await asyncio.wait_for(proc.stdout.readline(), WAIT_S) == b"holding\n"
        with pytest.raises(LimitExceeded):
            await other.take(solo)
        proc.kill()  # SIGKILL: no release, no goodbye; only the lease frees the slot.
        await proc.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while True:
            try:
                await other.take(solo)
                break
            except LimitExceeded:
                assert loop.time() < deadline, "the dead holder's lease never lapsed"
                await asyncio.sleep(0.1)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await other.close()


async def test_starts_per_minute_is_a_fleet_window(redis_url: str) -> None:
    one, two = bridge(redis_url), bridge(redis_url)
    carol = Principal("carol", frozenset(), Quota(starts_per_minute=3))
    try:
        for side in (one, two, one):
            (await side.take(carol))()  # Released at once: only the starts count.
        with pytest.raises(LimitExceeded) as refused:
            await two.take(carol)
        assert refused.value.subject == "principal:carol:starts_per_minute"
        assert refused.value.retry_after_s is not None
        assert 1 <= refused.value.retry_after_s <= 60
    finally:
        await one.close()
        await two.close()


async def test_redis_down_falls_back_to_this_process(redis_url: str) -> None:
    # A port nothing listens on: the store is unreachable from the start.
    dead = redis_url.rsplit(":", 1)[0] + ":1/0"
    states: list[bool] = []
    quotas = FleetQuotas(
        RedisQuotaStore(dead, timeout_s=0.5), QuotaPolicy(), on_state=states.append
    )
    solo = Principal("solo", frozenset(), Quota(max_conversations=1))
    try:
        release = await quotas.take(solo)  # Admitted by the in-process quota.
        assert quotas.up is False
        with pytest.raises(LimitExceeded):
            await quotas.take(solo)  # ...which still holds, per process.
        await quotas.take(Principal("dan", frozenset(), Quota(max_conversations=1)))
        release()
        await quotas.take(solo)
        assert states == [True, False]  # One change logged and exported, not one per call.
    finally:
        await quotas.close()


async def test_redis_down_fail_closed_refuses(redis_url: str) -> None:
    dead = redis_url.rsplit(":", 1)[0] + ":1/0"
    quotas = FleetQuotas(RedisQuotaStore(dead, timeout_s=0.5), QuotaPolicy(), fail_closed=True)
    try:
        with pytest.raises(QuotaStoreDown) as refused:
            await quotas.take(ALICE)
        assert refused.value.grpc_code.name == "RESOURCE_EXHAUSTED"
        assert "redis://" not in refused.value.message
    finally:
        await quotas.close()


async def test_no_quota_makes_no_redis_call(redis_url: str) -> None:
    dead = redis_url.rsplit(":", 1)[0] + ":1/0"
    quotas = FleetQuotas(RedisQuotaStore(dead, timeout_s=0.5), QuotaPolicy(), fail_closed=True)
    try:
        # Unlimited principal: admitted without asking the (unreachable) store.
        (await quotas.take(Principal("root", frozenset())))()
        assert quotas.up is True
    finally:
        await quotas.close()


async def test_redis_paused_then_back_logs_each_change_once(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="avatar_bridge")
    probe = Redis.from_url(redis_url)
    pid = int((await probe.info("server"))["process_id"])
    await probe.aclose()
    states: list[bool] = []
    quotas = FleetQuotas(
        RedisQuotaStore(redis_url, timeout_s=0.5), QuotaPolicy(), on_state=states.append
    )
    solo = Principal("solo", frozenset(), Quota(max_conversations=1))
    try:
        first = await quotas.take(solo)
        os.kill(pid, signal.SIGSTOP)  # Redis hangs: every call times out.
        try:
            # The fallback counter also holds the conversation Redis admitted: refused.
            with pytest.raises(LimitExceeded):
                await quotas.take(solo)
            await quotas.take(Principal("dan", frozenset(), Quota(max_conversations=1)))
        finally:
            os.kill(pid, signal.SIGCONT)
        first()
        await quotas.take(Principal("eve", frozenset(), Quota(max_conversations=1)))
        assert quotas.up is True
        assert states == [True, False, True]
    finally:
        await quotas.close()
    messages = [r.getMessage() for r in caplog.records if "quota store" in r.getMessage()]
    assert messages == [
        "quota store unreachable: quotas fall back to this process",
        "quota store reachable again: quotas are fleet-wide",
    ]
    assert all("redis://" not in r.getMessage() + str(r.__dict__) for r in caplog.records)

"""README, Never leaking a session: a session is forgotten only after a successful REST stop or
when LiveAvatar ended it; a stop that failed is owed (retried until done), and shutdown waits for
it."""

from __future__ import annotations

import asyncio

from reliability.helpers import arm, rules
from server.helpers import WAIT_S, Inspector, Stream, lite_config

from liveavatar_emulator import Emulator

from .bridges import bridge_at


async def stop_hits(inspector: Inspector, at_least: int) -> int:
    """Poll the stop rule until it answered `at_least` calls (or WAIT_S passes); return its hits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        (rule,) = await rules(inspector)
        hits: int = rule["hits"]
        if hits >= at_least or loop.time() >= deadline:
            return hits
        await asyncio.sleep(0.05)


async def test_a_stop_that_keeps_failing_is_owed_and_paid_before_shutdown_returns(
    emulator: Emulator,
) -> None:
    inspector = Inspector(emulator.base_url)
    try:
        async with bridge_at(emulator.base_url, grace_s=10.0) as bridge:
            registry = bridge.server.registry
            assert registry is not None
            stream = Stream(bridge.stub)
            await stream.send(lite_config())
            started = await stream.started()
            # From now on LiveAvatar answers every stop with a 5xx (retried, and failing again).
            await arm(inspector, action="error", endpoint="stop", status=503, times=-1)
            # The client leaves without waiting for the stop.
            stream.call.cancel()
            # One REST stop is 3 attempts: all failed, and the bridge still owes the stop.
            assert await stop_hits(inspector, at_least=3) >= 3
            assert await inspector.active() == [started.session_id]  # Still running upstream.
            assert started.session_id in registry.owned_sessions()
            # LiveAvatar recovers; leaving the block shuts the bridge down, which returns only
            # once the owed stop is paid (by the retry, or by shutdown itself).
            (await inspector.http.delete("/_emulator/faults/rules")).raise_for_status()
        detail = await inspector.session(started.session_id)
        assert detail["status"] == "ended"
        assert detail["end_reason"] == "USER_CLOSED"
        assert registry.owned_sessions() == set()
    finally:
        await inspector.aclose()


async def test_a_session_liveavatar_already_ended_is_forgotten(emulator: Emulator) -> None:
    inspector = Inspector(emulator.base_url)
    try:
        async with bridge_at(emulator.base_url) as bridge:
            stream = Stream(bridge.stub)
            await stream.send(lite_config())
            started = await stream.started()
            # LiveAvatar answers the stop with a 4xx: it no longer runs the session.
            await inspector.faults(fail_next=1, status=404, message="Session not found")
            await stream.half_close()
            await stream.drain()
            assert (await inspector.faults())["failed"] == 1
            # Were it still owed, shutdown would call stop again: that call would fail here too.
            await inspector.faults(fail_next=1, status=404, message="Session not found")
        assert (await inspector.faults())["failed"] == 1
        await inspector.faults(fail_next=0)
        await inspector.http.post(
            "/v1/sessions/stop",
            headers={"X-API-KEY": emulator.config.api_keys[0]},
            json={"session_id": started.session_id},
        )
    finally:
        await inspector.aclose()

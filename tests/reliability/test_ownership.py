"""Ownership under REST faults: lost token answers, cancels mid-setup, stops that keep failing.

In-process bridge on a loopback port, pointed at the emulator; faults come from the emulator's
scoped rules (one endpoint at a time).
"""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from server.helpers import WAIT_S, Inspector, Stream, lite_config

from .conftest import Env
from .helpers import arm, rules, wait_active

LOST_ANSWER_DELAY_S = 5.0


async def refused(env: Env) -> tuple[grpc.StatusCode, str]:
    stream = Stream(env.stub)
    await stream.send(lite_config())
    with pytest.raises(grpc.aio.AioRpcError):
        await stream.next()
    assert stream.events == []
    return await stream.status()


async def test_lost_token_answer_is_not_retried_and_its_session_is_stopped(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="avatar_bridge.registry")
    await arm(env.emu, action="lose", endpoint="token", delay_s=LOST_ANSWER_DELAY_S)

    code, details = await refused(env)

    assert code == grpc.StatusCode.UNAVAILABLE, details
    assert "not retried" in details
    (rule,) = await rules(env.emu)
    assert rule["hits"] == 1  # One token request only: no blind retry.
    (created,) = rule["hit_sessions"]
    # The answer arrives after the client gave up; the registry still stops that session.
    detail = await env.emu.wait_ended(created)
    assert detail["status"] == "ended"
    assert [s["id"] for s in await env.emu.sessions()] == [created]
    assert any("late token answer" in r.getMessage() for r in caplog.records)


async def test_dropped_token_answer_is_never_retried(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="avatar_bridge.registry")
    await arm(env.emu, action="drop", endpoint="token")

    code, details = await refused(env)

    assert code == grpc.StatusCode.UNAVAILABLE, details
    assert "not retried" in details
    (rule,) = await rules(env.emu)
    assert rule["hits"] == 1
    # The id never reached the bridge: exactly one session exists, and the bridge says so.
    sessions = await env.emu.sessions()
    assert len(sessions) == 1
    assert any("may have created a session" in r.getMessage() for r in caplog.records)
    await env.emu.http.post(f"/_emulator/sessions/{sessions[0]['id']}/end", json={})


async def test_stop_failing_many_times_is_retried_until_it_succeeds(env: Env) -> None:
    stream = Stream(env.stub)
    await stream.send(lite_config())
    started = await stream.started()
    # 7 failures: more than one REST call's own 3 attempts, so only the registry's retry helps.
    await arm(env.emu, action="error", endpoint="stop", status=500, times=7)

    stream.call.cancel()

    detail = await env.emu.wait_ended(started.session_id)
    assert detail["status"] == "ended"
    (rule,) = await rules(env.emu)
    assert rule["hits"] == 7
    assert rule["hit_sessions"] == [started.session_id] * 7
    assert env.server.registry is not None
    assert env.server.registry.owned_sessions() == set()


@pytest.mark.parametrize("endpoint", ["token", "start"])
async def test_cancel_while_the_session_is_being_created(env: Env, endpoint: str) -> None:
    await arm(env.emu, action="delay", endpoint=endpoint, delay_s=0.5)
    stream = Stream(env.stub)
    await stream.send(lite_config())
    async with asyncio.timeout(WAIT_S):
        while True:
            if (await rules(env.emu))[0]["hits"]:
                break
            await asyncio.sleep(0.01)

    stream.call.cancel()

    # The request was in flight: the session it creates after the client left is stopped.
    (session,) = [s["id"] for s in await _wait_sessions(env.emu, 1)]
    detail = await env.emu.wait_ended(session)
    assert detail["status"] == "ended"
    assert await wait_active(env.emu, 0) == []


async def _wait_sessions(emu: Inspector, count: int) -> list[dict[str, object]]:
    async with asyncio.timeout(WAIT_S):
        while True:
            sessions = await emu.sessions()
            if len(sessions) >= count:
                return sessions
            await asyncio.sleep(0.02)

"""Session ends: idle timeout, keep-alive, sandbox limit, max duration, credits, stop.

``time_scale`` 0.01 makes emulated minutes real seconds; every wait is bounded by ``WAIT``.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from liveavatar_emulator import EmulatorConfig

from .helpers import (
    WAIT,
    bearer,
    create,
    fast,
    key_headers,
    lite_body,
    lite_ws,
    running,
    started_lite,
    wait_until,
)


async def end_reason(http: httpx.AsyncClient, sid: str) -> str | None:
    """``end_reason`` from GET /v1/sessions/{id} (None while active)."""
    resp = await http.get(f"/v1/sessions/{sid}", headers=key_headers())
    reason: str | None = resp.json()["data"].get("end_reason")
    return reason


async def assert_ws_closed_with(
    config: EmulatorConfig, body: dict[str, object], reason: str
) -> None:
    """Start a LITE session, connect, stay silent; the server closes with ``reason``."""
    async with (
        running(config) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, _, data = await started_lite(http, body)
        async with lite_ws(data["ws_url"]) as ws:
            code, got = await ws.closed()
        assert (code, got) == (1000, reason)
        assert await end_reason(http, sid) == reason
        session = emu.registry.get(sid)
        assert session is not None and session.ended.is_set()


async def test_idle_timeout_closes_ws() -> None:
    await assert_ws_closed_with(fast(idle_timeout_s=50), lite_body(), "IDLE_TIMEOUT")


async def test_sandbox_limit_closes_ws() -> None:
    config = fast(sandbox_limit_s=60, idle_timeout_s=3000)
    await assert_ws_closed_with(config, lite_body(is_sandbox=True), "MAX_DURATION_REACHED")


async def test_max_duration_closes_ws() -> None:
    config = fast(idle_timeout_s=3000)
    body = lite_body(max_session_duration=30)
    await assert_ws_closed_with(config, body, "MAX_DURATION_REACHED")


async def test_credits_running_out_closes_ws() -> None:
    config = fast(idle_timeout_s=3000, initial_credits=1.5)  # 90 emulated s of LITE
    await assert_ws_closed_with(config, lite_body(), "NO_CREDITS")


async def test_unstarted_session_idles_out() -> None:
    async with (
        running(fast(idle_timeout_s=30)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, _ = await create(http)
        await wait_until(lambda: end_reason(http, sid))
        assert await end_reason(http, sid) == "IDLE_TIMEOUT"


@pytest.mark.parametrize("activity", ["ws_keep_alive", "ws_command", "rest_keep_alive"])
async def test_activity_extends_idle_window(activity: str) -> None:
    # Idle window 1 s real; activity every 0.1 s for 1.5 windows, then silence. The slack
    # (0.9 s between activities) keeps it steady on a loaded machine.
    async with (
        running(fast(idle_timeout_s=100)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token, data = await started_lite(http)
        async with lite_ws(data["ws_url"]) as ws:
            for i in range(15):
                if activity == "ws_keep_alive":
                    await ws.send({"type": "session.keep_alive", "event_id": f"k{i}"})
                elif activity == "ws_command":
                    kind = "agent.start_listening" if i % 2 == 0 else "agent.stop_listening"
                    await ws.send({"type": kind})
                else:
                    resp = await http.post("/v1/sessions/keep-alive", headers=bearer(token))
                    assert resp.status_code == 200
                await asyncio.sleep(0.1)
            assert await end_reason(http, sid) is None
            code, reason = await ws.closed()
        assert (code, reason) == (1000, "IDLE_TIMEOUT")


@pytest.mark.parametrize("how", ["stop", "delete", "stop_api_key"])
async def test_rest_stop_closes_ws(how: str) -> None:
    async with (
        running(fast()) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token, data = await started_lite(http)
        async with lite_ws(data["ws_url"]) as ws:
            if how == "stop":
                await http.post("/v1/sessions/stop", headers=bearer(token))
                expected = "USER_CLOSED"
            elif how == "delete":
                await http.delete("/v1/sessions", headers=bearer(token))
                expected = "USER_CLOSED"
            else:
                body = {"session_id": sid, "reason": "AGENT_HANG_UP"}
                await http.post("/v1/sessions/stop", headers=key_headers(), json=body)
                expected = "AGENT_HANG_UP"
            assert await ws.closed() == (1000, expected)
        assert await end_reason(http, sid) == expected


async def test_credits_are_consumed() -> None:
    async with (
        running(fast()) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        before = emu.registry.credits
        _, token, _ = await started_lite(http)
        await asyncio.sleep(0.3)  # 30 emulated seconds
        await http.post("/v1/sessions/stop", headers=bearer(token))
        assert emu.registry.credits < before
        resp = await http.get("/v1/users/credits", headers=key_headers())
        assert float(resp.json()["data"]["credits_left"]) < before


async def test_closing_state_before_server_close() -> None:
    async with (
        running(fast(lite_send_closing_state=True, ws_close_code=4000)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        _, token, data = await started_lite(http)
        async with lite_ws(data["ws_url"]) as ws:
            await http.post("/v1/sessions/stop", headers=bearer(token))
            assert await ws.closed() == (4000, "USER_CLOSED")
        assert ws.events[-1] == {"type": "session.state_updated", "state": "closing"}

"""Scoped REST faults: per endpoint, per session, lost answers, dropped connections."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from liveavatar_emulator import Emulator

from .helpers import WAIT, bearer, create, key_headers, lite_body, start


async def arm(client: httpx.AsyncClient, **rule: object) -> dict[str, object]:
    resp = await client.post("/_emulator/faults/rules", json=rule)
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


async def active(client: httpx.AsyncClient) -> list[str]:
    ids: list[str] = (await client.get("/_emulator/active")).json()["active"]
    return ids


async def test_error_on_start_only_leaves_token_working(client: httpx.AsyncClient) -> None:
    await arm(client, action="error", endpoint="start", status=502, times=1)
    sid, token = await create(client)  # /token is not hit by a /start rule.
    resp = await client.post("/v1/sessions/start", json={"session_id": sid}, headers=bearer(token))
    assert resp.status_code == 502
    started = await start(client, token)  # The rule was for one call only.
    assert started["session_id"] == sid


async def test_rule_scoped_to_one_session(client: httpx.AsyncClient) -> None:
    sid_a, token_a = await create(client)
    sid_b, token_b = await create(client)
    await arm(client, action="error", endpoint="stop", session_id=sid_a, times=-1, status=500)
    await start(client, token_a)
    await start(client, token_b)
    for _ in range(3):
        resp = await client.post(
            "/v1/sessions/stop", json={"session_id": sid_a}, headers=key_headers()
        )
        assert resp.status_code == 500
    resp = await client.post("/v1/sessions/stop", json={"session_id": sid_b}, headers=key_headers())
    assert resp.status_code == 200
    assert await active(client) == [sid_a]
    state = (await client.get("/_emulator/faults")).json()
    assert state["rules"][0]["hits"] == 3
    await client.delete("/_emulator/faults/rules")
    resp = await client.post("/v1/sessions/stop", json={"session_id": sid_a}, headers=key_headers())
    assert resp.status_code == 200


async def hit_sessions(client: httpx.AsyncClient) -> list[str]:
    """The sessions the first fault rule's requests created."""
    sessions: list[str] = (await client.get("/_emulator/faults")).json()["rules"][0]["hit_sessions"]
    return sessions


async def test_lost_token_answer_still_creates_the_session(emu: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as client:
        await arm(client, action="lose", endpoint="token", delay_s=2.0)
        with pytest.raises(httpx.ReadTimeout):
            # The answer is held 2 s, then lost: give up well before, as a client would.
            await client.post(
                "/v1/sessions/token", json=lite_body(), headers=key_headers(), timeout=0.3
            )
        # On a loaded machine the timeout may fire before the emulator handled the request:
        # wait (bounded) for the session it created rather than assume it within 0.3 s.
        async with asyncio.timeout(WAIT):
            while not (created := await hit_sessions(client)):  # noqa: ASYNC110 (no event)
                await asyncio.sleep(0.05)
    assert len(created) == 1
    sessions = [s.id for s in emu.registry.all()]
    assert sessions == created


async def test_dropped_start_answer_cuts_the_connection(client: httpx.AsyncClient) -> None:
    sid, token = await create(client)
    await arm(client, action="drop", endpoint="/v1/sessions/start")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/v1/sessions/start", json={"session_id": sid}, headers=bearer(token))
    assert await active(client) == [sid]
    detail = (await client.get(f"/_emulator/sessions/{sid}")).json()
    assert detail["started_at"] is not None


async def test_delay_before_route_and_fail_next_still_works(client: httpx.AsyncClient) -> None:
    rule = await arm(client, action="delay", endpoint="token", delay_s=0.05, times=2)
    assert rule["id"] == 1
    await create(client)
    await client.post("/_emulator/faults", json={"fail_next": 1, "status": 503})
    resp = await client.post("/v1/sessions/token", json=lite_body(), headers=key_headers())
    assert resp.status_code == 503
    state = (await client.get("/_emulator/faults")).json()
    assert state["failed"] == 1
    assert state["rules"][0]["hits"] == 1  # The global switch answered before the rule.

"""REST bodies pinned whole: envelopes, messages, list entries and pagination (reference §2).

Success is ``{"code": 1000, "message", "data"}`` with 200 (201 for start); errors are
``{"code": status * 10, "message", "data": null}`` (§2.2, the emulator's documented default).
Messages are the emulator's own, pinned here because clients surface them.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import pytest

from liveavatar_emulator import Emulator

from .helpers import (
    AVATAR_ID,
    WAIT,
    bearer,
    create,
    fast,
    full_body,
    key_headers,
    lite_body,
    running,
    start,
    started_lite,
    wait_until,
)


def error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": status * 10, "message": message, "data": None}


def got(resp: httpx.Response) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = resp.json()
    return resp.status_code, body


def success(data: Any, message: str = "Success", status: int = 200) -> tuple[int, dict[str, Any]]:
    return status, {"code": 1000, "message": message, "data": data}


# -- token and start -----------------------------------------------------------------------------


async def test_token_message_and_jwt_mode(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/v1/sessions/token", json=lite_body(mode="CUSTOM"), headers=key_headers()
    )
    status, body = got(resp)
    assert (status, body["code"], body["message"]) == (200, 1000, "Session token created")
    assert set(body["data"]) == {"session_id", "session_token"}
    payload = jwt.decode(body["data"]["session_token"], options={"verify_signature": False})
    assert payload["start_session_data"]["mode"] == "LITE"
    assert payload["session_id"] == body["data"]["session_id"]


async def test_sandbox_avatar_is_enforced_when_asked() -> None:
    async with (
        running(fast(enforce_sandbox_avatar=True)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        other = lite_body(is_sandbox=True, avatar_id=str(uuid.uuid4()))
        resp = await http.post("/v1/sessions/token", json=other, headers=key_headers())
        assert got(resp) == error(400, "Sandbox sessions may only use the sandbox avatar")
        wayne = lite_body(is_sandbox=True, avatar_id="dd73ea75-1218-4ef3-92ce-606d5f7fbc0a")
        ok = await http.post("/v1/sessions/token", json=wayne, headers=key_headers())
        assert ok.status_code == 200
        # Not a sandbox session: any avatar.
        paid = lite_body(avatar_id=str(uuid.uuid4()))
        assert (await http.post("/v1/sessions/token", json=paid, headers=key_headers())).is_success


async def test_sandbox_avatar_not_enforced_by_default(client: httpx.AsyncClient) -> None:
    other = lite_body(is_sandbox=True, avatar_id=str(uuid.uuid4()))
    assert (await client.post("/v1/sessions/token", json=other, headers=key_headers())).is_success


async def test_start_errors_name_the_problem(client: httpx.AsyncClient) -> None:
    _, token = await create(client)
    mismatch = await client.post(
        "/v1/sessions/start", headers=bearer(token), json={"session_id": str(uuid.uuid4())}
    )
    assert got(mismatch) == error(400, "session_id does not match the session token")
    first = await client.post("/v1/sessions/start", headers=bearer(token))
    assert got(first)[1]["message"] == "Session started" and first.status_code == 201
    assert got(await client.post("/v1/sessions/start", headers=bearer(token))) == error(
        400, "Session is already started"
    )
    await client.post("/v1/sessions/stop", headers=bearer(token))
    assert got(await client.post("/v1/sessions/start", headers=bearer(token))) == error(
        400, "Session has already ended"
    )


async def test_start_needs_one_minute_of_credit() -> None:
    # LITE costs 1 credit a minute, FULL 2: exactly one minute's worth is enough.
    async with (
        running(fast(initial_credits=1.0)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        _, full_token = await create(http, full_body())
        refused = await http.post("/v1/sessions/start", headers=bearer(full_token))
        assert got(refused) == error(400, "Insufficient credits to start a session")
        _, lite_token = await create(http)
        assert (
            await http.post("/v1/sessions/start", headers=bearer(lite_token))
        ).status_code == 201
    async with (
        running(fast(initial_credits=0.0)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        _, sandbox_token = await create(http, lite_body(is_sandbox=True))
        sandbox = await http.post("/v1/sessions/start", headers=bearer(sandbox_token))
        assert sandbox.status_code == 201  # sandbox sessions are free


async def test_livekit_tokens_outlive_the_session_by_ten_minutes(
    emu: Emulator, client: httpx.AsyncClient
) -> None:
    sid, token = await create(client, lite_body(max_session_duration=600))
    data = await start(client, token)
    for name, kind in (("livekit_client_token", None), ("livekit_agent_token", "agent")):
        claims = jwt.decode(data[name], emu.config.livekit_api_secret, algorithms=["HS256"])
        assert claims["exp"] - claims["nbf"] == pytest.approx(600 + 600, abs=2)
        assert claims["video"]["roomJoin"] is True and claims["video"]["room"] == sid
        assert claims.get("kind") == kind


async def test_full_tokens_without_a_backend() -> None:
    async with (
        running(fast(full_agent_token=True)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token = await create(http, full_body(max_session_duration=300))
        data = await start(http, token)
        assert data["livekit_url"] == "ws://127.0.0.1:7880"
        assert data["max_session_duration"] == 300
        secret = emu.config.livekit_api_secret
        client_claims = jwt.decode(data["livekit_client_token"], secret, algorithms=["HS256"])
        agent_claims = jwt.decode(data["livekit_agent_token"], secret, algorithms=["HS256"])
        assert client_claims["sub"] == "client" and client_claims.get("kind") is None
        assert agent_claims["sub"] == f"agent-{sid.replace('-', '')[:8]}"
        assert agent_claims["kind"] == "agent"
        assert client_claims["exp"] - client_claims["nbf"] == pytest.approx(900, abs=2)


async def test_ws_url_uses_the_public_host_and_port() -> None:
    async with (
        running(fast(public_host="avatar.example", public_port=443)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, _, data = await started_lite(http)
        assert data["ws_url"].startswith(f"ws://avatar.example:443/v1/lite/{sid}?token=")


# -- stop and keep-alive --------------------------------------------------------------------------


async def test_stop_and_keep_alive_messages(client: httpx.AsyncClient) -> None:
    _, token, _ = await started_lite(client)
    ka = await client.post("/v1/sessions/keep-alive", headers=bearer(token))
    assert got(ka) == success(None, "Session kept alive")
    stop = await client.post("/v1/sessions/stop", headers=bearer(token))
    assert got(stop) == success(None, "Session stopped")
    again = await client.post("/v1/sessions/stop", headers=bearer(token))
    assert got(again) == success(None, "Session already stopped")
    ka = await client.post("/v1/sessions/keep-alive", headers=bearer(token))
    assert got(ka) == error(400, "Session is not active")


async def test_stop_target_errors(client: httpx.AsyncClient) -> None:
    sid, token, _ = await started_lite(client)
    other, _ = await create(client)
    mismatch = await client.post(
        "/v1/sessions/stop", headers=bearer(token), json={"session_id": other}
    )
    assert got(mismatch) == error(400, "session_id does not match the session token")
    missing = await client.post("/v1/sessions/keep-alive", headers=key_headers(), json={})
    assert got(missing) == error(400, "session_id is required when authenticating with an API key")
    unknown = await client.post(
        "/v1/sessions/stop", headers=key_headers(), json={"session_id": str(uuid.uuid4())}
    )
    assert got(unknown) == error(404, "Session not found")
    # A matching session_id with the Bearer token is fine.
    same = await client.post("/v1/sessions/stop", headers=bearer(token), json={"session_id": sid})
    assert got(same) == success(None, "Session stopped")


async def test_delete_alias_takes_a_reason_and_checks_the_id(client: httpx.AsyncClient) -> None:
    sid, token, _ = await started_lite(client)
    other, _ = await create(client)
    mismatch = await client.request(
        "DELETE", "/v1/sessions", headers=bearer(token), json={"session_id": other}
    )
    assert got(mismatch) == error(400, "session_id does not match the session token")
    resp = await client.request(
        "DELETE", "/v1/sessions", headers=bearer(token), json={"reason": "AGENT_HANG_UP"}
    )
    assert got(resp) == success(None, "Session stopped")
    entry = (await client.get(f"/v1/sessions/{sid}", headers=key_headers())).json()["data"]
    assert entry["end_reason"] == "AGENT_HANG_UP"


async def test_keep_alive_extends_the_idle_window(emu: Emulator, client: httpx.AsyncClient) -> None:
    sid, _, _ = await started_lite(client)
    session = emu.registry.get(sid)
    assert session is not None
    before = session._last_activity
    body = {"session_id": sid}
    assert (
        await client.post("/v1/sessions/keep-alive", headers=key_headers(), json=body)
    ).is_success
    assert session._last_activity > before


# -- listing --------------------------------------------------------------------------------------


async def test_entries_newest_first_with_exact_fields(
    emu: Emulator, client: httpx.AsyncClient
) -> None:
    older, _, _ = await started_lite(client)
    newer, newer_token, _ = await started_lite(client)
    active = await client.get("/v1/sessions", params={"type": "active"}, headers=key_headers())
    assert [e["id"] for e in active.json()["data"]["results"]] == [newer, older]
    session = emu.registry.get(newer)
    assert session is not None
    entry = active.json()["data"]["results"][0]
    assert entry["created_at"] == session.created_at.isoformat()
    assert entry["updated_at"] == session.updated_at.isoformat()
    assert isinstance(entry["duration"], int) and entry["duration"] >= 0
    assert entry["credits_consumed"] >= 0
    await client.post("/v1/sessions/stop", headers=bearer(newer_token))
    ended = (await client.get(f"/v1/sessions/{newer}", headers=key_headers())).json()["data"]
    assert session.ended_at is not None
    assert ended["end_at"] == session.ended_at.isoformat()
    assert ended["credits_consumed"] == session.credits_consumed
    assert ended["duration"] == int(session.duration_s())


async def test_active_credits_follow_the_emulated_minutes(
    emu: Emulator, client: httpx.AsyncClient
) -> None:
    # time_scale 0.01: 0.6 real seconds are one emulated minute = 1 LITE credit (2 for FULL).
    lite_sid, _, _ = await started_lite(client)
    full_sid, full_token = await create(client, full_body())
    await start(client, full_token)
    session = emu.registry.get(full_sid)
    assert session is not None
    await wait_until(lambda: session.duration_s() >= 61)
    for sid, per_minute in ((lite_sid, 1.0), (full_sid, 2.0)):
        entry = (await client.get(f"/v1/sessions/{sid}", headers=key_headers())).json()["data"]
        minutes = entry["duration"] / 60  # duration is floored to whole seconds
        assert entry["duration"] >= 61
        assert minutes * per_minute <= entry["credits_consumed"]
        # The duration is floored to whole seconds and the credits rounded to 4 decimals.
        ceiling = (entry["duration"] + 1) / 60 * per_minute + 0.00005
        assert entry["credits_consumed"] <= ceiling


async def test_filters(client: httpx.AsyncClient) -> None:
    context = str(uuid.uuid4())
    persona = {"voice_id": str(uuid.uuid4()), "context_id": context, "language": "en"}
    other_avatar = str(uuid.uuid4())
    a, _ = await create(client, lite_body())
    b, _ = await create(client, lite_body(avatar_id=other_avatar))
    c, _ = await create(client, full_body(avatar_persona=persona))

    async def ids(**params: Any) -> list[str]:
        resp = await client.get(
            "/v1/sessions", params={"type": "active", **params}, headers=key_headers()
        )
        return [e["id"] for e in resp.json()["data"]["results"]]

    assert await ids() == [c, b, a]
    assert await ids(avatar_id=other_avatar) == [b]
    assert await ids(avatar_id=AVATAR_ID) == [c, a]
    assert await ids(context_id=context) == [c]
    assert await ids(embed_id=str(uuid.uuid4())) == []
    assert await ids(type="historic") == []


async def test_pagination_links(client: httpx.AsyncClient) -> None:
    made = [(await create(client))[0] for _ in range(5)]

    async def page(n: int) -> dict[str, Any]:
        resp = await client.get(
            "/v1/sessions",
            params={"type": "active", "page": n, "page_size": 2},
            headers=key_headers(),
        )
        data: dict[str, Any] = resp.json()["data"]
        return data

    first, second, third, beyond = await page(1), await page(2), await page(3), await page(4)
    assert [first["count"], second["count"], third["count"]] == [5, 5, 5]
    newest_first = made[::-1]
    assert [e["id"] for e in first["results"]] == newest_first[0:2]
    assert [e["id"] for e in second["results"]] == newest_first[2:4]
    assert [e["id"] for e in third["results"]] == newest_first[4:5]
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page=3" in second["next"]
    assert "page=1" in second["previous"] and "page=2" in third["previous"]
    assert third["next"] is None
    assert beyond["results"] == [] and beyond["next"] is None
    assert "page=3" in beyond["previous"]
    empty = await client.get(
        "/v1/sessions", params={"type": "historic", "page": 2}, headers=key_headers()
    )
    assert empty.json()["data"] == {"count": 0, "next": None, "previous": None, "results": []}


async def test_exactly_one_full_page_has_no_next(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        await create(client)
    resp = await client.get(
        "/v1/sessions", params={"type": "active", "page_size": 2}, headers=key_headers()
    )
    assert resp.json()["data"]["next"] is None


async def test_get_unknown_session_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"/v1/sessions/{uuid.uuid4()}", headers=key_headers())
    assert got(resp) == error(404, "Session not found")


# -- catalogue and credits -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/voices", "/v1/contexts"])
async def test_catalogue_needs_the_api_key_and_pages(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 401
    resp = await client.get(path, params={"page_size": 1}, headers=key_headers())
    status, body = got(resp)
    assert (status, body["code"]) == (200, 1000)
    assert len(body["data"]["results"]) == 1
    assert body["data"]["count"] >= 1


async def test_public_avatars_page(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/avatars/public", params={"page": 1, "page_size": 1})
    data = resp.json()["data"]
    assert [a["id"] for a in data["results"]] == ["dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"]
    assert data["count"] == 2 and data["next"] is not None
    second = (await client.get(data["next"])).json()["data"]["results"]
    assert [a["id"] for a in second] == ["65f9e3c9-d48b-4118-b73a-4ae2e3cbb8f0"]


async def test_credits_are_a_two_decimal_string() -> None:
    async with (
        running(fast(initial_credits=12.345)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        resp = await http.get("/v1/users/credits", headers=key_headers())
        assert got(resp) == success({"credits_left": "12.35"})

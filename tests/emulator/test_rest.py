"""REST API of the emulator: auth, status codes, body shapes (reference §2)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import jwt
import pytest

from liveavatar_emulator import Emulator

from .helpers import (
    API_KEY,
    AVATAR_ID,
    WAIT,
    bearer,
    create,
    fast,
    full_body,
    inspect,
    key_headers,
    lite_body,
    running,
    start,
    started_lite,
)


def assert_error(resp: httpx.Response, status: int) -> None:
    """Non-2xx envelope: ``{"code": 4xxx, "message": str, "data": None}``."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["data"] is None
    assert isinstance(body["message"], str) and body["message"]
    assert body["code"] == status * 10


def assert_422(resp: httpx.Response, field: str | None = None) -> list[dict[str, Any]]:
    """FastAPI's validation shape; optionally that ``field`` appears in some ``loc``."""
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert {"loc", "msg", "type"} <= item.keys()
    if field is not None:
        assert any(field in item["loc"] for item in detail), detail
    return detail


def claims(token: str) -> dict[str, Any]:
    """JWT payload without verifying the signature (as the web SDK does)."""
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


# -- /token ---------------------------------------------------------------------------------


async def test_token_success_envelope_and_jwt(client: httpx.AsyncClient) -> None:
    body = lite_body(is_sandbox=False, video_quality="high", video_settings={"quality": "low"})
    resp = await client.post("/v1/sessions/token", json=body, headers=key_headers())
    assert resp.status_code == 200
    envelope = resp.json()
    assert envelope["code"] == 1000
    assert isinstance(envelope["message"], str)
    data = envelope["data"]
    assert set(data) == {"session_id", "session_token"}
    uuid.UUID(data["session_id"])
    payload = claims(data["session_token"])
    assert payload["session_id"] == data["session_id"]
    ssd = payload["start_session_data"]
    assert ssd["mode"] == "LITE"
    assert ssd["avatar_id"] == AVATAR_ID
    assert ssd["video_quality"] == "high"  # extra field tolerated and mirrored
    assert ssd["video_settings"]["quality"] == "low"


async def test_token_full_mirrors_persona(client: httpx.AsyncClient) -> None:
    body = full_body(interactivity_type="PUSH_TO_TALK")
    _, token = await create(client, body)
    ssd = claims(token)["start_session_data"]
    assert ssd["mode"] == "FULL"
    assert ssd["interactivity_type"] == "PUSH_TO_TALK"
    assert ssd["avatar_persona"]["context_id"] == body["avatar_persona"]["context_id"]


async def test_token_custom_is_lite_and_lite_tolerates_persona(client: httpx.AsyncClient) -> None:
    sid, token = await create(client, lite_body(mode="CUSTOM", avatar_persona={"language": "de"}))
    assert claims(token)["start_session_data"]["mode"] == "LITE"
    data = await start(client, token)
    assert "ws_url" in data
    resp = await client.get(f"/v1/sessions/{sid}", headers=key_headers())
    assert resp.json()["data"]["mode"] == "LITE"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-KEY": "wrong"}, {"Authorization": "Bearer whatever"}],
    ids=["none", "wrong-key", "bearer"],
)
async def test_token_requires_api_key(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    resp = await client.post("/v1/sessions/token", json=lite_body(), headers=headers)
    assert_error(resp, 401)


async def test_token_bearer_of_real_session_is_rejected(client: httpx.AsyncClient) -> None:
    _, token = await create(client)
    resp = await client.post("/v1/sessions/token", json=lite_body(), headers=bearer(token))
    assert_error(resp, 401)


async def test_token_validation_422(client: httpx.AsyncClient) -> None:
    h = key_headers()
    assert_422(await client.post("/v1/sessions/token", json={"avatar_id": AVATAR_ID}, headers=h))
    no_persona = {"mode": "FULL", "avatar_id": AVATAR_ID}
    assert_422(
        await client.post("/v1/sessions/token", json=no_persona, headers=h), "avatar_persona"
    )
    bad_uuid = lite_body(avatar_id="not-a-uuid")
    assert_422(await client.post("/v1/sessions/token", json=bad_uuid, headers=h), "avatar_id")
    bad_mode = lite_body(mode="TURBO")
    assert_422(await client.post("/v1/sessions/token", json=bad_mode, headers=h))
    bad_cfg = lite_body(livekit_config={"livekit_url": "wss://x"})
    assert_422(await client.post("/v1/sessions/token", json=bad_cfg, headers=h), "livekit_room")


# -- /start ---------------------------------------------------------------------------------


async def test_start_lite_hosted_has_all_six_fields(
    emu: Emulator, client: httpx.AsyncClient
) -> None:
    sid, token = await create(client)
    resp = await client.post("/v1/sessions/start", headers=bearer(token))
    assert resp.status_code == 201
    assert resp.json()["code"] == 1000
    data = resp.json()["data"]
    assert set(data) == {
        "session_id",
        "livekit_url",
        "livekit_client_token",
        "livekit_agent_token",
        "max_session_duration",
        "ws_url",
    }
    assert data["session_id"] == sid
    assert data["livekit_url"] == emu.config.livekit_url
    assert data["max_session_duration"] == 1200
    assert data["ws_url"].startswith(f"ws://127.0.0.1:{emu.port}/v1/lite/{sid}?token=")
    client_claims = jwt.decode(
        data["livekit_client_token"], emu.config.livekit_api_secret, algorithms=["HS256"]
    )
    agent_claims = claims(data["livekit_agent_token"])
    assert client_claims["video"]["room"] == sid and agent_claims["video"]["room"] == sid
    assert client_claims["sub"] == "client"
    assert agent_claims["sub"] == f"agent-{sid.replace('-', '')[:8]}"
    assert client_claims["iss"] == emu.config.livekit_api_key


@pytest.mark.parametrize("body", [None, {}, "own-id"], ids=["no-body", "empty", "session_id"])
async def test_start_body_variants(client: httpx.AsyncClient, body: Any) -> None:
    sid, token = await create(client)
    kwargs: dict[str, Any] = {} if body is None else {"json": {"session_id": sid}}
    if body == {}:
        kwargs = {"json": {}}
    resp = await client.post("/v1/sessions/start", headers=bearer(token), **kwargs)
    assert resp.status_code == 201, resp.text
    # Whatever the body, the Bearer token names the session, and that session is the one started.
    envelope = resp.json()
    assert envelope["code"] == 1000
    assert envelope["data"]["session_id"] == sid
    assert (await inspect(client, sid))["status"] == "started"


async def test_start_auth_rules(client: httpx.AsyncClient) -> None:
    await create(client)
    assert_error(await client.post("/v1/sessions/start", headers=key_headers()), 401)
    assert_error(await client.post("/v1/sessions/start"), 401)
    assert_error(await client.post("/v1/sessions/start", headers=bearer("garbage")), 401)
    forged = jwt.encode({"session_id": "x", "iss": "liveavatar-emulator"}, "other-secret-" * 4)
    assert_error(await client.post("/v1/sessions/start", headers=bearer(forged)), 401)


async def test_start_mismatched_session_id_is_400(client: httpx.AsyncClient) -> None:
    _, token = await create(client)
    resp = await client.post(
        "/v1/sessions/start", headers=bearer(token), json={"session_id": str(uuid.uuid4())}
    )
    assert_error(resp, 400)


async def test_start_twice_and_after_stop_is_400(client: httpx.AsyncClient) -> None:
    _, token, _ = await started_lite(client)
    again = await client.post("/v1/sessions/start", headers=bearer(token))
    assert_error(again, 400)
    assert again.json()["code"] == 4000
    _, token2 = await create(client)
    await client.post("/v1/sessions/stop", headers=bearer(token2))
    assert_error(await client.post("/v1/sessions/start", headers=bearer(token2)), 400)


async def test_start_lite_byo_livekit_config() -> None:
    byo = {"livekit_url": "wss://mine", "livekit_room": "r", "livekit_client_token": "tok"}
    for echo in (False, True):
        async with (
            running(fast(lite_byo_echo_livekit=echo)) as emu,
            httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
        ):
            _, token = await create(http, lite_body(livekit_config=byo))
            data = await start(http, token)
            expected = {"session_id", "ws_url", "max_session_duration"}
            if echo:
                expected |= {"livekit_url", "livekit_client_token"}
                assert data["livekit_url"] == "wss://mine"
                assert data["livekit_client_token"] == "tok"
            assert set(data) == expected


async def test_start_full_without_backend() -> None:
    for agent in (False, True):
        async with (
            running(fast(full_agent_token=agent)) as emu,
            httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
        ):
            sid, token = await create(http, full_body())
            data = await start(http, token)
            expected = {"session_id", "livekit_url", "livekit_client_token", "max_session_duration"}
            if agent:
                expected.add("livekit_agent_token")
            assert set(data) == expected
            assert claims(data["livekit_client_token"])["video"]["room"] == sid


class FakeBackend:
    """Records the FullBackend calls."""

    livekit_url = "ws://fake-livekit:7880"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    def tokens_for(self, session: Any) -> tuple[str, str | None]:
        self.calls.append(("tokens_for", session.id, None))
        return "client-tok", "agent-tok"

    async def session_started(self, session: Any) -> None:
        self.calls.append(("started", session.id, None))

    async def session_ended(self, session: Any, reason: str) -> None:
        self.calls.append(("ended", session.id, reason))

    async def lite_session_started(
        self, session: Any, room_name: str | None = None, identity: str | None = None
    ) -> Any:
        self.calls.append(("lite_started", session.id, room_name))
        return None

    async def lite_session_remote(self, session: Any, url: str, token: str) -> Any:
        self.calls.append(("lite_remote", session.id, url))
        return None

    def verifies(self, token: str) -> tuple[str, str] | None:
        return ("byo-room", "byo-avatar") if token == "byo-ok" else None

    def mint(self, room: str, identity: str, *, agent: bool = False) -> str:
        return f"{room}:{identity}:{'agent' if agent else 'standard'}"


async def test_start_full_with_backend() -> None:
    backend = FakeBackend()
    async with (
        Emulator(fast(full_agent_token=True), full_backend=backend) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token = await create(http, full_body())
        lite_sid, lite_token = await create(http)
        await start(http, lite_token)
        data = await start(http, token)
        assert data["livekit_url"] == "ws://fake-livekit:7880"
        assert data["livekit_client_token"] == "client-tok"
        assert data["livekit_agent_token"] == "agent-tok"
        assert "ws_url" not in data
        resp = await http.post(
            "/v1/sessions/stop",
            headers=key_headers(),
            json={"session_id": sid, "reason": "USER_CLOSED"},
        )
        assert resp.status_code == 200
    assert [c for c in backend.calls if c[1] == sid] == [
        ("tokens_for", sid, None),
        ("started", sid, None),
        ("ended", sid, "USER_CLOSED"),
    ]
    # The LITE session's hosted room is on the backend's LiveKit server too.
    # (ended UNKNOWN: the emulator's shutdown ended it.)
    assert [c for c in backend.calls if c[1] == lite_sid] == [
        ("lite_started", lite_sid, None),
        ("ended", lite_sid, "UNKNOWN"),
    ]


async def test_lite_hosted_room_uses_the_backends_server_and_tokens() -> None:
    backend = FakeBackend()
    async with (
        Emulator(fast(), full_backend=backend) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token = await create(http)
        data = await start(http, token)
        assert data["livekit_url"] == "ws://fake-livekit:7880"
        assert data["livekit_client_token"] == f"{sid}:client:standard"
        assert data["livekit_agent_token"] == f"{sid}:agent-{sid.replace('-', '')[:8]}:agent"
        assert data["ws_url"].startswith("ws://")
        await http.post("/v1/sessions/stop", headers=bearer(token))
    assert backend.calls == [("lite_started", sid, None), ("ended", sid, "USER_CLOSED")]


@pytest.mark.parametrize(("byo_token", "joined"), [("byo-ok", True), ("elsewhere", False)])
async def test_lite_byo_room_joined_in_server_or_as_a_remote_client(
    byo_token: str, joined: bool
) -> None:
    backend = FakeBackend()
    byo = {"livekit_url": "ws://x", "livekit_room": "byo-room", "livekit_client_token": byo_token}
    async with (
        Emulator(fast(), full_backend=backend) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token = await create(http, lite_body(livekit_config=byo))
        data = await start(http, token)
        assert "livekit_client_token" not in data
    first = ("lite_started", sid, "byo-room") if joined else ("lite_remote", sid, "ws://x")
    assert backend.calls == [first, ("ended", sid, "UNKNOWN")]


@pytest.mark.parametrize(("requested", "effective"), [(None, 1200), (600, 600), (5000, 1200)])
async def test_max_session_duration_is_clamped(
    client: httpx.AsyncClient, requested: int | None, effective: int
) -> None:
    body = lite_body() if requested is None else lite_body(max_session_duration=requested)
    _, token = await create(client, body)
    assert (await start(client, token))["max_session_duration"] == effective


async def test_start_without_credits_is_400() -> None:
    async with (
        running(fast(initial_credits=0.5)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        _, token = await create(http)
        assert_error(await http.post("/v1/sessions/start", headers=bearer(token)), 400)
        _, sandbox_token = await create(http, lite_body(is_sandbox=True))
        await start(http, sandbox_token)  # sandbox is free


# -- stop / DELETE / keep-alive --------------------------------------------------------------


async def entry(http: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    """GET /v1/sessions/{id} data."""
    resp = await http.get(f"/v1/sessions/{sid}", headers=key_headers())
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def test_stop_bearer_no_body_is_user_closed(client: httpx.AsyncClient) -> None:
    sid, token, _ = await started_lite(client)
    resp = await client.post("/v1/sessions/stop", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json()["code"] == 1000
    assert (await entry(client, sid))["end_reason"] == "USER_CLOSED"


async def test_stop_bearer_body_without_reason_uses_field_default(
    client: httpx.AsyncClient,
) -> None:
    sid, token, _ = await started_lite(client)
    resp = await client.post("/v1/sessions/stop", headers=bearer(token), json={"session_id": sid})
    assert resp.status_code == 200
    assert (await entry(client, sid))["end_reason"] == "UNKNOWN"


async def test_stop_with_api_key(client: httpx.AsyncClient) -> None:
    sid, _, _ = await started_lite(client)
    assert_error(await client.post("/v1/sessions/stop", headers=key_headers()), 400)
    assert_error(await client.post("/v1/sessions/stop", headers=key_headers(), json={}), 400)
    unknown = {"session_id": str(uuid.uuid4())}
    assert_error(await client.post("/v1/sessions/stop", headers=key_headers(), json=unknown), 404)
    body = {"session_id": sid, "reason": "USER_DISCONNECTED"}
    resp = await client.post("/v1/sessions/stop", headers=key_headers(), json=body)
    assert resp.status_code == 200
    assert (await entry(client, sid))["end_reason"] == "USER_DISCONNECTED"
    again = await client.post("/v1/sessions/stop", headers=key_headers(), json=body)
    assert again.status_code == 200  # idempotent
    assert (await entry(client, sid))["end_reason"] == "USER_DISCONNECTED"


async def test_stop_rejects_bad_reason_and_auth(client: httpx.AsyncClient) -> None:
    sid, token, _ = await started_lite(client)
    bad = await client.post("/v1/sessions/stop", headers=bearer(token), json={"reason": "BORED"})
    assert_422(bad, "reason")
    assert_error(await client.post("/v1/sessions/stop", json={"session_id": sid}), 401)
    wrong = {"X-API-KEY": "nope"}
    assert_error(
        await client.post("/v1/sessions/stop", headers=wrong, json={"session_id": sid}), 401
    )


async def test_delete_alias(client: httpx.AsyncClient) -> None:
    sid, token, _ = await started_lite(client)
    assert_error(await client.delete("/v1/sessions", headers=key_headers()), 401)
    resp = await client.delete("/v1/sessions", headers=bearer(token))
    assert resp.status_code == 200
    assert (await entry(client, sid))["end_reason"] == "USER_CLOSED"


async def test_keep_alive_either_auth(client: httpx.AsyncClient) -> None:
    sid, token, _ = await started_lite(client)
    ka = "/v1/sessions/keep-alive"
    assert (await client.post(ka, headers=bearer(token))).status_code == 200
    assert (await client.post(ka, headers=bearer(token), json={})).status_code == 200
    assert (
        await client.post(ka, headers=key_headers(), json={"session_id": sid})
    ).status_code == 200
    assert_error(await client.post(ka, headers=key_headers()), 400)
    assert_error(await client.post(ka), 401)
    await client.post("/v1/sessions/stop", headers=bearer(token))
    assert_error(await client.post(ka, headers=bearer(token)), 400)


# -- list / get / extras ------------------------------------------------------------------------


async def test_list_and_get(client: httpx.AsyncClient) -> None:
    assert_422(await client.get("/v1/sessions", headers=key_headers()), "type")
    assert_error(await client.get("/v1/sessions", params={"type": "active"}), 401)
    active_sid, _, _ = await started_lite(client)
    ended_sid, ended_token, _ = await started_lite(client)
    await client.post("/v1/sessions/stop", headers=bearer(ended_token))

    resp = await client.get("/v1/sessions", params={"type": "active"}, headers=key_headers())
    data = resp.json()["data"]
    assert set(data) == {"count", "next", "previous", "results"}
    assert [e["id"] for e in data["results"]] == [active_sid]
    item = data["results"][0]
    assert set(item) == {
        "id",
        "created_at",
        "updated_at",
        "duration",
        "source",
        "mode",
        "is_sandbox",
        "credits_consumed",
    }
    assert item["source"] == "API" and item["mode"] == "LITE" and item["is_sandbox"] is False

    resp = await client.get("/v1/sessions", params={"type": "historic"}, headers=key_headers())
    hist = resp.json()["data"]["results"]
    assert [e["id"] for e in hist] == [ended_sid]
    assert hist[0]["end_reason"] == "USER_CLOSED" and "end_at" in hist[0]

    got = await client.get(f"/v1/sessions/{active_sid}", headers=key_headers())
    assert got.json()["data"]["id"] == active_sid
    missing = await client.get(f"/v1/sessions/{uuid.uuid4()}", headers=key_headers())
    assert_error(missing, 404)


async def test_list_pagination(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await started_lite(client)
    params: dict[str, str | int] = {"type": "active", "page_size": 2}
    first = (await client.get("/v1/sessions", params=params, headers=key_headers())).json()["data"]
    assert first["count"] == 3 and len(first["results"]) == 2
    assert first["previous"] is None and first["next"] is not None
    second = (await client.get(first["next"], headers=key_headers())).json()["data"]
    assert len(second["results"]) == 1 and second["next"] is None
    assert second["previous"] is not None
    bad = await client.get(
        "/v1/sessions", params={"type": "active", "page_size": 500}, headers=key_headers()
    )
    assert_422(bad, "page_size")


async def test_public_avatars_and_credits(client: httpx.AsyncClient) -> None:
    avatars = await client.get("/v1/avatars/public")
    assert avatars.status_code == 200
    ids = [a["id"] for a in avatars.json()["data"]["results"]]
    assert AVATAR_ID in ids
    assert_error(await client.get("/v1/users/credits"), 401)
    credits = await client.get("/v1/users/credits", headers=key_headers())
    assert float(credits.json()["data"]["credits_left"]) > 0


# -- fault injection ---------------------------------------------------------------------------


async def test_fault_injection_fails_next_calls(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/_emulator/faults", json={"fail_next": 2, "status": 503, "message": "down"}
    )
    assert resp.status_code == 200
    for _ in range(2):
        failed = await client.post("/v1/sessions/token", json=lite_body(), headers=key_headers())
        assert_error(failed, 503)
        assert failed.json()["message"] == "down"
    # inspection endpoints are not affected, and nothing was created
    assert (await client.get("/_emulator/sessions")).json()["sessions"] == []
    await create(client)
    assert (await client.get("/_emulator/faults")).json()["failed"] == 2


async def test_fault_injection_delay_triggers_client_timeout(client: httpx.AsyncClient) -> None:
    await client.post("/_emulator/faults", json={"delay_s": 0.5, "delay_next": 1})
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/v1/avatars/public", timeout=0.1)
    # the next call is not delayed
    resp = await client.get("/v1/avatars/public")
    assert resp.status_code == 200
    await asyncio.sleep(0)


async def test_api_key_never_echoed(client: httpx.AsyncClient) -> None:
    sid, _ = await create(client)
    detail = await client.get(f"/_emulator/sessions/{sid}")
    assert API_KEY not in detail.text


# -- CORS (HeyGen's web SDK calls the REST API from the page, with credentials) ----------------


async def test_cors_preflight_allows_credentialed_start(client: httpx.AsyncClient) -> None:
    resp = await client.options(
        "/v1/sessions/start",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert resp.headers["access-control-allow-credentials"] == "true"
    allowed = resp.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in resp.headers["access-control-allow-methods"]


async def test_cors_headers_on_the_actual_request(client: httpx.AsyncClient) -> None:
    _sid, token = await create(client)
    resp = await client.post(
        "/v1/sessions/stop", headers={**bearer(token), "Origin": "http://app.example"}
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "http://app.example"
    assert resp.headers["access-control-allow-credentials"] == "true"


async def test_cors_origins_are_configurable() -> None:
    async with (
        Emulator(fast(cors_origins=("http://good.example",))) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        good = await http.options(
            "/v1/sessions/start", headers={"Origin": "http://good.example", **preflight}
        )
        assert good.headers["access-control-allow-origin"] == "http://good.example"
        bad = await http.options(
            "/v1/sessions/start", headers={"Origin": "http://evil.example", **preflight}
        )
        assert bad.status_code == 400
        assert "access-control-allow-origin" not in bad.headers

"""REST edges the mutation run found unpinned (issue 12): the envelope helpers themselves, a
failed start, the port in ``ws_url``, list entries of sandbox and ended sessions.

Expected values are written from the reference (§2.2: success ``code`` 1000, errors
``status * 10`` with ``data: null``; start answers 201) and the emulator README, never taken
from the module under test.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from fastapi.responses import JSONResponse
from starlette.requests import Request

from liveavatar_emulator import Emulator
from liveavatar_emulator.clock import Clock
from liveavatar_emulator.envelope import (
    ApiError,
    api_error_handler,
    error_code,
    error_response,
    ok,
)
from liveavatar_emulator.rest import session_entry
from liveavatar_emulator.sessions import SessionRegistry

from .helpers import (
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
)
from .test_rest import FakeBackend


def body_of(resp: JSONResponse) -> tuple[int, dict[str, Any]]:
    decoded: dict[str, Any] = json.loads(bytes(resp.body))
    return resp.status_code, decoded


# -- envelope.py, driven directly ------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(400, 4000), (401, 4010), (404, 4040), (503, 5030)])
def test_error_code_is_status_times_ten(status: int, code: int) -> None:
    assert error_code(status) == code


def test_api_error_carries_status_message_and_code() -> None:
    err = ApiError(404, "Session not found")
    assert (err.status, err.message, err.code) == (404, "Session not found", 4040)
    assert str(err) == "Session not found"
    assert ApiError(400, "Odd", code=4007).code == 4007
    assert ApiError(400, "Zero", code=0).code == 0  # an explicit code wins even when falsy


def test_ok_envelope_defaults_and_overrides() -> None:
    assert body_of(ok({"a": 1})) == (200, {"code": 1000, "message": "Success", "data": {"a": 1}})
    assert body_of(ok(None, "Session started", status=201)) == (
        201,
        {"code": 1000, "message": "Session started", "data": None},
    )
    assert ok(None).media_type == "application/json"


def test_error_response_envelope() -> None:
    assert body_of(error_response(409, "Busy")) == (
        409,
        {"code": 4090, "message": "Busy", "data": None},
    )
    assert body_of(error_response(400, "Odd", code=4007)) == (
        400,
        {"code": 4007, "message": "Odd", "data": None},
    )
    assert body_of(error_response(400, "Zero", code=0))[1]["code"] == 0


async def test_api_error_handler_answers_the_errors_envelope() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    resp = await api_error_handler(request, ApiError(403, "Nope", code=4031))
    assert body_of(resp) == (403, {"code": 4031, "message": "Nope", "data": None})
    resp = await api_error_handler(request, ApiError(500, "Session start failed"))
    assert body_of(resp) == (500, {"code": 5000, "message": "Session start failed", "data": None})


# -- rest.py through real sockets --------------------------------------------------------------


class FailingBackend(FakeBackend):
    """A FULL backend whose room never comes up."""

    async def session_started(self, session: Any) -> None:
        self.calls.append(("started", session.id, None))
        raise RuntimeError("room creation failed")


async def test_failed_full_start_is_500_and_ends_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="liveavatar_emulator.rest")
    backend = FailingBackend()
    async with (
        Emulator(fast(), full_backend=backend) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token = await create(http, full_body())
        resp = await http.post("/v1/sessions/start", headers=bearer(token))
        assert (resp.status_code, resp.json()) == (
            500,
            {"code": 5000, "message": "Session start failed", "data": None},
        )
        entry = (await http.get(f"/v1/sessions/{sid}", headers=key_headers())).json()["data"]
        assert entry["end_reason"] == "SERVER_ERROR"
        assert "end_at" in entry
    assert backend.calls == [
        ("tokens_for", sid, None),
        ("started", sid, None),
        ("ended", sid, "SERVER_ERROR"),
    ]
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name.endswith(".rest")]
    assert logged == [(logging.ERROR, f"session {sid}: FULL backend failed to start")]


async def test_ws_url_uses_the_listening_port_by_default(emu: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        sid, _, data = await started_lite(http)
        session = emu.registry.get(sid)
        assert session is not None
        assert data["ws_url"] == (
            f"ws://127.0.0.1:{emu.port}/v1/lite/{sid}?token={session.ws_token}"
        )


async def test_lite_start_without_backend_has_the_configured_livekit_url() -> None:
    async with (
        running(fast(livekit_url="wss://lk.example:7443")) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token = await create(http, lite_body(max_session_duration=300))
        data = await start(http, token)
        assert data["livekit_url"] == "wss://lk.example:7443"
        assert data["session_id"] == sid
        assert data["max_session_duration"] == 300


async def test_byo_room_without_backend_is_not_joined_and_still_starts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="liveavatar_emulator.rest")
    byo = {"livekit_url": "ws://x", "livekit_room": "r", "livekit_client_token": "t"}
    async with (
        running(fast()) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, token = await create(http, lite_body(livekit_config=byo))
        data = await start(http, token)
        session = emu.registry.get(sid)
        assert session is not None and session.avatar_media is None
        assert data["ws_url"].startswith(f"ws://127.0.0.1:{emu.port}/v1/lite/{sid}?token=")
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name.endswith(".rest")]
    assert logged == [
        (logging.WARNING, f"session {sid}: no LiveKit support; the avatar does not join")
    ]


async def test_sandbox_and_ended_entries(client: httpx.AsyncClient) -> None:
    sid, token = await create(client, lite_body(is_sandbox=True))
    await start(client, token)
    entry = (await client.get(f"/v1/sessions/{sid}", headers=key_headers())).json()["data"]
    assert entry["is_sandbox"] is True and entry["mode"] == "LITE" and entry["source"] == "API"
    assert "end_at" not in entry and "end_reason" not in entry
    await client.post("/v1/sessions/stop", headers=bearer(token), json={"reason": "USER_CLOSED"})
    ended = (await client.get(f"/v1/sessions/{sid}", headers=key_headers())).json()["data"]
    assert ended["end_reason"] == "USER_CLOSED"
    historic = await client.get("/v1/sessions", params={"type": "historic"}, headers=key_headers())
    assert [e["id"] for e in historic.json()["data"]["results"]] == [sid]
    active = await client.get("/v1/sessions", params={"type": "active"}, headers=key_headers())
    assert active.json()["data"]["results"] == []


async def test_whole_credits_keep_two_decimals() -> None:
    async with (
        running(fast(initial_credits=10.0)) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        resp = await http.get("/v1/users/credits", headers=key_headers())
        expected = {"code": 1000, "message": "Success", "data": {"credits_left": "10.00"}}
        assert resp.json() == expected


@pytest.mark.parametrize(("mode", "credits"), [("LITE", 1.6667), ("FULL", 3.3333)])
async def test_active_entry_credits_are_the_emulated_minutes_to_four_decimals(
    monkeypatch: pytest.MonkeyPatch, mode: str, credits: float
) -> None:
    # A frozen real clock: 1 real second at time_scale 0.01 is 100 emulated seconds, i.e.
    # 100/60 minutes at 1 credit a minute (LITE) or 2 (FULL), rounded to 4 decimals (§2.6).
    now = [1000.0]
    monkeypatch.setattr(Clock, "monotonic", staticmethod(lambda: now[0]))
    registry = SessionRegistry(fast(time_scale=0.01))
    session = registry.create(mode=mode, token_request={}, is_sandbox=False, max_duration_s=1200)
    session.start()
    try:
        now[0] += 1.0
        entry = session_entry(session)
        assert entry["duration"] == 100
        assert entry["credits_consumed"] == credits
        assert entry["mode"] == mode
    finally:
        await session.end("USER_CLOSED")


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"page": 0}, 422),
        ({"page_size": 0}, 422),
        ({"page_size": 101}, 422),
        ({"page": 1, "page_size": 100}, 200),
    ],
)
async def test_page_bounds(client: httpx.AsyncClient, params: dict[str, int], status: int) -> None:
    for path in ("/v1/avatars/public", "/v1/voices", "/v1/contexts"):
        resp = await client.get(path, params=params, headers=key_headers())
        assert resp.status_code == status, path
    resp = await client.get(
        "/v1/sessions", params={"type": "active", **params}, headers=key_headers()
    )
    assert resp.status_code == status


async def test_default_page_is_the_first_twenty(client: httpx.AsyncClient) -> None:
    made = [(await create(client))[0] for _ in range(21)]
    resp = await client.get("/v1/sessions", params={"type": "active"}, headers=key_headers())
    data = resp.json()["data"]
    assert data["count"] == 21
    assert [e["id"] for e in data["results"]] == made[::-1][:20]
    assert "page=2" in data["next"] and data["previous"] is None
    for path, first in (
        ("/v1/avatars/public", "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"),
        ("/v1/voices", None),
        ("/v1/contexts", None),
    ):
        page = (await client.get(path, headers=key_headers())).json()["data"]
        assert page["previous"] is None and page["next"] is None
        assert len(page["results"]) == page["count"] >= 1
        if first is not None:
            assert page["results"][0]["id"] == first


class RecordingBackend(FakeBackend):
    """Also records the identity and token the avatar joins a caller's room with."""

    def __init__(self) -> None:
        super().__init__()
        self.joins: list[tuple[str, str | None, str | None]] = []

    async def lite_session_started(
        self, session: Any, room_name: str | None = None, identity: str | None = None
    ) -> Any:
        self.joins.append(("in_server", room_name, identity))
        return await super().lite_session_started(session, room_name, identity)

    async def lite_session_remote(self, session: Any, url: str, token: str) -> Any:
        self.joins.append(("remote", url, token))
        return await super().lite_session_remote(session, url, token)


@pytest.mark.parametrize(
    ("byo_token", "join"),
    [
        ("byo-ok", ("in_server", "byo-room", "byo-avatar")),
        ("elsewhere", ("remote", "ws://x", "elsewhere")),
    ],
)
async def test_byo_room_is_joined_with_the_callers_grant(
    byo_token: str, join: tuple[str, str, str]
) -> None:
    # FakeBackend.verifies grants ("byo-room", "byo-avatar") for the token "byo-ok" only.
    backend = RecordingBackend()
    byo = {"livekit_url": "ws://x", "livekit_room": "byo-room", "livekit_client_token": byo_token}
    async with (
        Emulator(fast(), full_backend=backend) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        _, token = await create(http, lite_body(livekit_config=byo))
        await start(http, token)
    assert backend.joins == [join]

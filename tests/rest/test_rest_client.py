"""LiveAvatarClient against the LiveAvatar emulator over real HTTP on loopback (no mocks).

Call counts come from the emulator's fault injector (``/_emulator/faults``): its ``failed``
counter counts calls it failed, and arming a zero-second delay for many calls turns its
``delayed`` counter into a count of every ``/v1`` call that reached the emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import grpc
import httpx
import pytest

from avatar_bridge import errors
from avatar_bridge.errors import BridgeError, UpstreamRejected, UpstreamUnavailable
from avatar_bridge.liveavatar import rest
from avatar_bridge.liveavatar.rest import (
    LiveAvatarClient,
    RestConfig,
    SessionToken,
    StartedSession,
)
from liveavatar_emulator import Emulator

API_KEY = "test-api-key-0123456789"
"""The key tests/conftest.py configures the emulator with."""
AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
WRONG_KEY = "wrong-api-key-9876543210"
Call = Callable[[], Awaitable[object]]
COUNT_ALL = 10_000
"""``delay_next`` big enough that every call in a test is counted by ``delayed``."""


# -- helpers ------------------------------------------------------------------------------------


def lite_body(**extra: Any) -> dict[str, Any]:
    """A LITE token request on a LiveAvatar-hosted room."""
    return {"mode": "LITE", "avatar_id": AVATAR_ID, **extra}


def full_body(**extra: Any) -> dict[str, Any]:
    """A FULL token request with a persona."""
    persona = {"voice_id": str(uuid.uuid4()), "context_id": str(uuid.uuid4()), "language": "en"}
    return {"mode": "FULL", "avatar_id": AVATAR_ID, "avatar_persona": persona, **extra}


def rest_config(emu: Emulator, **overrides: Any) -> RestConfig:
    """A client config for `emu` with tiny backoff, so retries cost next to nothing."""
    base = RestConfig(
        api_key=API_KEY,
        base_url=emu.base_url,
        timeout_s=10.0,
        attempts=3,
        backoff_initial_s=0.01,
        backoff_max_s=0.02,
    )
    return replace(base, **overrides)


class Control:
    """The emulator's test-only API under /_emulator/ (faults and inspection)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def arm(self, **fault: Any) -> None:
        """Arm the fault injector; also count every later /v1 call (see module doc)."""
        fault.setdefault("delay_s", 0.0)
        fault.setdefault("delay_next", COUNT_ALL)
        resp = await self._http.post("/_emulator/faults", json=fault)
        resp.raise_for_status()

    async def faults(self) -> dict[str, Any]:
        """Injector state: pending ``fail_next``/``delay_next``, done ``failed``/``delayed``."""
        resp = await self._http.get("/_emulator/faults")
        resp.raise_for_status()
        state: dict[str, Any] = resp.json()
        return state

    async def calls_seen(self) -> int:
        """How many /v1 calls reached the emulator since `arm` (with the counting delay)."""
        return int((await self.faults())["delayed"])

    async def session(self, session_id: str) -> dict[str, Any]:
        """The emulator's own view of a session."""
        resp = await self._http.get(f"/_emulator/sessions/{session_id}")
        resp.raise_for_status()
        detail: dict[str, Any] = resp.json()
        return detail


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def retry_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The client's 'retrying' log records."""
    return [
        r
        for r in caplog.records
        if r.name == "avatar_bridge.liveavatar.rest" and "retrying" in r.getMessage()
    ]


@pytest.fixture
async def control(emulator: Emulator) -> AsyncIterator[Control]:
    # Plain HTTP on loopback: skip building a TLS context (it costs tens of ms per client).
    async with httpx.AsyncClient(base_url=emulator.base_url, verify=False) as http:
        yield Control(http)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[LiveAvatarClient]:
    async with LiveAvatarClient(rest_config(emulator)) as la:
        yield la


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger (httpx, httpcore, the client, the emulator) at DEBUG."""
    caplog.set_level(logging.DEBUG)
    yield caplog


async def test_account_calls_carry_the_configured_key_in_x_api_key() -> None:
    """LiveAvatar's spec: account endpoints authenticate with the `X-API-KEY` header."""
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        body = json.dumps(
            {
                "code": 1000,
                "message": "ok",
                "data": {"session_id": str(uuid.uuid4()), "session_token": "a.b.c"},
            }
        ).encode()
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        writer.write(head.encode() + b"\r\nconnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = RestConfig(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", timeout_s=10.0)
    try:
        async with LiveAvatarClient(config) as la:
            await la.create_token(lite_body())
    finally:
        server.close()
        await server.wait_closed()
    assert len(seen) == 1
    head = seen[0].decode().lower()
    assert head.startswith("post /v1/sessions/token ")
    assert f"x-api-key: {API_KEY}\r\n" in head
    assert "authorization:" not in head


# -- endpoints ----------------------------------------------------------------------------------


async def test_create_token_lite(control: Control, client: LiveAvatarClient) -> None:
    token = await client.create_token(lite_body(video_settings={"quality": "medium"}))

    uuid.UUID(token.session_id)
    assert token.session_token.count(".") == 2  # a JWT
    seen = await control.session(token.session_id)
    assert seen["mode"] == "LITE"
    assert seen["status"] == "created"
    assert seen["token_request"]["video_settings"]["quality"] == "medium"


async def test_create_token_full(control: Control, client: LiveAvatarClient) -> None:
    body = full_body(interactivity_type="PUSH_TO_TALK")

    token = await client.create_token(body)

    seen = await control.session(token.session_id)
    assert seen["mode"] == "FULL"
    assert seen["token_request"]["interactivity_type"] == "PUSH_TO_TALK"
    persona = seen["token_request"]["avatar_persona"]
    assert persona["context_id"] == body["avatar_persona"]["context_id"]


async def test_start_lite_returns_ws_url(
    control: Control, emulator: Emulator, client: LiveAvatarClient
) -> None:
    token = await client.create_token(lite_body(max_session_duration=300))

    started = await client.start_session(token)

    assert started.session_id == token.session_id
    assert started.ws_url.startswith(f"ws://127.0.0.1:{emulator.port}/")
    assert token.session_id in started.ws_url
    assert started.livekit_url.startswith("ws")
    assert started.livekit_client_token
    assert started.livekit_agent_token
    assert started.max_session_duration == 300
    assert (await control.session(token.session_id))["status"] == "started"


async def test_start_full_has_no_ws_url(control: Control, client: LiveAvatarClient) -> None:
    token = await client.create_token(full_body())

    started = await client.start_session(token)

    assert started.session_id == token.session_id
    assert started.ws_url == ""
    assert started.livekit_url.startswith("ws")
    assert started.livekit_client_token
    assert started.max_session_duration > 0
    assert (await control.session(token.session_id))["status"] == "started"


async def test_base_url_with_trailing_slash(emulator: Emulator) -> None:
    async with LiveAvatarClient(rest_config(emulator, base_url=emulator.base_url + "/")) as la:
        page = await la.list_sessions(kind="historic")

    assert page.count == 0
    assert page.results == []


async def test_get_session_while_active(client: LiveAvatarClient) -> None:
    token = await client.create_token(lite_body())
    await client.start_session(token)

    entry = await client.get_session(token.session_id)

    assert entry["id"] == token.session_id
    assert entry["mode"] == "LITE"
    assert "end_reason" not in entry


@pytest.mark.parametrize("reason", ["USER_CLOSED", "USER_DISCONNECTED"])
async def test_stop_session_then_get_session_has_end_reason(
    control: Control, client: LiveAvatarClient, reason: str
) -> None:
    token = await client.create_token(lite_body())
    await client.start_session(token)

    await client.stop_session(token.session_id, reason=reason)

    entry = await client.get_session(token.session_id)
    assert entry["end_reason"] == reason
    assert entry["end_at"]
    assert (await control.session(token.session_id))["status"] == "ended"


async def test_stop_session_default_reason_is_user_closed(client: LiveAvatarClient) -> None:
    token = await client.create_token(full_body())
    await client.start_session(token)

    await client.stop_session(token.session_id)

    assert (await client.get_session(token.session_id))["end_reason"] == "USER_CLOSED"


async def test_keep_alive(control: Control, client: LiveAvatarClient) -> None:
    token = await client.create_token(lite_body())
    await client.start_session(token)
    await control.arm()

    await client.keep_alive(token.session_id)

    assert await control.calls_seen() == 1
    assert (await control.session(token.session_id))["status"] == "started"


async def test_keep_alive_after_stop_is_rejected(client: LiveAvatarClient) -> None:
    token = await client.create_token(lite_body())
    await client.start_session(token)
    await client.stop_session(token.session_id)

    with pytest.raises(UpstreamRejected) as caught:
        await client.keep_alive(token.session_id)

    assert caught.value.http_status == 400
    assert caught.value.grpc_code is grpc.StatusCode.INVALID_ARGUMENT
    assert "Session is not active" in caught.value.message


async def test_list_sessions_active_and_historic(client: LiveAvatarClient) -> None:
    stopped = await client.create_token(lite_body())
    await client.start_session(stopped)
    running = await client.create_token(full_body())
    await client.start_session(running)
    await client.stop_session(stopped.session_id, reason="USER_CLOSED")

    active = await client.list_sessions(kind="active")
    historic = await client.list_sessions(kind="historic")

    assert [e["id"] for e in active.results] == [running.session_id]
    assert active.count == 1
    assert active.next is None and active.previous is None
    assert [e["id"] for e in historic.results] == [stopped.session_id]
    assert historic.results[0]["end_reason"] == "USER_CLOSED"
    assert historic.results[0]["mode"] == "LITE"


async def test_list_sessions_pages(client: LiveAvatarClient) -> None:
    ids = {(await client.create_token(lite_body())).session_id for _ in range(3)}

    first = await client.list_sessions(kind="active", page=1, page_size=2)
    second = await client.list_sessions(kind="active", page=2, page_size=2)

    assert first.count == second.count == 3
    assert len(first.results) == 2 and len(second.results) == 1
    assert first.next is not None and first.previous is None
    assert second.next is None and second.previous is not None
    assert {e["id"] for e in first.results + second.results} == ids


# -- 4xx mapping --------------------------------------------------------------------------------


async def test_wrong_api_key_is_unauthenticated(control: Control, emulator: Emulator) -> None:
    await control.arm()
    async with LiveAvatarClient(rest_config(emulator, api_key=WRONG_KEY)) as la:
        with pytest.raises(UpstreamRejected) as caught:
            await la.create_token(lite_body())

    err = caught.value
    assert err.http_status == 401
    assert err.upstream_code == 4010  # the emulator's envelope code for 401
    assert err.grpc_code is grpc.StatusCode.UNAUTHENTICATED
    assert err.reason == "UPSTREAM_REJECTED"
    assert "Invalid API key" in err.message
    assert WRONG_KEY not in str(err)
    assert await control.calls_seen() == 1


@pytest.mark.parametrize("endpoint", ["list", "get", "stop", "keep_alive"])
async def test_wrong_api_key_on_every_key_endpoint(
    emulator: Emulator, client: LiveAvatarClient, endpoint: str
) -> None:
    token = await client.create_token(lite_body())
    await client.start_session(token)
    async with LiveAvatarClient(rest_config(emulator, api_key=WRONG_KEY)) as la:
        calls: dict[str, Call] = {
            "list": lambda: la.list_sessions(kind="active"),
            "get": lambda: la.get_session(token.session_id),
            "stop": lambda: la.stop_session(token.session_id),
            "keep_alive": lambda: la.keep_alive(token.session_id),
        }
        with pytest.raises(UpstreamRejected) as caught:
            await calls[endpoint]()

    assert caught.value.grpc_code is grpc.StatusCode.UNAUTHENTICATED
    assert WRONG_KEY not in str(caught.value)


async def test_start_with_invalid_session_token_is_unauthenticated(
    client: LiveAvatarClient,
) -> None:
    token = await client.create_token(lite_body())
    forged = SessionToken(token.session_id, "not-a-valid-session-token")

    with pytest.raises(UpstreamRejected) as caught:
        await client.start_session(forged)

    assert caught.value.http_status == 401
    assert caught.value.grpc_code is grpc.StatusCode.UNAUTHENTICATED
    assert "Invalid session token" in caught.value.message
    assert "not-a-valid-session-token" not in str(caught.value)


async def test_invalid_body_422_keeps_liveavatar_detail(
    control: Control, client: LiveAvatarClient
) -> None:
    body = full_body()
    del body["avatar_persona"]
    await control.arm()

    with pytest.raises(UpstreamRejected) as caught:
        await client.create_token(body)

    err = caught.value
    assert err.http_status == 422
    assert err.upstream_code is None  # FastAPI's {"detail": [...]} shape has no code
    assert err.grpc_code is grpc.StatusCode.INVALID_ARGUMENT
    # LiveAvatar's own detail: the field's location and pydantic's message.
    assert "avatar_persona" in err.message
    assert "Field required" in err.message
    assert await control.calls_seen() == 1


async def test_422_does_not_echo_the_rejected_input(client: LiveAvatarClient) -> None:
    # livekit_room is missing; FastAPI's detail echoes the whole livekit_config as "input".
    byo = {"livekit_url": "wss://lk.invalid", "livekit_client_token": "byo-secret-token"}

    with pytest.raises(UpstreamRejected) as caught:
        await client.create_token(lite_body(livekit_config=byo))

    assert caught.value.http_status == 422
    assert "livekit_room" in caught.value.message
    assert "byo-secret-token" not in str(caught.value)


async def test_double_start_is_invalid_argument(control: Control, client: LiveAvatarClient) -> None:
    token = await client.create_token(lite_body())
    await client.start_session(token)
    await control.arm()

    with pytest.raises(UpstreamRejected) as caught:
        await client.start_session(token)

    assert caught.value.http_status == 400
    assert caught.value.upstream_code == 4000
    assert caught.value.grpc_code is grpc.StatusCode.INVALID_ARGUMENT
    assert "Session is already started" in caught.value.message
    assert await control.calls_seen() == 1


@pytest.mark.parametrize("endpoint", ["get", "stop", "keep_alive"])
async def test_unknown_session_is_not_found(
    control: Control, client: LiveAvatarClient, endpoint: str
) -> None:
    unknown = str(uuid.uuid4())
    calls: dict[str, Call] = {
        "get": lambda: client.get_session(unknown),
        "stop": lambda: client.stop_session(unknown),
        "keep_alive": lambda: client.keep_alive(unknown),
    }
    await control.arm()

    with pytest.raises(UpstreamRejected) as caught:
        await calls[endpoint]()

    assert caught.value.http_status == 404
    assert caught.value.grpc_code is grpc.StatusCode.NOT_FOUND
    assert "Session not found" in caught.value.message
    assert await control.calls_seen() == 1


@pytest.mark.parametrize("emulator_settings", [{"initial_credits": 0.0}])
async def test_out_of_credits_is_resource_exhausted(client: LiveAvatarClient) -> None:
    token = await client.create_token(lite_body())  # not sandbox: sessions cost credits

    with pytest.raises(UpstreamRejected) as caught:
        await client.start_session(token)

    assert caught.value.http_status == 400
    assert caught.value.grpc_code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "Insufficient credits" in caught.value.message


async def test_payment_required_is_resource_exhausted(
    control: Control, client: LiveAvatarClient
) -> None:
    await control.arm(fail_next=1, status=402, message="Payment required")

    with pytest.raises(UpstreamRejected) as caught:
        await client.create_token(lite_body())

    assert caught.value.grpc_code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "Payment required" in caught.value.message


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (400, "Bad request", grpc.StatusCode.INVALID_ARGUMENT),
        (400, "Not enough credits left", grpc.StatusCode.RESOURCE_EXHAUSTED),
        (401, "Invalid API key", grpc.StatusCode.UNAUTHENTICATED),
        (402, "Payment required", grpc.StatusCode.RESOURCE_EXHAUSTED),
        (403, "Forbidden", grpc.StatusCode.PERMISSION_DENIED),
        (404, "Session not found", grpc.StatusCode.NOT_FOUND),
        (409, "Conflict", grpc.StatusCode.FAILED_PRECONDITION),
        (422, "body.mode: Field required", grpc.StatusCode.INVALID_ARGUMENT),
        (429, "Too many requests", grpc.StatusCode.RESOURCE_EXHAUSTED),
        (418, "I'm a teapot", grpc.StatusCode.FAILED_PRECONDITION),
    ],
)
def test_code_for_rejection(status: int, message: str, code: grpc.StatusCode) -> None:
    assert errors._code_for_rejection(status, message) is code


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429])
async def test_4xx_is_never_retried(
    control: Control, client: LiveAvatarClient, status: int
) -> None:
    await control.arm(fail_next=3, status=status, message="injected rejection")

    with pytest.raises(UpstreamRejected) as caught:
        await client.create_token(lite_body())

    assert caught.value.http_status == status
    assert "injected rejection" in caught.value.message
    state = await control.faults()
    assert state["failed"] == 1
    assert state["fail_next"] == 2
    assert state["delayed"] == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_retried_then_unavailable(
    control: Control, client: LiveAvatarClient, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="avatar_bridge.liveavatar.rest")
    await control.arm(fail_next=10, status=status, message="backend on fire")

    with pytest.raises(UpstreamUnavailable) as caught:
        await client.create_token(lite_body())

    err = caught.value
    assert err.grpc_code is grpc.StatusCode.UNAVAILABLE
    assert err.reason == "UPSTREAM_UNAVAILABLE"
    assert "after 3 attempts" in err.message
    assert f"HTTP {status}" in err.message
    assert "backend on fire" in err.message
    state = await control.faults()
    assert state["failed"] == 3
    assert state["delayed"] == 3
    assert [r.__dict__["attempt"] for r in retry_warnings(caplog)] == [1, 2]


@pytest.mark.parametrize("attempts", [1, 2, 5])
async def test_5xx_attempts_follow_config(
    control: Control, emulator: Emulator, attempts: int
) -> None:
    await control.arm(fail_next=10, status=503)
    async with LiveAvatarClient(rest_config(emulator, attempts=attempts)) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.list_sessions()

    assert f"after {attempts} attempts" in caught.value.message
    assert (await control.faults())["failed"] == attempts
    assert await control.calls_seen() == attempts


@pytest.mark.parametrize("failures", [1, 2])
async def test_5xx_then_success(
    control: Control, emulator: Emulator, client: LiveAvatarClient, failures: int
) -> None:
    await control.arm(fail_next=failures, status=503)

    token = await client.create_token(lite_body())

    state = await control.faults()
    assert state["failed"] == failures
    assert state["delayed"] == failures + 1
    # Only the successful attempt reached the route, so exactly one session exists.
    assert (await control.session(token.session_id))["status"] == "created"
    assert len(emulator.registry.all()) == 1


async def test_retry_then_4xx_is_not_retried_further(
    control: Control, client: LiveAvatarClient
) -> None:
    token = await client.create_token(lite_body())
    await client.start_session(token)
    await control.arm(fail_next=1, status=503)

    with pytest.raises(UpstreamRejected) as caught:
        await client.start_session(token)  # 503, then the real answer: already started

    assert caught.value.grpc_code is grpc.StatusCode.INVALID_ARGUMENT
    assert await control.calls_seen() == 2


async def test_connection_refused_is_unavailable_after_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="avatar_bridge.liveavatar.rest")
    config = RestConfig(
        api_key=API_KEY,
        base_url=f"http://127.0.0.1:{closed_port()}",
        attempts=3,
        backoff_initial_s=0.01,
    )
    async with LiveAvatarClient(config) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.create_token(lite_body())

    assert caught.value.grpc_code is grpc.StatusCode.UNAVAILABLE
    assert "after 3 attempts" in caught.value.message
    assert "connection error" in caught.value.message
    assert [r.__dict__["attempt"] for r in retry_warnings(caplog)] == [1, 2]


async def test_backoff_doubles_and_never_exceeds_backoff_max(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Records the sleeps instead of sleeping (rest.py's own names only; HTTP stays real).
    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(rest, "asyncio", SimpleNamespace(sleep=record_sleep))
    monkeypatch.setattr(rest, "random", SimpleNamespace(uniform=lambda low, high: high))
    config = RestConfig(
        api_key=API_KEY,
        base_url=f"http://127.0.0.1:{closed_port()}",
        attempts=5,
        backoff_initial_s=1.0,
        backoff_max_s=3.0,
    )
    async with LiveAvatarClient(config) as la:
        with pytest.raises(UpstreamUnavailable):
            await la.keep_alive("any")

    assert slept == pytest.approx([1.2, 2.4, 3.0, 3.0])


# Timeouts: a delayed answer takes STUCK_S, five times the client's timeout, and a normal
# loopback answer has the whole TIMEOUT_S: both margins hold on a loaded machine.
TIMEOUT_S = 1.0
STUCK_S = 5.0


async def test_timeouts_are_retried_then_unavailable(control: Control, emulator: Emulator) -> None:
    await control.arm(delay_s=STUCK_S, delay_next=3)
    async with LiveAvatarClient(rest_config(emulator, timeout_s=TIMEOUT_S, attempts=3)) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.list_sessions()

    assert caught.value.grpc_code is grpc.StatusCode.UNAVAILABLE
    assert "after 3 attempts" in caught.value.message
    assert "timed out" in caught.value.message
    assert (await control.faults())["delayed"] == 3


async def test_timeout_then_success(control: Control, emulator: Emulator) -> None:
    await control.arm(delay_s=STUCK_S, delay_next=1)
    async with LiveAvatarClient(rest_config(emulator, timeout_s=TIMEOUT_S, attempts=3)) as la:
        page = await la.list_sessions()

    assert page.count == 0
    state = await control.faults()
    assert state["delayed"] == 1
    assert state["delay_next"] == 0


async def test_a_start_that_timed_out_after_sending_is_not_retried(
    control: Control, emulator: Emulator
) -> None:
    """Start bills and is not idempotent: a blind retry would fail as "already started"."""
    async with LiveAvatarClient(rest_config(emulator, timeout_s=TIMEOUT_S, attempts=3)) as la:
        token = await la.create_token({"mode": "LITE", "avatar_id": str(uuid.uuid4())})
        await control.arm(delay_s=STUCK_S, delay_next=3)
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.start_session(token)
    assert "not retried" in caught.value.message
    assert (await control.faults())["delayed"] == 1


# -- secrets ------------------------------------------------------------------------------------


def _record_text(record: logging.LogRecord) -> str:
    """Everything a handler could print: message, args, extras and exception text."""
    text = [record.getMessage(), repr(record.args), repr(record.__dict__)]
    if record.exc_info and record.exc_info[1] is not None:
        text.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(text)


async def test_secrets_never_in_errors_or_logs(
    control: Control, emulator: Emulator, debug_logs: pytest.LogCaptureFixture
) -> None:
    secrets: list[str] = [API_KEY, WRONG_KEY]
    raised: list[BridgeError] = []
    async with LiveAvatarClient(rest_config(emulator)) as la:
        token = await la.create_token(lite_body())
        started = await la.start_session(token)
        secrets += [token.session_token, started.livekit_client_token]
        secrets += [started.livekit_agent_token, started.ws_url.rsplit("token=", 1)[1]]
        await la.keep_alive(token.session_id)
        with pytest.raises(UpstreamRejected) as rejected:
            await la.start_session(token)
        raised.append(rejected.value)
        await control.arm(fail_next=10, status=503)
        with pytest.raises(UpstreamUnavailable) as unavailable:
            await la.start_session(token)
        raised.append(unavailable.value)
        await control.arm(fail_next=0)
        await la.stop_session(token.session_id)
    async with LiveAvatarClient(rest_config(emulator, api_key=WRONG_KEY)) as la:
        with pytest.raises(UpstreamRejected) as unauthenticated:
            await la.create_token(lite_body())
        raised.append(unauthenticated.value)
    closed = RestConfig(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{closed_port()}", backoff_initial_s=0.01
    )
    async with LiveAvatarClient(closed) as la:
        with pytest.raises(UpstreamUnavailable) as refused:
            await la.stop_session(token.session_id)
        raised.append(refused.value)

    assert debug_logs.records, "expected log records to check"
    assert retry_warnings(debug_logs)
    logged = "\n".join(_record_text(r) for r in debug_logs.records)
    shown = "\n".join(f"{e!s}\n{e!r}\n{e.message}" for e in raised)
    for secret in secrets:
        assert secret
        assert secret not in logged
        assert secret not in shown


def test_reprs_hide_secrets() -> None:
    config = RestConfig(api_key=API_KEY, base_url="http://127.0.0.1:1")
    token = SessionToken("session-1", "eyJ.secret-session-token.sig")
    started = StartedSession(
        session_id="session-1",
        livekit_url="wss://example.invalid",
        livekit_client_token="client-secret-token",
        livekit_agent_token="agent-secret-token",
        max_session_duration=60,
        ws_url="ws://127.0.0.1:1/v1/lite/session-1?token=ws-secret-token",
    )

    assert API_KEY not in repr(config)
    assert "http://127.0.0.1:1" in repr(config)
    assert "secret-session-token" not in repr(token)
    assert "session-1" in repr(token)
    for secret in ("client-secret-token", "agent-secret-token", "ws-secret-token"):
        assert secret not in repr(started)
        assert secret not in str(started)

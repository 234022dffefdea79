"""LiveAvatarClient's edges over real loopback sockets: exact error texts, the envelope check,
every error-body shape LiveAvatar answers with, retries versus "outcome unknown", and the
observer's outcome per attempt.

Two real servers: the LiveAvatar emulator with its fault rules (``/_emulator/faults/rules``:
error, lose the answer, drop the connection), and, for answers the emulator never gives (a body
that is not JSON, an envelope without code 1000, a FastAPI ``detail`` list), a tiny HTTP/1.1
server that answers canned bytes. LiveAvatar's envelope is ``{code, message, data}`` with
success code 1000 (shared/reference liveavatar-api.md); expected texts are written here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from avatar_bridge.errors import (
    UpstreamOutcomeUnknown,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig, SessionToken
from liveavatar_emulator import Emulator

API_KEY = "test-api-key-0123456789"
"""The key tests/conftest.py configures the emulator with."""
AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
LITE = {"mode": "LITE", "avatar_id": AVATAR_ID}
TIMEOUT_S = 1.0
"""The client's timeout where an answer is held back; a held answer waits HELD_S."""
HELD_S = 5.0


def config_for(base_url: str, **overrides: Any) -> RestConfig:
    base = RestConfig(
        api_key=API_KEY,
        base_url=base_url,
        timeout_s=10.0,
        attempts=3,
        backoff_initial_s=0.01,
        backoff_max_s=0.02,
    )
    return replace(base, **overrides)


class Rules:
    """The emulator's scoped fault rules."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def add(self, action: str, **rule: Any) -> None:
        resp = await self._http.post("/_emulator/faults/rules", json={"action": action, **rule})
        resp.raise_for_status()

    async def hits(self) -> list[int]:
        resp = await self._http.get("/_emulator/faults")
        resp.raise_for_status()
        return [int(rule["hits"]) for rule in resp.json()["rules"]]


@pytest.fixture
async def rules(emulator: Emulator) -> AsyncIterator[Rules]:
    async with httpx.AsyncClient(base_url=emulator.base_url, verify=False) as http:
        yield Rules(http)


class Canned:
    """An HTTP/1.1 server on loopback that answers each request with the next canned answer."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, str, bytes, str]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._server: asyncio.Server | None = None

    def answer(self, status: int, body: Any, reason: str = "", headers: str = "") -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers.append((status, reason, raw, headers))

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        line, *header_lines = head.strip().split("\r\n")
        headers = {}
        for header in header_lines:
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((line, headers, body))
        status, reason, raw, extra = self.answers.pop(0)
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-length: {len(raw)}\r\n{extra}"
            "connection: close\r\n\r\n".encode()
            + raw
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def canned() -> AsyncIterator[Canned]:
    server = Canned()
    yield server
    await server.stop()


async def client_for(canned: Canned, **overrides: Any) -> LiveAvatarClient:
    return LiveAvatarClient(config_for(await canned.start(), **overrides))


# -- error texts and retries against the emulator -------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "call", "what"),
    [
        ("token", lambda la: la.create_token(LITE), "POST /v1/sessions/token"),
        ("keep-alive", lambda la: la.keep_alive("s-1"), "POST /v1/sessions/keep-alive"),
        ("stop", lambda la: la.stop_session("s-1"), "POST /v1/sessions/stop"),
        ("/v1/sessions", lambda la: la.list_sessions(), "GET /v1/sessions"),
        ("{id}", lambda la: la.get_session("s-1"), "GET /v1/sessions/{id}"),
    ],
    ids=["token", "keep-alive", "stop", "list", "get"],
)
async def test_5xx_every_attempt_names_the_endpoint_without_the_id(
    emulator: Emulator, rules: Rules, endpoint: str, call: Any, what: str
) -> None:
    await rules.add("error", endpoint=endpoint, times=-1, status=502, message="gateway down")
    async with LiveAvatarClient(config_for(emulator.base_url, attempts=2)) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await call(la)
    assert type(caught.value) is UpstreamUnavailable
    assert caught.value.message == (
        f"LiveAvatar {what} failed after 2 attempts: HTTP 502: gateway down"
    )
    assert await rules.hits() == [2]


async def test_one_attempt_means_no_retry(emulator: Emulator, rules: Rules) -> None:
    await rules.add("error", endpoint="keep-alive", times=-1, status=500, message="boom")
    async with LiveAvatarClient(config_for(emulator.base_url, attempts=1)) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.keep_alive("s-1")
    assert caught.value.message == (
        "LiveAvatar POST /v1/sessions/keep-alive failed after 1 attempts: HTTP 500: boom"
    )
    assert await rules.hits() == [1]


async def test_retries_are_logged_with_call_attempt_and_error(
    emulator: Emulator, rules: Rules, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="avatar_bridge.liveavatar.rest")
    await rules.add("error", endpoint="keep-alive", times=2, status=503, message="busy")
    async with LiveAvatarClient(config_for(emulator.base_url, attempts=3)) as la:
        session = await la.create_token(LITE)
        await la.start_session(session)
        await la.keep_alive(session.session_id)
    retries = [
        (r.getMessage(), r.__dict__["call"], r.__dict__["attempt"], r.__dict__["error"])
        for r in caplog.records
        if r.name == "avatar_bridge.liveavatar.rest"
    ]
    assert retries == [
        ("liveavatar call failed, retrying", "POST /v1/sessions/keep-alive", 1, "HTTP 503: busy"),
        ("liveavatar call failed, retrying", "POST /v1/sessions/keep-alive", 2, "HTTP 503: busy"),
    ]


@pytest.mark.parametrize(
    ("status", "code", "upstream_code"),
    [(400, None, 4000), (404, 4004, 4004), (499, None, 4990)],
)
async def test_a_4xx_is_rejected_once_with_liveavatar_words(
    emulator: Emulator, rules: Rules, status: int, code: int | None, upstream_code: int
) -> None:
    await rules.add("error", endpoint="keep-alive", times=-1, status=status, code=code,
                    message="no such session")  # fmt: skip
    async with LiveAvatarClient(config_for(emulator.base_url)) as la:
        with pytest.raises(UpstreamRejected) as caught:
            await la.keep_alive("s-9")
    error = caught.value
    assert error.message == (
        f"LiveAvatar rejected POST /v1/sessions/keep-alive with HTTP {status}: no such session"
    )
    assert error.http_status == status
    assert error.upstream_code == upstream_code
    assert await rules.hits() == [1]


async def test_a_token_whose_answer_is_lost_is_not_retried(
    emulator: Emulator, rules: Rules
) -> None:
    await rules.add("lose", endpoint="token", times=-1, delay_s=HELD_S)
    async with LiveAvatarClient(config_for(emulator.base_url, timeout_s=TIMEOUT_S)) as la:
        with pytest.raises(UpstreamOutcomeUnknown) as caught:
            await la.create_token(LITE)
    assert caught.value.message == (
        "LiveAvatar POST /v1/sessions/token got no answer after the request was sent "
        "(ReadTimeout); not retried because it is not idempotent"
    )
    assert await rules.hits() == [1]


async def test_a_token_whose_connection_drops_is_not_retried(
    emulator: Emulator, rules: Rules
) -> None:
    await rules.add("drop", endpoint="token", times=-1)
    async with LiveAvatarClient(config_for(emulator.base_url)) as la:
        with pytest.raises(UpstreamOutcomeUnknown) as caught:
            await la.create_token(LITE)
    assert caught.value.message.startswith(
        "LiveAvatar POST /v1/sessions/token got no answer after the request was sent ("
    )
    assert await rules.hits() == [1]


async def test_answer_wait_replaces_the_read_timeout(emulator: Emulator, rules: Rules) -> None:
    await rules.add("lose", endpoint="token", times=1, delay_s=3 * TIMEOUT_S)
    async with LiveAvatarClient(config_for(emulator.base_url, timeout_s=TIMEOUT_S)) as la:
        token = await la.create_token(LITE, answer_wait_s=10 * HELD_S)
    assert token.session_id
    assert await rules.hits() == [1]


async def test_idempotent_calls_are_retried_after_a_lost_or_dropped_answer(
    emulator: Emulator, rules: Rules
) -> None:
    async with LiveAvatarClient(config_for(emulator.base_url, timeout_s=TIMEOUT_S)) as la:
        session = await la.create_token(LITE)
        await la.start_session(session)
        await rules.add("drop", endpoint="keep-alive", times=1)
        await rules.add("lose", endpoint="keep-alive", times=1, delay_s=HELD_S)
        await la.keep_alive(session.session_id)
    assert await rules.hits() == [1, 1]


async def test_a_read_timeout_every_attempt_is_unavailable(
    emulator: Emulator, rules: Rules
) -> None:
    await rules.add("lose", endpoint="{id}", times=-1, delay_s=HELD_S)
    async with LiveAvatarClient(
        config_for(emulator.base_url, timeout_s=TIMEOUT_S, attempts=2)
    ) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.get_session("s-1")
    assert caught.value.message == (
        "LiveAvatar GET /v1/sessions/{id} failed after 2 attempts: timed out (ReadTimeout)"
    )


async def test_a_dropped_connection_every_attempt_is_unavailable(
    emulator: Emulator, rules: Rules
) -> None:
    await rules.add("drop", endpoint="/v1/sessions", times=-1)
    async with LiveAvatarClient(config_for(emulator.base_url, attempts=2)) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.list_sessions()
    assert type(caught.value) is UpstreamUnavailable
    assert caught.value.message.startswith(
        "LiveAvatar GET /v1/sessions failed after 2 attempts: connection error ("
    )
    assert await rules.hits() == [2]


async def test_a_refused_connection_is_retried_even_for_a_token() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with LiveAvatarClient(config_for(f"http://127.0.0.1:{port}", attempts=2)) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.create_token(LITE)
    assert type(caught.value) is UpstreamUnavailable
    assert caught.value.message.startswith(
        "LiveAvatar POST /v1/sessions/token failed after 2 attempts: connection error "
        "(ConnectError: "
    )


# -- the observer -------------------------------------------------------------------------------


async def test_the_observer_sees_every_attempt_and_its_outcome(
    emulator: Emulator, rules: Rules
) -> None:
    seen: list[tuple[str, float, str]] = []
    config = config_for(emulator.base_url, timeout_s=TIMEOUT_S)
    async with LiveAvatarClient(config, observer=lambda *a: seen.append(a)) as la:
        session = await la.create_token(LITE)
        await rules.add("error", endpoint="start", times=1, status=503)
        await la.start_session(session)
        await rules.add("error", endpoint="keep-alive", times=1, status=404, message="gone")
        with pytest.raises(UpstreamRejected):
            await la.keep_alive(session.session_id)
        await rules.add("drop", endpoint="token", times=1)
        with pytest.raises(UpstreamOutcomeUnknown):
            await la.create_token(LITE)
    assert [(what, kind) for what, _, kind in seen] == [
        ("POST /v1/sessions/token", "ok"),
        ("POST /v1/sessions/start", "unavailable"),
        ("POST /v1/sessions/start", "ok"),
        ("POST /v1/sessions/keep-alive", "upstream_rejected"),
        ("POST /v1/sessions/token", "upstream_outcome_unknown"),
    ]
    assert all(seconds >= 0 for _, seconds, _ in seen)


async def test_the_observer_sees_a_cancelled_attempt() -> None:
    arrived = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        arrived.set()
        await reader.read()  # Until the client goes away.
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    seen: list[tuple[str, float, str]] = []
    try:
        config = config_for(f"http://127.0.0.1:{port}")
        async with LiveAvatarClient(config, observer=lambda *a: seen.append(a)) as la:
            call = asyncio.create_task(la.keep_alive("s-1"))
            await asyncio.wait_for(arrived.wait(), 10.0)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
    finally:
        server.close()
        await server.wait_closed()
    assert [(what, kind) for what, _, kind in seen] == [
        ("POST /v1/sessions/keep-alive", "cancelled")
    ]


async def test_the_observer_names_a_bad_answer_by_its_error(canned: Canned) -> None:
    seen: list[tuple[str, float, str]] = []
    canned.answer(200, b"<html>")
    la = LiveAvatarClient(config_for(await canned.start()), observer=lambda *a: seen.append(a))
    async with la:
        with pytest.raises(UpstreamProtocolError):
            await la.get_session("abc")
    assert [(what, kind) for what, _, kind in seen] == [
        ("GET /v1/sessions/{id}", "upstream_protocol_error")
    ]


async def test_a_body_that_breaks_its_content_encoding_is_a_protocol_error(canned: Canned) -> None:
    # A body that claims gzip and is not: an answer the bridge cannot use, never a raw httpx error.
    seen: list[tuple[str, float, str]] = []
    canned.answer(200, b"not gzip at all", headers="content-encoding: gzip\r\n")
    la = LiveAvatarClient(config_for(await canned.start()), observer=lambda *a: seen.append(a))
    async with la:
        with pytest.raises(UpstreamProtocolError, match="could not be decoded"):
            await la.get_session("abc")
    assert [(what, kind) for what, _, kind in seen] == [
        ("GET /v1/sessions/{id}", "upstream_protocol_error")
    ]


# -- requests as sent ---------------------------------------------------------------------------


async def test_what_each_call_sends(canned: Canned) -> None:
    ok = {"code": 1000, "message": "ok"}
    canned.answer(200, {**ok, "data": {"session_id": "s-1", "session_token": "tok"}})
    canned.answer(200, {**ok, "data": {"session_id": "s-1"}})
    canned.answer(200, {**ok, "data": None})
    canned.answer(200, {**ok, "data": None})
    canned.answer(200, {**ok, "data": {"results": []}})
    canned.answer(200, {**ok, "data": {"session_id": "s-1"}})
    async with await client_for(canned) as la:
        token = await la.create_token(LITE)
        await la.start_session(token)
        await la.keep_alive("s-1")
        await la.stop_session("s-1", "IDLE_TIMEOUT")
        await la.list_sessions(kind="historic", page=3, page_size=7)
        await la.get_session("s-1")
    lines = [line for line, _, _ in canned.requests]
    assert lines == [
        "POST /v1/sessions/token HTTP/1.1",
        "POST /v1/sessions/start HTTP/1.1",
        "POST /v1/sessions/keep-alive HTTP/1.1",
        "POST /v1/sessions/stop HTTP/1.1",
        "GET /v1/sessions?type=historic&page=3&page_size=7 HTTP/1.1",
        "GET /v1/sessions/s-1 HTTP/1.1",
    ]
    bodies = [json.loads(body) if body else None for _, _, body in canned.requests]
    assert bodies == [
        LITE,
        {"session_id": "s-1"},
        {"session_id": "s-1"},
        {"session_id": "s-1", "reason": "IDLE_TIMEOUT"},
        None,
        None,
    ]
    headers = [h for _, h, _ in canned.requests]
    assert all(h["accept"] == "application/json" for h in headers)
    assert headers[1]["authorization"] == "Bearer tok"
    assert "x-api-key" not in headers[1]
    assert [h.get("x-api-key") for i, h in enumerate(headers) if i != 1] == [API_KEY] * 5


async def test_list_sessions_defaults(canned: Canned) -> None:
    canned.answer(200, {"code": 1000, "data": {"results": [{"id": "a"}], "count": None}})
    async with await client_for(canned) as la:
        page = await la.list_sessions()
    assert canned.requests[0][0] == "GET /v1/sessions?type=active&page=1&page_size=20 HTTP/1.1"
    assert (page.count, page.results, page.next, page.previous) == (0, [{"id": "a"}], None, None)


async def test_list_sessions_keeps_count_and_links(canned: Canned) -> None:
    data = {"results": [], "count": 41, "next": "p3", "previous": "p1"}
    canned.answer(200, {"code": 1000, "data": data})
    async with await client_for(canned) as la:
        page = await la.list_sessions(page=2)
    assert (page.count, page.next, page.previous) == (41, "p3", "p1")


async def test_start_answer_fields_and_their_defaults(canned: Canned) -> None:
    full = {
        "session_id": "s-1",
        "livekit_url": "wss://x.livekit.cloud",
        "livekit_client_token": "ct",
        "livekit_agent_token": "at",
        "max_session_duration": 600,
        "ws_url": "wss://ws.liveavatar.com/x",
    }
    canned.answer(200, {"code": 1000, "data": full})
    sparse = {"session_id": 7, "livekit_url": None, "max_session_duration": None}
    canned.answer(200, {"code": 1000, "data": sparse})
    async with await client_for(canned) as la:
        first = await la.start_session(SessionToken("s-1", "t"))
        second = await la.start_session(SessionToken("s-2", "t"))
    assert (
        first.session_id,
        first.livekit_url,
        first.livekit_client_token,
        first.livekit_agent_token,
        first.max_session_duration,
        first.ws_url,
    ) == ("s-1", "wss://x.livekit.cloud", "ct", "at", 600, "wss://ws.liveavatar.com/x")
    assert (
        second.session_id,
        second.livekit_url,
        second.livekit_client_token,
        second.livekit_agent_token,
        second.max_session_duration,
        second.ws_url,
    ) == ("7", "", "", "", 0, "")


# -- answers that break the envelope ----------------------------------------------------------


async def test_a_body_that_is_not_json(canned: Canned) -> None:
    canned.answer(200, b"<html>oops</html>")
    async with await client_for(canned) as la:
        with pytest.raises(UpstreamProtocolError) as caught:
            await la.get_session("abc")
    assert caught.value.message == (
        "LiveAvatar answered GET /v1/sessions/abc with a body that is not JSON"
    )


@pytest.mark.parametrize(
    ("body", "message", "upstream_code"),
    [
        (
            {"code": 4001, "message": "quota", "data": None},
            "LiveAvatar answered POST /v1/sessions/keep-alive with code 4001, not 1000: quota",
            4001,
        ),
        (
            {"code": "1000", "message": "stringly"},
            "LiveAvatar answered POST /v1/sessions/keep-alive with code 1000, not 1000: stringly",
            None,
        ),
        (
            {"message": "no code"},
            "LiveAvatar answered POST /v1/sessions/keep-alive with code None, not 1000: no code",
            None,
        ),
        (
            [1000],
            "LiveAvatar answered POST /v1/sessions/keep-alive with code None, not 1000: Fine",
            None,
        ),
    ],
    ids=["other-code", "string-code", "no-code", "not-an-object"],
)
async def test_an_envelope_without_success_code_is_rejected(
    canned: Canned, body: Any, message: str, upstream_code: int | None
) -> None:
    canned.answer(200, body, reason="Fine")
    async with await client_for(canned) as la:
        with pytest.raises(UpstreamRejected) as caught:
            await la.keep_alive("s-1")
    assert caught.value.message == message
    assert caught.value.http_status == 200
    assert caught.value.upstream_code == upstream_code
    assert len(canned.requests) == 1


@pytest.mark.parametrize(
    "data",
    [{"session_id": "s-1"}, {"session_token": "t"}, None],
    ids=["no-token", "no-id", "no-data"],
)
async def test_a_token_answer_without_id_or_token(canned: Canned, data: Any) -> None:
    canned.answer(200, {"code": 1000, "data": data})
    async with await client_for(canned) as la:
        with pytest.raises(UpstreamProtocolError) as caught:
            await la.create_token(LITE)
    assert caught.value.message == "LiveAvatar token answer lacks session_id or session_token"


@pytest.mark.parametrize("data", [{"ws_url": "wss://x"}, ["session_id"]], ids=["no-id", "list"])
async def test_a_start_answer_without_session_id(canned: Canned, data: Any) -> None:
    canned.answer(200, {"code": 1000, "data": data})
    async with await client_for(canned) as la:
        with pytest.raises(UpstreamProtocolError) as caught:
            await la.start_session(SessionToken("s-1", "t"))
    assert caught.value.message == "LiveAvatar start answer lacks session_id"


@pytest.mark.parametrize("data", [{"results": {}}, {"count": 1}, ["results"]])
async def test_a_session_list_without_results(canned: Canned, data: Any) -> None:
    canned.answer(200, {"code": 1000, "data": data})
    async with await client_for(canned) as la:
        with pytest.raises(UpstreamProtocolError) as caught:
            await la.list_sessions()
    assert caught.value.message == "LiveAvatar session list lacks results"


async def test_a_session_entry_that_is_not_an_object(canned: Canned) -> None:
    canned.answer(200, {"code": 1000, "data": ["s-1"]})
    async with await client_for(canned) as la:
        with pytest.raises(UpstreamProtocolError) as caught:
            await la.get_session("s-1")
    assert caught.value.message == "LiveAvatar session entry is not an object"


# -- LiveAvatar's error shapes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "upstream_message", "upstream_code"),
    [
        ({"code": 4220, "message": "top-level words"}, "top-level words", 4220),
        (
            {
                "detail": [
                    {"loc": ["body", "avatar_id"], "msg": "field required"},
                    "not an item",
                    {"loc": [], "msg": "bad mode"},
                    {"loc": ["query", 1]},
                    {"loc": ["fourth"], "msg": "never shown"},
                ]
            },
            "body.avatar_id: field required; bad mode",
            None,
        ),
        ({"detail": [{"loc": ["body", 1], "msg": ""}]}, "body.1", None),
        ({"detail": [{"msg": "max is X"}, {"loc": ["body", "mode"]}]}, "max is X; body.mode", None),
        ({"message": "", "detail": "Not authenticated"}, "Not authenticated", None),
        ({"detail": []}, "Teapot", None),
        ({"data": [{"message": "first"}, {"message": "second"}]}, "first", None),
        ({"data": [{"text": "none"}]}, "", None),
        ({"data": {"message": "inside data"}, "code": "x"}, "inside data", None),
        ({"data": {"message": 5}}, "Teapot", None),
        ({"message": 7}, "Teapot", None),
        (["a list"], "Teapot", None),
        (b"plain words", "plain words", None),
        (b"x" * 300, "x" * 200, None),
        (b"", "Teapot", None),
    ],
    ids=[
        "message",
        "detail-list",
        "detail-loc-only",
        "detail-missing-loc-or-msg",
        "detail-string",
        "detail-empty",
        "data-list",
        "data-list-no-message",
        "data-object",
        "data-message-not-text",
        "message-not-text",
        "list-body",
        "text-body",
        "long-text-body",
        "empty-body",
    ],
)
async def test_liveavatar_error_words_are_found_in_every_shape(
    canned: Canned, body: Any, upstream_message: str, upstream_code: int | None
) -> None:
    canned.answer(418, body, reason="Teapot")
    async with await client_for(canned) as la:
        with pytest.raises(UpstreamRejected) as caught:
            await la.keep_alive("s-1")
    assert caught.value.message == (
        f"LiveAvatar rejected POST /v1/sessions/keep-alive with HTTP 418: {upstream_message}"
    )
    assert caught.value.upstream_code == upstream_code


async def test_a_5xx_text_body_is_quoted_in_the_unavailable_error(canned: Canned) -> None:
    canned.answer(503, b"upstream connect error", reason="Service Unavailable")
    canned.answer(599, b"", reason="Odd")
    async with await client_for(canned, attempts=2) as la:
        with pytest.raises(UpstreamUnavailable) as caught:
            await la.stop_session("s-1")
    assert caught.value.message == (
        "LiveAvatar POST /v1/sessions/stop failed after 2 attempts: HTTP 599: Odd"
    )
    assert len(canned.requests) == 2

"""The right status every time: undecodable requests, refused attach targets, and nothing but OK
after session_stopped. Real sockets to the emulator; raw bytes on the gRPC wire."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from conftest import API_KEY  # tests/conftest.py
from server.helpers import WAIT_S, Stream, audio, lite_config, speak_end

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from liveavatar_emulator import Emulator

from .conftest import LimitedBridge, limited_bridge
from .helpers import Outcome, run_call

# Bytes no protobuf decoder accepts: a field header with wire type 7 (there is none), and a
# length-delimited field (request_id) claiming more bytes than follow.
BAD_WIRE_TYPE = b"\x0f"
TRUNCATED = b"\x0a\x05ab"


@pytest.fixture
async def lb(emulator: Emulator) -> AsyncIterator[LimitedBridge]:
    async with limited_bridge(emulator) as running:
        yield running
        left = await running.emu.wait_none_active()
        assert not left, f"upstream sessions left active after the test: {left}"


def _records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message]


@pytest.mark.parametrize("bad", [BAD_WIRE_TYPE, TRUNCATED], ids=["wire-type-7", "truncated"])
async def test_undecodable_first_request_is_invalid_argument_with_one_log_line(
    lb: LimitedBridge, caplog: pytest.LogCaptureFixture, bad: bytes
) -> None:
    caplog.set_level(logging.INFO)
    outcome = await run_call(lb.channel, [bad])
    assert outcome.code is grpc.StatusCode.INVALID_ARGUMENT, outcome
    assert "the first request" in outcome.details and "undecodable" in outcome.details
    assert outcome.events == []
    assert await lb.emu.sessions() == [], "no upstream session for a refused call"
    assert len(_records(caplog, "conversation refused")) == 1
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"


async def test_undecodable_later_request_is_invalid_argument_and_stops_the_session(
    lb: LimitedBridge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    call = raw = [lite_config().SerializeToString(), audio(b"\xff" * 800).SerializeToString()]
    outcome = await run_call(lb.channel, [*raw, TRUNCATED], half_close=False)
    assert outcome.code is grpc.StatusCode.INVALID_ARGUMENT, outcome
    # Request 1 is the config, 2 the audio: the third is the bad one.
    assert "request 3" in outcome.details and "undecodable" in outcome.details, call
    assert "session_started" in outcome.kinds()
    assert "session_stopped" not in outcome.kinds(), "an error status ends it, not a stop event"
    assert not await lb.emu.wait_none_active()
    assert len(_records(caplog, "conversation failed")) == 1
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"


async def test_empty_stream_and_non_config_first_request_are_invalid_argument(
    lb: LimitedBridge,
) -> None:
    empty = await run_call(lb.channel, [])
    assert empty.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "ended before the first request" in empty.details
    audio_first = await run_call(lb.channel, [audio(b"\x00" * 80).SerializeToString()])
    assert audio_first.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "the first request carries audio" in audio_first.details


@pytest.mark.parametrize("method", ["StopSession", "ListSessions"])
async def test_undecodable_unary_request_is_invalid_argument(
    lb: LimitedBridge, method: str
) -> None:
    call = lb.channel.unary_unary(
        f"/avatarbridge.v1.AvatarBridgeService/{method}",
        request_serializer=lambda data: data,
        response_deserializer=lambda data: data,
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(BAD_WIRE_TYPE, timeout=WAIT_S)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"avatarbridge.v1.{method}Request" in (refused.value.details() or "")


# Attach refused by the target.


async def _started_lite(http: httpx.AsyncClient) -> tuple[str, str]:
    """A LITE session started directly on the emulator: (session_id, ws_url)."""
    headers = {"X-API-KEY": API_KEY}
    body = {"mode": "LITE", "avatar_id": "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"}
    token = await http.post("/v1/sessions/token", json=body, headers=headers)
    assert token.status_code == 200, token.text
    data = token.json()["data"]
    bearer = {"Authorization": f"Bearer {data['session_token']}"}
    start = await http.post("/v1/sessions/start", headers=bearer)
    assert start.status_code == 201, start.text
    return data["session_id"], start.json()["data"]["ws_url"]


async def _stop(http: httpx.AsyncClient, session_id: str) -> None:
    response = await http.post(
        "/v1/sessions/stop", json={"session_id": session_id}, headers={"X-API-KEY": API_KEY}
    )
    assert response.status_code == 200, response.text


def _attach(session_id: str, ws_url: str) -> bytes:
    attach = pb.AttachSession(
        session_id=session_id, lite=pb.LiteAttachment(ws_url=ws_url), stop_on_end=False
    )
    return pb.ConverseRequest(config=pb.SessionConfig(attach=attach)).SerializeToString()


@contextlib.asynccontextmanager
async def _http_answering(status_line: str) -> AsyncIterator[int]:
    """A loopback TCP server answering every request with `status_line` (no upgrade)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(f"HTTP/1.1 {status_line}\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_attach_refusals_map_to_the_code_that_matches(lb: LimitedBridge) -> None:
    async with httpx.AsyncClient(base_url=lb.emulator.base_url, timeout=WAIT_S) as http:
        session_id, ws_url = await _started_lite(http)
        ended_id, ended_url = await _started_lite(http)
        await _stop(http, ended_id)
        wrong_token = ws_url.replace("token=", "token=not-the-token-")
        unknown = ws_url.replace(session_id, str(uuid.uuid4()))
        cases: list[tuple[str, str, grpc.StatusCode, str]] = [
            (session_id, wrong_token, grpc.StatusCode.PERMISSION_DENIED, "HTTP 403"),
            (session_id, unknown, grpc.StatusCode.NOT_FOUND, "HTTP 404"),
            (ended_id, ended_url, grpc.StatusCode.FAILED_PRECONDITION, "HTTP 400"),
            (
                session_id,
                f"ws://127.0.0.1:{_closed_port()}/v1/lite/{session_id}?token=x",
                grpc.StatusCode.UNAVAILABLE,
                "could not open",
            ),
        ]
        async with _http_answering("503 Service Unavailable") as port:
            url = f"ws://127.0.0.1:{port}/v1/lite/{session_id}?token=x"
            cases.append((session_id, url, grpc.StatusCode.UNAVAILABLE, "HTTP 503"))
            for sid, url, code, words in cases:
                outcome = await run_call(lb.channel, [_attach(sid, url)])
                assert (outcome.code, words in outcome.details) == (code, True), (url, outcome)
                assert "token=" not in outcome.details, "the ws_url is a secret"
        # The refused attaches did not touch the target session.
        detail = await lb.emu.session(session_id)
        assert detail["status"] == "started"
        await _stop(http, session_id)


# Nothing after session_stopped but OK.


async def _live_conversation(lb: LimitedBridge) -> Stream:
    stream = Stream(lb.stub)
    await stream.send(lite_config())
    await stream.started()
    await stream.until(
        "session_state_changed",
        lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
    )
    return stream


async def test_shutdown_while_liveavatar_stalls_the_stop_still_ends_ok(
    emulator: Emulator,
) -> None:
    async with limited_bridge(emulator) as lb:
        streams = [await _live_conversation(lb) for _ in range(3)]
        # Every stop now hangs longer than the whole shutdown grace.
        await lb.emu.faults(delay_s=6.0, delay_next=10)
        await lb.server.stop(grace_s=2.0)
        for stream in streams:
            events = await stream.drain()
            kinds = [e.WhichOneof("event") for e in events]
            assert kinds[-1] == "session_stopped", kinds
            assert events[-1].session_stopped.reason == pb.STOP_REASON_SERVER_SHUTDOWN
            code, details = await stream.status()
            assert code is grpc.StatusCode.OK, (code, details)
        await lb.emu.faults(delay_s=0.0, delay_next=0)
        # LiveAvatar stalled past the grace: the stops could not finish (the journal's job,
        # not this test's); stop what is left so the emulator ends clean.
        async with httpx.AsyncClient(base_url=emulator.base_url, timeout=WAIT_S) as http:
            for session_id in await lb.emu.active():
                await _stop(http, session_id)


async def test_half_close_mid_utterance_ends_ok_after_session_stopped(lb: LimitedBridge) -> None:
    stream = await _live_conversation(lb)
    await stream.send(
        audio(b"\x7f" * 4000), audio(b"\x7f" * 4000), speak_end(), audio(b"\x00" * 80)
    )
    await stream.half_close()
    events = await stream.drain()
    assert events and events[-1].WhichOneof("event") == "session_stopped"
    assert (await stream.status())[0] is grpc.StatusCode.OK


def _summary(outcome: Outcome) -> dict[str, Any]:
    return {"code": outcome.code, "details": outcome.details, "kinds": outcome.kinds()}

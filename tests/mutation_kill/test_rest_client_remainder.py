"""LiveAvatarClient edges the earlier mutation runs never reached: the upstream message of an
envelope-level refusal (it decides the status), the observer's duration, and the name of a
dropped connection's error.

Real loopback servers (the canned HTTP/1.1 server of test_rest_client_edges, and one that closes
every connection unanswered). LiveAvatar's envelope is ``{code, message, data}`` with success
code 1000 (shared/reference liveavatar-api.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from avatar_bridge.errors import UpstreamRejected, UpstreamUnavailable
from avatar_bridge.liveavatar.rest import LiveAvatarClient

from .test_rest_client_edges import Canned, config_for


@pytest.fixture
async def canned() -> AsyncIterator[Canned]:
    server = Canned()
    yield server
    await server.stop()


async def test_an_envelope_refusal_is_classified_by_liveavatars_message(canned: Canned) -> None:
    # HTTP 200 with a failure code: LiveAvatar's own words still decide the status
    # (out of credits is RESOURCE_EXHAUSTED, the README's errors table).
    canned.answer(200, {"code": 4002, "message": "Insufficient credits", "data": None})
    async with LiveAvatarClient(config_for(await canned.start())) as la:
        with pytest.raises(UpstreamRejected) as caught:
            await la.keep_alive("s-1")
    assert caught.value.grpc_code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.upstream_code == 4002


async def test_the_observer_gets_the_attempts_duration(canned: Canned) -> None:
    seen: list[tuple[str, float, str]] = []
    canned.answer(200, {"code": 1000, "message": "ok", "data": None})
    la = LiveAvatarClient(config_for(await canned.start()), observer=lambda *a: seen.append(a))
    began = time.monotonic()
    async with la:
        await la.keep_alive("s-1")
    elapsed = time.monotonic() - began
    ((what, seconds, kind),) = seen
    assert (what, kind) == ("POST /v1/sessions/keep-alive", "ok")
    assert 0.0 <= seconds <= elapsed


async def test_a_dropped_connection_names_its_error() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with LiveAvatarClient(config_for(f"http://127.0.0.1:{port}", attempts=1)) as la:
            with pytest.raises(UpstreamUnavailable) as caught:
                await la.keep_alive("s-1")
    finally:
        server.close()
        await server.wait_closed()
    assert "connection error (RemoteProtocolError: " in str(caught.value)

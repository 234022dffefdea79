"""No open proxy: attach targets must be on the allowlist, checked before any connection;
an attached session becomes the bridge's to stop only once it connected, and only for an
operator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from server.helpers import Inspector  # tests/server/helpers.py

from liveavatar_emulator import Emulator

from .conftest import BOTH_KEY, TALKER_KEY, StartBridge
from .streams import KeyedStream, attach_full, attach_lite, channel, upstream_session


@dataclass
class Listener:
    """A TCP listener that counts the connections it gets and closes them."""

    port: int = 0
    connections: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.connected.set()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    probe = Listener()
    server = await asyncio.start_server(probe.on_connect, "127.0.0.1", 0)
    probe.port = server.sockets[0].getsockname()[1]
    async with server:
        yield probe


@pytest.fixture
async def inspector(emulator: Emulator) -> AsyncIterator[Inspector]:
    inspector = Inspector(emulator.base_url)
    try:
        yield inspector
    finally:
        await inspector.aclose()


async def test_attach_outside_the_allowlist_is_denied_before_any_connection(
    start_bridge: StartBridge, auth_file: object, listener: Listener
) -> None:
    probe_url = f"ws://127.0.0.1:{listener.port}/internal-probe?x=1"
    async with start_bridge(auth_file=str(auth_file)) as bridge, channel(bridge.target) as stub:
        for first in (
            attach_lite("s-victim", probe_url, stop_on_end=False),
            attach_lite("s-victim", "wss://10.0.0.1/internal", stop_on_end=False),
            attach_full("s-victim", f"ws://127.0.0.1:{listener.port}"),
        ):
            stream = KeyedStream(stub, BOTH_KEY)
            await stream.send(first)
            code, details = await stream.outcome()
            assert code == grpc.StatusCode.PERMISSION_DENIED, (code, details)
            assert "may not connect" in details
            # No port-scan oracle: the URL is not echoed.
            assert str(listener.port) not in details and "internal" not in details
    assert listener.connections == 0

    # Control: with the host allowed, the same attach does reach the listener.
    async with (
        start_bridge(auth_file=str(auth_file), attach_allow=("127.0.0.1",)) as bridge,
        channel(bridge.target) as stub,
    ):
        stream = KeyedStream(stub, BOTH_KEY)
        await stream.send(attach_lite("s-victim", probe_url, stop_on_end=False))
        code, _ = await stream.outcome()
        assert code == grpc.StatusCode.UNAVAILABLE
    assert listener.connections >= 1


async def test_a_failed_attach_does_not_stop_the_victim_session(
    start_bridge: StartBridge,
    auth_file: object,
    emulator: Emulator,
    inspector: Inspector,
    listener: Listener,
) -> None:
    async with (
        upstream_session(emulator.base_url) as victim,
        start_bridge(auth_file=str(auth_file), attach_allow=("127.0.0.1",)) as bridge,
        channel(bridge.target) as stub,
    ):
        # An operator attaches with stop_on_end to a URL that does not answer WebSocket.
        dead = f"ws://127.0.0.1:{listener.port}/nothing"
        stream = KeyedStream(stub, BOTH_KEY)
        await stream.send(attach_lite(victim.session_id, dead, stop_on_end=True))
        code, _ = await stream.outcome()
        assert code == grpc.StatusCode.UNAVAILABLE
        # A caller without the operate role may not ask for stop_on_end at all.
        stream = KeyedStream(stub, TALKER_KEY)
        await stream.send(attach_lite(victim.session_id, victim.ws_url, stop_on_end=True))
        code, details = await stream.outcome()
        assert code == grpc.StatusCode.PERMISSION_DENIED and "operate" in details
        assert victim.session_id in await inspector.active()


async def test_a_connected_attach_with_stop_on_end_stops_the_session(
    start_bridge: StartBridge, auth_file: object, emulator: Emulator, inspector: Inspector
) -> None:
    async with (
        upstream_session(emulator.base_url) as victim,
        start_bridge(auth_file=str(auth_file)) as bridge,
        channel(bridge.target) as stub,
    ):
        # The emulator is the configured LiveAvatar API, so its ws_url is allowed.
        stream = KeyedStream(stub, BOTH_KEY)
        await stream.send(attach_lite(victim.session_id, victim.ws_url, stop_on_end=True))
        started = await stream.started()
        assert started.attached and started.session_id == victim.session_id
        await stream.half_close()
        await stream.drain()
        detail = await inspector.wait_ended(victim.session_id)
        assert detail["status"] == "ended"

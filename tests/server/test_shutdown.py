"""Graceful shutdown of a real `avatar-bridge serve` process on SIGTERM.

The emulator runs in the test process (not embedded in the bridge), so what it recorded can be
read after the bridge has exited: no timing window to hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
from collections.abc import AsyncIterator

import grpc
import pytest
from conftest import API_KEY

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator

from .helpers import WAIT_S, Inspector, Stream, lite_config
from .process import BridgeProcess, free_port

GRACE_S = 10.0
"""Generous: the process exits as soon as its work is done, the grace is only an upper bound."""
EXIT_MARGIN_S = 10.0
HOLD_S = 0.5
"""Real seconds the emulator delays a ListSessions call in flight at SIGTERM (far under GRACE_S)."""
JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}")


async def hold_open(
    stub: pb_grpc.AvatarBridgeServiceStub, emu: Inspector
) -> asyncio.Future[pb.ListSessionsResponse]:
    """A ListSessions call whose LiveAvatar request the emulator delays by HOLD_S: in flight
    when SIGTERM arrives, it must still complete within the grace. Returns the call."""
    delayed = (await emu.faults(delay_s=HOLD_S, delay_next=1))["delayed"]
    call = asyncio.ensure_future(stub.ListSessions(pb.ListSessionsRequest()))
    await emu.wait_delayed(delayed + 1)
    return call


class Process(BridgeProcess):
    """The bridge under test, and the emulator it is pointed at."""

    emulator_url: str


@pytest.fixture
async def serve(emulator: Emulator) -> AsyncIterator[Process]:
    grpc_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEAVATAR_", "AVATAR_"))}
    env.update(
        AVATAR_BRIDGE_LISTEN=f"127.0.0.1:{grpc_port}",
        LIVEAVATAR_API_URL=emulator.base_url,
        LIVEAVATAR_API_KEY=API_KEY,
        AVATAR_BRIDGE_SHUTDOWN_GRACE_S=str(GRACE_S),
    )
    process = await Process.spawn(grpc_port, env=env)
    process.emulator_url = emulator.base_url
    try:
        yield process
    finally:
        await process.kill()


async def test_sigterm_stops_conversations_and_sessions_then_exits(serve: Process) -> None:
    await serve.wait_serving()
    emu = Inspector(serve.emulator_url)
    try:
        async with grpc.aio.insecure_channel(serve.target) as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            stream = Stream(stub)
            await stream.send(lite_config())
            started = await stream.started()
            assert await emu.active() == [started.session_id]
            pin = await hold_open(stub, emu)

            serve.proc.send_signal(signal.SIGTERM)
            stopped = await stream.until("session_stopped")
            assert stopped.session_stopped.reason == pb.STOP_REASON_SERVER_SHUTDOWN
            detail = await emu.wait_ended(started.session_id)
            assert detail["status"] == "ended"
            assert detail["end_reason"] == "USER_CLOSED"  # The bridge's stop, not the teardown.
            assert await emu.active() == []
            assert await stream.drain() == []  # session_stopped was the last event.
            code, details = await stream.status()
            assert code == grpc.StatusCode.OK, details
            await asyncio.wait_for(pin, WAIT_S)  # In-flight calls complete during the grace.
    finally:
        await emu.aclose()

    returncode = await serve.wait_exit(GRACE_S + EXIT_MARGIN_S)
    log = "\n".join(serve.stderr)
    assert returncode == 0, log

    records = []
    for line in serve.stderr:
        record = json.loads(line)  # Every line is one JSON object.
        assert isinstance(record, dict), line
        records.append(record)
    messages = [r["message"] for r in records]
    assert "shutting down" in messages, messages
    assert "shut down" in messages, messages
    stopped_logs = [r for r in records if r["message"] == "upstream session stopped"]
    assert [r["session_id"] for r in stopped_logs] == [started.session_id]
    assert API_KEY not in log, "the API key reached the log"
    assert not JWT.search(log), "a token reached the log"
    if started.livekit_client_token:
        assert started.livekit_client_token not in log
    assert "token=" not in log and "/v1/lite/" not in log  # The LITE ws_url carries a secret.


async def test_no_new_conversation_once_shutting_down(serve: Process) -> None:
    await serve.wait_serving()
    emu = Inspector(serve.emulator_url)
    try:
        async with grpc.aio.insecure_channel(serve.target) as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            first = Stream(stub)
            await first.send(lite_config())
            await first.started()
            pin = await hold_open(stub, emu)
            serve.proc.send_signal(signal.SIGTERM)
            await first.until("session_stopped")

            late = Stream(stub)
            with contextlib.suppress(grpc.aio.AioRpcError):
                await late.send(lite_config())
            with pytest.raises(grpc.aio.AioRpcError):
                await late.drain()
            code, details = await late.status()
            assert code == grpc.StatusCode.UNAVAILABLE, details
            assert late.events == []
            assert len(await emu.sessions()) == 1  # Nothing was created for the late call.
            await asyncio.wait_for(pin, WAIT_S)
    finally:
        await emu.aclose()
    assert await serve.wait_exit(GRACE_S + EXIT_MARGIN_S) == 0, "\n".join(serve.stderr)


async def test_a_sigterm_right_after_listening_still_drains() -> None:
    """The signal handlers are in place before the server listens: a SIGTERM the moment it
    says "listening" (a supervisor's parent dying, a unit stopped as it starts) gets the
    graceful stop, where it used to kill the process outright while it froze its start-up
    heap."""
    bridge = await BridgeProcess.launch("http://127.0.0.1:9")
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60.0  # A cold start imports the world; only an upper bound.
        while not bridge.lines('"avatar-bridge listening"'):
            assert bridge.proc.returncode is None, "\n".join(bridge.stderr)
            assert loop.time() < deadline, "never listening:\n" + "\n".join(bridge.stderr)
            await asyncio.sleep(0.001)
        bridge.signal(signal.SIGTERM)
        returncode = await bridge.wait_exit(GRACE_S + EXIT_MARGIN_S)
    finally:
        await bridge.kill()
    log = "\n".join(bridge.stderr)
    assert returncode == 0, log
    assert bridge.lines('"shut down"'), log

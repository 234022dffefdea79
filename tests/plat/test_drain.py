"""Rolling deploys: SIGTERM drains a real `avatar-bridge serve` without cutting conversations.

Health turns NOT_SERVING at once (Check and an open Watch), new Converse calls are refused
UNAVAILABLE, live conversations go on through the drain and end with SERVER_SHUTDOWN when it
runs out, Watch streams never hold the process, and it exits within drain + grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from reliability.helpers import BridgeProcess
from server.helpers import WAIT_S, Inspector, Stream, audio, lite_config, speak_end

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator

GRACE_S = 5.0
EXIT_MARGIN_S = 10.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SPEECH = b"\xff" * 1600  # 0.2 s of mu-law 8 kHz silence.


@contextlib.asynccontextmanager
async def bridge(emulator: Emulator, drain_s: float) -> AsyncIterator[BridgeProcess]:
    process = await BridgeProcess.start(
        emulator.base_url, "--drain-s", str(drain_s), grace_s=GRACE_S
    )
    try:
        yield process
    finally:
        await process.kill()


async def refused_while_draining(
    stub: pb_grpc.AvatarBridgeServiceStub,
) -> tuple[str, str, str, int]:
    """(code, message, ErrorInfo reason, RetryInfo seconds) of a Converse call while draining."""
    late = Stream(stub)
    with contextlib.suppress(grpc.aio.AioRpcError):
        await late.send(lite_config())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await late.drain()
    assert late.events == []
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    # The code, message and trailers say what refused the call when the rich status is missing.
    error = caught.value
    assert status is not None, (error.code(), error.details(), error.trailing_metadata())
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert [d.Unpack(info) or d.Unpack(retry) for d in status.details] == [True, True]
    return (
        caught.value.code().name,
        caught.value.details() or "",
        info.reason,
        retry.retry_delay.seconds,
    )


async def test_sigterm_drains_live_conversation_then_exits_early(emulator: Emulator) -> None:
    drain_s = 60.0  # An upper bound: the process leaves as soon as the last conversation ends.
    emu = Inspector(emulator.base_url)
    async with bridge(emulator, drain_s) as process:
        async with grpc.aio.insecure_channel(process.target) as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service="")
            )
            first = await asyncio.wait_for(watch.read(), WAIT_S)
            assert first.status == SERVING
            live = Stream(stub)
            await live.send(lite_config())
            started = await live.started()

            process.signal(signal.SIGTERM)
            second = await asyncio.wait_for(watch.read(), WAIT_S)
            assert second.status == NOT_SERVING
            check = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="avatarbridge.v1.AvatarBridgeService")
            )
            assert check.status == NOT_SERVING

            assert await refused_while_draining(stub) == (
                "UNAVAILABLE",
                "draining: retry on another instance",
                "DRAINING",
                0,
            )
            # The live conversation goes on: the avatar still speaks what it is sent.
            await live.send(audio(SPEECH), speak_end())
            await live.until("avatar_speak_ended")
            assert "session_stopped" not in live.kinds()
            assert await emu.active() == [started.session_id]

            await live.half_close()
            events = await live.drain()
            stops = [e.session_stopped for e in events if e.HasField("session_stopped")]
            assert [s.reason for s in stops] != [pb.STOP_REASON_SERVER_SHUTDOWN]
            assert (await live.status())[0] == grpc.StatusCode.OK
            # The Watch stream ends with the process instead of holding it open.
            with contextlib.suppress(grpc.aio.AioRpcError):
                assert await asyncio.wait_for(watch.read(), WAIT_S) is grpc.aio.EOF
        assert await process.wait_exit(drain_s + GRACE_S + EXIT_MARGIN_S) == 0
        assert "drain over" in "\n".join(process.stderr)
        assert (await emu.session(started.session_id))["status"] == "ended"
    await emu.aclose()


async def test_drain_runs_out_then_server_shutdown(emulator: Emulator) -> None:
    drain_s = 2.0
    emu = Inspector(emulator.base_url)
    async with bridge(emulator, drain_s) as process:
        async with grpc.aio.insecure_channel(process.target) as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            live = Stream(stub)
            await live.send(lite_config())
            started = await live.started()
            process.signal(signal.SIGTERM)
            stopped = await live.until("session_stopped")
            assert stopped.session_stopped.reason == pb.STOP_REASON_SERVER_SHUTDOWN
            assert (await live.status())[0] == grpc.StatusCode.OK
            detail = await emu.wait_ended(started.session_id)
            assert detail["end_reason"] == "USER_CLOSED"  # Stopped by the bridge.
        returncode = await process.wait_exit(drain_s + GRACE_S + EXIT_MARGIN_S)
        assert returncode == 0, "\n".join(process.stderr)
    await emu.aclose()

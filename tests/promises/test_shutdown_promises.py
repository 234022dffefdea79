"""README, Shutdown: health turns NOT_SERVING, live conversations get SERVER_SHUTDOWN, and the
bridge is done within the grace period even when LiveAvatar does not answer."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server.helpers import WAIT_S, Inspector, Stream, lite_config

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from liveavatar_emulator import Emulator

from .bridges import bridge_at

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
GRACE_S = 2.0
STUCK_S = 60.0
"""The emulator holds the bridge's stop call this long: far past the grace."""


async def test_health_turns_not_serving_and_stop_ends_within_the_grace(
    emulator: Emulator,
) -> None:
    inspector = Inspector(emulator.base_url)
    try:
        async with bridge_at(emulator.base_url, grace_s=GRACE_S) as bridge:
            health = health_pb2_grpc.HealthStub(bridge.channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
            first = await asyncio.wait_for(watch.read(), WAIT_S)
            assert first.status == SERVING

            stream = Stream(bridge.stub)
            await stream.send(lite_config())
            await stream.started()
            # From now on LiveAvatar answers nothing in time: the stop call hangs.
            await inspector.faults(delay_s=STUCK_S, delay_next=10)

            loop = asyncio.get_running_loop()
            began = loop.time()
            stopping = asyncio.ensure_future(bridge.server.stop(grace_s=GRACE_S))
            update = await asyncio.wait_for(watch.read(), WAIT_S)
            assert update.status == NOT_SERVING
            stopped = await stream.until("session_stopped")
            assert stopped.session_stopped.reason == pb.STOP_REASON_SERVER_SHUTDOWN
            # The grace is a promise, so its bound is asserted; the margin covers scheduling.
            await asyncio.wait_for(stopping, GRACE_S + 3.0)
            assert loop.time() - began < GRACE_S + 3.0 < STUCK_S
    finally:
        await inspector.faults(delay_s=0.0, delay_next=0)
        await inspector.aclose()


async def test_a_new_conversation_during_shutdown_is_unavailable(emulator: Emulator) -> None:
    inspector = Inspector(emulator.base_url)
    try:
        async with bridge_at(emulator.base_url, grace_s=GRACE_S) as bridge:
            held = Stream(bridge.stub)
            await held.send(lite_config())
            await held.started()
            await inspector.faults(delay_s=STUCK_S, delay_next=10)
            late = Stream(bridge.stub)  # Connected before the server stops listening.
            stopping = asyncio.ensure_future(bridge.server.stop(grace_s=GRACE_S))
            await held.until("session_stopped")
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await late.send(lite_config())
                await late.half_close()
            with contextlib.suppress(grpc.aio.AioRpcError):
                await late.drain()
            code, details = await late.status()
            assert code == grpc.StatusCode.UNAVAILABLE, details
            assert late.events == []
            await asyncio.wait_for(stopping, GRACE_S + 3.0)
        assert len(await inspector.sessions()) == 1
    finally:
        await inspector.faults(delay_s=0.0, delay_next=0)
        await inspector.aclose()

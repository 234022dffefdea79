"""Overload is refused, not shared: with --shed-lag-ms, a lagging event loop refuses new
conversations with RESOURCE_EXHAUSTED (as the session limit does) and admits them again once it
recovers."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import grpc
import pytest
from conftest import API_KEY  # tests/conftest.py
from server.helpers import WAIT_S, Stream, lite_config

from avatar_bridge.config import Limits, ServerConfig
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator


async def _block_the_loop(until: asyncio.Event) -> None:
    """Hog the event loop in 100 ms slices, as a saturated bridge would."""
    while not until.is_set():
        time.sleep(0.1)  # noqa: ASYNC251 - blocking on purpose: this is the overload.
        await asyncio.sleep(0.01)


async def test_a_lagging_loop_refuses_new_conversations_then_recovers(emulator: Emulator) -> None:
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=emulator.base_url,
        api_key=API_KEY,
        limits=replace(Limits(), shed_lag_ms=30.0),
    )
    server = BridgeServer(config)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            calm = asyncio.Event()
            hog = asyncio.create_task(_block_the_loop(calm))
            await asyncio.sleep(1.0)  # Long enough for the smoothed lag to pass 30 ms.
            refused = Stream(stub)
            await refused.send(lite_config())
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await refused.started()
            assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "overloaded" in (error.value.details() or "")
            calm.set()
            await hog
            admitted = None
            async with asyncio.timeout(WAIT_S):  # The smoothed lag decays once the hog stops.
                while admitted is None:
                    attempt = Stream(stub)
                    await attempt.send(lite_config())
                    try:
                        await attempt.started()
                        admitted = attempt
                    except grpc.aio.AioRpcError as again:
                        assert again.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                        await asyncio.sleep(0.2)
            await admitted.half_close()
            await admitted.drain()
    finally:
        await server.stop(grace_s=5.0)

"""Two bridges on one Redis (two pods, or two `--workers`): a principal's quota holds across
both, on real gRPC conversations against the emulator, refused with the usual rich details."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from conftest import API_KEY  # tests/conftest.py
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from security.conftest import auth_toml
from security.streams import KeyedStream, channel
from server.helpers import WAIT_S, lite_config

from avatar_bridge.config import SecurityConfig, ServerConfig
from avatar_bridge.server import BridgeServer
from liveavatar_emulator import Emulator

PAIR_KEY = "abk_pair-0123456789abcdefghijklmnopqrs"


@contextlib.asynccontextmanager
async def bridge(emulator: Emulator, redis_url: str, auth_file: Path) -> AsyncIterator[str]:
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=emulator.base_url,
        api_key=API_KEY,
        shutdown_grace_s=5.0,
        redis_url=redis_url,
        security=SecurityConfig(auth_file=str(auth_file)),
    )
    server = BridgeServer(config)
    port = await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace_s=5.0)


async def test_the_third_conversation_is_refused_on_either_bridge(
    emulator: Emulator, redis_url: str, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(
        auth_toml({"pair": {"roles": ["converse"], "keys": [PAIR_KEY], "max_conversations": 2}})
    )
    async with (
        bridge(emulator, redis_url, auth_file) as a,
        bridge(emulator, redis_url, auth_file) as b,
        channel(a) as stub_a,
        channel(b) as stub_b,
    ):
        live = []
        for stub in (stub_a, stub_b):
            stream = KeyedStream(stub, PAIR_KEY)
            await stream.send(lite_config())
            await stream.started()
            live.append(stream)
        for stub in (stub_a, stub_b):
            third = KeyedStream(stub, PAIR_KEY)
            await third.send(lite_config())
            try:
                await third.drain()
                raise AssertionError("the third conversation was admitted")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "limit of 2" in (error.details() or "")
                status = rpc_status.from_call(error)  # type: ignore[arg-type]
                assert status is not None
                reasons, subjects = [], []
                for packed in status.details:
                    if packed.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                        info = error_details_pb2.ErrorInfo()
                        packed.Unpack(info)
                        reasons.append(info.reason)
                    if packed.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
                        quota = error_details_pb2.QuotaFailure()
                        packed.Unpack(quota)
                        subjects += [v.subject for v in quota.violations]
                assert reasons == ["LIMIT_EXCEEDED"]
                assert subjects == ["principal:pair:conversations"]
        # One ends on bridge a: its slot is taken on bridge b.
        await live[0].half_close()
        await live[0].drain()
        # The lease goes back once its upstream session is stopped: retry until then.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while True:
            again = KeyedStream(stub_b, PAIR_KEY)
            await again.send(lite_config())
            try:
                await again.started()
                break
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert loop.time() < deadline, "the ended conversation's slot never came back"
                await asyncio.sleep(0.1)
        for stream in (live[1], again):
            await stream.half_close()
            await stream.drain()

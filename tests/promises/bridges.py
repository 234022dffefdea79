"""A bridge with any ServerConfig, in-process on a free loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import grpc
from conftest import API_KEY, Bridge

from avatar_bridge.config import Limits, ServerConfig, SessionDefaults
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc


@contextlib.asynccontextmanager
async def bridge_at(
    api_url: str,
    *,
    limits: dict[str, Any] | None = None,
    session: dict[str, Any] | None = None,
    grace_s: float = 5.0,
) -> AsyncIterator[Bridge]:
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=api_url,
        api_key=API_KEY,
        shutdown_grace_s=grace_s,
        limits=replace(Limits(), **(limits or {})),
        session=replace(SessionDefaults(), **(session or {})),
    )
    server = BridgeServer(config)
    port = await server.start()
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(target)
    try:
        yield Bridge(server, channel, pb_grpc.AvatarBridgeServiceStub(channel), target)
    finally:
        await channel.close()
        await server.stop(grace_s=grace_s)

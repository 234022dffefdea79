"""Server reflection answers under both protocol versions, v1 (newer tools) and v1alpha."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2 as r

WAIT_S = 15.0

# The two versions share every message; only the service path differs.
PATHS = {
    "v1": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "v1alpha": "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}


async def ask(channel: grpc.aio.Channel, path: str, request: Any) -> Any:
    call = channel.stream_stream(
        path,
        request_serializer=r.ServerReflectionRequest.SerializeToString,
        response_deserializer=r.ServerReflectionResponse.FromString,
    )
    stream = call(iter([request]))
    responses = [resp async for resp in stream]
    assert len(responses) == 1
    return responses[0]


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
async def test_reflection_lists_and_describes(bridge: Any, version: str) -> None:
    path = PATHS[version]
    async with asyncio.timeout(WAIT_S):
        listed = await ask(bridge.channel, path, r.ServerReflectionRequest(list_services=""))
        names = {s.name for s in listed.list_services_response.service}
        assert names == {
            "avatarbridge.v1.AvatarBridgeService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        }
        for symbol in (
            "avatarbridge.v1.AvatarBridgeService",
            "grpc.reflection.v1.ServerReflection",
        ):
            found = await ask(
                bridge.channel, path, r.ServerReflectionRequest(file_containing_symbol=symbol)
            )
            assert found.WhichOneof("message_response") == "file_descriptor_response", found
            assert found.file_descriptor_response.file_descriptor_proto

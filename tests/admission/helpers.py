"""Raw Converse calls: any bytes on the wire, decoded responses, the final status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from server.helpers import WAIT_S

from avatarbridge.v1 import avatar_bridge_pb2 as pb

CONVERSE = "/avatarbridge.v1.AvatarBridgeService/Converse"


def raw_converse(
    channel: grpc.aio.Channel,
) -> grpc.aio.StreamStreamMultiCallable[bytes, pb.ConverseResponse]:
    """Converse with requests sent as given bytes (identity serializer), so they may be invalid."""
    return channel.stream_stream(
        CONVERSE,
        request_serializer=lambda data: data,
        response_deserializer=pb.ConverseResponse.FromString,
    )


@dataclass
class Outcome:
    """How one call ended, as the client saw it."""

    code: grpc.StatusCode
    details: str
    events: list[pb.ConverseResponse] = field(default_factory=list)
    written: int = 0
    """Requests the client managed to write before the call ended."""

    def kinds(self) -> list[str]:
        return [e.WhichOneof("event") or "" for e in self.events]


async def run_call(
    channel: grpc.aio.Channel,
    requests: Sequence[bytes],
    *,
    half_close: bool = True,
    timeout_s: float = WAIT_S,
) -> Outcome:
    """Write `requests`, optionally half-close, read every event; return the outcome.

    Writes stop at the first one the call refuses (the server already ended it).
    """
    call = raw_converse(channel)()
    events: list[pb.ConverseResponse] = []

    async def read_all() -> None:
        async for event in call:
            events.append(event)

    reader = asyncio.create_task(read_all())
    written = 0
    try:
        async with asyncio.timeout(timeout_s):
            for data in requests:
                if call.done():
                    break
                try:
                    await call.write(data)
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    break
                written += 1
            if half_close and not call.done():
                with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    await call.done_writing()
            with contextlib.suppress(grpc.aio.AioRpcError):
                await reader
            code = await call.code()
            details = await call.details()
    finally:
        reader.cancel()
        call.cancel()
    return Outcome(code, details or "", events, written)

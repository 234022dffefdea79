"""Converse streams and upstream sessions for the security tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
from conftest import API_KEY  # tests/conftest.py
from server.helpers import SANDBOX_AVATAR_ID, Stream  # tests/server/helpers.py

from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig, StartedSession
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc


def auth(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


class KeyedStream(Stream):
    """tests/server/helpers.py's Stream, calling with a caller key."""

    def __init__(self, stub: pb_grpc.AvatarBridgeServiceStub, key: str) -> None:
        self.call = stub.Converse(metadata=auth(key))
        self.events: list[pb.ConverseResponse] = []

    async def outcome(self) -> tuple[grpc.StatusCode, str]:
        """Read every event to the end of the call, then its status."""
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self.drain()
        return await self.status()


@contextlib.asynccontextmanager
async def channel(target: str) -> AsyncIterator[pb_grpc.AvatarBridgeServiceStub]:
    async with grpc.aio.insecure_channel(target) as ch:
        yield pb_grpc.AvatarBridgeServiceStub(ch)


def attach_lite(session_id: str, ws_url: str, *, stop_on_end: bool) -> pb.ConverseRequest:
    attach = pb.AttachSession(
        session_id=session_id, lite=pb.LiteAttachment(ws_url=ws_url), stop_on_end=stop_on_end
    )
    return pb.ConverseRequest(config=pb.SessionConfig(attach=attach))


def attach_full(session_id: str, livekit_url: str) -> pb.ConverseRequest:
    attach = pb.AttachSession(
        session_id=session_id,
        full=pb.FullAttachment(
            livekit_url=livekit_url,
            livekit_token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
            participation=pb.PARTICIPATION_CONTROLLER,
        ),
    )
    return pb.ConverseRequest(config=pb.SessionConfig(attach=attach))


@contextlib.asynccontextmanager
async def upstream_session(api_url: str) -> AsyncIterator[StartedSession]:
    """A LITE session started directly on LiveAvatar (the emulator), as another app would;
    stopped afterwards."""
    rest = LiveAvatarClient(RestConfig(api_key=API_KEY, base_url=api_url))
    try:
        token = await rest.create_token(
            {"avatar_id": SANDBOX_AVATAR_ID, "mode": "LITE", "is_sandbox": True}
        )
        started = await rest.start_session(token)
        try:
            yield started
        finally:
            with contextlib.suppress(Exception):
                await rest.stop_session(started.session_id)
    finally:
        await rest.aclose()

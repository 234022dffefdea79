"""AvatarBridgeClient: a typed grpc.aio client for AvatarBridgeService."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

from .conversation import Conversation, ConversationOpener
from .errors import BridgeRPCError
from .options import ClientOptions

_Response = TypeVar("_Response")

__all__ = ["AvatarBridgeClient"]

Metadata = Sequence[tuple[str, str]]


class AvatarBridgeClient:
    """Client for an avatar bridge.

    Example::

        async with AvatarBridgeClient("localhost:50051") as client:
            async with client.converse(lite_session(sandbox=True)) as conv:
                await conv.send_audio(pcm, request_id="hello")
                await conv.speak_end()
                async for event in conv.events():
                    ...

    The channel opens on first use, inside the running event loop.
    """

    def __init__(self, target: str | None = None, *, options: ClientOptions | None = None) -> None:
        """Args:
        target: ``host:port`` of the bridge; overrides ``options.target``.
        options: everything else; defaults to :attr:`ClientOptions.default`.
        """
        options = options or ClientOptions.default
        if target is not None:
            options = dataclasses.replace(options, target=target)
        self._options = options
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.AvatarBridgeServiceAsyncStub | None = None

    @property
    def options(self) -> ClientOptions:
        """The options in force."""
        return self._options

    async def __aenter__(self) -> AvatarBridgeClient:
        self._get_stub()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel, cancelling any call still open on it."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    def converse(
        self,
        config: pb.SessionConfig,
        *,
        request_id: str = "",
        wait_started: bool = True,
        metadata: Metadata = (),
    ) -> ConversationOpener:
        """Open a conversation: send ``config`` first, then (by default) wait for
        ``session_started``, which stays available to :meth:`Conversation.events`.

        Use as ``conv = await client.converse(...)`` or ``async with client.converse(...)``.

        Raises:
            BridgeRPCError: the server refused the config or the session failed to start.
        """

        async def open_conversation() -> Conversation:
            call = self._get_stub().Converse(
                metadata=self._metadata(metadata), wait_for_ready=self._options.wait_for_ready
            )
            conversation = Conversation(call, close_timeout=self._options.close_timeout)
            try:
                await conversation._start(config, request_id, wait_started)
            except BaseException:
                call.cancel()
                raise
            return conversation

        return ConversationOpener(open_conversation)

    async def stop_session(
        self,
        session_id: str,
        reason: pb.StopReason.ValueType = pb.STOP_REASON_UNSPECIFIED,
        *,
        metadata: Metadata = (),
    ) -> pb.StopSessionResponse:
        """Stop a LiveAvatar session by id; an unset reason records USER_CLOSED.

        Raises:
            BridgeRPCError: for example NOT_FOUND for an unknown session.
        """
        request = pb.StopSessionRequest(session_id=session_id, reason=reason)
        return await self._unary(self._get_stub().StopSession, request, metadata)

    async def list_sessions(
        self, page_size: int = 0, page_token: str = "", *, metadata: Metadata = ()
    ) -> pb.ListSessionsResponse:
        """One page of the account's active sessions (page_size 0 takes the server's 20)."""
        request = pb.ListSessionsRequest(page_size=page_size, page_token=page_token)
        return await self._unary(self._get_stub().ListSessions, request, metadata)

    async def iter_sessions(
        self, page_size: int = 0, *, metadata: Metadata = ()
    ) -> AsyncIterator[pb.SessionInfo]:
        """Every active session, page after page."""
        token = ""
        while True:
            page = await self.list_sessions(page_size, token, metadata=metadata)
            for session in page.sessions:
                yield session
            token = page.next_page_token
            if not token:
                return

    async def _unary(
        self,
        method: Callable[..., Awaitable[_Response]],
        request: Any,
        metadata: Metadata,
    ) -> _Response:
        """One unary call with the client's timeout and metadata; errors as BridgeRPCError."""
        try:
            return await method(
                request,
                timeout=self._options.rpc_timeout,
                metadata=self._metadata(metadata),
                wait_for_ready=self._options.wait_for_ready,
            )
        except grpc.aio.AioRpcError as error:
            raise BridgeRPCError.from_aio_rpc_error(error) from None

    def _metadata(self, extra: Metadata) -> tuple[tuple[str, str], ...]:
        auth = (("authorization", f"Bearer {self._options.api_key}"),)
        return (*(auth if self._options.api_key else ()), *self._options.metadata, *extra)

    def _get_stub(self) -> pb_grpc.AvatarBridgeServiceAsyncStub:
        if self._stub is None:
            options = self._options.grpc_channel_options()
            if self._options.tls:
                credentials = grpc.ssl_channel_credentials(
                    self._options.root_certificates,
                    self._options.private_key,
                    self._options.certificate_chain,
                )
                channel = grpc.aio.secure_channel(self._options.target, credentials, options)
            else:
                channel = grpc.aio.insecure_channel(self._options.target, options)
            self._channel = channel
            self._stub = pb_grpc.AvatarBridgeServiceStub(channel)
        return self._stub

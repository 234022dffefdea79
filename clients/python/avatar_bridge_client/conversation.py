"""One Converse call: send audio and commands, receive the session's events.

A :class:`Conversation` wraps a grpc.aio bidirectional call with ``read()``/``write()`` only
(grpc.aio forbids mixing them with async iteration on one call). Writes may come from several
tasks (they are serialised); events must be read by one consumer at a time.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType

import grpc

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .errors import BridgeError, BridgeRPCError, ConversationClosedError

__all__ = ["Conversation", "ConversationOpener"]

ConverseCall = grpc.aio.StreamStreamCall[pb.ConverseRequest, pb.ConverseResponse]


class Conversation:
    """A live conversation with one LiveAvatar session, through the bridge.

    Obtain one from :meth:`AvatarBridgeClient.converse`; every ``send``-style method returns
    the ``request_id`` it sent (empty when none), which answering events echo.
    """

    def __init__(self, call: ConverseCall, *, close_timeout: float) -> None:
        """Wrap an open Converse call (the config is sent by :meth:`_start`)."""
        self._call = call
        self._close_timeout = close_timeout
        self._write_lock = asyncio.Lock()
        self._buffered: collections.deque[pb.ConverseResponse] = collections.deque()
        self._session: pb.SessionStarted | None = None
        self._ended = False

    # Opening.

    async def _start(self, config: pb.SessionConfig, request_id: str, wait_started: bool) -> None:
        await self.send(pb.ConverseRequest(request_id=request_id, config=config))
        if not wait_started:
            return
        while self._session is None:
            event = await self._read()
            if event is None:
                raise BridgeError("the conversation ended before the session started")
            self._buffered.append(event)

    # State.

    @property
    def session(self) -> pb.SessionStarted | None:
        """The ``session_started`` event's payload, once it has been received."""
        return self._session

    @property
    def session_id(self) -> str:
        """The LiveAvatar session id, or "" before ``session_started``."""
        return self._session.session_id if self._session else ""

    @property
    def ended(self) -> bool:
        """True once the server has ended the call and every event has been read."""
        return self._ended and not self._buffered

    # Sending.

    async def send(self, request: pb.ConverseRequest) -> str:
        """Send any request; returns its request_id.

        Raises:
            BridgeRPCError: the call has already failed with a non-OK status.
            ConversationClosedError: the conversation was half-closed or has ended.
        """
        async with self._write_lock:
            try:
                await self._call.write(request)
            except grpc.aio.AioRpcError as error:
                raise BridgeRPCError.from_aio_rpc_error(error) from None
            except asyncio.InvalidStateError as error:
                # grpc.aio says "finished" even when the call failed: surface the real status.
                await self._raise_if_failed()
                raise ConversationClosedError(str(error)) from None
        return request.request_id

    async def send_audio(self, data: bytes, request_id: str | None = None) -> str:
        """Send a chunk of audio in the config's ``input_audio`` format (whole frames,
        at most 1 MiB). In LITE the first chunk's request_id names the utterance."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", audio=pb.AudioChunk(data=data))
        )

    async def speak_end(self, request_id: str | None = None) -> str:
        """End the current utterance (LITE): the avatar finishes speaking what it has."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", speak_end=pb.SpeakEnd())
        )

    async def interrupt(self, request_id: str | None = None) -> str:
        """Stop the avatar now and drop all audio not yet played."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", interrupt=pb.Interrupt())
        )

    async def start_listening(self, request_id: str | None = None) -> str:
        """Put the avatar in its listening pose."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", start_listening=pb.StartListening())
        )

    async def stop_listening(self, request_id: str | None = None) -> str:
        """Take the avatar out of its listening pose."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", stop_listening=pb.StopListening())
        )

    async def keep_alive(self, request_id: str | None = None) -> str:
        """Extend the LiveAvatar session's idle timeout now."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", keep_alive=pb.KeepAlive())
        )

    async def speak_text(self, text: str, request_id: str | None = None) -> str:
        """Make the avatar say ``text`` verbatim (FULL)."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", speak_text=pb.SpeakText(text=text))
        )

    async def speak_response(self, text: str, request_id: str | None = None) -> str:
        """Hand the avatar ``text`` as its LLM's answer (FULL)."""
        return await self.send(
            pb.ConverseRequest(
                request_id=request_id or "", speak_response=pb.SpeakResponse(text=text)
            )
        )

    async def push_to_talk_start(self, request_id: str | None = None) -> str:
        """Open a push-to-talk window (FULL, PUSH_TO_TALK sessions)."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", push_to_talk_start=pb.PushToTalkStart())
        )

    async def push_to_talk_stop(self, request_id: str | None = None) -> str:
        """Close the push-to-talk window (FULL, PUSH_TO_TALK sessions)."""
        return await self.send(
            pb.ConverseRequest(request_id=request_id or "", push_to_talk_stop=pb.PushToTalkStop())
        )

    # Ending.

    async def close(self) -> None:
        """Half-close: tell the server no more requests come. The server then sends
        ``session_stopped`` and ends the call; keep reading events to see it. Idempotent."""
        async with self._write_lock:
            await self._call.done_writing()

    def cancel(self) -> None:
        """Abandon the call at once (the server sees CANCELLED)."""
        self._call.cancel()

    async def drain(self) -> list[pb.ConverseResponse]:
        """Read every remaining event until the server ends the call, and return them.

        Waits at most the client's ``close_timeout``; on expiry the call is cancelled and
        :class:`TimeoutError` raised.

        Raises:
            BridgeRPCError: the call ended with a non-OK status.
        """
        events: list[pb.ConverseResponse] = []
        try:
            async with asyncio.timeout(self._close_timeout):
                while (event := await self.next_event()) is not None:
                    events.append(event)
        except TimeoutError:
            self.cancel()
            raise
        return events

    # Receiving.

    async def next_event(self) -> pb.ConverseResponse | None:
        """The next event, or None once the call has ended with OK.

        Raises:
            BridgeRPCError: the call ended with a non-OK status.
        """
        if self._buffered:
            return self._buffered.popleft()
        return await self._read()

    async def events(self) -> AsyncIterator[pb.ConverseResponse]:
        """Iterate over events until the call ends (``session_started`` included).

        Raises:
            BridgeRPCError: the call ended with a non-OK status.
        """
        while (event := await self.next_event()) is not None:
            yield event

    async def _read(self) -> pb.ConverseResponse | None:
        if self._ended:
            return None
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError as error:
            self._ended = True
            raise BridgeRPCError.from_aio_rpc_error(error) from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # our own task is being cancelled: let it
            # grpc.aio reports a call cancelled through cancel() as CancelledError.
            self._ended = True
            raise BridgeRPCError(grpc.StatusCode.CANCELLED, "the call was cancelled") from None
        if not isinstance(message, pb.ConverseResponse):  # grpc.aio.EOF
            self._ended = True
            return None
        if message.HasField("session_started"):
            self._session = message.session_started
        return message

    async def _raise_if_failed(self) -> None:
        if not self._call.done():
            return
        code = await self._call.code()
        if code != grpc.StatusCode.OK:
            metadata = await self._call.trailing_metadata()
            details = await self._call.details()
            raise BridgeRPCError(code, details or "", tuple(metadata or ())) from None


class ConversationOpener:
    """What :meth:`AvatarBridgeClient.converse` returns: await it for a
    :class:`Conversation`, or use it as ``async with`` to half-close and drain on exit
    (or cancel the call if the block raised)."""

    def __init__(self, open_conversation: Callable[[], Awaitable[Conversation]]) -> None:
        """Wrap the coroutine factory that opens the conversation."""
        self._open = open_conversation
        self._conversation: Conversation | None = None

    def __await__(self) -> Generator[object, None, Conversation]:
        return self._open().__await__()

    async def __aenter__(self) -> Conversation:
        self._conversation = await self._open()
        return self._conversation

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conversation = self._conversation
        if conversation is None:
            return
        if exc_type is not None:
            conversation.cancel()
            return
        if not conversation.ended:
            await conversation.close()
            await conversation.drain()

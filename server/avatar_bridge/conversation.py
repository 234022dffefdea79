"""The I/O adapter of one conversation: pumps client requests, upstream events and timers
through a sans-I/O core and executes the actions it returns.

Three inputs feed one inbox, consumed by a single loop so the core never needs a lock:
the client reader task, the upstream reader task, and the core's own deadline. The loop takes
whatever the inbox holds in one batch (no per-item `wait_for`: a `call_at` timer wakes it for
the core's deadline), so a busy conversation costs one wake-up per batch, not per message.
A real-time client's chunks mostly find the loop parked with nothing to do: the client reader
then hands the request to the core in its own task (`_handle_inline`) rather than queueing it
and waking the loop, which saved 11-13 % of the bridge's CPU at 1,000 sessions. The loop stays
parked until the reader is done (anything that arrives meanwhile is queued and wakes it after),
so the core still has one caller at a time and sees each input in order.
The client reader applies backpressure: it stops reading while the core holds more than
`max_pending_ms` of audio or the inbox carries more than INBOX_AUDIO_BYTES, so a fast client is
slowed by gRPC flow control instead of filling memory. Audio memory per conversation is thus
bounded by `max_pending_ms` of 24 kHz PCM16 (48,000 B/s: 480 KB at the 10 s default) plus
INBOX_AUDIO_BYTES plus one request of at most `max_message_bytes`, plus the transports' own
bounded buffers (gRPC's stream window, the WebSocket write buffer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from avatar_bridge import tracing
from avatar_bridge.actions import Action, ClearAudio, Emit, Fail, PublishAudio, SendUpstream
from avatar_bridge.config import Limits
from avatar_bridge.errors import BridgeError, InvalidRequest, UpstreamClosed, UpstreamError
from avatar_bridge.wire import Undecodable
from avatarbridge.v1 import avatar_bridge_pb2 as pb

log = logging.getLogger(__name__)

_TEXT_KINDS = ("speak_text", "speak_response")
INBOX_ITEMS = 256
"""Upstream events waiting for the loop beyond which the upstream reader stops reading (a client
that never reads stalls the loop in context.write; the WebSocket then backs up to LiveAvatar)."""
INBOX_AUDIO_BYTES = 256 * 1024
"""Client audio read but not yet taken by the loop: a batch's worth, beyond which the reader
waits (one request above it is still read whole)."""


class Core(Protocol):
    """What the pump needs of a sans-I/O core (LiteCore, FullCore)."""

    @property
    def drained(self) -> bool: ...
    def pending_audio_ms(self) -> float: ...
    def next_deadline(self) -> float | None: ...
    def handle_request(self, request: pb.ConverseRequest, now: float) -> list[Action]: ...
    def handle_client_eof(self, now: float) -> list[Action]: ...
    def handle_upstream(self, event: dict[str, Any], now: float) -> list[Action]: ...
    def handle_timer(self, now: float) -> list[Action]: ...
    def close(self) -> list[Action]: ...


class Transport(Protocol):
    """What the pump needs of an upstream leg (LiteTransport, LiveKitTransport)."""

    async def send(self, message: dict[str, Any]) -> None: ...
    async def receive(self) -> dict[str, Any]: ...
    async def close(self) -> None: ...


class AudioTransport(Transport, Protocol):
    """An upstream leg that also carries audio as a media track (FULL)."""

    async def publish_audio(self, pcm: bytes) -> None: ...
    def clear_audio(self) -> None: ...


@dataclass(frozen=True)
class Ending:
    """Why a conversation ended normally."""

    reason: pb.StopReason.ValueType
    detail: str = ""
    upstream_reason: str = ""
    upstream_ended: bool = False
    """True when LiveAvatar ended the session itself (no need to stop it)."""


EndReasonLookup = Callable[[UpstreamClosed], Awaitable[Ending]]


class Conversation:
    """Runs one Converse call after its SessionStarted. `run()` returns how it ended."""

    def __init__(
        self,
        *,
        context: grpc.aio.ServicerContext[pb.ConverseRequest, pb.ConverseResponse],
        core: Core,
        transport: Transport,
        limits: Limits,
        max_pending_ms: float,
        end_reason_lookup: EndReasonLookup,
        log_extra: dict[str, Any],
    ) -> None:
        self._context = context
        self._core = core
        self._transport = transport
        self._limits = limits
        self._max_pending_ms = max_pending_ms
        self._lookup = end_reason_lookup
        self._log_extra = log_extra
        self._inbox: deque[tuple[str, Any]] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._inline = False
        """The client reader is handling a request itself while the loop is parked."""
        self._inbox_audio_bytes = 0
        """Audio bytes read from the client and not yet handed to the core."""
        self._room = asyncio.Event()
        self._room.set()
        self._upstream_room = asyncio.Event()
        self._upstream_room.set()
        self._loop = asyncio.get_running_loop()
        self.requests = 0
        self.audio_bytes_in = 0
        # Counted here, read once when the conversation ends (metrics are per conversation).
        self.packets_out = 0
        self.audio_bytes_out = 0
        """24 kHz PCM16 bytes sent upstream (LITE packets, FULL microphone frames)."""
        self.dropped: dict[str, int] = {}
        """Input-format bytes reported in AudioDropped, by DropReason name."""
        self.reconnects = 0

    def request_stop(self, reason: pb.StopReason.ValueType, detail: str = "") -> None:
        """Ask the conversation to end (server shutdown, operator stop); safe from any task."""
        self._put("stop", Ending(reason, detail))

    def _put(self, kind: str, item: Any) -> None:
        self._inbox.append((kind, item))
        self._wake()

    def _wake(self) -> None:
        if self._inline:  # The reader is handling a request; it wakes the loop when done.
            return
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, deadline: float | None) -> None:
        """Until the inbox has something or the deadline passes."""
        if self._inbox:
            return
        self._arm(deadline)
        self._wakeup = self._loop.create_future()
        try:
            await self._wakeup
        finally:
            self._wakeup = None

    def _arm(self, deadline: float | None) -> None:
        """Have the timer ring by `deadline` (None: no timer).

        A timer already due at or before the deadline is kept: the keep-alive deadline moves
        later with every packet sent, and re-arming it per chunk (cancel, a new TimerHandle, a
        heap push) was a per-chunk cost. An early ring only costs a wake-up: the loop checks
        the core's deadline against the clock before asking it to act."""
        timer_at = self._timer_at
        if deadline is None or timer_at is None or deadline < timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = None if deadline is None else self._loop.call_at(deadline, self._ring)

    def _ring(self) -> None:
        self._timer, self._timer_at = None, None
        self._wake()

    async def run(self) -> Ending:
        tasks = [
            asyncio.create_task(self._read_client(), name="read-client"),
            asyncio.create_task(self._read_upstream(), name="read-upstream"),
        ]
        try:
            return await self._loop_until_end()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self._execute(self._core.close())

    async def _loop_until_end(self) -> Ending:
        core = self._core
        inbox = self._inbox
        deadline = core.next_deadline()
        while True:
            await self._wait(deadline)
            while inbox:
                kind, item = inbox.popleft()
                ending = await self._handle(kind, item)
                if ending is not None:
                    return ending
            self._upstream_room.set()
            deadline = core.next_deadline()
            if deadline is not None and self._loop.time() >= deadline:
                ending = await self._act(core.handle_timer(self._loop.time()))
                if ending is not None:
                    return ending
                deadline = core.next_deadline()
            self._update_room()

    async def _handle(self, kind: str, item: Any) -> Ending | None:
        """One inbox item through the core; an Ending when the conversation is over."""
        core = self._core
        now = self._loop.time()
        if kind == "request":
            which = item.WhichOneof("request")
            if which == "audio":
                self._inbox_audio_bytes -= len(item.audio.data)
            elif which == "interrupt":
                tracing.event("interrupt", {"request_id": item.request_id})
            actions = core.handle_request(item, now)
        elif kind == "upstream":
            actions = core.handle_upstream(item, now)
        elif kind == "eof":
            actions = core.handle_client_eof(now)
        elif kind == "closed":
            return await self._lookup(item)
        elif kind == "stop":
            assert isinstance(item, Ending)
            return item
        else:  # "fail"
            raise item
        return await self._act(actions)

    def _parked(self) -> bool:
        """The loop waits with nothing to do: the client reader may hand it a request inline."""
        waiter = self._wakeup
        return waiter is not None and not waiter.done()

    async def _handle_inline(self, request: pb.ConverseRequest) -> bool:
        """Handle one client request in the reader's own task while the loop is parked: the
        loop's wake-up, task step and fresh future per chunk were a third of what the bridge
        adds per chunk to a bare relay (benchmarks.floor). The loop stays parked throughout
        (`_wake` does nothing meanwhile: what arrives is queued, a timer re-armed after), so the
        core still sees one caller at a time and in order. False when the reader must stop:
        the conversation ended or failed, and the loop has been told."""
        self._inline = True
        try:
            ending = await self._handle("request", request)
        except Exception as exc:
            self._inline = False  # So that the failure wakes the loop.
            self._put("fail", exc)
            return False
        finally:
            self._inline = False
        if ending is not None:
            self._put("stop", ending)
            return False
        if self._inbox:  # Queued meanwhile: an upstream event, a stop.
            self._wake()
            return True
        # The loop sleeps until the deadline it last saw; the request may have brought the
        # core's next deadline forward. A timer that rang meanwhile left `_timer_at` unset, so
        # it is armed again here, for a deadline now due.
        self._arm(self._core.next_deadline())
        # No `_update_room()`: only this reader waits for room, and it asks `_has_room()`
        # itself before its next audio request.
        return True

    async def _act(self, actions: list[Action]) -> Ending | None:
        """Execute the core's actions; an Ending when they ended the conversation."""
        if actions:
            try:
                await self._execute(actions)
            except UpstreamClosed as exc:
                return await self._lookup(exc)
        if self._core.drained:
            return Ending(pb.STOP_REASON_CLIENT_ENDED, "the client half-closed its stream")
        return None

    def _has_room(self) -> bool:
        """Below the audio backlog the reader may add to (see the module docstring)."""
        return (
            self._inbox_audio_bytes < INBOX_AUDIO_BYTES
            and self._core.pending_audio_ms() < self._max_pending_ms
        )

    def _update_room(self) -> None:
        if self._has_room():
            self._room.set()
        else:
            self._room.clear()

    async def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendUpstream):
                message = action.message
                if message.get("type") == "agent.speak":
                    self.packets_out += 1
                    self.audio_bytes_out += _base64_decoded_len(message["audio"])
                await self._transport.send(message)
            elif isinstance(action, Emit):
                response = action.response
                if response.HasField("audio_dropped"):
                    reason = pb.DropReason.Name(response.audio_dropped.reason)
                    count = response.audio_dropped.input_byte_count
                    self.dropped[reason] = self.dropped.get(reason, 0) + count
                elif response.HasField("warning") and response.warning.code in _RECONNECTED:
                    self.reconnects += 1
                    tracing.event("reconnected", {"warning": response.warning.code})
                await self._context.write(response)
            elif isinstance(action, PublishAudio):
                self.packets_out += 1
                self.audio_bytes_out += len(action.pcm)
                await self._audio_transport().publish_audio(action.pcm)
            elif isinstance(action, ClearAudio):
                self._audio_transport().clear_audio()
            elif isinstance(action, Fail):
                raise action.error

    def _audio_transport(self) -> AudioTransport:
        transport = self._transport
        assert hasattr(transport, "publish_audio"), "core asked a non-audio leg for audio"
        return transport  # type: ignore[return-value]

    async def _read_client(self) -> None:
        limits = self._limits
        try:
            while True:
                # Read first, then hold only audio for room: a half-close, an interrupt or any
                # command behind a long backlog reaches the core at once (at most one request
                # waits here, as the module docstring counts).
                request: object = await self._context.read()
                if request is grpc.aio.EOF:
                    self._put("eof", None)
                    return
                self.requests += 1
                if isinstance(request, Undecodable):
                    # Request 1 was the config; name this one by its place in the stream.
                    which = f"request {self.requests + 1}"
                    self._put("fail", InvalidRequest(request.describe(which)))
                    return
                assert isinstance(request, pb.ConverseRequest)
                problem = _check_limits(request, limits)
                if problem is not None:
                    self._put("fail", problem)
                    return
                if request.WhichOneof("request") == "audio":
                    if not self._has_room():
                        self._room.clear()
                        await self._room.wait()
                    size = len(request.audio.data)
                    self.audio_bytes_in += size
                    self._inbox_audio_bytes += size
                if not self._parked():
                    self._put("request", request)
                elif not await self._handle_inline(request):
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # The client went away mid-read.
            log.info("client stream ended: %s", type(exc).__name__, extra=self._log_extra)
            self._put("stop", Ending(pb.STOP_REASON_CLIENT_ENDED, "client gone"))

    async def _read_upstream(self) -> None:
        try:
            while True:
                if len(self._inbox) >= INBOX_ITEMS:
                    self._upstream_room.clear()
                    await self._upstream_room.wait()
                event = await self._transport.receive()
                self._put("upstream", event)
        except asyncio.CancelledError:
            raise
        except UpstreamClosed as exc:
            self._put("closed", exc)
        except UpstreamError as exc:
            self._put("fail", exc)
        except Exception as exc:  # A transport bug must end the call, not silence the upstream.
            log.exception("upstream reader failed", extra={"error_type": type(exc).__name__})
            self._put(
                "fail", BridgeError(f"the bridge's upstream reader failed ({type(exc).__name__})")
            )


_RECONNECTED = frozenset({"UPSTREAM_RECONNECTED", "ROOM_RECONNECTED"})
"""Warnings that tell the client its upstream connection was re-established."""


def _base64_decoded_len(encoded: str | bytes) -> int:
    """Bytes that `encoded` (padded base64) decodes to, without decoding it."""
    size = len(encoded)
    if not size:
        return 0
    tail = encoded[-2:]
    padding = tail.count("=") if isinstance(tail, str) else tail.count(b"=")
    return size // 4 * 3 - padding


def _check_limits(request: pb.ConverseRequest, limits: Limits) -> BridgeError | None:
    """Fatal size problems; the text limit is checked here too since it is cheap."""
    if len(request.request_id) > limits.max_request_id_chars:
        return InvalidRequest(
            f"request_id has {len(request.request_id)} characters: expected at most "
            f"{limits.max_request_id_chars}"
        )
    kind = request.WhichOneof("request")
    if kind == "audio" and len(request.audio.data) > limits.max_audio_chunk_bytes:
        return InvalidRequest(
            f"audio chunk of {len(request.audio.data)} bytes is too large: expected at most "
            f"{limits.max_audio_chunk_bytes} bytes per AudioChunk"
        )
    if kind in _TEXT_KINDS:
        text = getattr(request, kind).text
        if len(text) > limits.max_text_chars:
            return InvalidRequest(
                f"{kind}.text has {len(text)} characters: expected at most {limits.max_text_chars}"
            )
    return None

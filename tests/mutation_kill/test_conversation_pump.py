"""The conversation pump (Conversation.run) between a scripted client stream, a scripted
upstream leg and a recording core, all through the Core and Transport protocols it declares.

The pump owns the I/O: limits on what the client sends (the .proto's 1,048,576-byte AudioChunk,
128-character request_id, 10,000-character text), delivery to the core in order, the actions
the core asks for, backpressure, the core's deadline, and how the conversation ends. Every
wait is bounded (WAIT_S): a broken pump fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from avatar_bridge.actions import Action, ClearAudio, Emit, Fail, PublishAudio, SendUpstream
from avatar_bridge.config import Limits
from avatar_bridge.conversation import Conversation, Ending
from avatar_bridge.errors import (
    BridgeError,
    InvalidRequest,
    LimitExceeded,
    UpstreamClosed,
    UpstreamError,
)
from avatar_bridge.wire import Undecodable
from avatarbridge.v1 import avatar_bridge_pb2 as pb

WAIT_S = 10.0
"""Upper bound of any wait here; a healthy pump answers in milliseconds."""
SETTLE_TURNS = 50
"""Event-loop turns that let every ready task run to its next wait."""


async def settle() -> None:
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)


class Client:
    """A Converse call's server side: requests the test feeds, responses the pump writes."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[object] = asyncio.Queue()
        self.written: list[pb.ConverseResponse] = []
        self.reads = 0
        self.write_gate: asyncio.Event = asyncio.Event()
        self.write_gate.set()

    def send(self, *requests: object) -> None:
        for request in requests:
            self.incoming.put_nowait(request)

    def half_close(self) -> None:
        self.incoming.put_nowait(grpc.aio.EOF)

    async def read(self) -> object:
        item = await self.incoming.get()
        self.reads += 1
        if isinstance(item, BaseException):
            raise item
        return item

    async def write(self, response: pb.ConverseResponse) -> None:
        await self.write_gate.wait()
        self.written.append(response)


class Upstream:
    """An upstream leg: events the test feeds, messages and audio the pump sends."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[object] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.published: list[bytes] = []
        self.cleared = 0
        self.receives = 0
        self.send_error: BaseException | None = None

    def feed(self, *events: object) -> None:
        for event in events:
            self.events.put_nowait(event)

    async def send(self, message: dict[str, Any]) -> None:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append(message)

    async def receive(self) -> dict[str, Any]:
        item = await self.events.get()
        self.receives += 1
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, dict)
        return item

    async def close(self) -> None:
        pass

    async def publish_audio(self, pcm: bytes) -> None:
        self.published.append(pcm)

    def clear_audio(self) -> None:
        self.cleared += 1


Script = Callable[[Any], list[Action]]


class Core:
    """A recording core: what it was handed, in order, and scripted answers."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.drained = False
        self.pending_ms = 0.0
        self.deadline: float | None = None
        self.on_request: Script = lambda request: []
        self.on_upstream: Script = lambda event: []
        self.on_eof: Callable[[], list[Action]] = lambda: []
        self.on_timer: Callable[[float], list[Action]] = lambda now: []
        self.on_close: Callable[[], list[Action]] = lambda: []
        self.timer_calls: list[float] = []
        self.nows: list[float] = []
        self.closed = 0
        self.changed = asyncio.Event()

    def _note(self, kind: str, item: Any) -> None:
        self.seen.append((kind, item))
        self.changed.set()

    def pending_audio_ms(self) -> float:
        return self.pending_ms

    def next_deadline(self) -> float | None:
        return self.deadline

    def handle_request(self, request: pb.ConverseRequest, now: float) -> list[Action]:
        self.nows.append(now)
        self._note("request", request)
        return self.on_request(request)

    def handle_client_eof(self, now: float) -> list[Action]:
        self.nows.append(now)
        self._note("eof", None)
        return self.on_eof()

    def handle_upstream(self, event: dict[str, Any], now: float) -> list[Action]:
        self.nows.append(now)
        self._note("upstream", event)
        return self.on_upstream(event)

    def handle_timer(self, now: float) -> list[Action]:
        self.timer_calls.append(now)
        self.changed.set()
        return self.on_timer(now)

    def close(self) -> list[Action]:
        self.closed += 1
        return self.on_close()

    def requests(self) -> list[pb.ConverseRequest]:
        return [item for kind, item in self.seen if kind == "request"]

    async def until(self, check: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), WAIT_S)


class Lookups:
    """The end-reason lookup: records what it was asked, answers UPSTREAM_LOST."""

    def __init__(self) -> None:
        self.asked: list[UpstreamClosed] = []

    async def __call__(self, closed: UpstreamClosed) -> Ending:
        self.asked.append(closed)
        return Ending(pb.STOP_REASON_UPSTREAM_LOST, closed.message, "ZOMBIE", True)


class Rig:
    def __init__(self, max_pending_ms: float = 10_000, upstream: Any = None) -> None:
        self.client = Client()
        self.upstream = upstream or Upstream()
        self.core = Core()
        self.lookups = Lookups()
        self.conversation = Conversation(
            context=self.client,  # type: ignore[arg-type]
            core=self.core,
            transport=self.upstream,
            limits=Limits(),
            max_pending_ms=max_pending_ms,
            end_reason_lookup=self.lookups,
            log_extra={"session_id": "s-test"},
        )
        self.task: asyncio.Task[Ending] = asyncio.create_task(self.conversation.run())

    async def ending(self) -> Ending:
        return await asyncio.wait_for(self.task, WAIT_S)

    async def error(self) -> BaseException:
        with pytest.raises(Exception) as caught:
            await asyncio.wait_for(self.task, WAIT_S)
        return caught.value

    async def stop(self) -> None:
        self.conversation.request_stop(pb.STOP_REASON_SERVER_SHUTDOWN, "test over")
        assert (await self.ending()).reason == pb.STOP_REASON_SERVER_SHUTDOWN


def audio(data: bytes, request_id: str = "") -> pb.ConverseRequest:
    return pb.ConverseRequest(request_id=request_id, audio=pb.AudioChunk(data=data))


def speak_text(text: str, request_id: str = "") -> pb.ConverseRequest:
    return pb.ConverseRequest(request_id=request_id, speak_text=pb.SpeakText(text=text))


def interrupt(request_id: str = "") -> pb.ConverseRequest:
    return pb.ConverseRequest(request_id=request_id, interrupt=pb.Interrupt())


def warning(code: str) -> Emit:
    return Emit(pb.ConverseResponse(warning=pb.Warning(code=code, message=code)))


def dropped(reason: int, count: int) -> Emit:
    event = pb.AudioDropped(reason=reason, input_byte_count=count)  # type: ignore[arg-type]
    return Emit(pb.ConverseResponse(audio_dropped=event))


def speak(pcm: bytes) -> SendUpstream:
    return SendUpstream({"type": "agent.speak", "audio": base64.b64encode(pcm).decode()})


# -- delivery and endings ---------------------------------------------------------------------


async def test_requests_reach_the_core_in_order_and_are_counted() -> None:
    rig = Rig()
    rig.client.send(audio(b"\x01" * 160, "a"), speak_text("hi", "t"), interrupt("i"))
    await rig.core.until(lambda: len(rig.core.requests()) == 3)
    kinds = [r.WhichOneof("request") for r in rig.core.requests()]
    assert kinds == ["audio", "speak_text", "interrupt"]
    assert [r.request_id for r in rig.core.requests()] == ["a", "t", "i"]
    assert rig.conversation.requests == 3
    assert rig.conversation.audio_bytes_in == 160
    await rig.stop()
    assert rig.core.closed == 1


async def test_request_stop_ends_with_its_reason_and_detail() -> None:
    rig = Rig()
    rig.conversation.request_stop(pb.STOP_REASON_USER_CLOSED, "operator said so")
    assert await rig.ending() == Ending(pb.STOP_REASON_USER_CLOSED, "operator said so")


async def test_half_close_reaches_the_core_and_ends_once_it_is_drained() -> None:
    rig = Rig()
    rig.core.on_eof = lambda: [speak(b"\x00\x00" * 10)]
    rig.client.half_close()
    await rig.core.until(lambda: ("eof", None) in rig.core.seen)
    assert not rig.task.done()  # Not drained yet: the avatar may still be speaking.
    assert rig.upstream.sent[0]["type"] == "agent.speak"

    def drain(event: dict[str, Any]) -> list[Action]:
        rig.core.drained = True
        return []

    rig.core.on_upstream = drain
    rig.upstream.feed({"type": "agent.speak_ended"})
    assert await rig.ending() == Ending(
        pb.STOP_REASON_CLIENT_ENDED, "the client half-closed its stream"
    )


async def test_drained_after_a_request_without_actions_ends_too() -> None:
    rig = Rig()

    def done(request: pb.ConverseRequest) -> list[Action]:
        rig.core.drained = True
        return []

    rig.core.on_request = done
    rig.client.send(interrupt())
    assert (await rig.ending()).reason == pb.STOP_REASON_CLIENT_ENDED


async def test_upstream_events_reach_the_core_in_order() -> None:
    rig = Rig()
    rig.upstream.feed({"type": "one"}, {"type": "two"})
    await rig.core.until(lambda: len(rig.core.seen) == 2)
    assert rig.core.seen == [("upstream", {"type": "one"}), ("upstream", {"type": "two"})]
    await rig.stop()


async def test_upstream_closed_asks_the_lookup_for_the_ending() -> None:
    rig = Rig()
    closed = UpstreamClosed("socket closed", close_code=1000, close_reason="bye")
    rig.upstream.feed(closed)
    ending = await rig.ending()
    assert rig.lookups.asked == [closed]
    assert ending == Ending(pb.STOP_REASON_UPSTREAM_LOST, "socket closed", "ZOMBIE", True)


async def test_another_upstream_error_fails_the_call() -> None:
    rig = Rig()
    rig.upstream.feed(UpstreamError("garbled frame"))
    error = await rig.error()
    assert isinstance(error, UpstreamError)
    assert error.message == "garbled frame"
    assert rig.lookups.asked == []


async def test_a_client_that_goes_away_ends_the_conversation() -> None:
    rig = Rig()
    rig.client.send(ConnectionResetError("peer gone"))
    assert await rig.ending() == Ending(pb.STOP_REASON_CLIENT_ENDED, "client gone")


async def test_an_undecodable_request_names_its_place_in_the_stream() -> None:
    rig = Rig()
    rig.client.send(interrupt(), Undecodable(7, "truncated"))
    error = await rig.error()
    assert isinstance(error, InvalidRequest)
    # Request 1 was the config, so the second request after it is request 3.
    assert error.message == (
        "request 3 (7 bytes) is undecodable: truncated; expected a serialized "
        "avatarbridge.v1.ConverseRequest"
    )


async def test_core_close_actions_run_when_the_conversation_ends() -> None:
    rig = Rig()
    rig.core.on_close = lambda: [warning("CLOSING")]
    await rig.stop()
    assert [w.warning.code for w in rig.client.written] == ["CLOSING"]


# -- limits (the .proto's numbers) ---------------------------------------------------------------


async def test_limits_at_the_edge_are_accepted() -> None:
    rig = Rig()
    rig.client.send(
        audio(b"\x00" * 1_048_576, "r" * 128),
        speak_text("x" * 10_000),
        pb.ConverseRequest(speak_response=pb.SpeakResponse(text="y" * 10_000)),
    )
    await rig.core.until(lambda: len(rig.core.requests()) == 3)
    await rig.stop()


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        (
            interrupt("r" * 129),
            "request_id has 129 characters: expected at most 128",
        ),
        (
            audio(b"\x00" * 1_048_577),
            "audio chunk of 1048577 bytes is too large: expected at most 1048576 bytes per "
            "AudioChunk",
        ),
        (
            speak_text("x" * 10_001),
            "speak_text.text has 10001 characters: expected at most 10000",
        ),
        (
            pb.ConverseRequest(speak_response=pb.SpeakResponse(text="y" * 10_001)),
            "speak_response.text has 10001 characters: expected at most 10000",
        ),
    ],
    ids=["request_id", "audio", "speak_text", "speak_response"],
)
async def test_limits_one_over_fail_the_call(sent: pb.ConverseRequest, message: str) -> None:
    rig = Rig()
    rig.client.send(sent)
    error = await rig.error()
    assert isinstance(error, InvalidRequest)
    assert error.message == message
    assert rig.core.requests() == []


# -- actions ------------------------------------------------------------------------------------


async def test_speak_packets_and_their_decoded_bytes_are_counted() -> None:
    rig = Rig()
    rig.core.on_request = lambda request: [
        speak(b"\x00" * 48),  # "AAAA..." without padding: 48 bytes.
        speak(b"\x00" * 47),  # One "=" of padding.
        speak(b"\x00" * 46),  # Two "=" of padding.
        SendUpstream({"type": "agent.speak", "audio": b"AAA="}),  # Bytes are measured too.
        SendUpstream({"type": "agent.speak", "audio": ""}),
        SendUpstream({"type": "session.keep_alive"}),
    ]
    rig.client.send(interrupt())
    await rig.core.until(lambda: len(rig.upstream.sent) == 6)
    await rig.stop()
    assert rig.conversation.packets_out == 5
    assert rig.conversation.audio_bytes_out == 48 + 47 + 46 + 2
    assert [m["type"] for m in rig.upstream.sent][-1] == "session.keep_alive"


async def test_published_audio_and_clears_go_to_the_media_track() -> None:
    rig = Rig()
    rig.core.on_request = lambda request: [
        PublishAudio(b"\x01\x02" * 240),
        PublishAudio(b"\x03\x04" * 10),
        ClearAudio(),
    ]
    rig.client.send(interrupt())
    await rig.core.until(lambda: rig.upstream.cleared == 1)
    await rig.stop()
    assert rig.upstream.published == [b"\x01\x02" * 240, b"\x03\x04" * 10]
    assert rig.conversation.packets_out == 2
    assert rig.conversation.audio_bytes_out == 500


async def test_emitted_events_are_written_and_drops_and_reconnects_counted() -> None:
    rig = Rig()
    rig.core.on_request = lambda request: [
        dropped(pb.DROP_REASON_INTERRUPTED, 100),
        dropped(pb.DROP_REASON_INTERRUPTED, 50),
        dropped(pb.DROP_REASON_SESSION_ENDED, 7),
        warning("UPSTREAM_RECONNECTED"),
        warning("ROOM_RECONNECTED"),
        warning("SLOW_CLIENT"),
    ]
    rig.client.send(interrupt())
    await rig.core.until(lambda: len(rig.client.written) == 6)
    await rig.stop()
    assert rig.conversation.dropped == {
        "DROP_REASON_INTERRUPTED": 150,
        "DROP_REASON_SESSION_ENDED": 7,
    }
    assert rig.conversation.reconnects == 2
    assert [r.WhichOneof("event") for r in rig.client.written[:3]] == ["audio_dropped"] * 3


async def test_a_fail_action_ends_the_call_with_its_error() -> None:
    rig = Rig()
    rig.core.on_request = lambda request: [Fail(LimitExceeded("too much"))]
    rig.client.send(interrupt())
    error = await rig.error()
    assert isinstance(error, LimitExceeded)
    assert error.message == "too much"


async def test_upstream_closed_while_sending_asks_the_lookup() -> None:
    rig = Rig()
    closed = UpstreamClosed("send failed")
    rig.upstream.send_error = closed
    rig.core.on_request = lambda request: [SendUpstream({"type": "agent.interrupt"})]
    rig.client.send(interrupt())
    assert (await rig.ending()).reason == pb.STOP_REASON_UPSTREAM_LOST
    assert rig.lookups.asked == [closed]


# -- the core's deadline ------------------------------------------------------------------------


async def test_the_deadline_fires_the_core_timer_once_it_passes() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    fired = asyncio.Event()

    def on_timer(now: float) -> list[Action]:
        rig.core.deadline = None
        fired.set()
        return [SendUpstream({"type": "session.keep_alive"})]

    rig.core.on_timer = on_timer
    due = loop.time() + 0.05
    rig.core.deadline = due
    rig.upstream.feed({"type": "wake"})  # The pump reads the new deadline after a batch.
    await asyncio.wait_for(fired.wait(), WAIT_S)
    assert len(rig.core.timer_calls) == 1
    assert rig.core.timer_calls[0] >= due
    await rig.core.until(lambda: len(rig.upstream.sent) == 1)
    assert rig.upstream.sent == [{"type": "session.keep_alive"}]
    await rig.stop()


async def test_a_moved_deadline_is_honoured() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    fired = asyncio.Event()

    def on_timer(now: float) -> list[Action]:
        rig.core.deadline = None
        fired.set()
        return []

    rig.core.on_timer = on_timer
    rig.core.deadline = loop.time() + 3600  # Far away: must be replaced, not kept.
    rig.upstream.feed({"type": "wake"})
    await rig.core.until(lambda: len(rig.core.seen) == 1)
    rig.core.deadline = loop.time() + 0.05
    rig.upstream.feed({"type": "wake"})
    await asyncio.wait_for(fired.wait(), WAIT_S)
    assert len(rig.core.timer_calls) == 1
    await rig.stop()


async def test_a_timer_that_fails_ends_the_call() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    rig.core.on_timer = lambda now: [Fail(LimitExceeded("ready timeout"))]
    rig.core.deadline = loop.time() + 0.02
    rig.upstream.feed({"type": "wake"})
    error = await rig.error()
    assert isinstance(error, LimitExceeded)


async def test_a_timer_that_drains_ends_the_conversation() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()

    def on_timer(now: float) -> list[Action]:
        rig.core.drained = True
        return []

    rig.core.on_timer = on_timer
    rig.core.deadline = loop.time() + 0.02
    rig.upstream.feed({"type": "wake"})
    assert (await rig.ending()).reason == pb.STOP_REASON_CLIENT_ENDED


# -- requests handled in the reader's task while the loop is parked ----------------------------


@pytest.mark.parametrize("armed", [True, False], ids=["earlier-than-armed", "none-armed"])
async def test_a_deadline_a_request_sets_is_armed(armed: bool) -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    fired = asyncio.Event()

    def on_request(request: pb.ConverseRequest) -> list[Action]:
        rig.core.deadline = loop.time() + 0.05
        return []

    def on_timer(now: float) -> list[Action]:
        rig.core.deadline = None
        fired.set()
        return []

    rig.core.on_request = on_request
    rig.core.on_timer = on_timer
    if armed:
        rig.core.deadline = loop.time() + 3600  # What the parked loop armed its timer for.
        rig.upstream.feed({"type": "wake"})
        await rig.core.until(lambda: len(rig.core.seen) == 1)
    await settle()  # Parked: a timer far away, or none at all.
    rig.client.send(interrupt("soon"))  # Nothing wakes the loop but the timer armed for it.
    await asyncio.wait_for(fired.wait(), WAIT_S)
    assert len(rig.core.timer_calls) == 1
    await rig.stop()


async def test_a_timer_due_while_a_request_blocks_fires_after_it() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    rig.core.on_request = lambda request: [warning("SLOW")]

    def on_timer(now: float) -> list[Action]:
        rig.core.deadline = None
        return [SendUpstream({"type": "session.keep_alive"})]

    rig.core.on_timer = on_timer
    rig.client.write_gate.clear()
    rig.core.deadline = loop.time() + 0.05
    rig.upstream.feed({"type": "wake"})  # The loop parks with its timer armed.
    await rig.core.until(lambda: len(rig.core.seen) == 1)
    rig.client.send(interrupt("block"))
    await rig.core.until(lambda: len(rig.core.requests()) == 1)
    await asyncio.sleep(0.15)  # The timer rings while the reader waits on the client.
    assert rig.core.timer_calls == []  # The loop stays parked meanwhile.
    rig.client.write_gate.set()
    await rig.core.until(lambda: len(rig.core.timer_calls) == 1)
    await rig.core.until(lambda: len(rig.upstream.sent) == 1)
    assert rig.upstream.sent == [{"type": "session.keep_alive"}]
    await rig.stop()


async def test_a_request_whose_action_fails_ends_the_call() -> None:
    rig = Rig()
    rig.core.on_request = lambda request: [Fail(InvalidRequest("bad chunk"))]
    await settle()  # The loop is parked: the reader hands the request over itself.
    rig.client.send(audio(b"\x00" * 10, "bad"), audio(b"\x00" * 10, "behind"))
    error = await rig.error()
    assert isinstance(error, InvalidRequest)
    assert rig.client.reads == 1  # Nothing more is read after the failure.
    assert rig.core.closed == 1


async def test_a_request_whose_send_finds_the_upstream_closed_ends_it_so() -> None:
    rig = Rig()
    rig.upstream.send_error = UpstreamClosed("gone while sending")
    rig.core.on_request = lambda request: [speak(b"\x00" * 10)]
    await settle()
    rig.client.send(audio(b"\x00" * 10, "a"), audio(b"\x00" * 10, "b"))
    ending = await rig.ending()
    assert ending.reason == pb.STOP_REASON_UPSTREAM_LOST
    assert [closed.message for closed in rig.lookups.asked] == ["gone while sending"]
    assert [r.request_id for r in rig.core.requests()] == ["a"]
    assert rig.client.reads == 1  # The reader stopped with the ending.


async def test_the_first_deadline_is_armed_without_any_input() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    fired = asyncio.Event()
    rig.core.deadline = loop.time() + 0.05  # Before the loop's first look (a ready timeout).

    def on_timer(now: float) -> list[Action]:
        rig.core.deadline = None
        fired.set()
        return []

    rig.core.on_timer = on_timer
    await asyncio.wait_for(fired.wait(), WAIT_S)
    assert rig.core.seen == []
    await rig.stop()


async def test_a_deadline_the_timer_sets_is_armed_in_turn() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    rig.core.deadline = loop.time() + 0.02

    def on_timer(now: float) -> list[Action]:
        # Two rounds, as keep-alives go: the first timer sets the next deadline.
        rig.core.deadline = loop.time() + 0.02 if len(rig.core.timer_calls) < 2 else None
        return []

    rig.core.on_timer = on_timer
    await rig.core.until(lambda: len(rig.core.timer_calls) == 2)
    assert rig.core.seen == []  # No input woke the loop in between.
    await rig.stop()


# -- backpressure -------------------------------------------------------------------------------


async def test_audio_waits_for_room_while_commands_pass() -> None:
    rig = Rig(max_pending_ms=1000)
    rig.core.pending_ms = 1000  # At the limit: no room for more audio.
    rig.client.send(interrupt("first"))
    await rig.core.until(lambda: len(rig.core.requests()) == 1)  # The pump sees the backlog.
    rig.client.send(audio(b"\x01" * 80, "held"), interrupt("behind"))
    await settle()
    assert [r.request_id for r in rig.core.requests()] == ["first"]
    assert rig.client.reads == 2  # The audio was read, then held; nothing after it was read.

    def relieve(event: dict[str, Any]) -> list[Action]:
        rig.core.pending_ms = 999
        return []

    rig.core.on_upstream = relieve
    rig.upstream.feed({"type": "played"})
    await rig.core.until(lambda: len(rig.core.requests()) == 3)
    assert [r.request_id for r in rig.core.requests()] == ["first", "held", "behind"]
    await rig.stop()


async def test_commands_are_read_while_the_core_holds_a_backlog() -> None:
    rig = Rig(max_pending_ms=1000)
    rig.core.pending_ms = 5000
    rig.client.send(interrupt("a"), speak_text("hi", "b"))
    rig.client.half_close()
    await rig.core.until(lambda: ("eof", None) in rig.core.seen)
    assert [r.request_id for r in rig.core.requests()] == ["a", "b"]
    await rig.stop()


async def test_unread_audio_in_the_inbox_is_bounded() -> None:
    rig = Rig()
    rig.core.on_upstream = lambda event: [warning("SLOW")]
    rig.client.write_gate.clear()  # The client does not read: the loop blocks writing.
    rig.upstream.feed({"type": "block"})
    await rig.core.until(lambda: len(rig.core.seen) == 1)
    chunk = b"\x00" * 100_000
    rig.client.send(*(audio(chunk, f"a{i}") for i in range(6)))
    await settle()
    # The loop is busy, so the reader queues: 0, 100,000 and 200,000 bytes waiting leave room;
    # at 300,000 (over 256 KiB) the fourth chunk read waits for room and nothing more is read.
    assert rig.client.reads == 4
    assert rig.conversation.audio_bytes_in == 300_000
    rig.client.write_gate.set()
    await rig.core.until(lambda: len(rig.core.requests()) == 6)
    assert rig.conversation.audio_bytes_in == 600_000
    await rig.stop()


async def test_a_request_handled_inline_blocks_further_reads_until_written() -> None:
    rig = Rig()
    rig.core.on_request = lambda request: [warning("SLOW")]
    rig.client.write_gate.clear()  # The client does not read: the reader blocks writing.
    chunk = b"\x00" * 100_000
    rig.client.send(interrupt("block"), *(audio(chunk, f"a{i}") for i in range(3)))
    await rig.core.until(lambda: len(rig.core.requests()) == 1)
    await settle()
    # The loop was parked, so the reader handed "block" to the core itself and now waits on
    # the client: nothing more is read, and the core saw exactly one request.
    assert rig.client.reads == 1
    rig.upstream.feed({"type": "meanwhile"})
    await settle()
    assert [kind for kind, _ in rig.core.seen] == ["request"]  # The loop stays parked.
    rig.client.write_gate.set()
    await rig.core.until(lambda: len(rig.core.seen) == 5)
    assert [r.request_id for r in rig.core.requests()] == ["block", "a0", "a1", "a2"]
    assert ("upstream", {"type": "meanwhile"}) in rig.core.seen
    await rig.stop()


async def test_upstream_reading_pauses_while_the_inbox_is_full() -> None:
    rig = Rig()
    rig.core.on_upstream = lambda event: [warning("SLOW")]
    rig.client.write_gate.clear()
    rig.upstream.feed(*({"type": "e", "n": n} for n in range(300)))
    await rig.core.until(lambda: len(rig.core.seen) == 1)
    await settle()
    # All 300 events were ready at once: the reader filled the inbox to 256 (INBOX_ITEMS) and
    # stopped; the loop took event 0 and blocks writing, and nothing more is read meanwhile.
    assert rig.upstream.receives == 256
    rig.client.write_gate.set()
    await rig.core.until(lambda: len(rig.core.seen) == 300)
    assert [item["n"] for _, item in rig.core.seen] == list(range(300))
    await rig.stop()


async def test_audio_in_the_inbox_is_counted_to_the_byte() -> None:
    rig = Rig()
    rig.core.on_upstream = lambda event: [warning("SLOW")]
    rig.client.write_gate.clear()
    rig.upstream.feed({"type": "block"})
    await rig.core.until(lambda: len(rig.core.seen) == 1)  # The loop blocks writing.
    rig.client.send(audio(b"\x00" * 262_143, "a"), audio(b"\x00", "b"), audio(b"\x00", "c"))
    rig.client.send(audio(b"\x00", "d"))
    await settle()
    # 262,143 waiting bytes leave room (under 256 KiB = 262,144); exactly 262,144 do not.
    assert rig.client.reads == 3
    rig.client.write_gate.set()
    await rig.core.until(lambda: len(rig.core.requests()) == 4)
    await rig.stop()


async def test_taken_audio_leaves_the_inbox_count() -> None:
    rig = Rig()
    rig.core.on_upstream = lambda event: [warning("SLOW")]
    rig.client.write_gate.clear()  # The loop blocks writing the upstream event's warning.
    rig.upstream.feed({"type": "block"})
    await rig.core.until(lambda: len(rig.core.seen) == 1)
    rig.client.send(audio(b"\x00" * 300_000, "big"), audio(b"\x00" * 10, "small"))
    await settle()
    assert rig.client.reads == 2  # The small chunk waits for room.
    rig.client.write_gate.set()
    # Once the loop took the big chunk the inbox is empty again: the small one follows.
    await rig.core.until(lambda: len(rig.core.requests()) == 2)
    await rig.stop()


async def test_requests_arriving_while_the_pump_is_busy_are_taken_after() -> None:
    rig = Rig()
    rig.core.on_upstream = lambda event: [warning("SLOW")]
    rig.client.write_gate.clear()
    rig.upstream.feed({"type": "first"})
    await rig.core.until(lambda: len(rig.core.seen) == 1)
    rig.client.send(interrupt("second"))
    await settle()
    rig.upstream.feed({"type": "third"})
    await settle()
    rig.client.write_gate.set()
    await rig.core.until(lambda: len(rig.core.seen) == 3)
    assert [kind for kind, _ in rig.core.seen] == ["upstream", "request", "upstream"]
    await rig.stop()


async def test_the_core_is_handed_the_loop_clock() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    before = loop.time()
    rig.client.send(interrupt())
    rig.upstream.feed({"type": "x"})
    await rig.core.until(lambda: len(rig.core.seen) == 2)
    rig.client.half_close()
    await rig.core.until(lambda: len(rig.core.seen) == 3)
    assert len(rig.core.nows) == 3
    assert all(type(now) is float and before <= now <= loop.time() for now in rig.core.nows)
    await rig.stop()


async def test_a_cleared_deadline_cancels_the_timer() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    rig.core.deadline = loop.time() + 0.1
    rig.upstream.feed({"type": "wake"})
    await rig.core.until(lambda: len(rig.core.seen) == 1)
    rig.core.deadline = None
    rig.upstream.feed({"type": "wake"})
    await rig.core.until(lambda: len(rig.core.seen) == 2)
    await asyncio.sleep(0.3)  # Past the old deadline: its timer must not have fired.
    assert rig.core.timer_calls == []
    await rig.stop()


async def test_request_stop_without_detail_has_none() -> None:
    rig = Rig()
    rig.conversation.request_stop(pb.STOP_REASON_SERVER_SHUTDOWN)
    assert await rig.ending() == Ending(pb.STOP_REASON_SERVER_SHUTDOWN, "")


async def test_the_readers_are_named_tasks() -> None:
    rig = Rig()
    await settle()
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert {"read-client", "read-upstream"} <= names
    await rig.stop()


async def test_an_upstream_reader_that_dies_of_a_bug_fails_the_call_internal() -> None:
    rig = Rig()
    rig.upstream.feed(RuntimeError("leg bug"))  # Not an UpstreamError: a bug in the leg.
    error = await rig.error()
    assert type(error) is BridgeError
    assert error.grpc_code == grpc.StatusCode.INTERNAL
    assert error.message == "the bridge's upstream reader failed (RuntimeError)"


async def test_an_upstream_reader_bug_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="avatar_bridge.conversation")
    rig = Rig()
    rig.upstream.feed(RuntimeError("leg bug"))
    await rig.error()
    records = [r for r in caplog.records if r.name == "avatar_bridge.conversation"]
    assert [r.getMessage() for r in records] == ["upstream reader failed"]
    assert records[0].levelno == logging.ERROR
    assert records[0].__dict__["error_type"] == "RuntimeError"
    assert records[0].exc_info is not None and records[0].exc_info[0] is RuntimeError


async def test_failing_close_actions_do_not_spoil_the_ending() -> None:
    rig = Rig()
    rig.core.on_close = lambda: [Fail(LimitExceeded("late"))]
    await rig.stop()


async def test_sent_audio_bytes_are_an_integer_count() -> None:
    rig = Rig()
    rig.core.on_request = lambda request: [speak(b"\x00" * 47)]
    rig.client.send(interrupt())
    await rig.core.until(lambda: len(rig.upstream.sent) == 1)
    await rig.stop()
    assert type(rig.conversation.audio_bytes_out) is int
    assert rig.conversation.audio_bytes_out == 47


class NoMedia:
    """An upstream leg that carries messages only (no publish_audio)."""

    async def send(self, message: dict[str, Any]) -> None:
        pass

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        pass


async def test_audio_for_a_leg_without_a_media_track_is_a_bug_named_as_such() -> None:
    rig = Rig(upstream=NoMedia())
    rig.core.on_request = lambda request: [PublishAudio(b"\x00\x00")]
    rig.client.send(interrupt())
    error = await rig.error()
    assert isinstance(error, AssertionError)
    assert str(error) == "core asked a non-audio leg for audio"


async def test_client_gone_is_logged_once_with_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="avatar_bridge.conversation")
    rig = Rig()
    rig.client.send(ConnectionResetError("peer gone"))
    await rig.ending()
    records = [r for r in caplog.records if r.name == "avatar_bridge.conversation"]
    assert [r.getMessage() for r in records] == ["client stream ended: ConnectionResetError"]
    assert records[0].__dict__["session_id"] == "s-test"


async def test_interrupts_and_reconnects_are_span_events() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("converse"):
        rig = Rig()  # Its tasks inherit the current span.
        rig.core.on_request = lambda request: (
            [warning("UPSTREAM_RECONNECTED")] if request.request_id == "r" else []
        )
        rig.client.send(interrupt("i-1"), speak_text("hi", "r"))
        await rig.core.until(lambda: len(rig.client.written) == 1)
        await rig.stop()
    (span,) = exporter.get_finished_spans()
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert events == [
        ("interrupt", {"request_id": "i-1"}),
        ("reconnected", {"warning": "UPSTREAM_RECONNECTED"}),
    ]

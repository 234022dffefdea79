"""Bounded memory end to end (issue 7 item 4): RSS of a real bridge process under hostile loads.

The bound the bridge states (conversation.py): per conversation, at most `max_pending_ms` (10 s
by default) of 24 kHz PCM16 in the core (480,000 B), 256 KiB of audio read but not yet taken by
the loop, 256 upstream events, one request (at most 1 MiB + envelope) and the transports' own
bounded buffers: 2 MiB is a generous ceiling. Each load below is bounded in count and time; the
assertions are about memory and bytes, never speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import grpc
from server.helpers import WAIT_S  # tests/server/helpers.py
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from perf.bridge_process import attach_config, bridge_process, lite_sink, rss_mib

PER_CONVERSATION_MIB = 2.0
"""The stated ceiling per conversation (see the module docstring)."""
MARGIN_MIB = 8.0
"""Allocator and gRPC noise: arenas, the first use of code paths, thread stacks."""
BYTES_PER_S = 48_000
"""24 kHz mono PCM16."""
CHUNKS = 200
LEAD_S = 0.3 + 2 * 1.0
"""Largest avatar queue the packet policy allows: low water + 2 packets (defaults)."""


async def _connected(call: grpc.aio.StreamStreamCall, config: pb.ConverseRequest) -> None:
    await call.write(config)
    async with asyncio.timeout(WAIT_S):
        while True:
            event = await call.read()
            assert event is not grpc.aio.EOF, "the call ended before CONNECTED"
            if event.session_state_changed.state == pb.SESSION_STATE_CONNECTED:
                return


async def _sample_peak(pid: int, seconds: float) -> float:
    peak = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, rss_mib(pid))
        await asyncio.sleep(0.2)
    return peak


async def _push_and_sample(
    pid: int, calls: list[grpc.aio.StreamStreamCall], chunk: bytes
) -> tuple[float, dict[int, int]]:
    """Each call offered CHUNKS chunks as fast as gRPC accepts them while the bridge's RSS is
    sampled for 6 s; then pushes and calls are cancelled. The peak RSS and the bytes each call
    got written."""
    written = dict.fromkeys(range(len(calls)), 0)

    async def push(index: int) -> None:
        for _ in range(CHUNKS):
            await calls[index].write(pb.ConverseRequest(audio=pb.AudioChunk(data=chunk)))
            written[index] += len(chunk)

    pushers = [asyncio.create_task(push(i)) for i in range(len(calls))]
    peak = await _sample_peak(pid, 6.0)
    for task in pushers:
        task.cancel()
    for call in calls:
        call.cancel()
    return peak, written


async def test_fast_clients_are_held_back_by_flow_control() -> None:
    clients, chunk = 4, b"\x01\x02" * 32_768  # 64 kB chunks: 1.37 s of audio each
    received = dict.fromkeys(range(clients), 0)

    async def consume(ws: ServerConnection) -> None:
        index = int(ws.request.path.rsplit("-", 1)[1]) if ws.request else -1
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                event = json.loads(message)
                if event.get("type") == "agent.speak":
                    received[index] += len(event["audio"]) * 3 // 4

    async with (
        lite_sink(consume) as sink,
        bridge_process() as (pid, port),
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        if True:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            calls = [stub.Converse() for _ in range(clients)]
            for index, call in enumerate(calls):
                await _connected(call, attach_config(sink, f"fast-{index}"))
            before = rss_mib(pid)
            started = time.monotonic()
            # 55 s of audio per 40 chunks, offered as fast as gRPC accepts it.
            peak, written = await _push_and_sample(pid, calls, chunk)
            elapsed = time.monotonic() - started
    growth = peak - before
    print(f"fast clients: RSS +{growth:.1f} MiB, written {written}, received {received}")
    assert growth <= clients * PER_CONVERSATION_MIB + MARGIN_MIB, (
        f"RSS grew {growth:.1f} MiB under {clients} fast clients"
    )
    for index in range(clients):
        # Upstream no faster than real time plus the lead (plus one 1 s packet in flight).
        assert received[index] <= BYTES_PER_S * (elapsed + LEAD_S + 1.0), received
        # The client was held back: what got in and did not go upstream stays within the bound.
        assert written[index] < CHUNKS * len(chunk), written
        assert written[index] - received[index] <= PER_CONVERSATION_MIB * 2**20, written


async def test_a_stalled_upstream_does_not_grow_the_bridge() -> None:
    """LiveAvatar stops reading its socket: the bridge's sends block on TCP, its loop stops
    taking audio, and the client is held back by gRPC flow control, not by bridge memory."""
    clients, chunk = 4, b"\x01\x02" * 32_768
    stalled = asyncio.Event()

    async def stall(ws: ServerConnection) -> None:
        await stalled.wait()  # Never reads: frames pile up in socket buffers, then TCP stops.

    async with (
        lite_sink(stall) as sink,
        bridge_process() as (pid, port),
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        stub = pb_grpc.AvatarBridgeServiceStub(channel)
        calls = [stub.Converse() for _ in range(clients)]
        for index, call in enumerate(calls):
            await _connected(call, attach_config(sink, f"stalled-{index}"))
        before = rss_mib(pid)
        peak, written = await _push_and_sample(pid, calls, chunk)
        stalled.set()
    growth = peak - before
    print(f"stalled upstream: RSS +{growth:.1f} MiB, written {written}")
    assert growth <= clients * PER_CONVERSATION_MIB + MARGIN_MIB, (
        f"RSS grew {growth:.1f} MiB with {clients} conversations on a stalled upstream"
    )
    # Every client was held back long before its 200 chunks (13 MiB) got in.
    assert all(count < CHUNKS * len(chunk) for count in written.values()), written


async def test_a_client_that_never_reads_does_not_grow_the_bridge() -> None:
    events, blob = 20_000, "x" * 1000
    sent = {"count": 0}

    async def spam(ws: ServerConnection) -> None:
        # Events the bridge passes through to the client, ~1 kB each, 20 MB in all.
        with contextlib.suppress(ConnectionClosed):
            for index in range(events):
                await ws.send(json.dumps({"type": "custom.event", "n": index, "blob": blob}))
                sent["count"] += 1

    async with (
        lite_sink(spam) as sink,
        bridge_process() as (pid, port),
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        if True:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            before = rss_mib(pid)
            calls = [stub.Converse() for _ in range(2)]
            for index, call in enumerate(calls):
                # Only the config is written; the client never reads a single response.
                await call.write(attach_config(sink, f"deaf-{index}"))
            peak = await _sample_peak(pid, 5.0)
            for call in calls:
                call.cancel()
    growth = peak - before
    print(f"never-reading clients: RSS +{growth:.1f} MiB, sink sent {sent['count']} events")
    assert growth <= 2 * PER_CONVERSATION_MIB + MARGIN_MIB, f"RSS grew {growth:.1f} MiB"
    assert sent["count"] < 2 * events, "the bridge absorbed every event instead of pushing back"


async def test_thousands_of_idle_streams_before_config() -> None:
    streams = 2000
    async with bridge_process() as (pid, port):
        channels = [
            grpc.aio.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
            )
            for _ in range(streams // 100)
        ]
        stubs = [pb_grpc.AvatarBridgeServiceStub(c) for c in channels]
        await asyncio.gather(*(c.channel_ready() for c in channels))
        before = rss_mib(pid)
        calls = [stubs[i % len(stubs)].Converse() for i in range(streams)]
        # A stream exists on the server once its headers arrive: a 0-length read starts it.
        await asyncio.gather(*(call.wait_for_connection() for call in calls))
        peak = await _sample_peak(pid, 2.0)
        for call in calls:
            call.cancel()
        for channel in channels:
            await channel.close()
    per_stream_kib = 1024 * (peak - before) / streams
    print(f"idle pre-config streams: {per_stream_kib:.1f} KiB each")
    # An idle stream holds a coroutine, a gRPC call and its buffers: well under 64 KiB.
    assert per_stream_kib <= 64, f"{per_stream_kib:.1f} KiB per idle stream"


async def test_rapid_reset_burst_leaves_no_memory_behind() -> None:
    """Before the bridge trimmed its heap, RSS stayed 16 MiB up after these 3,000 resets."""
    bursts, per_burst = 10, 300
    async with (
        bridge_process() as (pid, port),
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        if True:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            await channel.channel_ready()
            warm = [stub.Converse() for _ in range(per_burst)]  # first use of every code path
            for call in warm:
                call.cancel()
            await asyncio.sleep(1.0)
            before = rss_mib(pid)
            for _ in range(bursts):
                calls = [stub.Converse() for _ in range(per_burst)]
                await asyncio.sleep(0)  # headers out, then RST_STREAM for every one of them
                for call in calls:
                    call.cancel()
            # Freed memory goes back to the OS at the bridge's next malloc_trim (every 5 s).
            async with asyncio.timeout(WAIT_S):
                while (after := rss_mib(pid)) - before > MARGIN_MIB:  # noqa: ASYNC110 (RSS has no event)
                    await asyncio.sleep(0.5)
    print(f"rapid reset: RSS {before:.1f} -> {after:.1f} MiB")
    assert after - before <= MARGIN_MIB, f"RSS {after - before:.1f} MiB higher after 3,000 resets"

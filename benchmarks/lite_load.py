"""Real-time LITE sessions through the bridge: the load side of the capacity and CPU runs.

Every session attaches to a sink stream (no REST calls), waits for CONNECTED, then streams
24 kHz mono PCM16 in fixed chunks paced in real time from a common start, each session at a
random phase within the chunk period. It ends with speak_end and a half-close and waits for the
bridge to finish the call.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import grpc

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from benchmarks.common import pct
from benchmarks.sink import Sink, Stream

RATE = 24_000
BYTES_PER_MS = RATE * 2 // 1000
SESSIONS_PER_CHANNEL = 100
"""One HTTP/2 connection per this many sessions, as a fleet of clients would spread them."""


@dataclass
class Outcome:
    """What the clients saw, summed over sessions."""

    connected: int = 0
    errors: list[str] = field(default_factory=list)
    starvations: int = 0
    ok_calls: int = 0


def _config(url: str) -> pb.ConverseRequest:
    return pb.ConverseRequest(
        config=pb.SessionConfig(
            input_audio=pb.AudioFormat(
                encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE, channel_count=1
            ),
            attach=pb.AttachSession(
                session_id=url.rsplit("/", 1)[-1], lite=pb.LiteAttachment(ws_url=url)
            ),
        )
    )


async def _session(
    stub: pb_grpc.AvatarBridgeServiceStub,
    url: str,
    stream: Stream,
    audio: bytes,
    stream_at: float,
    chunk_ms: int,
    outcome: Outcome,
    connected: asyncio.Event,
) -> None:
    call = stub.Converse()
    got_connected = asyncio.Event()

    async def read() -> None:
        while (event := await call.read()) is not grpc.aio.EOF:
            if event.session_state_changed.state == pb.SESSION_STATE_CONNECTED:
                got_connected.set()
            elif event.HasField("error"):
                outcome.errors.append(event.error.code)
            elif event.warning.code == "VIDEO_STARVATION":
                outcome.starvations += 1

    try:
        await call.write(_config(url))
        reader = asyncio.create_task(read())
        await asyncio.wait_for(got_connected.wait(), 120)
        outcome.connected += 1
        connected.set()
        t0 = stream_at + random.uniform(0, chunk_ms / 1000)
        await stream_audio(call, audio, chunk_ms, t0, stream.sent)
        await asyncio.wait_for(reader, 60)
        code = await call.code()
        if code == grpc.StatusCode.OK:
            outcome.ok_calls += 1
        else:
            outcome.errors.append(code.name)
    except (TimeoutError, grpc.aio.AioRpcError) as exc:
        outcome.errors.append(type(exc).__name__)
        call.cancel()


async def stream_audio(
    call: grpc.aio.StreamStreamCall[pb.ConverseRequest, pb.ConverseResponse],
    audio: bytes,
    chunk_ms: int,
    t0: float,
    sent: list[float],
) -> None:
    """`audio` in `chunk_ms` chunks paced in real time from `t0`, each send time appended to
    `sent` (the sink's latency accounting), then speak_end and the half-close."""
    step = chunk_ms * BYTES_PER_MS
    for index, offset in enumerate(range(0, len(audio) - step + 1, step)):
        delay = t0 + index * chunk_ms / 1000 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(time.perf_counter())
        await call.write(
            pb.ConverseRequest(audio=pb.AudioChunk(data=audio[offset : offset + step]))
        )
    await call.write(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
    await call.done_writing()


async def run_sessions(
    port: int,
    sink: Sink,
    *,
    sessions: int,
    chunk_ms: int,
    seconds: float,
    ramp_s: float,
    tag: str,
    on_streaming: asyncio.Event,
) -> tuple[Outcome, list[Stream]]:
    """Open `sessions` calls over `ramp_s`, stream `seconds` of audio each, wait for all ends."""
    audio = random.randbytes(int(seconds * 1000) * BYTES_PER_MS)
    outcome = Outcome()
    channels = [
        grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(-(-sessions // SESSIONS_PER_CHANNEL))
    ]
    stream_at = time.perf_counter() + ramp_s + 1.0 + sessions / 400
    streams = []
    tasks = []
    any_connected = asyncio.Event()
    for index in range(sessions):
        path = f"{tag}-{index}"
        stream = sink.streams[path] = Stream(chunk_bytes=chunk_ms * BYTES_PER_MS)
        streams.append(stream)
        stub = pb_grpc.AvatarBridgeServiceStub(channels[index // SESSIONS_PER_CHANNEL])
        tasks.append(
            asyncio.create_task(
                _session(
                    stub, sink.url(path), stream, audio, stream_at, chunk_ms, outcome, any_connected
                )
            )
        )
        await asyncio.sleep(ramp_s / sessions)
    await asyncio.sleep(max(0.0, stream_at - time.perf_counter()))
    on_streaming.set()
    await asyncio.gather(*tasks)
    for channel in channels:
        await channel.close()
    return outcome, streams


async def start_load(
    port: int, sink: Sink, *, sessions: int, chunk_ms: int, seconds: float, tag: str
) -> asyncio.Task[tuple[Outcome, list[Stream]]]:
    """run_sessions against the bridge on `port`, returned once all stream in real time (the
    measuring window starts then); the task ends with the calls."""
    streaming = asyncio.Event()
    load = asyncio.create_task(
        run_sessions(
            port,
            sink,
            sessions=sessions,
            chunk_ms=chunk_ms,
            seconds=seconds,
            ramp_s=min(5.0, sessions / 200),
            tag=tag,
            on_streaming=streaming,
        )
    )
    await streaming.wait()
    return load


async def summary(load: asyncio.Task[tuple[Outcome, list[Stream]]]) -> dict[str, Any]:
    """The load's outcome in the Go generator's report keys (benchmarks/go/loadgen)."""
    outcome, streams = await load
    latencies = [x * 1000 for s in streams for x in s.latencies]
    return {
        "ok_calls": outcome.ok_calls,
        "errors": len(outcome.errors),
        "starvations": outcome.starvations,
        "packets": sum(s.packets for s in streams),
        "latency_p50_ms": pct(latencies, 0.5),
        "latency_p99_ms": pct(latencies, 0.99),
        "latency_max_ms": max(latencies, default=0.0),
    }

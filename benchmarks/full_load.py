"""USER sessions through the bridge's FULL leg: the load side of benchmarks.full_bench.

Every session creates a FULL session (PARTICIPATION_USER, no persona context: the emulated
agent detects the user's speech but never answers), waits for CONNECTED, then streams 24 kHz
mono PCM16 paced in real time from a common start, each session at a random phase within the
chunk period: a tone for `seconds` (speech to the agent's voice detection), then `tail_s` of
silence (so the detector's hangover ends the segment while the microphone is still open), then
half-closes and reads to the end of the call.

Times are `time.perf_counter()` seconds. What a session records:
* connect_s: the config sent → SessionStateChanged(CONNECTED).
* speech_end_lag_s: the last `user_speak_ended` arrived → the tone's last sample's playout, less the
  detector's hangover. Audio queued anywhere on the way (the bridge's publisher above all)
  shows here.
* end_after_audio_s: `session_stopped` arrived → the last audio's playout (the half-close is
  sent one chunk before it).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass, field

import grpc

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

RATE = 24_000
BYTES_PER_MS = RATE * 2 // 1000
SANDBOX_AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
"""The emulator's sandbox avatar (LiveAvatar's public sandbox avatar id)."""
CONNECT_TIMEOUT_S = 120.0
END_TIMEOUT_S = 120.0


@dataclass
class SessionResult:
    """What one client saw."""

    connect_s: float | None = None
    speech_end_lag_s: float | None = None
    end_after_audio_s: float | None = None
    speech_segments: int = 0
    """`user_speak_ended` events: 1 unless the agent heard a gap in the tone."""
    end_reason: str = ""
    status: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Schedule:
    """When the streaming starts (set once every session is CONNECTED or gave up)."""

    go: asyncio.Event = field(default_factory=asyncio.Event)
    stream_at: float = 0.0
    sessions: int = 0
    connected: int = 0
    settled: int = 0
    all_settled: asyncio.Event = field(default_factory=asyncio.Event)

    def settle(self) -> None:
        self.settled += 1
        if self.settled == self.sessions:
            self.all_settled.set()


def tone(seconds: float) -> bytes:
    """A 440 Hz tone at -10 dBFS: loud enough for the agent's voice detection (-45 dBFS)."""
    samples = round(RATE * seconds)
    amplitude = 0.3 * 32767
    step = 2 * math.pi * 440 / RATE
    return b"".join(
        round(amplitude * math.sin(step * i)).to_bytes(2, "little", signed=True)
        for i in range(samples)
    )


def _config() -> pb.ConverseRequest:
    full = pb.FullSession(
        interactivity_type=pb.INTERACTIVITY_TYPE_CONVERSATIONAL,
        participation=pb.PARTICIPATION_USER,
    )
    return pb.ConverseRequest(
        config=pb.SessionConfig(
            input_audio=pb.AudioFormat(
                encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE, channel_count=1
            ),
            create=pb.NewSession(avatar_id=SANDBOX_AVATAR_ID, full=full),
        )
    )


async def run_session(
    stub: pb_grpc.AvatarBridgeServiceStub,
    audio: bytes,
    *,
    speech_s: float,
    chunk_ms: int,
    hangover_s: float,
    schedule: Schedule,
    result: SessionResult,
) -> None:
    """One conversation, start to end; fills `result` (never raises)."""
    call = stub.Converse()
    connected = asyncio.Event()
    speech_ended = 0.0
    stopped = 0.0

    async def read() -> None:
        nonlocal speech_ended, stopped
        while (event := await call.read()) is not grpc.aio.EOF:
            kind = event.WhichOneof("event")
            if kind == "session_state_changed":
                if event.session_state_changed.state == pb.SESSION_STATE_CONNECTED:
                    connected.set()
            elif kind == "user_speak_ended":
                speech_ended = time.perf_counter()  # The last one: a gap splits a segment.
                result.speech_segments += 1
            elif kind == "session_stopped":
                stopped = time.perf_counter()
                result.end_reason = pb.StopReason.Name(event.session_stopped.reason)
            elif kind == "error":
                result.errors.append(event.error.code)
            elif kind == "warning":
                result.warnings.append(event.warning.code)

    reader: asyncio.Task[None] | None = None
    opened = time.perf_counter()
    try:
        await call.write(_config())
        reader = asyncio.create_task(read())
        waiter = asyncio.ensure_future(connected.wait())
        await asyncio.wait(
            [reader, waiter], timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if not connected.is_set():
            raise TimeoutError("no CONNECTED")
        result.connect_s = time.perf_counter() - opened
        schedule.connected += 1
    except (TimeoutError, grpc.aio.AioRpcError) as exc:
        result.errors.append(f"connect: {type(exc).__name__}")
        call.cancel()
        return
    finally:
        schedule.settle()
    await schedule.go.wait()
    step = chunk_ms * BYTES_PER_MS
    t0 = schedule.stream_at + random.uniform(0, chunk_ms / 1000)
    try:
        for index, offset in enumerate(range(0, len(audio) - step + 1, step)):
            delay = t0 + index * chunk_ms / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            chunk = pb.AudioChunk(data=audio[offset : offset + step])
            await call.write(pb.ConverseRequest(audio=chunk))
        audio_end = t0 + len(audio) / (BYTES_PER_MS * 1000)
        await asyncio.sleep(max(0.0, audio_end - chunk_ms / 1000 - time.perf_counter()))
        await call.done_writing()
        await asyncio.wait_for(reader, END_TIMEOUT_S)
        result.status = (await call.code()).name
    except (TimeoutError, asyncio.InvalidStateError, grpc.aio.AioRpcError) as exc:
        result.errors.append(f"stream: {type(exc).__name__}")
        with contextlib.suppress(TimeoutError, grpc.aio.AioRpcError):
            await asyncio.wait_for(reader, END_TIMEOUT_S)  # The end reason, if the call has one.
        call.cancel()
        return
    if speech_ended:
        result.speech_end_lag_s = speech_ended - (t0 + speech_s) - hangover_s
    if stopped:
        result.end_after_audio_s = stopped - audio_end


async def run_sessions(
    port: int,
    *,
    sessions: int,
    speech_s: float,
    tail_s: float,
    chunk_ms: int,
    ramp_per_s: float,
    hangover_s: float,
    on_streaming: asyncio.Event,
) -> tuple[list[SessionResult], float, float]:
    """Open `sessions` calls (`ramp_per_s` a second), stream once all are CONNECTED, wait
    for every end. Returns the results and the streaming window (start, last audio's end)."""
    audio = tone(speech_s) + bytes(round(tail_s * 1000) * BYTES_PER_MS)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = pb_grpc.AvatarBridgeServiceStub(channel)
    schedule = Schedule(sessions=sessions)
    results = [SessionResult() for _ in range(sessions)]
    tasks = []
    for result in results:
        session = run_session(
            stub,
            audio,
            speech_s=speech_s,
            chunk_ms=chunk_ms,
            hangover_s=hangover_s,
            schedule=schedule,
            result=result,
        )
        tasks.append(asyncio.create_task(session))
        await asyncio.sleep(1 / ramp_per_s)
    await schedule.all_settled.wait()
    schedule.stream_at = time.perf_counter() + 1.0
    schedule.go.set()
    await asyncio.sleep(max(0.0, schedule.stream_at - time.perf_counter()))
    on_streaming.set()
    await asyncio.gather(*tasks)
    await channel.close()
    window_end = schedule.stream_at + len(audio) / (BYTES_PER_MS * 1000)
    return results, schedule.stream_at, window_end

"""First-packet policy: time to first avatar speech vs starvation, on the emulator.

For each first-packet size and each input regime, one 3-second utterance goes client → bridge →
emulator (real-time playback, starvation reported as soon as its buffer runs dry):

* paced: the client sends 20 ms chunks in real time, each late by a random 0-80 ms (a phone
  gateway's network jitter), so the avatar's queue is only what the first packet put there;
* burst: the client sends the whole utterance at once (TTS faster than real time).

Reported per run: ms from the first audio byte sent to AvatarSpeakStarted received, starvation
warnings, and agent.speak packets. Run: `make bench` or `python -m benchmarks.first_packet`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import struct
import time
from dataclasses import dataclass

import grpc

from avatar_bridge.config import ServerConfig
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator, EmulatorConfig

KEY = "bench-key-0123456789"
AVATAR = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
RATE = 16000
CHUNK_MS = 20


@dataclass
class Run:
    first_packet_ms: int
    regime: str
    time_to_speak_ms: float
    starvations: int
    packets: int


def utterance(seconds: float) -> bytes:
    n = int(RATE * seconds)
    samples = [int(9000 * math.sin(2 * math.pi * 220 * i / RATE)) for i in range(n)]
    return struct.pack(f"<{n}h", *samples)


async def one_run(
    stub: pb_grpc.AvatarBridgeServiceStub,
    emu: Emulator,
    first_ms: int,
    regime: str,
    rng: random.Random,
) -> Run:
    call = stub.Converse()
    await call.write(
        pb.ConverseRequest(
            config=pb.SessionConfig(
                input_audio=pb.AudioFormat(
                    encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE, channel_count=1
                ),
                create=pb.NewSession(avatar_id=AVATAR, lite=pb.LiteSession()),
                options=pb.BridgeOptions(first_packet_ms=first_ms),
            )
        )
    )
    events: list[tuple[float, pb.ConverseResponse]] = []
    connected = asyncio.Event()

    async def reader() -> None:
        while (event := await call.read()) is not grpc.aio.EOF:
            events.append((time.perf_counter(), event))
            if event.session_state_changed.state == pb.SESSION_STATE_CONNECTED:
                connected.set()

    reading = asyncio.create_task(reader())
    await asyncio.wait_for(connected.wait(), 10)
    audio = utterance(3.0)
    step = RATE * 2 * CHUNK_MS // 1000
    t0 = time.perf_counter()
    for index, offset in enumerate(range(0, len(audio), step)):
        if regime == "paced":
            due = t0 + index * CHUNK_MS / 1000 + rng.uniform(0, 0.080)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await call.write(
            pb.ConverseRequest(audio=pb.AudioChunk(data=audio[offset : offset + step]))
        )
    await call.write(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
    await call.done_writing()
    await asyncio.wait_for(reading, 30)
    started = next(t for t, e in events if e.HasField("avatar_speak_started"))
    session_id = next(
        e.session_started.session_id for _, e in events if e.HasField("session_started")
    )
    session = emu.registry.get(session_id)
    packets = session.counters.get("agent.speak", 0) if session else 0
    starvations = sum(1 for _, e in events if e.warning.code == "VIDEO_STARVATION")
    return Run(first_ms, regime, (started - t0) * 1000, starvations, packets)


async def main(sizes: list[int], repeats: int) -> None:
    config = EmulatorConfig(api_keys=(KEY,), lite_connect_delay_s=0.05)
    async with Emulator(config=config) as emu:
        server = BridgeServer(ServerConfig(listen="127.0.0.1:0", api_url=emu.base_url, api_key=KEY))
        port = await server.start()
        rng = random.Random(7)
        runs: list[Run] = []
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            for first_ms in sizes:
                for regime in ("paced", "burst"):
                    for _ in range(repeats):
                        runs.append(await one_run(stub, emu, first_ms, regime, rng))
        await server.stop(2)
    print(
        f"{'first packet':>12} {'regime':>6} {'time to speak ms (median)':>26} "
        f"{'starvations (total)':>20} {'packets (median)':>17}"
    )
    for first_ms in sizes:
        for regime in ("paced", "burst"):
            group = [r for r in runs if r.first_packet_ms == first_ms and r.regime == regime]
            print(
                f"{first_ms:>9} ms {regime:>6} "
                f"{statistics.median(r.time_to_speak_ms for r in group):>26.0f} "
                f"{sum(r.starvations for r in group):>20} "
                f"{statistics.median(r.packets for r in group):>17.0f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,200,400,600,800")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.repeats))

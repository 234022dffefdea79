"""The baseline: a direct LiveAvatar LITE WebSocket client doing the bridge's job without it.

N sessions, each one WebSocket to the sink, pacing the same real-time chunks and sending them
with the anchors' chunking (LiveKit's LiveAvatar plugin: 600 ms first packet, then 1 s packets,
base64 in JSON via json.dumps), or with `--first-ms/--packet-ms` the bridge's own packets.
Prints one JSON line: process CPU seconds over the streaming window and the audio seconds sent.
Run by benchmarks.run, pinned to the bridge's core.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import resource
import time
import uuid

from websockets.asyncio.client import connect

BYTES_PER_MS = 48
FIRST_MS, PACKET_MS = 600, 1000


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _session(
    url: str, audio: bytes, stream_at: float, chunk_ms: int, first_ms: int, packet_ms: int
) -> None:
    async with connect(url, compression=None, ping_interval=None, max_size=2**22) as ws:
        await ws.recv()  # session.state_updated connected
        event_id = uuid.uuid4().hex
        step = chunk_ms * BYTES_PER_MS
        buffered = bytearray()
        sent = 0
        t0 = stream_at + random.uniform(0, chunk_ms / 1000)
        for index, offset in enumerate(range(0, len(audio) - step + 1, step)):
            delay = t0 + index * chunk_ms / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            buffered += audio[offset : offset + step]
            threshold = (first_ms if sent == 0 else packet_ms) * BYTES_PER_MS
            if len(buffered) >= threshold:
                packet = {
                    "type": "agent.speak",
                    "event_id": event_id,
                    "audio": base64.b64encode(bytes(buffered)).decode("ascii"),
                }
                await ws.send(json.dumps(packet))
                sent += len(buffered)
                buffered.clear()
        if buffered:
            audio_b64 = base64.b64encode(bytes(buffered)).decode("ascii")
            await ws.send(
                json.dumps({"type": "agent.speak", "event_id": event_id, "audio": audio_b64})
            )
        await ws.send(json.dumps({"type": "agent.speak_end", "event_id": event_id}))
        await ws.recv()  # agent.speak_ended


async def main(args: argparse.Namespace) -> None:
    port, sessions, chunk_ms, seconds, tag = (
        args.port,
        args.sessions,
        args.chunk_ms,
        args.seconds,
        args.tag,
    )
    audio = random.randbytes(int(seconds * 1000) * BYTES_PER_MS)
    stream_at = time.perf_counter() + 1.0 + sessions / 400
    tasks = [
        asyncio.create_task(
            _session(
                f"ws://127.0.0.1:{port}/{tag}-{i}",
                audio,
                stream_at,
                chunk_ms,
                args.first_ms,
                args.packet_ms,
            )
        )
        for i in range(sessions)
    ]
    await asyncio.sleep(max(0.0, stream_at - time.perf_counter()))
    cpu0 = _cpu()
    await asyncio.gather(*tasks)
    cpu = _cpu() - cpu0
    print(json.dumps({"cpu_s": cpu, "audio_s": sessions * seconds}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--tag", default="base")
    parser.add_argument("--first-ms", type=int, default=FIRST_MS)
    parser.add_argument("--packet-ms", type=int, default=PACKET_MS)
    asyncio.run(main(parser.parse_args()))

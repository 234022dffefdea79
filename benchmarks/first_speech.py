"""Time to first speech and starvation: the bridge against a direct client (anchors' packets).

One 3-second utterance per run on the emulator (real-time playback, starvation reported when its
buffer runs dry before speak_end). The source produces 20 ms chunks at 1x, 2x or 10x real time.
The bridge runs with its defaults; the direct client (LiveKit's LiveAvatar plugin's policy) sends
a 600 ms first packet, then 1 s packets. First speech: ms from the first audio byte produced to
agent.speak_started (direct) or AvatarSpeakStarted (bridge).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import statistics
import time
import uuid
from typing import Any

import grpc
from websockets.asyncio.client import connect

from avatar_bridge.config import ServerConfig
from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator, EmulatorConfig

KEY = "bench-key-0123456789"
AVATAR = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
BYTES_PER_MS = 48  # 24 kHz mono PCM16
CHUNK_MS = 20
SECONDS = 3.0
SOURCES: tuple[tuple[float, float], ...] = ((1, 0.0), (1, 0.08), (1.5, 0.0), (2, 0.0), (10, 0.0))
"""(speed x real time, jitter s): each chunk late by up to `jitter` at random (a phone gateway)."""


def _chunks() -> list[bytes]:
    step = CHUNK_MS * BYTES_PER_MS
    audio = random.Random(3).randbytes(int(SECONDS * 1000) * BYTES_PER_MS)
    return [audio[i : i + step] for i in range(0, len(audio), step)]


async def _paced(chunks: list[bytes], speed: float, t0: float, jitter: float) -> Any:
    rng = random.Random(11)
    for index, chunk in enumerate(chunks):
        due = t0 + index * CHUNK_MS / 1000 / speed + rng.uniform(0, jitter)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        yield chunk


async def direct_run(rest: LiveAvatarClient, speed: float, jitter: float) -> tuple[float, int]:
    token = await rest.create_token({"mode": "LITE", "avatar_id": AVATAR, "is_sandbox": True})
    started = await rest.start_session(token)
    try:
        async with connect(started.ws_url, compression=None, ping_interval=None) as ws:
            while json.loads(await ws.recv()).get("state") != "connected":
                pass
            event_id = uuid.uuid4().hex
            buffered = bytearray()
            sent = 0
            first_speech = -1.0
            starvations = 0
            t0 = time.perf_counter()

            async def listen() -> None:
                nonlocal first_speech, starvations
                async for raw in ws:
                    event = json.loads(raw)
                    kind = event.get("type")
                    if kind == "agent.speak_started" and first_speech < 0:
                        first_speech = time.perf_counter() - t0
                    body = event.get(kind) if isinstance(event.get(kind), dict) else event
                    if body.get("type") == "video_starvation":
                        starvations += 1
                    if kind == "agent.speak_ended" and sent_all.is_set():
                        return

            sent_all = asyncio.Event()
            listener = asyncio.create_task(listen())
            async for chunk in _paced(_chunks(), speed, t0, jitter):
                buffered += chunk
                if len(buffered) >= (600 if sent == 0 else 1000) * BYTES_PER_MS:
                    await _speak(ws, event_id, buffered)
                    sent += len(buffered)
                    buffered.clear()
            if buffered:
                await _speak(ws, event_id, buffered)
            await ws.send(json.dumps({"type": "agent.speak_end", "event_id": event_id}))
            sent_all.set()
            await asyncio.wait_for(listener, 30)
            return first_speech * 1000, starvations
    finally:
        await rest.stop_session(started.session_id, "USER_CLOSED")


async def _speak(ws: Any, event_id: str, pcm: bytearray) -> None:
    audio = base64.b64encode(bytes(pcm)).decode("ascii")
    await ws.send(json.dumps({"type": "agent.speak", "event_id": event_id, "audio": audio}))


async def bridge_run(
    stub: pb_grpc.AvatarBridgeServiceStub, speed: float, jitter: float
) -> tuple[float, int]:
    call = stub.Converse()
    await call.write(
        pb.ConverseRequest(
            config=pb.SessionConfig(
                input_audio=pb.AudioFormat(
                    encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=24000, channel_count=1
                ),
                create=pb.NewSession(avatar_id=AVATAR, lite=pb.LiteSession()),
            )
        )
    )
    connected = asyncio.Event()
    first_speech = -1.0
    starvations = 0
    t0 = 0.0

    async def reader() -> None:
        nonlocal first_speech, starvations
        while (event := await call.read()) is not grpc.aio.EOF:
            if event.session_state_changed.state == pb.SESSION_STATE_CONNECTED:
                connected.set()
            if event.HasField("avatar_speak_started") and first_speech < 0:
                first_speech = time.perf_counter() - t0
            if event.warning.code == "VIDEO_STARVATION":
                starvations += 1

    reading = asyncio.create_task(reader())
    await asyncio.wait_for(connected.wait(), 20)
    t0 = time.perf_counter()
    async for chunk in _paced(_chunks(), speed, t0, jitter):
        await call.write(pb.ConverseRequest(audio=pb.AudioChunk(data=chunk)))
    await call.write(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
    await call.done_writing()
    await asyncio.wait_for(reading, 30)
    return first_speech * 1000, starvations


async def measure(repeats: int) -> list[dict[str, Any]]:
    config = EmulatorConfig(api_keys=(KEY,), lite_connect_delay_s=0.05)
    rows: list[dict[str, Any]] = []
    async with Emulator(config=config) as emu:
        server = BridgeServer(ServerConfig(listen="127.0.0.1:0", api_url=emu.base_url, api_key=KEY))
        port = await server.start()
        rest = LiveAvatarClient(RestConfig(api_key=KEY, base_url=emu.base_url))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            for speed, jitter in SOURCES:
                for sender in ("direct, anchors' packets", "bridge, defaults"):
                    runs = []
                    for _ in range(repeats):
                        if sender.startswith("bridge"):
                            runs.append(await bridge_run(stub, speed, jitter))
                        else:
                            runs.append(await direct_run(rest, speed, jitter))
                    rows.append(
                        {
                            "sender": sender,
                            "speed": speed,
                            "jitter_ms": round(jitter * 1000),
                            "first_speech_ms": statistics.median(r[0] for r in runs),
                            "starvations": sum(r[1] for r in runs),
                            "runs": repeats,
                        }
                    )
        await rest.aclose()
        await server.stop(2)
    return rows


if __name__ == "__main__":
    for row in asyncio.run(measure(2)):
        print(row)

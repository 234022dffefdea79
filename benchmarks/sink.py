"""A minimal LITE WebSocket sink: what the bridge talks to when LiveAvatar is not the subject.

Each connection is one session (the URL path names it). The sink reports `connected` at once,
timestamps every agent.speak packet on arrival, and answers agent.speak_end with
agent.speak_ended so utterances finish. It parses packets by position, not with a JSON decoder,
so the load core spends little on it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from websockets.asyncio.server import Server, ServerConnection, serve

CONNECTED = json.dumps({"type": "session.state_updated", "state": "connected"})
_AUDIO_KEY = '"audio":"'


@dataclass
class Stream:
    """One session's traffic as the sink saw it, with the sender's chunk send times."""

    chunk_bytes: int
    """Bytes of 24 kHz PCM16 per client chunk (the unit send times are recorded in)."""
    sent: list[float] = field(default_factory=list)
    received_bytes: int = 0
    packets: int = 0
    latencies: list[float] = field(default_factory=list)
    """Per packet: arrival minus the send time of the last chunk it carries (seconds)."""

    def on_audio(self, pcm_bytes: int, now: float) -> None:
        self.packets += 1
        self.received_bytes += pcm_bytes
        last_chunk = -(-self.received_bytes // self.chunk_bytes) - 1
        if 0 <= last_chunk < len(self.sent):
            self.latencies.append(now - self.sent[last_chunk])


class Sink:
    """`await start()` → port; streams are registered by path before they connect."""

    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}
        self._server: Server | None = None
        self.port = 0

    async def start(self) -> int:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=2**22
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{path}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        stream = self.streams.get(ws.request.path.lstrip("/") if ws.request else "")
        await ws.send(CONNECTED)
        async for message in ws:
            now = time.perf_counter()
            text = message if isinstance(message, str) else message.decode()
            if text.startswith('{"type":"agent.speak",'):
                start = text.find(_AUDIO_KEY) + len(_AUDIO_KEY)
                end = text.find('"', start)
                b64 = text[start:end]
                pcm = len(b64) * 3 // 4 - b64.count("=", len(b64) - 2)
                if stream is not None:
                    stream.on_audio(pcm, now)
                continue
            event = json.loads(text)
            if event.get("type") == "agent.speak_end":
                reply = {"type": "agent.speak_ended", "event_id": event.get("event_id")}
                await ws.send(json.dumps(reply))

"""The LITE WebSocket leg: JSON text frames to and from a session's ws_url.

Thin by design: it connects, sends and receives JSON objects, and reports the close. WebSocket
pings are off because LiveAvatar media servers are known to stall pongs under load (liveness
comes from session.keep_alive, which the core schedules); compression is off because base64 audio
does not compress and deflate costs memory per connection.
"""

from __future__ import annotations

import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from avatar_bridge.errors import (
    UpstreamClosed,
    UpstreamProtocolError,
    UpstreamUnavailable,
    handshake_refused,
)
from avatar_bridge.lite.framer import write_text_now

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest frame accepted from LiveAvatar; events are small, so this only bounds memory."""


_SPEAK_HEAD = b'{"type":"agent.speak","event_id":"'
_SPEAK_AUDIO = b'","audio":"'
_SPEAK_TAIL = b'"}'


def encode(message: dict[str, Any]) -> bytes:
    """One LITE text frame as UTF-8 bytes.

    agent.speak, the hot path, is framed by a template: its audio is base64 bytes and its
    event_id a hex id, so neither needs escaping, and json.dumps would cost 10 to 50 times more
    for the same bytes. Anything else goes through json.dumps.
    """
    audio = message.get("audio")
    event_id = message.get("event_id")
    if (
        isinstance(audio, bytes)
        and isinstance(event_id, str)
        and event_id.isascii()
        and event_id.isalnum()
        and message.get("type") == "agent.speak"
        and len(message) == 3
    ):
        return b"".join((_SPEAK_HEAD, event_id.encode(), _SPEAK_AUDIO, audio, _SPEAK_TAIL))
    if isinstance(audio, bytes):
        message = {**message, "audio": audio.decode("ascii")}
    return json.dumps(message, separators=(",", ":")).encode()


class LiteTransport:
    """One WebSocket connection to a LITE session. The URL is a secret and is never logged."""

    def __init__(self, ws_url: str, *, open_timeout_s: float = 10.0) -> None:
        self._url = ws_url
        self._open_timeout_s = open_timeout_s
        self._ws: ClientConnection | None = None
        self.close_code: int | None = None
        self.close_reason: str = ""

    async def connect(self) -> None:
        try:
            self._ws = await connect(
                self._url,
                ping_interval=None,
                compression=None,
                open_timeout=self._open_timeout_s,
                close_timeout=2,
                max_size=MAX_MESSAGE_BYTES,
            )
        except websockets.exceptions.InvalidStatus as exc:
            status = exc.response.status_code
            raise handshake_refused("the session's LITE WebSocket", status) from exc
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            raise UpstreamUnavailable(
                f"could not open the session's LITE WebSocket: {type(exc).__name__}"
            ) from exc

    async def send(self, message: dict[str, Any]) -> None:
        ws = self._require()
        frame = encode(message)
        if write_text_now(ws, frame):  # The hot path: no await, one socket write.
            return
        try:
            await ws.send(frame, text=True)
        except websockets.exceptions.ConnectionClosed as exc:
            self._note_close(exc)
            raise self._closed("the LITE WebSocket closed while sending") from exc

    async def receive(self) -> dict[str, Any]:
        """The next event; raises UpstreamClosed when the socket closes."""
        ws = self._require()
        try:
            raw = await ws.recv()
        except websockets.exceptions.ConnectionClosed as exc:
            self._note_close(exc)
            raise self._closed(
                f"the LITE WebSocket closed (code {self.close_code}, reason {self.close_reason!r})"
            ) from exc
        try:
            event = json.loads(raw)
        except ValueError as exc:
            raise UpstreamProtocolError("LiveAvatar sent a LITE frame that is not JSON") from exc
        if not isinstance(event, dict):
            raise UpstreamProtocolError("LiveAvatar sent a LITE frame that is not a JSON object")
        return event

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    def _require(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("LiteTransport used before connect()")
        return self._ws

    def _closed(self, message: str) -> UpstreamClosed:
        return UpstreamClosed(message, close_code=self.close_code, close_reason=self.close_reason)

    def _note_close(self, exc: websockets.exceptions.ConnectionClosed) -> None:
        frame = exc.rcvd
        self.close_code = frame.code if frame else None
        self.close_reason = frame.reason if frame else ""

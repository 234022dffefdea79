"""A scripted LiveAvatar REST peer on a real loopback socket, for answers the emulator never gives
(a LITE start without ws_url, a start that fails once sent). It records every request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Answer = tuple[int, dict[str, Any]] | None
"""(HTTP status, JSON body), or None to drop the connection without an answer."""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeLiveAvatar:
    """Answers `script[path](body)`; unknown paths get 404 in LiveAvatar's envelope."""

    script: dict[str, Callable[[Any], Answer]]
    seen: list[Seen] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    async def __aenter__(self) -> FakeLiveAvatar:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            body = json.loads(raw) if raw else None
            path = target.split("?", 1)[0]
            self.seen.append(Seen(method, path, headers, body))
            handler = self.script.get(path)
            answer = handler(body) if handler else (404, envelope(404, "Not found"))
            if answer is None:
                return  # Drop the connection: the caller cannot know what happened.
            status, payload = answer
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(data)}\r\nconnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def envelope(code: int, message: str, data: Any = None) -> dict[str, Any]:
    """LiveAvatar's `{code, data, message}` envelope (code 1000 is success)."""
    return {"code": code, "data": data, "message": message}

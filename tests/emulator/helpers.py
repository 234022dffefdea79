"""Shared helpers for emulator tests: fast config, REST shortcuts and a LITE WS client."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from liveavatar_emulator import Emulator, EmulatorConfig

API_KEY = "test-api-key"
AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
WAIT = 10.0  # generous upper bound for anything we wait on; never a speed assertion

#: Fast defaults: 5 min idle -> 3 s, short readiness delay. Playback stays real-time so that
#: back-to-back commands never race the player into starvation; tests use short audio instead.
FAST = EmulatorConfig(
    api_keys=(API_KEY,),
    time_scale=0.01,
    playback_time_scale=1.0,
    lite_connect_delay_s=0.05,
)


def fast(**overrides: Any) -> EmulatorConfig:
    """``FAST`` with some fields replaced."""
    return replace(FAST, **overrides)


@asynccontextmanager
async def running(config: EmulatorConfig | None = None) -> AsyncIterator[Emulator]:
    """An emulator on a free port."""
    async with Emulator(config or FAST) as emu:
        yield emu


def key_headers() -> dict[str, str]:
    """``X-API-KEY`` auth."""
    return {"X-API-KEY": API_KEY}


def bearer(token: str) -> dict[str, str]:
    """Bearer auth."""
    return {"Authorization": f"Bearer {token}"}


def lite_body(**extra: Any) -> dict[str, Any]:
    """A LITE token request."""
    return {"mode": "LITE", "avatar_id": AVATAR_ID, **extra}


def full_body(**extra: Any) -> dict[str, Any]:
    """A FULL token request."""
    persona = {"voice_id": str(uuid.uuid4()), "context_id": str(uuid.uuid4()), "language": "en"}
    return {"mode": "FULL", "avatar_id": AVATAR_ID, "avatar_persona": persona, **extra}


async def create(http: httpx.AsyncClient, body: dict[str, Any] | None = None) -> tuple[str, str]:
    """POST /token; returns (session_id, session_token)."""
    resp = await http.post("/v1/sessions/token", json=body or lite_body(), headers=key_headers())
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    return data["session_id"], data["session_token"]


async def start(http: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """POST /start with no body; returns ``data``."""
    resp = await http.post("/v1/sessions/start", headers=bearer(token))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def started_lite(
    http: httpx.AsyncClient, body: dict[str, Any] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """Create and start a LITE session; returns (session_id, token, start data)."""
    sid, token = await create(http, body or lite_body())
    return sid, token, await start(http, token)


def pcm(nbytes: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random PCM bytes."""
    out = bytearray()
    counter = seed
    while len(out) < nbytes:
        out += uuid.uuid5(uuid.NAMESPACE_OID, str(counter)).bytes
        counter += 1
    return bytes(out[:nbytes])


def speak(audio: bytes, event_id: str | None = None) -> dict[str, Any]:
    """An ``agent.speak`` command."""
    cmd: dict[str, Any] = {"type": "agent.speak", "audio": base64.b64encode(audio).decode()}
    if event_id is not None:
        cmd["event_id"] = event_id
    return cmd


class LiteClient:
    """Minimal LITE WS client that records every event it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._cursor = 0

    async def send(self, command: dict[str, Any]) -> None:
        """Send one JSON command."""
        await self.ws.send(json.dumps(command))

    async def next(self) -> dict[str, Any]:
        """The next event (in order)."""
        if self._cursor < len(self.events):
            event = self.events[self._cursor]
        else:
            raw = await asyncio.wait_for(self.ws.recv(), WAIT)
            event = json.loads(raw)
            self.events.append(event)
        self._cursor += 1
        return event

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Skip events until one matches."""
        async with asyncio.timeout(WAIT):
            while True:
                event = await self.next()
                if predicate(event):
                    return event

    async def wait_type(self, kind: str) -> dict[str, Any]:
        """Skip events until one of type ``kind``."""
        return await self.wait_for(lambda e: e["type"] == kind)

    async def connected(self) -> None:
        """Wait for ``session.state_updated connected``."""
        await self.wait_for(
            lambda e: e["type"] == "session.state_updated" and e.get("state") == "connected"
        )

    async def closed(self) -> tuple[int | None, str | None]:
        """Wait for the server to close; returns (code, reason). Drains events meanwhile."""
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    self.events.append(json.loads(await self.ws.recv()))
        except ConnectionClosed:
            pass
        rcvd = self.ws.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (None, None)

    def types(self) -> list[str]:
        """Types of all events received so far."""
        return [e["type"] for e in self.events]


@asynccontextmanager
async def lite_ws(url: str, *, wait_connected: bool = True) -> AsyncIterator[LiteClient]:
    """Connect to ``ws_url`` without pings (the real service does not need them)."""
    async with connect(url, ping_interval=None, max_size=None, open_timeout=WAIT) as ws:
        client = LiteClient(ws)
        if wait_connected:
            await client.connected()
        yield client


async def inspect(http: httpx.AsyncClient, sid: str, suffix: str = "") -> Any:
    """GET an inspection endpoint for a session."""
    resp = await http.get(f"/_emulator/sessions/{sid}{suffix}")
    assert resp.status_code == 200, resp.text
    return resp.json()


async def wait_until(check: Callable[[], Any]) -> None:
    """Poll an async or sync predicate until true."""
    async with asyncio.timeout(WAIT):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)

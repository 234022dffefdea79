"""Helpers for the server tests: request builders, a Converse stream reader, emulator inspection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import httpx

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

WAIT_S = 30.0
"""Generous upper bound for anything a test waits on; never a speed assertion (30 s: 100
sessions opened at once under `make test-loaded` needed more than 15)."""

SANDBOX_AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"

MULAW_8K = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000, channel_count=1)


def lite_config(
    *,
    input_audio: pb.AudioFormat | None = MULAW_8K,
    options: pb.BridgeOptions | None = None,
    request_id: str = "",
    **create: Any,
) -> pb.ConverseRequest:
    """A first request that creates a LITE session (not sandbox unless `is_sandbox=True`)."""
    new = pb.NewSession(avatar_id=SANDBOX_AVATAR_ID, lite=pb.LiteSession(), **create)
    config = pb.SessionConfig(create=new, options=options)
    if input_audio is not None:
        config.input_audio.CopyFrom(input_audio)
    return pb.ConverseRequest(request_id=request_id, config=config)


def audio(data: bytes, request_id: str = "") -> pb.ConverseRequest:
    return pb.ConverseRequest(request_id=request_id, audio=pb.AudioChunk(data=data))


def speak_end(request_id: str = "") -> pb.ConverseRequest:
    return pb.ConverseRequest(request_id=request_id, speak_end=pb.SpeakEnd())


def event_kind(response: pb.ConverseResponse) -> str:
    return response.WhichOneof("event") or ""


class Stream:
    """One Converse call driven with the read/write API; remembers every event it read."""

    def __init__(self, stub: pb_grpc.AvatarBridgeServiceStub) -> None:
        self.call = stub.Converse()
        self.events: list[pb.ConverseResponse] = []

    async def send(self, *requests: pb.ConverseRequest) -> None:
        for request in requests:
            await asyncio.wait_for(self.call.write(request), WAIT_S)

    async def half_close(self) -> None:
        await asyncio.wait_for(self.call.done_writing(), WAIT_S)

    async def next(self) -> pb.ConverseResponse | None:
        """The next event, or None at the end of the stream."""
        response = await asyncio.wait_for(self.call.read(), WAIT_S)
        if response is grpc.aio.EOF:
            return None
        assert isinstance(response, pb.ConverseResponse)
        self.events.append(response)
        return response

    async def until(
        self, kind: str, match: Callable[[pb.ConverseResponse], bool] = lambda _: True
    ) -> pb.ConverseResponse:
        """Read until an event of `kind` that satisfies `match`; fail at the end of the stream."""
        async with asyncio.timeout(WAIT_S):
            while True:
                response = await self.next()
                assert response is not None, f"stream ended before a {kind} event: {self.kinds()}"
                if event_kind(response) == kind and match(response):
                    return response

    async def started(self) -> pb.SessionStarted:
        first = await self.next()
        assert first is not None, "stream ended before session_started"
        assert event_kind(first) == "session_started", first
        return first.session_started

    async def drain(self) -> list[pb.ConverseResponse]:
        """Read to the end of the stream; returns the events read by this call."""
        start = len(self.events)
        async with asyncio.timeout(WAIT_S):
            while await self.next() is not None:
                pass
        return self.events[start:]

    async def status(self) -> tuple[grpc.StatusCode, str]:
        code = await asyncio.wait_for(self.call.code(), WAIT_S)
        details = await asyncio.wait_for(self.call.details(), WAIT_S)
        return code, details or ""

    def kinds(self) -> list[str]:
        return [event_kind(e) for e in self.events]

    async def stopped(self, reason: pb.StopReason.ValueType | None = None) -> pb.SessionStopped:
        """Read to the end: the last event is session_stopped (with `reason` when given) and
        the call ends OK."""
        await self.drain()
        assert self.kinds()[-1] == "session_stopped", self.kinds()
        stopped = self.events[-1].session_stopped
        assert reason is None or stopped.reason == reason, stopped
        code, details = await self.status()
        assert code == grpc.StatusCode.OK, details
        return stopped


class Inspector:
    """The emulator's /_emulator inspection and fault API, over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=WAIT_S)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def sessions(self) -> list[dict[str, Any]]:
        response = await self.http.get("/_emulator/sessions")
        response.raise_for_status()
        sessions: list[dict[str, Any]] = response.json()["sessions"]
        return sessions

    async def session(self, session_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/_emulator/sessions/{session_id}")
        response.raise_for_status()
        detail: dict[str, Any] = response.json()
        return detail

    async def active(self) -> list[str]:
        response = await self.http.get("/_emulator/active")
        response.raise_for_status()
        ids: list[str] = response.json()["active"]
        return ids

    async def wait_none_active(self, within_s: float = WAIT_S) -> list[str]:
        """Poll until no session is active or `within_s` passes; returns the ids still active."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            ids = await self.active()
            if not ids or loop.time() >= deadline:
                return ids
            await asyncio.sleep(0.05)

    async def wait_ended(self, session_id: str, within_s: float = WAIT_S) -> dict[str, Any]:
        """Poll until the session has ended or `within_s` passes; returns its detail."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            detail = await self.session(session_id)
            if detail["status"] == "ended" or loop.time() >= deadline:
                return detail
            await asyncio.sleep(0.05)

    async def audio(self, session_id: str) -> bytes:
        response = await self.http.get(f"/_emulator/sessions/{session_id}/audio")
        response.raise_for_status()
        return response.content

    async def wait_delayed(self, count: int, within_s: float = WAIT_S) -> None:
        """Poll until the fault injector has delayed `count` calls in all (bounded)."""
        async with asyncio.timeout(within_s):
            while True:
                response = await self.http.get("/_emulator/faults")
                response.raise_for_status()
                if response.json()["delayed"] >= count:
                    return
                await asyncio.sleep(0.02)

    async def faults(self, **settings: Any) -> dict[str, Any]:
        response = await self.http.post("/_emulator/faults", json=settings)
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

"""Fixtures for the FULL-mode emulator tests.

Tests marked ``full`` use the real LiveKit SDK (libwebrtc), which ignores loopback interfaces:
they only run inside the private network namespace set up by ``tests/netns/run.sh`` (which
exports ``AVATAR_BRIDGE_NETNS=1``) and are skipped, with the reason printed, elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from livekit import api, rtc

from liveavatar_emulator.full import FullModeConfig, LiveKitFullBackend

NETNS_SKIP_REASON = (
    "needs a private network namespace with a veth pair (libwebrtc ignores loopback); "
    "AVATAR_BRIDGE_NETNS is not set. Run: "
    "bash tests/netns/run.sh .venv/bin/pytest tests/full_emulator -m full"
)

WAIT_S = 15.0
CONNECT_S = 25.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``full`` tests outside the network namespace, and say why on the terminal."""
    if os.environ.get("AVATAR_BRIDGE_NETNS"):
        return
    skipped = 0
    for item in items:
        if "full" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=NETNS_SKIP_REASON))
            skipped += 1
    if skipped:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"SKIPPING {skipped} full-mode test(s): {NETNS_SKIP_REASON}")


@dataclass
class StubSession:
    """Stand-in for the session registry's Session (the FullBackend seam)."""

    token_request: dict[str, Any]
    backend: LiveKitFullBackend | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    mode: str = "FULL"
    is_sandbox: bool = False
    max_duration_s: int = 600
    status: str = "CONNECTED"
    end_reason: str | None = None
    touches: int = 0

    def touch(self) -> None:
        self.touches += 1

    async def end(self, reason: str) -> None:
        if self.status == "CLOSED":
            return
        self.status = "CLOSED"
        self.end_reason = reason
        if self.backend is not None:
            await self.backend.session_ended(self, reason)


def token_request(*, context: bool = True, interactivity: str = "CONVERSATIONAL") -> dict[str, Any]:
    """A FULL token request body."""
    persona: dict[str, Any] = {"voice_id": str(uuid.uuid4()), "language": "en"}
    if context:
        persona["context_id"] = str(uuid.uuid4())
    return {
        "mode": "FULL",
        "avatar_id": str(uuid.uuid4()),
        "avatar_persona": persona,
        "interactivity_type": interactivity,
    }


def fast_config(**overrides: Any) -> FullModeConfig:
    """Fast settings: free port, speech 20x faster than real time."""
    values: dict[str, Any] = {"port": 0, "time_scale": 0.05, "stop_flush_s": 0.2}
    values.update(overrides)
    return FullModeConfig(**values)


@pytest.fixture
async def backend() -> AsyncIterator[LiveKitFullBackend]:
    async with LiveKitFullBackend(fast_config()) as b:
        yield b


@pytest.fixture
def new_session(backend: LiveKitFullBackend) -> Callable[..., Any]:
    async def make(**kw: Any) -> StubSession:
        session = StubSession(token_request(**kw), backend=backend)
        await backend.session_started(session)
        return session

    return make


def mint_token(config: FullModeConfig, identity: str, room: str, secret: str | None = None) -> str:
    """A LiveKit join token for ``identity`` in ``room``."""
    return (
        api.AccessToken(config.api_key, secret or config.api_secret)
        .with_identity(identity)
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .to_jwt()
    )


class Client:
    """A real ``rtc.Room`` client that collects ``agent-response`` events and other data."""

    def __init__(self) -> None:
        self.room = rtc.Room()
        self.events: list[dict[str, Any]] = []
        self.data: list[tuple[str | None, str, bytes]] = []
        self.disconnected = asyncio.Event()
        self._changed = asyncio.Condition()
        self.room.on("data_received", self._on_data)
        self.room.on("disconnected", lambda *_: self.disconnected.set())
        self._session_id = ""

    def _on_data(self, packet: rtc.DataPacket) -> None:
        sender = packet.participant.identity if packet.participant else None
        self.data.append((sender, packet.topic or "", bytes(packet.data)))
        if packet.topic == "agent-response":
            self.events.append(json.loads(packet.data))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def connect(self, url: str, token: str) -> Client:
        await asyncio.wait_for(self.room.connect(url, token), CONNECT_S)
        return self

    async def wait_until(self, predicate: Callable[[], Any], wait_s: float = WAIT_S) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every packet); return it."""

        async def loop() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(loop(), wait_s)

    async def wait_event(self, event_type: str, after: int = 0, wait_s: float = WAIT_S) -> Any:
        """The first event of ``event_type`` at index >= ``after``."""

        def find() -> dict[str, Any] | None:
            return next((e for e in self.events[after:] if e.get("event_type") == event_type), None)

        return await self.wait_until(find, wait_s)

    async def command(self, event_type: str, **fields: Any) -> str:
        """Publish an ``agent-control`` command; return its event_id."""
        event_id = str(uuid.uuid4())
        body = {"event_id": event_id, "event_type": event_type, **fields}
        await self.room.local_participant.publish_data(
            json.dumps(body).encode(), topic="agent-control", reliable=True
        )
        return event_id

    def types(self, after: int = 0) -> list[str]:
        return [e["event_type"] for e in self.events[after:]]

    async def close(self) -> None:
        await asyncio.wait_for(self.room.disconnect(), 10)


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[], Client]]:
    made: list[Client] = []

    def make() -> Client:
        c = Client()
        made.append(c)
        return c

    yield make
    for c in made:
        with contextlib.suppress(Exception):  # already disconnected by the server
            await c.close()

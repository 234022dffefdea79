"""FULL liveness end to end: the emulator's room faults, and what the client must see.

LiveAvatar's agent or avatar leaving is reported at once; a rejoin within the grace (3 s) goes
on, no rejoin ends the conversation as UPSTREAM_LOST; the room dropping the bridge ends it too;
commands sent while the SDK reconnects the room are held and delivered after. Run inside the
network namespace: ``bash tests/netns/run.sh .venv/bin/pytest tests/full -m full``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import API_KEY
from server.helpers import SANDBOX_AVATAR_ID, WAIT_S, Stream

from avatar_bridge.errors import UpstreamClosed, UpstreamUnavailable
from avatar_bridge.full.transport import LiveKitTransport
from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FullEnv
from .test_full_converse import open_full, speak_text

pytestmark = pytest.mark.full


async def inject(env: FullEnv, session_id: str, fault: str, body: dict[str, Any]) -> Any:
    """POST one of the emulator's room faults for the session."""
    response = await env.emu.http.post(f"/_emulator/sessions/{session_id}/{fault}", json=body)
    response.raise_for_status()
    return response.json()


def warning_codes(stream: Stream) -> list[str]:
    return [e.warning.code for e in stream.events if e.HasField("warning")]


async def test_agent_leaving_is_reported_then_ends_as_upstream_lost(env: FullEnv) -> None:
    stream, started = await open_full(env)
    left = await inject(env, started.session_id, "room_leave", {"who": "agent"})
    assert left["left"] == f"liveavatar-agent-{started.session_id}"

    warning = await stream.until("warning", lambda e: e.warning.code == "AGENT_LEFT")
    assert "waiting up to 3 s" in warning.warning.message
    # Commands meanwhile reach nobody; the conversation still ends instead of going silent.
    await stream.send(speak_text("anyone there?", "s1"))
    stopped = await stream.stopped(pb.STOP_REASON_UPSTREAM_LOST)
    assert "did not rejoin within 3 s" in stopped.detail
    assert "avatar_speak_started" not in stream.kinds()
    assert (await env.emu.wait_ended(started.session_id))["status"] == "ended"


async def test_agent_rejoining_within_the_grace_goes_on(env: FullEnv) -> None:
    stream, started = await open_full(env)
    await inject(env, started.session_id, "room_leave", {"who": "agent", "rejoin_after_s": 0.3})

    await stream.until("warning", lambda e: e.warning.code == "AGENT_REJOINED")
    await stream.send(speak_text("still here", "s1"))
    ended = await stream.until("avatar_speak_ended")
    assert ended.request_id == "s1"

    await stream.half_close()
    await stream.stopped(pb.STOP_REASON_CLIENT_ENDED)
    assert warning_codes(stream)[:2] == ["AGENT_LEFT", "AGENT_REJOINED"]


async def test_avatar_leaving_ends_as_upstream_lost(env: FullEnv) -> None:
    stream, started = await open_full(env)
    assert (await inject(env, started.session_id, "room_leave", {"who": "avatar"}))[
        "left"
    ] == "heygen"

    stopped = await stream.stopped(pb.STOP_REASON_UPSTREAM_LOST)
    assert "AVATAR_LEFT" in warning_codes(stream)
    assert "avatar participant (heygen)" in stopped.detail


async def test_room_dropping_the_bridge_ends_as_upstream_lost(env: FullEnv) -> None:
    stream, started = await open_full(env)
    dropped = await inject(env, started.session_id, "room_drop", {})
    assert dropped["dropped"] == ["client"]

    stopped = await stream.stopped(pb.STOP_REASON_UPSTREAM_LOST)
    assert "disconnected" in stopped.detail
    # The session outlived the room connection: the bridge stopped it.
    assert (await env.emu.wait_ended(started.session_id))["status"] == "ended"


def agent_commands(env: FullEnv, session_id: str) -> list[str]:
    agent = env.backend.agent_for(session_id)
    assert agent is not None
    return [str(c["command"]["event_type"]) for c in agent.commands]


@contextlib.asynccontextmanager
async def joined_transport(
    env: FullEnv, **options: Any
) -> AsyncIterator[tuple[LiveKitTransport, str]]:
    """A session started over REST and the bridge's LiveKit leg joined to its room."""
    rest = LiveAvatarClient(RestConfig(api_key=API_KEY, base_url=str(env.emu.http.base_url)))
    try:
        token = await rest.create_token(
            {"mode": "FULL", "avatar_id": SANDBOX_AVATAR_ID, "avatar_persona": {}}
        )
        started = await rest.start_session(token)
        transport = LiveKitTransport(
            started.livekit_url,
            started.livekit_client_token,
            session_id=started.session_id,
            keep_alive=_no_keep_alive,
            **options,
        )
        await transport.connect()
        try:
            yield transport, started.session_id
        finally:
            await transport.close()
            await rest.stop_session(started.session_id)
    finally:
        await rest.aclose()


async def bridge_warnings(transport: LiveKitTransport, count: int) -> list[str]:
    codes: list[str] = []
    while len(codes) < count:
        event = await asyncio.wait_for(transport.receive(), WAIT_S)
        if event.get("event_type") == "bridge.warning":
            codes.append(event["code"])
    return codes


# The fake LiveKit server has no resume, so the SDK's `reconnecting` / `reconnected` events are
# emitted on the SDK's own Room object of a really joined room: its event emitter drives the
# transport exactly as the SDK would.


async def test_commands_sent_while_the_room_reconnects_are_held_then_sent(
    env: FullEnv,
) -> None:
    async with joined_transport(env) as (transport, session_id):
        room = transport._room
        room.emit("reconnecting")
        await transport.send({"event_type": "avatar.speak_text", "text": "held", "event_id": "h1"})
        await asyncio.sleep(0.3)  # Long enough for a publish to land, were it sent.
        assert "avatar.speak_text" not in agent_commands(env, session_id)

        room.emit("reconnected")
        for _ in range(int(WAIT_S / 0.05)):
            if "avatar.speak_text" in agent_commands(env, session_id):
                break
            await asyncio.sleep(0.05)  # The emulated agent has no change notification.
        assert "avatar.speak_text" in agent_commands(env, session_id)
        assert await bridge_warnings(transport, 2) == ["ROOM_RECONNECTING", "ROOM_RECONNECTED"]


async def test_a_reconnect_that_takes_too_long_ends_the_leg(env: FullEnv) -> None:
    async with joined_transport(env, reconnect_timeout_s=0.5) as (transport, _):
        transport._room.emit("reconnecting")
        assert await bridge_warnings(transport, 1) == ["ROOM_RECONNECTING"]
        with pytest.raises(UpstreamClosed, match=r"did not come back within 0\.5 s"):
            await asyncio.wait_for(transport.receive(), WAIT_S)
        with pytest.raises(UpstreamClosed):  # And so does every send after.
            await transport.send({"event_type": "avatar.interrupt"})


async def test_held_commands_are_bounded_and_the_excess_is_an_error(env: FullEnv) -> None:
    async with joined_transport(env) as (transport, _):
        transport._room.emit("reconnecting")
        for i in range(256):
            await transport.send({"event_type": "avatar.interrupt", "event_id": f"c{i}"})
        with pytest.raises(UpstreamUnavailable, match="256 commands are already held"):
            await transport.send({"event_type": "avatar.interrupt", "event_id": "c256"})


async def _no_keep_alive() -> None:
    return None


async def test_a_broken_room_connection_is_reported_and_commands_wait_for_the_sdk_reconnect(
    env: FullEnv,
) -> None:
    """The signalling connection breaks (no leave): the SDK's own reconnect (a resume, which
    the fake server refuses, then a restart) brings the room back; a command sent meanwhile
    is held and played after."""
    stream, started = await open_full(env)
    body = {"abrupt": True}
    assert (await inject(env, started.session_id, "room_drop", body))["dropped"] == ["client"]
    await stream.until("warning", lambda e: e.warning.code == "ROOM_RECONNECTING")
    await stream.send(speak_text("said while reconnecting", "s1"))

    await stream.until("warning", lambda e: e.warning.code == "ROOM_RECONNECTED")
    ended = await stream.until("avatar_speak_ended")
    assert ended.request_id == "s1"
    assert warning_codes(stream) == ["ROOM_RECONNECTING", "ROOM_RECONNECTED"]
    await stream.half_close()
    await stream.stopped(pb.STOP_REASON_CLIENT_ENDED)

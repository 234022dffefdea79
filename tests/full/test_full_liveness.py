"""FULL liveness end to end: the emulator's room faults, and what the client must see.

LiveAvatar's agent or avatar leaving is reported at once; a rejoin within the grace (3 s) goes
on, no rejoin ends the conversation as UPSTREAM_LOST; the room dropping the bridge ends it too;
commands sent while the SDK reconnects the room are held and delivered after. Run inside the
network namespace: ``bash tests/netns/run.sh .venv/bin/pytest tests/full -m full``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from conftest import API_KEY
from server.helpers import SANDBOX_AVATAR_ID, WAIT_S, Stream

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


async def stops_with(stream: Stream, reason: pb.StopReason.ValueType) -> pb.SessionStopped:
    await stream.drain()
    assert stream.kinds()[-1] == "session_stopped", stream.kinds()
    stopped = stream.events[-1].session_stopped
    assert stopped.reason == reason, stopped
    code, details = await stream.status()
    assert code == grpc.StatusCode.OK, details
    return stopped


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
    stopped = await stops_with(stream, pb.STOP_REASON_UPSTREAM_LOST)
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
    await stops_with(stream, pb.STOP_REASON_CLIENT_ENDED)
    assert warning_codes(stream)[:2] == ["AGENT_LEFT", "AGENT_REJOINED"]


async def test_avatar_leaving_ends_as_upstream_lost(env: FullEnv) -> None:
    stream, started = await open_full(env)
    assert (await inject(env, started.session_id, "room_leave", {"who": "avatar"}))[
        "left"
    ] == "heygen"

    stopped = await stops_with(stream, pb.STOP_REASON_UPSTREAM_LOST)
    assert "AVATAR_LEFT" in warning_codes(stream)
    assert "avatar participant (heygen)" in stopped.detail


async def test_room_dropping_the_bridge_ends_as_upstream_lost(env: FullEnv) -> None:
    stream, started = await open_full(env)
    dropped = await inject(env, started.session_id, "room_drop", {})
    assert dropped["dropped"] == ["client"]

    stopped = await stops_with(stream, pb.STOP_REASON_UPSTREAM_LOST)
    assert "disconnected" in stopped.detail
    # The session outlived the room connection: the bridge stopped it.
    assert (await env.emu.wait_ended(started.session_id))["status"] == "ended"


def agent_commands(env: FullEnv, session_id: str) -> list[str]:
    agent = env.backend.agent_for(session_id)
    assert agent is not None
    return [str(c["command"]["event_type"]) for c in agent.commands]


async def test_commands_sent_while_the_room_reconnects_are_held_then_sent(
    env: FullEnv,
) -> None:
    """The SDK's `reconnecting` / `reconnected` events, emitted on a real joined room: the fake
    LiveKit server has no resume, so the events are raised on the SDK's Room object itself."""
    rest = LiveAvatarClient(RestConfig(api_key=API_KEY, base_url=str(env.emu.http.base_url)))
    token = await rest.create_token(
        {"mode": "FULL", "avatar_id": SANDBOX_AVATAR_ID, "avatar_persona": {}}
    )
    started = await rest.start_session(token)
    session_id = started.session_id
    transport = LiveKitTransport(
        started.livekit_url,
        started.livekit_client_token,
        session_id=session_id,
        keep_alive=_no_keep_alive,
    )
    await transport.connect()
    try:
        room = transport._room  # The SDK's own Room: its event emitter drives the transport.
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
        warnings = []
        while len(warnings) < 2:
            event = await asyncio.wait_for(transport.receive(), WAIT_S)
            if event.get("event_type") == "bridge.warning":
                warnings.append(event["code"])
        assert warnings == ["ROOM_RECONNECTING", "ROOM_RECONNECTED"]
    finally:
        await transport.close()
        await rest.stop_session(session_id)
        await rest.aclose()


async def _no_keep_alive() -> None:
    return None

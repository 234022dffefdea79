"""How FULL conversations end, keep-alive, the v0 signalling fallback and controller mode.

Run inside the network namespace:
``bash tests/netns/run.sh .venv/bin/pytest tests/full -m full``
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from server.helpers import WAIT_S, Stream

from avatar_bridge.liveavatar.rest import LiveAvatarClient
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FullEnv
from .test_full_converse import (
    command,
    end_normally,
    full_config,
    open_full,
    poll,
    speak_text,
)

pytestmark = pytest.mark.full


async def test_operator_stop_session_reports_operator_stopped(env: FullEnv) -> None:
    stream, started = await open_full(env)
    reply = await asyncio.wait_for(
        env.bridge.stub.StopSession(pb.StopSessionRequest(session_id=started.session_id)), WAIT_S
    )
    assert reply.had_conversation
    stopped = await stream.until("session_stopped")
    assert stopped.session_stopped.reason == pb.STOP_REASON_OPERATOR_STOPPED
    await stream.drain()
    code, details = await stream.status()
    assert code == grpc.StatusCode.OK, details
    detail = await env.emu.session(started.session_id)
    assert detail["end_reason"] == "USER_CLOSED"


@pytest.mark.parametrize("emulator_settings", [{"idle_timeout_s": 1.5}])
async def test_idle_timeout_reports_idle_timeout(env: FullEnv) -> None:
    stream, _ = await open_full(env)
    stopped = await stream.until("session_stopped")
    assert stopped.session_stopped.reason == pb.STOP_REASON_IDLE_TIMEOUT
    assert stopped.session_stopped.upstream_reason == "IDLE_TIMEOUT"
    # LiveAvatar's session.stopped reached the core first.
    closing = [
        e
        for e in stream.events
        if e.WhichOneof("event") == "session_state_changed"
        and e.session_state_changed.state == pb.SESSION_STATE_CLOSING
    ]
    assert closing, stream.kinds()
    await stream.drain()
    code, details = await stream.status()
    assert code == grpc.StatusCode.OK, details


async def test_max_duration_reports_max_duration_reached(env: FullEnv) -> None:
    stream, started = await open_full(env, max_session_duration_seconds=2)
    assert started.max_session_duration_seconds == 2
    stopped = await stream.until("session_stopped")
    assert stopped.session_stopped.reason == pb.STOP_REASON_MAX_DURATION_REACHED
    assert stopped.session_stopped.upstream_reason == "MAX_DURATION_REACHED"
    await stream.drain()


@pytest.mark.parametrize("bridge_settings", [{"keep_alive_idle_s": 0.3}])
async def test_keep_alive_request_and_idle_keep_alive_use_rest(
    env: FullEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = LiveAvatarClient.keep_alive

    async def counting(self: LiveAvatarClient, session_id: str) -> None:
        calls.append(session_id)
        await real(self, session_id)

    monkeypatch.setattr(LiveAvatarClient, "keep_alive", counting)
    stream, started = await open_full(env)
    await stream.send(command("k-1", keep_alive=pb.KeepAlive()))
    await poll(lambda: len(calls) >= 3)  # The request's, then the bridge's own when idle.
    assert set(calls) == {started.session_id}
    agent = env.backend.agent_for(started.session_id)
    assert agent is not None
    assert agent.unknown_commands == []  # Nothing sent on the data channel for keep-alive.
    await end_normally(stream)
    assert "error" not in stream.kinds()


@pytest.mark.parametrize("full_settings", [{"v1_enabled": False}])
async def test_v0_signalling_fallback_works_end_to_end(env: FullEnv) -> None:
    stream, _ = await open_full(env)
    await stream.send(speak_text("over the old path", "v0-1"))
    ended = await stream.until("avatar_speak_ended")
    assert ended.avatar_speak_ended.utterance_id == "v0-1"
    await end_normally(stream)


AGENT_TOKEN = {"full_agent_token": True}


@pytest.mark.parametrize(("emulator_settings", "full_settings"), [(AGENT_TOKEN, AGENT_TOKEN)])
async def test_controller_joins_with_the_agent_token_beside_the_viewer(env: FullEnv) -> None:
    stream, started = await open_full(env, participation=pb.PARTICIPATION_CONTROLLER)
    assert started.livekit_client_token  # The frontend's token is free for a viewer.
    room = env.backend.server.rooms[started.session_id]
    joined = [p.identity for p in room.participants.values() if not p.virtual]
    assert joined == [f"agent-{started.session_id[:8]}"]
    await stream.send(speak_text("as a controller", "c-1"))
    ended = await stream.until("avatar_speak_ended")
    assert ended.request_id == "c-1"
    await end_normally(stream)


async def test_controller_without_agent_token_fails_precondition(env: FullEnv) -> None:
    stream = Stream(env.bridge.stub)
    await stream.send(full_config(participation=pb.PARTICIPATION_CONTROLLER))
    with pytest.raises(grpc.aio.AioRpcError):
        await stream.drain()
    code, details = await stream.status()
    assert code == grpc.StatusCode.FAILED_PRECONDITION, details
    assert "livekit_agent_token" in details

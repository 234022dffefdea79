"""README, The API: `attach` drives a FULL session started elsewhere, end to end; with
`stop_on_end` the bridge stops it when the conversation ends."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from server.cookbook import start_elsewhere
from server.helpers import Stream

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FullEnv

pytestmark = pytest.mark.full

CONTEXT_ID = "3f1e8e5c-8a7c-4a51-9a57-0d7cbbd0c1f2"


async def start_full_elsewhere(env: FullEnv) -> dict[str, Any]:
    """Create and start a FULL session with LiveAvatar's REST API, as another service would."""
    persona = {"context_id": CONTEXT_ID}
    # is_sandbox as the API defaults it (false), not the cookbook's sandbox session.
    body = {"mode": "FULL", "avatar_persona": persona, "is_sandbox": False}
    return await start_elsewhere(env.bridge.server.config.api_url, body)


async def test_attach_full_speaks_and_stop_on_end_stops_the_session(env: FullEnv) -> None:
    started = await start_full_elsewhere(env)
    session_id = started["session_id"]
    attach = pb.AttachSession(
        session_id=session_id,
        full=pb.FullAttachment(
            livekit_url=started["livekit_url"],
            livekit_token=started["livekit_client_token"],
            participation=pb.PARTICIPATION_USER,
        ),
        stop_on_end=True,
    )
    stream = Stream(env.bridge.stub)
    await stream.send(pb.ConverseRequest(config=pb.SessionConfig(attach=attach)))
    first = await stream.started()
    assert first.session_id == session_id and first.attached
    await stream.until(
        "session_state_changed",
        lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
    )
    await stream.send(
        pb.ConverseRequest(request_id="att-1", speak_text=pb.SpeakText(text="attached hello"))
    )
    ended = await stream.until("avatar_speak_ended")
    assert ended.avatar_speak_ended.utterance_id == "att-1"
    await stream.half_close()
    await stream.drain()
    assert stream.events[-1].session_stopped.reason == pb.STOP_REASON_CLIENT_ENDED
    code, details = await stream.status()
    assert code == grpc.StatusCode.OK, details
    assert (await env.emu.wait_ended(session_id))["status"] == "ended"

"""The service's FULL leg factory: pick the token, join the room, pair the transport with a core.

Which token the bridge joins with:

* PARTICIPATION_USER: the client token of the start call (or of the attachment). The bridge then
  is the session's user; no frontend may join with the same token, because LiveKit allows one
  participant per identity and would disconnect the first.
* PARTICIPATION_CONTROLLER of a session the bridge created: LiveAvatar's `livekit_agent_token`,
  a second identity beside the frontend that holds the client token. When LiveAvatar returned
  none, the call fails with FAILED_PRECONDITION rather than taking the frontend's identity.
* Attached sessions: the token the client gave in FullAttachment.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from avatar_bridge.audio import AudioConverter
from avatar_bridge.errors import FailedPrecondition
from avatar_bridge.full.core import FullCore
from avatar_bridge.full.transport import KeepAlive, LiveKitTransport
from avatar_bridge.leg import Leg
from avatar_bridge.liveavatar.rest import StartedSession
from avatar_bridge.logs import scrubber
from avatar_bridge.session_config import Plan
from avatarbridge.v1 import avatar_bridge_pb2 as pb

log = logging.getLogger(__name__)

PARTICIPANT_GRACE_S = 3.0
"""How long LiveAvatar's agent or avatar may be gone from the room before the conversation
ends (a rejoin within it goes on)."""
ROOM_RECONNECT_TIMEOUT_S = 20.0
"""Longest SDK reconnect of the room before the conversation ends as the upstream lost."""


async def connect_full_leg(
    plan: Plan,
    started: StartedSession,
    now: float,
    *,
    converter: AudioConverter | None,
    keep_alive: KeepAlive,
    log_extra: dict[str, Any],
) -> Leg:
    """Join the FULL session's room; returns once LiveAvatar's participants are there."""
    token = _token(plan, started)
    scrubber.add(token)  # Never logged on purpose; scrubbed should it ever slip into a record.
    if not started.livekit_url:
        raise FailedPrecondition(
            "LiveAvatar started the FULL session without a livekit_url: cannot join its room"
        )
    transport = LiveKitTransport(
        started.livekit_url,
        token,
        session_id=started.session_id,
        keep_alive=keep_alive,
        connect_timeout_s=plan.options.ready_timeout_s,
        ready_timeout_s=plan.options.ready_timeout_s,
        participant_grace_s=PARTICIPANT_GRACE_S,
        reconnect_timeout_s=ROOM_RECONNECT_TIMEOUT_S,
        log_extra=log_extra,
    )
    await transport.connect()
    if converter is not None and plan.participation != pb.PARTICIPATION_CONTROLLER:
        try:
            await transport.prepare_audio()
        except BaseException:
            await transport.close()
            raise
    core = FullCore(
        plan.options,
        converter,
        now=max(now, asyncio.get_running_loop().time()),  # Joining took a while.
        participation=plan.participation,
        push_to_talk=plan.push_to_talk,
        session_id=started.session_id,
    )
    return Leg(core=core, transport=transport)


def _token(plan: Plan, started: StartedSession) -> str:
    if plan.attached or plan.participation != pb.PARTICIPATION_CONTROLLER:
        token = started.livekit_client_token
    else:
        token = started.livekit_agent_token
        if not token:
            raise FailedPrecondition(
                "participation CONTROLLER needs LiveAvatar's livekit_agent_token, and this "
                "session's start returned none: use PARTICIPATION_USER, or attach with a token "
                "of your own (LiveKit allows one participant per identity, so the bridge cannot "
                "share the frontend's client token)"
            )
    if not token:
        raise FailedPrecondition(
            "LiveAvatar started the FULL session without a LiveKit token: cannot join its room"
        )
    return token

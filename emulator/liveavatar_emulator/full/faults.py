"""Per-session FULL faults: the room drops the bridge, LiveAvatar's participants leave.

Test hooks only (driven by ``/_emulator/sessions/{id}/room_*``). They act on the running
session's room the way LiveKit and LiveAvatar would: a removed client gets LiveKit's ``leave``
signal; a leaving ``heygen`` or agent is announced to the others as DISCONNECTED and stops
receiving data (commands sent to it meanwhile are lost), and may rejoin later.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from livekit.protocol import models

from .backend import LiveKitFullBackend
from .sfu.peer import RtcParticipant

log = logging.getLogger(__name__)


class NoRoom(LookupError):
    """The session has no running FULL room."""


async def drop_clients(
    backend: LiveKitFullBackend,
    session_id: str,
    identity: str | None = None,
    *,
    abrupt: bool = False,
) -> list[str]:
    """Remove the real (WebRTC) participants, or the one named, from the session's room: with
    LiveKit's `leave`, or, `abrupt`, by breaking their signalling connection."""
    room = backend.server.rooms.get(session_id)
    if room is None:
        raise NoRoom(session_id)
    targets = [
        p.identity
        for p in room.participants.values()
        if not p.virtual and (identity is None or p.identity == identity)
    ]
    for target in targets:
        participant = room.participants.get(target)
        if abrupt and isinstance(participant, RtcParticipant):
            # The connection breaks: no leave, no close frame, so the SDK tries to reconnect.
            sock = participant.ws.get_extra_info("socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            continue
        await backend.server.remove_participant(
            session_id, target, models.DisconnectReason.PARTICIPANT_REMOVED
        )
    log.info("session %s: dropped %s from the room (fault, abrupt=%s)", session_id, targets, abrupt)
    return targets


def participant_leaves(
    backend: LiveKitFullBackend,
    session_id: str,
    who: str,
    rejoin_after_s: float | None = None,
) -> str:
    """`who` ("agent" or "avatar") leaves the room; rejoins after `rejoin_after_s` if given.
    Returns the identity that left."""
    agent = backend.agent_for(session_id)
    if agent is None:
        raise NoRoom(session_id)
    participant = agent.agent if who == "agent" else agent.avatar
    room = agent.room
    room.remove(participant)
    log.info("session %s: %s left the room (fault)", session_id, participant.identity)
    if rejoin_after_s is not None:

        def rejoin() -> None:
            if backend.agent_for(session_id) is agent and not room.closed:
                room.add(participant)
                log.info("session %s: %s rejoined (fault)", session_id, participant.identity)

        asyncio.get_running_loop().call_later(rejoin_after_s, rejoin)
    return participant.identity

"""``LiveKitFullBackend``: the FULL-mode backend the session registry drives.

It owns the LiveKit-compatible server and one :class:`~.agent.SessionAgent` per FULL
session. The registry calls :meth:`tokens_for`, :meth:`session_started` and
:meth:`session_ended`; the room name is the session id.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

from livekit import api
from livekit.protocol import models

from ..media import AvatarMedia
from ..media.participant import MediaParticipant
from ..media.remote import RemotePublisher
from .agent import AVATAR_IDENTITY, SessionAgent
from .config import FullModeConfig
from .session import FullSession
from .sfu.inspect import audio_json, packets_json
from .sfu.peer import RtcParticipant
from .sfu.server import LiveKitServer

log = logging.getLogger(__name__)

CLIENT_IDENTITY = "client"
_TOKEN_TTL = datetime.timedelta(hours=6)


class LiveKitFullBackend:
    """FULL backend: LiveKit-compatible server + emulated avatar/agent participants.

    Use as ``async with LiveKitFullBackend(config) as backend:`` on the running loop;
    :attr:`livekit_url` is valid after start (``port=0`` picks a free port).
    """

    def __init__(self, config: FullModeConfig | None = None) -> None:
        self.config = config or FullModeConfig()
        self.server = LiveKitServer(self.config)
        self.agents: dict[str, SessionAgent] = {}
        self.remote_avatars: dict[str, RemotePublisher] = {}
        """LITE session id -> its avatar publishing in a room on another LiveKit server."""
        self.lite_avatars: dict[str, tuple[str, MediaParticipant, bool]] = {}
        """LITE session id -> (room name, the ``heygen`` participant, room owned by session)."""
        self.livekit_url: str = self.config.public_url

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the LiveKit-compatible server on the current loop."""
        await self.server.start()
        self.livekit_url = self.server.url

    async def stop(self) -> None:
        """Stop all agents (without session events), remote avatars and the server."""
        for remote in list(self.remote_avatars.values()):
            await remote.close()
        self.remote_avatars.clear()
        for agent in list(self.agents.values()):
            await agent.stop("SERVER_SHUTDOWN")
        self.agents.clear()
        await self.server.stop()

    async def __aenter__(self) -> LiveKitFullBackend:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- FullBackend protocol -------------------------------------------------------------

    def tokens_for(self, session: FullSession) -> tuple[str, str | None]:
        """``(livekit_client_token, livekit_agent_token or None)`` for the session's room."""
        client = self._token(session.id, CLIENT_IDENTITY, kind="standard")
        agent = None
        if self.config.full_agent_token:
            agent = self._token(session.id, f"agent-{session.id[:8]}", kind="agent")
        return client, agent

    async def session_started(self, session: FullSession) -> None:
        """Create the room and put the emulated avatar and agent into it."""
        if session.id in self.agents:
            return
        room = self.server.create_room(session.id)
        agent = SessionAgent(session, room, self.config)
        room.state_providers["agent"] = agent.state_json
        self.agents[session.id] = agent
        agent.start()

    async def lite_session_started(
        self, session: FullSession, room_name: str | None = None, identity: str | None = None
    ) -> AvatarMedia:
        """Put a LITE session's avatar (publishing audio and video) into a room.

        ``room_name`` None: the session's own hosted room (named after the session id), the
        avatar is ``heygen``. Otherwise the caller's room on this server (bring your own room),
        as the identity of the caller's ``livekit_client_token``.
        """
        existing = self.lite_avatars.get(session.id)
        if existing is not None:
            return existing[1].media
        name = room_name or session.id
        room = self.server.create_room(name)
        avatar = MediaParticipant(identity or AVATAR_IDENTITY, AvatarMedia(session.id))
        room.add(avatar)
        for other in room.others(avatar):
            if isinstance(other, RtcParticipant):
                other.media_changed()
        self.lite_avatars[session.id] = (name, avatar, room_name is None)
        log.info("session %s: LITE avatar joined room %s", session.id, name)
        return avatar.media

    async def lite_session_remote(self, session: FullSession, url: str, token: str) -> AvatarMedia:
        """Bring your own room on another LiveKit server: the avatar joins it as a client."""
        media = AvatarMedia(session.id)
        publisher = RemotePublisher(media, url, token)
        self.remote_avatars[session.id] = publisher
        publisher.start()
        return media

    def verifies(self, token: str) -> tuple[str, str] | None:
        """(room, identity) a LiveKit token grants on this server, or None if it rejects it."""
        try:
            claims = api.TokenVerifier(self.config.api_key, self.config.api_secret).verify(token)
        except Exception:
            return None
        grants = claims.video
        if grants is None or not grants.room_join or not grants.room or not claims.identity:
            return None
        return grants.room, claims.identity

    def avatar_room(self, session_id: str) -> tuple[str, str] | None:
        """(room, avatar identity) where the session's avatar publishes, if it does."""
        lite = self.lite_avatars.get(session_id)
        if lite is not None:
            return lite[0], lite[1].identity
        agent = self.agents.get(session_id)
        if agent is not None:
            return agent.room.name, agent.avatar.identity
        return None

    def mint(self, room: str, identity: str, *, agent: bool = False) -> str:
        """A token this server accepts for ``identity`` in ``room``."""
        return self._token(room, identity, kind="agent" if agent else "standard")

    async def session_ended(self, session: FullSession, reason: str) -> None:
        """Send ``session.stopped``, then remove everybody and close the room."""
        remote = self.remote_avatars.pop(session.id, None)
        if remote is not None:
            await remote.close()
            log.info("session %s: avatar left %s (%s)", session.id, remote.url, reason)
            return
        lite = self.lite_avatars.pop(session.id, None)
        if lite is not None:
            name, avatar, owned = lite
            avatar.media.close()
            if owned:
                await self.server.close_room(name, models.DisconnectReason.ROOM_DELETED)
            else:
                await self.server.remove_participant(name, avatar.identity)
            log.info("session %s: LITE avatar left room %s (%s)", session.id, name, reason)
            return
        agent = self.agents.pop(session.id, None)
        if agent is not None:
            await agent.stop(reason)
            await self.server.drain_room(session.id, wait_s=2.0)
            # The data channel has handed the event to SCTP; give it time to arrive before
            # the signalling `leave` overtakes it.
            await asyncio.sleep(self.config.stop_flush_s)
        await self.server.close_room(session.id, models.DisconnectReason.ROOM_DELETED)
        log.info("session %s: room closed (%s)", session.id, reason)

    # -- inspection -----------------------------------------------------------------------

    def agent_for(self, session_id: str) -> SessionAgent | None:
        """The live agent of a session, if it is running."""
        return self.agents.get(session_id)

    def inspect_room(self, session_id: str) -> dict[str, Any] | None:
        """Room summary, participants, packets and audio for a session (open or closed)."""
        room = self.server.get_room(session_id)
        if room is None:
            return None
        return {
            **room.to_json(),
            "packets": packets_json(room),
            "audio": audio_json(room),
        }

    def _token(self, room: str, identity: str, *, kind: Any) -> str:
        grants = api.VideoGrants(
            room_join=True,
            room=room,
            can_publish=True,
            can_subscribe=True,
            can_publish_data=True,
        )
        return (
            api.AccessToken(self.config.api_key, self.config.api_secret)
            .with_identity(identity)
            .with_name(identity)
            .with_kind(kind)
            .with_grants(grants)
            .with_ttl(_TOKEN_TTL)
            .to_jwt()
        )

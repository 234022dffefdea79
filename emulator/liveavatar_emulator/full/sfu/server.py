"""The LiveKit-compatible signalling server (aiohttp) and its room registry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web
from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol import models

from ..config import FullModeConfig
from .inspect import add_inspection_routes
from .join import JoinError, JoinParams, bearer_token, parse_v0, parse_v1
from .participant import VirtualParticipant
from .peer import RtcParticipant
from .room import Room

log = logging.getLogger(__name__)

_KEEP_CLOSED_ROOMS = 200


_CLOSE = {"Connection": "close"}
"""On answers that are not a WebSocket (refused joins, /rtc/validate): the SDK's native HTTP
client would keep such connections in its pool for minutes, which tests counting the bridge's
connections to LiveKit could not tell from a room left joined."""


class LiveKitServer:
    """A minimal LiveKit server: signalling on ``/rtc/v1`` and ``/rtc``, rooms, data routing.

    Use as an async context manager (or :meth:`start` / :meth:`stop`) on the running loop.
    """

    def __init__(self, config: FullModeConfig) -> None:
        self.config = config
        self.rooms: dict[str, Room] = {}
        self.closed_rooms: OrderedDict[str, Room] = OrderedDict()
        self.port = 0
        self._verifier = api.TokenVerifier(config.api_key, config.api_secret)
        self._runner: web.AppRunner | None = None
        self._peers: set[RtcParticipant] = set()
        self.app = web.Application()
        self.app.router.add_get("/rtc/v1", self._rtc_v1)
        self.app.router.add_get("/rtc", self._rtc_v0)
        self.app.router.add_get("/rtc/validate", self._validate)
        self.app.router.add_get("/rtc/v1/validate", self._validate)
        add_inspection_routes(self.app, self)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The ``ws://`` URL clients connect to."""
        if self.config.public_url:
            return self.config.public_url
        return f"ws://{self.config.host}:{self.port}"

    async def start(self) -> None:
        """Listen on the configured host/port (port 0: a free one, see :attr:`port`)."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server: Any = site._server
        self.port = int(server.sockets[0].getsockname()[1])
        log.info(
            "LiveKit-compatible server listening on %s (v1 %s)",
            self.url,
            "enabled" if self.config.v1_enabled else "disabled",
        )

    async def stop(self) -> None:
        """Close every room and stop listening."""
        for name in list(self.rooms):
            await self.close_room(name)
        for peer in list(self._peers):
            await peer.kick(models.DisconnectReason.SERVER_SHUTDOWN)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LiveKitServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- rooms ----------------------------------------------------------------------------

    def create_room(self, name: str) -> Room:
        """Create (or return the existing) room ``name``."""
        room = self.rooms.get(name)
        if room is None:
            room = Room(name)
            self.rooms[name] = room
            log.info("room %s created (%s)", name, room.sid)
        return room

    def get_room(self, name: str) -> Room | None:
        """An open room, or a recently closed one (for inspection), by name."""
        return self.rooms.get(name) or self.closed_rooms.get(name)

    def add_virtual(self, room_name: str, participant: VirtualParticipant) -> VirtualParticipant:
        """Put a server-side participant into a room (announced to the others)."""
        self.create_room(room_name).add(participant)
        return participant

    async def remove_participant(
        self,
        room_name: str,
        identity: str,
        reason: models.DisconnectReason = models.DisconnectReason.PARTICIPANT_REMOVED,
    ) -> bool:
        """Remove a participant server-side; WebRTC clients get a ``leave`` signal."""
        room = self.rooms.get(room_name)
        participant = room.participants.get(identity) if room else None
        if room is None or participant is None:
            return False
        if isinstance(participant, RtcParticipant):
            await participant.kick(reason)
        else:
            room.remove(participant)
        return True

    async def close_room(
        self,
        name: str,
        reason: models.DisconnectReason = models.DisconnectReason.ROOM_DELETED,
    ) -> None:
        """Remove everybody (clients get ``leave``) and keep the room's records for inspection."""
        room = self.rooms.get(name)
        if room is None:
            return
        for participant in list(room.participants.values()):
            await self.remove_participant(name, participant.identity, reason)
        del self.rooms[name]
        room.closed_at = time.time()
        self.closed_rooms[name] = room
        while len(self.closed_rooms) > _KEEP_CLOSED_ROOMS:
            self.closed_rooms.popitem(last=False)
        log.info("room %s closed", name)

    async def drain_room(self, name: str, wait_s: float) -> None:
        """Wait (bounded) until data queued for the room's clients has been sent."""
        room = self.rooms.get(name)
        if room is None:
            return
        peers = [p for p in room.participants.values() if isinstance(p, RtcParticipant)]
        await asyncio.gather(*(p.drain(wait_s) for p in peers))

    # -- HTTP handlers --------------------------------------------------------------------

    def _authorize(self, request: web.Request) -> tuple[str, str, Claims]:
        token = bearer_token(
            request.headers.get("Authorization"), request.query.get("access_token")
        )
        if token is None:
            raise JoinError(401, "missing access token")
        try:
            claims = self._verifier.verify(token)
        except Exception as exc:
            raise JoinError(401, f"invalid token: {type(exc).__name__}") from exc
        grants = claims.video
        if grants is None or not grants.room_join or not grants.room:
            raise JoinError(401, "token has no room join grant")
        if not claims.identity:
            raise JoinError(401, "token has no identity")
        if grants.room not in self.rooms and not self.config.auto_create_rooms:
            raise JoinError(404, f"room {grants.room} does not exist")
        return grants.room, claims.identity, claims

    async def _validate(self, request: web.Request) -> web.StreamResponse:
        try:
            self._authorize(request)
        except JoinError as err:
            return web.Response(status=err.status, text=err.message, headers=_CLOSE)
        return web.Response(text="success", headers=_CLOSE)

    async def _rtc_v1(self, request: web.Request) -> web.StreamResponse:
        if not self.config.v1_enabled:
            return web.Response(status=404, text="v1 signalling disabled")
        return await self._serve(request, v1=True)

    async def _rtc_v0(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, v1=False)

    async def _serve(self, request: web.Request, *, v1: bool) -> web.StreamResponse:
        try:
            room_name, identity, claims = self._authorize(request)
            params: JoinParams = (
                parse_v1(request.query.get("join_request")) if v1 else parse_v0(dict(request.query))
            )
        except JoinError as err:
            log.info("join refused (%d): %s", err.status, err.message)
            return web.Response(status=err.status, text=err.message, headers=_CLOSE)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        room = self.create_room(room_name)
        kind = (
            models.ParticipantInfo.AGENT
            if claims.kind == "agent"
            else models.ParticipantInfo.STANDARD
        )
        peer = RtcParticipant(ws, room, identity, params, self.config, name=claims.name, kind=kind)
        grants = claims.video
        if grants is not None:
            peer.permission = models.ParticipantPermission(
                can_subscribe=grants.can_subscribe is not False,
                can_publish=grants.can_publish is not False,
                can_publish_data=grants.can_publish_data is not False,
                hidden=bool(grants.hidden),
            )
        self._peers.add(peer)
        try:
            await peer.run()
        finally:
            self._peers.discard(peer)
        return ws

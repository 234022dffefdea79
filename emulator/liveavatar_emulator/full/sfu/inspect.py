"""Read-only inspection routes on the server's port: ``/_emulator/livekit/...``.

* ``GET /_emulator/livekit/rooms`` → ``{"rooms": [room summary, ...]}`` (open and recently closed)
* ``GET /_emulator/livekit/rooms/{room}`` → room summary
* ``GET /_emulator/livekit/rooms/{room}/participants``
  → ``{"participants": [...], "departed": [...]}``
* ``GET /_emulator/livekit/rooms/{room}/packets[?topic=&sender=&since=<seq>]``
  → ``{"packets": [...]}``
* ``GET /_emulator/livekit/rooms/{room}/audio`` → ``{"tracks": [...]}``
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .room import Room
    from .server import LiveKitServer

PREFIX = "/_emulator/livekit"


def packets_json(room: Room, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The room's recorded packets as JSON, optionally filtered by topic, sender and ``since``."""
    query = query or {}
    topic = query.get("topic")
    sender = query.get("sender")
    since = int(query.get("since", "0") or 0)
    return [
        rec.to_json()
        for rec in room.recorder.packets
        if rec.seq > since
        and (topic is None or rec.topic == topic)
        and (sender is None or rec.sender == sender)
    ]


def audio_json(room: Room) -> list[dict[str, Any]]:
    """Per-track audio statistics of the room."""
    return [rec.to_json() for rec in room.recorder.audio]


def add_inspection_routes(app: web.Application, server: LiveKitServer) -> None:
    """Register the inspection routes for ``server`` on ``app``."""

    def room_or_404(request: web.Request) -> Room:
        room = server.get_room(request.match_info["room"])
        if room is None:
            raise web.HTTPNotFound(text="no such room")
        return room

    async def rooms(_: web.Request) -> web.Response:
        all_rooms = list(server.rooms.values()) + list(server.closed_rooms.values())
        return web.json_response({"rooms": [r.to_json() for r in all_rooms]})

    async def room(request: web.Request) -> web.Response:
        return web.json_response(room_or_404(request).to_json())

    async def participants(request: web.Request) -> web.Response:
        r = room_or_404(request)
        return web.json_response(
            {
                "participants": [p.to_json() for p in r.participants.values()],
                "departed": r.departed,
            }
        )

    async def packets(request: web.Request) -> web.Response:
        return web.json_response(
            {"packets": packets_json(room_or_404(request), dict(request.query))}
        )

    async def audio(request: web.Request) -> web.Response:
        return web.json_response({"tracks": audio_json(room_or_404(request))})

    app.router.add_get(f"{PREFIX}/rooms", rooms)
    app.router.add_get(f"{PREFIX}/rooms/{{room}}", room)
    app.router.add_get(f"{PREFIX}/rooms/{{room}}/participants", participants)
    app.router.add_get(f"{PREFIX}/rooms/{{room}}/packets", packets)
    app.router.add_get(f"{PREFIX}/rooms/{{room}}/audio", audio)

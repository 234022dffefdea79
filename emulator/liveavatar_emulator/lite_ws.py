"""The LITE WebSocket (``ws_url``), reference §3.

One ``LiteConnection`` per accepted socket. It sends ``session.state_updated connected`` after
``lite_connect_delay_s``, drops commands that arrive earlier, decodes ``agent.speak`` audio into
the session's PCM record and a ``Playback``, acknowledges commands per the event profile, and
never closes the socket for a client mistake (unknown types and bad JSON get ``warning`` /
``error`` events). Closing the socket never ends the session (reference §3.6).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, WebSocket

from .config import EmulatorConfig
from .envelope import error_response
from .playback import Playback
from .sessions import CommandRecord, EventRecord, Session, SessionRegistry, SessionStatus
from .socket_faults import socket_faults

logger = logging.getLogger(__name__)

router = APIRouter()

WS_PATH = "/v1/lite/{session_id}"
KNOWN_COMMANDS = frozenset(
    {
        "agent.speak",
        "agent.speak_end",
        "agent.interrupt",
        "agent.start_listening",
        "agent.stop_listening",
        "session.keep_alive",
        "start",
    }
)
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_POLICY_VIOLATION = 1008


def ws_url(host: str, port: int, session_id: str, token: str) -> str:
    """The ``ws_url`` returned by start."""
    return f"ws://{host}:{port}/v1/lite/{session_id}?token={token}"


class LiteConnection:
    """One accepted LITE socket bound to a session."""

    def __init__(self, websocket: WebSocket, session: Session, config: EmulatorConfig) -> None:
        self._ws = websocket
        self._session = session
        self._config = config
        self._connected = False
        self._closed = False
        self._send_lock = asyncio.Lock()
        self._playback = Playback(session, config, self._send)
        self._observed = config.lite_event_profile in ("observed", "both")
        self._faults = socket_faults(websocket.app.state)

    async def run(self) -> None:
        """Serve the socket until the peer goes away or we close it."""
        session = self._session
        for old in session.attach_socket(self):
            await old.close(1000, "replaced by a new connection")
        session.playback = self._playback
        ready = asyncio.create_task(self._become_ready(), name=f"lite-ready-{session.id}")
        logger.info("session %s: LITE socket connected", session.id)
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if self._closed:
                    continue  # past our close frame; wait for the peer's reply
                try:
                    await self._on_message(message)
                except Exception:
                    logger.exception("session %s: failed to handle a LITE message", session.id)
        finally:
            ready.cancel()
            self._closed = True
            await self._playback.close()
            session.detach_socket(self)
            if session.playback is self._playback:
                session.playback = None
            logger.info("session %s: LITE socket gone", session.id)

    async def close(self, code: int, reason: str) -> None:
        """Close from the server side (session end, oversize policy, replacement)."""
        if self._closed:
            return
        if self._config.lite_send_closing_state:
            await self._send({"type": "session.state_updated", "state": "closing"})
        self._closed = True
        await self._playback.close()
        async with self._send_lock:
            with contextlib.suppress(Exception):
                await self._ws.close(code=code, reason=reason[:120])

    # -- sending ------------------------------------------------------------------------------

    async def _send(self, event: dict[str, Any]) -> None:
        if self._session.active:  # An injected stall delays events; never the closing ones.
            await self._faults.wait_stall(self._session.id)
        if self._closed:
            return
        self._session.events.append(
            EventRecord(
                type=str(event["type"]),
                event_id=event.get("event_id"),
                source_event_id=event.get("source_event_id"),
                at=round(self._session.elapsed(), 6),
            )
        )
        async with self._send_lock:
            try:
                await self._ws.send_text(json.dumps(event))
            except Exception:
                # The peer vanished mid-send; the receive loop will see the disconnect.
                self._closed = True

    async def _ack(self, kind: str, source_event_id: str | None) -> None:
        if self._observed:
            await self._send(
                {"type": kind, "event_id": str(uuid.uuid4()), "source_event_id": source_event_id}
            )

    async def _error(self, kind: str, message: str, event_id: str | None) -> None:
        await self._send(
            {"type": "error", "error": {"type": kind, "message": message, "event_id": event_id}}
        )

    async def _warning(self, kind: str, message: str, event_id: str | None) -> None:
        await self._send(
            {"type": "warning", "warning": {"type": kind, "message": message, "event_id": event_id}}
        )

    async def _become_ready(self) -> None:
        await asyncio.sleep(self._config.lite_connect_delay_s)
        await self._send({"type": "session.state_updated", "state": "connected"})
        self._connected = True

    # -- receiving ----------------------------------------------------------------------------

    def _log(
        self,
        kind: str,
        event_id: str | None,
        size: int,
        *,
        dropped: bool = False,
        note: str | None = None,
    ) -> None:
        self._session.record_command(
            CommandRecord(
                type=kind,
                event_id=event_id,
                size=size,
                at=round(self._session.elapsed(), 6),
                dropped=dropped,
                note=note,
            )
        )

    async def _on_message(self, message: Mapping[str, Any]) -> None:
        session = self._session
        session.touch()  # any message is activity
        text = message.get("text")
        if text is None:
            size = len(message.get("bytes") or b"")
            self._log("<binary>", None, size, dropped=True, note="binary_frame")
            await self._error("invalid_request_error", "Frames must be JSON text", None)
            return
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
        try:
            command = json.loads(text)
        except ValueError:
            command = None
        if not isinstance(command, dict) or not isinstance(command.get("type"), str):
            self._log("<invalid>", None, size, dropped=True, note="invalid_json")
            await self._error("invalid_request_error", "Expected a JSON object with 'type'", None)
            return
        kind: str = command["type"]
        raw_id = command.get("event_id")
        event_id = raw_id if isinstance(raw_id, str) and raw_id else None

        if size > self._config.max_packet_bytes:
            await self._on_oversize(kind, event_id, size)
            return
        if not self._connected:
            self._log(kind, event_id, size, dropped=True, note="not_connected")
            if self._config.warn_dropped_before_connected:
                await self._warning(
                    "session_not_connected",
                    f"{kind} dropped: wait for session.state_updated 'connected'",
                    event_id,
                )
            return
        await self._dispatch(kind, event_id, command, size)

    async def _on_oversize(self, kind: str, event_id: str | None, size: int) -> None:
        policy = self._config.oversize_policy
        self._log(kind, event_id, size, dropped=True, note=f"oversize:{policy}")
        limit = self._config.max_packet_bytes
        if policy == "error":
            await self._error(
                "invalid_request_error", f"Packet of {size} bytes exceeds {limit} bytes", event_id
            )
        elif policy == "close":
            await self.close(CLOSE_MESSAGE_TOO_BIG, "packet too large")

    async def _dispatch(
        self, kind: str, event_id: str | None, command: dict[str, Any], size: int
    ) -> None:
        playback = self._playback
        if kind == "agent.speak":
            await self._on_speak(event_id, command, size)
            return
        if kind not in KNOWN_COMMANDS:
            self._log(kind, event_id, size, note="unknown_type")
            if self._config.warn_unknown_commands:
                await self._warning(
                    "unknown_event_type", f"Unknown command type {kind!r}", event_id
                )
            return
        self._log(kind, event_id, size)
        if kind == "agent.speak_end":
            audio = command.get("audio")
            if isinstance(audio, str) and audio:
                # Reported (low confidence): speak_end may carry a final chunk.
                await self._on_speak(event_id, command, 0, log=False)
            await self._ack("agent.audio_buffer_committed", event_id)
            await playback.speak_end()
        elif kind == "agent.interrupt":
            await self._ack("agent.audio_buffer_cleared", event_id)
            await playback.interrupt()
        elif kind == "agent.start_listening":
            await playback.start_listening()
        elif kind == "agent.stop_listening":
            await playback.stop_listening()
        # session.keep_alive and start: the touch() above is all they do.

    async def _on_speak(
        self, event_id: str | None, command: dict[str, Any], size: int, *, log: bool = True
    ) -> None:
        audio = command.get("audio")
        try:
            if not isinstance(audio, str):
                raise ValueError("missing")
            pcm = base64.b64decode(audio, validate=True)
        except (ValueError, binascii.Error):
            if log:
                self._log("agent.speak", event_id, size, dropped=True, note="invalid_audio")
            await self._error(
                "invalid_request_error", "'audio' must be base64 PCM16LE 24 kHz mono", event_id
            )
            return
        if log:
            self._log("agent.speak", event_id, size)
        self._session.pcm.extend(pcm)
        self._session.counters["pcm_chunks"] += 1
        await self._ack("agent.audio_buffer_appended", event_id)
        if pcm:
            await self._playback.speak(event_id, pcm)


def _registry(websocket: WebSocket) -> SessionRegistry:
    registry: SessionRegistry = websocket.app.state.registry
    return registry


@router.websocket(WS_PATH)
async def lite_socket(websocket: WebSocket, session_id: str) -> None:
    """Accept a LITE socket for a started session whose ``ws_url`` token matches.

    A refused handshake is an HTTP answer with LiveAvatar's error envelope [I: the reference
    does not document handshake refusals; the statuses follow the emulator's REST API]: 404 for
    an unknown session, 403 for a missing or wrong token (checked before the session's state,
    which a caller without the token must not learn), 400 "Session is not active" for a session
    not started yet or already ended (as keep-alive answers).
    """
    session = _registry(websocket).get(session_id)
    token = websocket.query_params.get("token") or ""
    if session is None:
        await _refuse(websocket, 404, "Session not found")
        return
    if (
        session.ws_token is None
        or not secrets.compare_digest(token.encode(), session.ws_token.encode())
        or socket_faults(websocket.app.state).refuses(
            session.id, previous_connections=session.ws_connections
        )
    ):
        await _refuse(websocket, 403, "Invalid session token")
        return
    if session.status is not SessionStatus.STARTED:
        await _refuse(websocket, 400, f"Session is not active ({session.status})")
        return
    await websocket.accept()
    await LiteConnection(websocket, session, websocket.app.state.config).run()


async def _refuse(websocket: WebSocket, status: int, message: str) -> None:
    """Answer the handshake with an HTTP error instead of 101."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(status, message))
    else:
        # Closing before accept answers the handshake with HTTP 403.
        await websocket.close(code=CLOSE_POLICY_VIOLATION)

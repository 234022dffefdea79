"""The emulated LiveAvatar participants of one FULL session: avatar ``heygen`` and the agent.

Both are virtual participants of the session's room. Commands arrive as JSON on topic
``agent-control``; events leave as JSON on ``agent-response``, sent by the agent participant
``liveavatar-agent-<session_id>`` to everybody. Each event has ``event_id`` (fresh uuid),
``event_type``, ``session_id`` and ``source_event_id`` (the command's ``event_id``, or null).

Behaviour (decisions where the references are silent are marked *decision*):

* ``avatar.speak_text {text}`` → ``avatar.transcription {text}``, ``avatar.speak_started``, and
  after :meth:`FullModeConfig.speak_duration_s` ``avatar.speak_ended``.
* ``avatar.speak_response {text}`` → ``avatar.transcription.chunk`` per word of the reply
  (append semantics, ``chunk_interval_s * time_scale`` apart), the final
  ``avatar.transcription``, then spoken as above. The reply is ``speech.generate_reply(text)``.
  *Decision:* without ``avatar_persona.context_id`` the avatar is in restricted mode and never
  answers: speak_response is recorded and produces no events (reference §2.4 "never answers,
  no error"). ``speak_text`` still works (it repeats text; no LLM involved).
* Utterances are queued and spoken one after another.
* ``avatar.interrupt`` → *decision:* stops the current utterance and drops queued ones; if the
  avatar had started speaking it sends ``avatar.speak_ended`` with ``"interrupted": true``
  (``source_event_id`` = the interrupted utterance's command). Nothing is sent when idle, or
  when the reply was still streaming (then no final ``avatar.transcription`` is sent either).
* ``avatar.start_listening`` / ``avatar.stop_listening`` → *decision:* no event (the
  references show none for FULL); the ``listening`` flag is recorded and visible in the
  inspection API. Listening is a pose; it does not gate user audio.
* ``user.start_push_to_talk`` → ``user.push_to_talk_started``, or
  ``user.push_to_talk_start_failed {reason}`` when the session is not PUSH_TO_TALK or a window
  is already open. ``user.stop_push_to_talk`` → ``user.push_to_talk_stopped``, or
  ``user.push_to_talk_stop_failed {reason}`` when no window is open.
* User audio: speech segments from the server's VAD give ``user.speak_started`` and
  ``user.speak_ended`` followed by ``user.transcription {text: "heard N.NN s of speech"}``.
  In PUSH_TO_TALK sessions a segment that starts outside a window is ignored entirely.
  With a ``context_id`` the agent then answers like speak_response (*decision:* in
  push-to-talk sessions too, after the window's speech ended). *Decision:* user speech that
  starts while the avatar speaks interrupts it (barge-in), as in conversational agents.
* Every command calls ``session.touch()``; so does user speech.
* Unknown or malformed commands: no answer, recorded under ``unknown_commands``.
* Session end: ``session.stopped`` with both ``end_reason`` and ``stop_reason``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..media import AvatarMedia
from ..media.participant import MediaParticipant
from ..media.voice import synthesize
from .config import FullModeConfig
from .session import FullSession
from .sfu.participant import ReceivedData, VirtualParticipant
from .sfu.room import Room
from .speech import describe_heard_speech, generate_reply, reply_chunks
from .vad import SpeechSegment

log = logging.getLogger(__name__)

AVATAR_IDENTITY = "heygen"
CONTROL_TOPIC = "agent-control"
RESPONSE_TOPIC = "agent-response"


def agent_identity(session_id: str) -> str:
    """The LiveAvatar agent's identity in a session's room."""
    return f"liveavatar-agent-{session_id}"


@dataclass
class Utterance:
    """Something the avatar is to say."""

    text: str
    source_event_id: str | None
    stream_chunks: bool


class SessionAgent:
    """The avatar and agent participants of one FULL session, and their behaviour."""

    def __init__(self, session: FullSession, room: Room, config: FullModeConfig) -> None:
        self.session = session
        self.session_id = session.id
        self.room = room
        self.config = config
        request = session.token_request or {}
        persona = request.get("avatar_persona") or {}
        self.context_id: str | None = persona.get("context_id") or None
        self.push_to_talk = request.get("interactivity_type") == "PUSH_TO_TALK"
        self.media = AvatarMedia(session.id)
        self.avatar: VirtualParticipant = MediaParticipant(
            AVATAR_IDENTITY, self.media, on_data=self._on_avatar_data
        )
        self.agent = VirtualParticipant(agent_identity(session.id), on_data=self._on_agent_data)
        self.listening = False
        self.ptt_active = False
        self.speaking = False
        self.commands: list[dict[str, Any]] = []
        self.unknown_commands: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[Utterance] = asyncio.Queue()
        self._current: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._accepted_tracks: set[str] = set()
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Join the room (avatar first, then agent) and start the speech worker."""
        self.room.add(self.avatar)
        self.room.add(self.agent)
        self.room.observers.append(self)
        self._worker = asyncio.create_task(self._speech_worker())
        log.info(
            "session %s: agent started (context=%s, interactivity=%s)",
            self.session_id,
            "yes" if self.context_id else "restricted",
            "PUSH_TO_TALK" if self.push_to_talk else "CONVERSATIONAL",
        )

    async def stop(self, reason: str) -> None:
        """Stop speaking, announce ``session.stopped`` and stop reacting (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._clear_queue()
        if self._current is not None:
            self._current.cancel()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self in self.room.observers:
            self.room.observers.remove(self)
        self.media.close()
        self.send("session.stopped", None, end_reason=reason, stop_reason=reason)
        log.info("session %s: agent stopped (%s)", self.session_id, reason)

    def state_json(self) -> dict[str, Any]:
        """Agent state for the inspection API."""
        return {
            "session_id": self.session_id,
            "avatar_identity": self.avatar.identity,
            "agent_identity": self.agent.identity,
            "restricted_mode": self.context_id is None,
            "push_to_talk_session": self.push_to_talk,
            "push_to_talk_active": self.ptt_active,
            "listening": self.listening,
            "speaking": self.speaking,
            "queued_utterances": self._queue.qsize(),
            "commands": self.commands,
            "unknown_commands": self.unknown_commands,
            "stopped": self._stopped,
        }

    # -- events out -----------------------------------------------------------------------

    def send(self, event_type: str, source_event_id: str | None, **payload: Any) -> None:
        """Send one ``agent-response`` event from the agent participant to everybody."""
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "session_id": self.session_id,
            "source_event_id": source_event_id,
            **payload,
        }
        self.room.inject(self.agent, RESPONSE_TOPIC, json.dumps(event).encode())

    # -- commands in ----------------------------------------------------------------------

    def _on_agent_data(self, data: ReceivedData) -> None:
        if data.topic == CONTROL_TOPIC:
            self._on_command(data)

    def _on_avatar_data(self, data: ReceivedData) -> None:
        # Broadcast commands reach both participants; the agent handles them. Only commands
        # addressed to the avatar alone are handled here.
        if (
            data.topic == CONTROL_TOPIC
            and data.destinations
            and (self.agent.identity not in data.destinations)
        ):
            self._on_command(data)

    def _on_command(self, data: ReceivedData) -> None:
        if self._stopped:
            return
        self.session.touch()
        try:
            command = json.loads(data.payload)
        except ValueError:
            command = None
        record = {"time": time.time(), "sender": data.sender, "command": command}
        if not isinstance(command, dict) or not isinstance(command.get("event_type"), str):
            record["raw"] = data.payload.decode(errors="replace")
            self.unknown_commands.append(record)
            return
        self.commands.append(record)
        event_type: str = command["event_type"]
        event_id = command.get("event_id")
        source = event_id if isinstance(event_id, str) and event_id else None
        text = command.get("text")
        text = text if isinstance(text, str) else ""
        handlers: dict[str, Callable[[], None]] = {
            "avatar.speak_text": lambda: self._speak(text, source, stream=False),
            "avatar.speak_response": lambda: self._respond(text, source),
            "avatar.interrupt": self.interrupt,
            "avatar.start_listening": lambda: self._set_listening(True),
            "avatar.stop_listening": lambda: self._set_listening(False),
            "user.start_push_to_talk": lambda: self._start_ptt(source),
            "user.stop_push_to_talk": lambda: self._stop_ptt(source),
        }
        handler = handlers.get(event_type)
        if handler is None:
            self.unknown_commands.append(record)
            log.info("session %s: ignoring unknown command %r", self.session_id, event_type)
            return
        handler()

    def _set_listening(self, on: bool) -> None:
        self.listening = on

    def _start_ptt(self, source: str | None) -> None:
        if not self.push_to_talk:
            self.send(
                "user.push_to_talk_start_failed", source, reason="session is not PUSH_TO_TALK"
            )
        elif self.ptt_active:
            self.send(
                "user.push_to_talk_start_failed", source, reason="push-to-talk already started"
            )
        else:
            self.ptt_active = True
            self.send("user.push_to_talk_started", source)

    def _stop_ptt(self, source: str | None) -> None:
        if not self.ptt_active:
            self.send("user.push_to_talk_stop_failed", source, reason="push-to-talk not started")
        else:
            self.ptt_active = False
            self.send("user.push_to_talk_stopped", source)

    # -- speech ---------------------------------------------------------------------------

    def _speak(self, text: str, source: str | None, *, stream: bool) -> None:
        self._queue.put_nowait(Utterance(text, source, stream))

    def _respond(self, text: str, source: str | None) -> None:
        if self.context_id is None:
            log.info("session %s: restricted mode, not answering", self.session_id)
            return
        self._speak(generate_reply(text), source, stream=True)

    def interrupt(self) -> None:
        """Stop the current utterance and drop the queued ones."""
        self._clear_queue()
        if self._current is not None and not self._current.done():
            self._current.cancel()

    def _clear_queue(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _speech_worker(self) -> None:
        while True:
            utt = await self._queue.get()
            self._current = asyncio.create_task(self._say(utt))
            await asyncio.wait({self._current})
            self._current = None

    async def _say(self, utt: Utterance) -> None:
        scale = self.config.time_scale
        started = False
        try:
            if utt.stream_chunks:
                for chunk in reply_chunks(utt.text):
                    self.send("avatar.transcription.chunk", utt.source_event_id, text=chunk)
                    await asyncio.sleep(self.config.chunk_interval_s * scale)
            self.send("avatar.transcription", utt.source_event_id, text=utt.text)
            duration = self.config.speak_duration_s(utt.text)
            voice = await synthesize(utt.text, duration, self.config.speaking_rate_wpm)
            self.send("avatar.speak_started", utt.source_event_id)
            started = self.speaking = True
            # The voice plays exactly between speak_started and speak_ended.
            self.media.schedule(asyncio.get_running_loop().time(), voice)
            self.media.set_caption(utt.text)
            await asyncio.sleep(duration)
            self.speaking = False
            self.media.set_caption("")
            self.send("avatar.speak_ended", utt.source_event_id)
        except asyncio.CancelledError:
            self.speaking = False
            self.media.cut(asyncio.get_running_loop().time())
            self.media.set_caption("")
            if started and not self._stopped:
                self.send("avatar.speak_ended", utt.source_event_id, interrupted=True)
            raise

    # -- user audio (RoomObserver) --------------------------------------------------------

    def on_speech_started(self, participant: str, track_sid: str, time_s: float) -> None:
        """VAD: user speech started on ``track_sid``."""
        if self._stopped or participant in (self.avatar.identity, self.agent.identity):
            return
        if self.push_to_talk and not self.ptt_active:
            log.info("session %s: speech outside push-to-talk window ignored", self.session_id)
            return
        self._accepted_tracks.add(track_sid)
        self.session.touch()
        if self.speaking or self._current is not None:
            self.interrupt()
        self.send("user.speak_started", None)

    def on_speech_ended(self, participant: str, track_sid: str, segment: SpeechSegment) -> None:
        """VAD: a user speech segment ended; report it and maybe answer."""
        if self._stopped or track_sid not in self._accepted_tracks:
            return
        self._accepted_tracks.discard(track_sid)
        self.session.touch()
        text = describe_heard_speech(segment.duration_s)
        self.send("user.speak_ended", None)
        self.send("user.transcription", None, text=text)
        log.info("session %s: user speech %.2f s", self.session_id, segment.duration_s)
        if self.context_id is not None:
            self._speak(generate_reply(text), None, stream=True)

"""Sans-I/O core of a FULL conversation: client requests and LiveAvatar data events in, actions out.

No sockets and no clock of its own: every method takes `now` (seconds, monotonic) and returns the
actions to take; `next_deadline()` says when to call `handle_timer` next. The LiveKit transport
only moves data messages and audio frames.

Decisions worth knowing:

* Readiness. The transport returns from `connect()` only once the room is joined and both
  LiveAvatar participants (`heygen` and `liveavatar-agent-<session_id>`) are present, as the web
  SDK does, so the core is ready from the start. It announces SessionStateChanged(CONNECTED) on
  its first input; its first deadline is its creation time, so that input comes at once.
* Commands. Each client command becomes one JSON object for topic `agent-control` with a fresh
  `event_id`. LiveAvatar answers carry it as `source_event_id`, which maps back to the request_id.
  Keep-alive has no FULL data command: the core emits `{"event_type": "session.keep_alive"}`
  (KEEP_ALIVE_EVENT) and the transport turns it into LiveAvatar's REST keep-alive. The core does
  so by itself after `keep_alive_idle_s` without a command (LiveAvatar's idle window is 5 min).
* Turns. Each avatar turn yields exactly one AvatarSpeakStarted and then one AvatarSpeakEnded or
  AvatarSpeakInterrupted (interrupted when LiveAvatar says so, or after the client's interrupt).
  The utterance id is the speak command's request_id, else its upstream event_id (LiveAvatar's
  `source_event_id`), else the event_id of LiveAvatar's `avatar.speak_started` (turns LiveAvatar
  starts itself, such as answers to the user's speech).
* Audio. Only a USER participant has a microphone: audio on a CONTROLLER conversation fails the
  call with FAILED_PRECONDITION. Interrupt never drops the user's audio (it is not the avatar's
  speech). In PUSH_TO_TALK sessions, audio sent while no window is open is not published: LiveAvatar
  ignores it anyway, so sending it would only cost bandwidth. It is reported as AudioDropped
  (DROP_REASON_OUTSIDE_PUSH_TO_TALK), one event per stretch (flushed when a window opens, every
  DROP_REPORT_MS, and at the end). A window counts as open from the moment the bridge sends
  `user.start_push_to_talk` (so speech right after the command is not clipped) until it sends
  `user.stop_push_to_talk`, or LiveAvatar refuses the start.
* Backpressure. Published audio plays in real time; `pending_audio_ms()` is the core's estimate of
  what the transport has not played yet, so the service stops reading a client that sends faster
  than real time once `max_pending_ms` is queued.
* Liveness. The transport reports what happens to the room itself (LiveAvatar's participants
  leaving or rejoining, the SDK reconnecting) as `bridge.warning` events, passed on as Warnings,
  and ends the stream with UpstreamClosed when the room or a participant is lost for good.
* Session end. `session.stopped` (reason in `end_reason`, or `stop_reason` as the web SDK reads
  it) yields SessionStateChanged(CLOSING); the transport then ends its stream with UpstreamClosed
  carrying that reason, and the service reports SessionStopped.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from avatar_bridge.actions import (
    Action,
    Fail,
    PublishAudio,
    SendUpstream,
    emit,
    error_event,
    passthrough_event,
)
from avatar_bridge.audio import OUTPUT_BYTES_PER_MS, AudioConverter, AudioFormatError
from avatar_bridge.errors import FailedPrecondition, InvalidRequest
from avatar_bridge.session_config import SessionOptions
from avatarbridge.v1 import avatar_bridge_pb2 as pb

KEEP_ALIVE_EVENT = "session.keep_alive"
BRIDGE_WARNING_EVENT = "bridge.warning"
"""Synthetic event from the transport (a participant left or rejoined, the room is
reconnecting): `code` and `message` become an in-stream Warning."""
"""Not a LiveAvatar data command: the transport answers it with the REST keep-alive."""
START_GRACE_S = 5.0
"""After the client half-closed: how long an unanswered speak command is still waited for."""
DROP_REPORT_MS = 1000
"""A stretch of audio dropped outside push-to-talk is reported at most this late (ms)."""
MAX_REMEMBERED_COMMANDS = 4096
"""Bound on the event_id → request_id map (oldest forgotten first)."""

_COMMANDS = {
    "speak_text": "avatar.speak_text",
    "speak_response": "avatar.speak_response",
    "interrupt": "avatar.interrupt",
    "start_listening": "avatar.start_listening",
    "stop_listening": "avatar.stop_listening",
    "push_to_talk_start": "user.start_push_to_talk",
    "push_to_talk_stop": "user.stop_push_to_talk",
}
_TRANSCRIPTIONS: dict[str, tuple[pb.Speaker.ValueType, bool]] = {
    "user.transcription": (pb.SPEAKER_USER, True),
    "user.transcription.chunk": (pb.SPEAKER_USER, False),
    "avatar.transcription": (pb.SPEAKER_AVATAR, True),
    "avatar.transcription.chunk": (pb.SPEAKER_AVATAR, False),
}
_PUSH_TO_TALK: dict[str, tuple[pb.PushToTalkOutcome.ValueType, str]] = {
    "user.push_to_talk_started": (pb.PUSH_TO_TALK_OUTCOME_STARTED, "user.start_push_to_talk"),
    "user.push_to_talk_start_failed": (
        pb.PUSH_TO_TALK_OUTCOME_START_FAILED,
        "user.start_push_to_talk",
    ),
    "user.push_to_talk_stopped": (pb.PUSH_TO_TALK_OUTCOME_STOPPED, "user.stop_push_to_talk"),
    "user.push_to_talk_stop_failed": (
        pb.PUSH_TO_TALK_OUTCOME_STOP_FAILED,
        "user.stop_push_to_talk",
    ),
}


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class _Turn:
    """One avatar utterance, from its speak command (if any) to its end."""

    id: str
    """The client-facing utterance id."""
    request_id: str
    source: str
    """The upstream event id that LiveAvatar's events name as source_event_id."""
    sent_at: float | None = None
    """When the bridge sent its speak command; None for turns LiveAvatar started itself."""
    heard: bool = False
    """LiveAvatar sent some event about it (transcription, speak_started)."""
    started: bool = False
    interrupt_requested: bool = False


@dataclass
class _Drop:
    """A stretch of audio dropped outside push-to-talk, not reported yet."""

    request_id: str
    since: float
    input_bytes: int = 0


class FullCore:
    """The decisions of one FULL conversation. See the module docstring."""

    def __init__(
        self,
        options: SessionOptions,
        converter: AudioConverter | None,
        *,
        now: float,
        participation: pb.Participation.ValueType = pb.PARTICIPATION_USER,
        push_to_talk: bool = False,
        session_id: str = "",
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self._opts = options
        self._converter = converter
        self._controller = participation == pb.PARTICIPATION_CONTROLLER
        self._push_to_talk = push_to_talk
        self._session_id = session_id
        self._new_id = new_id
        self._created = now
        self._now = now
        self._announced = False
        self._last_command = now
        self._requests: dict[str, str] = {}
        """Upstream event_id → client request_id, for every command sent with a request_id."""
        self._turns: dict[str, _Turn] = {}
        """Turns not finished yet, by source."""
        self._finished: deque[str] = deque(maxlen=256)
        """Sources of recently finished turns: late duplicates of their events are ignored."""
        self._playing: _Turn | None = None
        self._ptt_waiting: dict[str, deque[str]] = {
            "user.start_push_to_talk": deque(maxlen=64),
            "user.stop_push_to_talk": deque(maxlen=64),
        }
        """Request ids of push-to-talk commands not answered yet, for answers without a source."""
        self._ptt_open = False
        self._ptt_confirmed = False
        """The window's state as LiveAvatar last reported it."""
        self._drop: _Drop | None = None
        self._play_end = now
        """When the audio published so far will have played out (estimate)."""
        self._eof = False
        self._drain_deadline: float | None = None
        self._stopped_reason = ""

    # Queries for the adapter.

    @property
    def ready(self) -> bool:
        """Always: the transport connects and waits for LiveAvatar before the core exists."""
        return True

    @property
    def stopped_reason(self) -> str:
        """LiveAvatar's end reason once it sent session.stopped, else empty."""
        return self._stopped_reason

    @property
    def drained(self) -> bool:
        """After the client half-closed: True once the avatar finished what it was asked to say
        and the published audio has played (or time ran out)."""
        if not self._eof:
            return False
        if self._drain_deadline is not None and self._now >= self._drain_deadline:
            return True
        return not self._outstanding() and self._play_end <= self._now

    def pending_audio_ms(self) -> float:
        """Published audio not yet played (estimate), for backpressure on the client's stream."""
        return max(self._play_end - self._now, 0.0) * 1000

    def next_deadline(self) -> float | None:
        if not self._announced:
            return self._created
        candidates = [self._last_command + self._opts.keep_alive_idle_s]
        backpressure_until = self._play_end - self._opts.max_pending_ms / 1000
        if backpressure_until > self._now:
            candidates.append(backpressure_until)
        if self._drop is not None:
            candidates.append(self._drop.since + DROP_REPORT_MS / 1000)
        if self._eof:
            if self._drain_deadline is not None:
                candidates.append(self._drain_deadline)
            if self._play_end > self._now:
                candidates.append(self._play_end)
            candidates += [
                t.sent_at + START_GRACE_S
                for t in self._turns.values()
                if t.sent_at is not None and not t.heard
            ]
        return min(candidates)

    # Inputs.

    def handle_request(self, request: pb.ConverseRequest, now: float) -> list[Action]:
        """A client request after the config."""
        self._now = now
        return self._announce() + self._on_request(request, now)

    def handle_client_eof(self, now: float) -> list[Action]:
        """The client half-closed: let the avatar finish, then drain."""
        self._now = now
        self._eof = True
        actions = self._announce() + self._report_drop() + self._flush_audio(now)
        self._drain_deadline = now + self._opts.drain_timeout_s
        return actions

    def handle_upstream(self, event: dict[str, Any], now: float) -> list[Action]:
        """One JSON event from LiveAvatar's `agent-response` topic."""
        self._now = now
        actions = self._announce()
        kind = str(event.get("event_type", ""))
        handler = _UPSTREAM_HANDLERS.get(kind)
        if handler is not None:
            actions += handler(self, event, now)
        elif kind in _TRANSCRIPTIONS:
            actions += self._on_transcription(kind, event)
        elif kind in _PUSH_TO_TALK:
            actions += self._on_push_to_talk(kind, event)
        else:
            actions.append(passthrough_event(kind, event))
        return actions

    def handle_timer(self, now: float) -> list[Action]:
        self._now = now
        actions = self._announce()
        if self._drop is not None and now >= self._drop.since + DROP_REPORT_MS / 1000:
            actions += self._report_drop()
        if now >= self._last_command + self._opts.keep_alive_idle_s:
            actions.append(self._send({"event_type": KEEP_ALIVE_EVENT}, now))
        if self._eof:
            for source, turn in list(self._turns.items()):
                late = turn.sent_at is not None and now >= turn.sent_at + START_GRACE_S
                if late and not turn.heard:
                    del self._turns[source]  # LiveAvatar never took it up (restricted mode?).
        return actions

    def close(self) -> list[Action]:
        """The conversation is ending: close the open turn and account for unplayed audio."""
        actions = self._report_drop()
        turn = self._playing
        if turn is not None:
            actions += self._finish(turn, interrupted=True)
        unplayed = round(self.pending_audio_ms())
        if unplayed > 0 and self._converter is not None:
            actions.append(
                emit(
                    audio_dropped=pb.AudioDropped(
                        input_byte_count=self._converter.input_bytes_for_output(
                            unplayed * OUTPUT_BYTES_PER_MS
                        ),
                        duration_ms=unplayed,
                        reason=pb.DROP_REASON_SESSION_ENDED,
                    )
                )
            )
        self._play_end = self._now
        self._turns.clear()
        return actions

    # Client requests.

    def _on_request(self, request: pb.ConverseRequest, now: float) -> list[Action]:
        kind = request.WhichOneof("request")
        rid = request.request_id
        if kind == "audio":
            return self._on_audio(request, now)
        if kind in ("speak_text", "speak_response"):
            return self._on_speak(kind, rid, getattr(request, kind).text, now)
        if kind == "interrupt":
            return self._on_interrupt(rid, now)
        if kind == "push_to_talk_start":
            return self._on_ptt_start(rid, now)
        if kind == "push_to_talk_stop":
            return self._on_ptt_stop(rid, now)
        if kind in _COMMANDS:
            return [self._command(_COMMANDS[kind], rid, now)]
        if kind == "keep_alive":
            return [self._send({"event_type": KEEP_ALIVE_EVENT}, now)]
        if kind == "speak_end":
            return [
                error_event(
                    rid,
                    "UNSUPPORTED_IN_MODE",
                    "SpeakEnd is a LITE-mode command; this is a FULL session, where LiveAvatar "
                    "speaks by itself: use SpeakText or SpeakResponse",
                )
            ]
        if kind == "config":
            return [
                error_event(
                    rid, "INVALID_COMMAND", "config may only be sent in the first request; ignored"
                )
            ]
        return [error_event(rid, "INVALID_COMMAND", "request has no audio or command set")]

    def _on_speak(self, kind: str, rid: str, text: str, now: float) -> list[Action]:
        if not text.strip():
            return [error_event(rid, "INVALID_COMMAND", f"{kind}.text is empty: expected the text")]
        event_id = self._new_id()
        self._remember(event_id, rid)
        self._turns[event_id] = _Turn(
            id=rid or event_id, request_id=rid, source=event_id, sent_at=now
        )
        message = {"event_id": event_id, "event_type": _COMMANDS[kind], "text": text}
        return [self._send(message, now)]

    def _on_interrupt(self, rid: str, now: float) -> list[Action]:
        for source, turn in list(self._turns.items()):
            if turn.started:
                turn.interrupt_requested = True
            else:
                del self._turns[source]  # LiveAvatar drops queued utterances.
        return [self._command("avatar.interrupt", rid, now)]

    def _on_ptt_start(self, rid: str, now: float) -> list[Action]:
        actions = self._report_drop()
        if self._push_to_talk and not self._ptt_open and self._converter is not None:
            self._converter.reset()  # Start the window's audio afresh.
        self._ptt_open = True
        self._ptt_waiting["user.start_push_to_talk"].append(rid)
        actions.append(self._command("user.start_push_to_talk", rid, now))
        return actions

    def _on_ptt_stop(self, rid: str, now: float) -> list[Action]:
        actions = self._flush_audio(now)  # The window's last audio goes before the stop.
        self._ptt_open = False
        self._ptt_waiting["user.stop_push_to_talk"].append(rid)
        actions.append(self._command("user.stop_push_to_talk", rid, now))
        return actions

    def _on_audio(self, request: pb.ConverseRequest, now: float) -> list[Action]:
        if self._controller:
            return [
                Fail(
                    FailedPrecondition(
                        "audio sent on a CONTROLLER conversation: a controller sends commands "
                        "only; use PARTICIPATION_USER to stream the user's microphone"
                    )
                )
            ]
        converter = self._converter
        if converter is None:
            return [
                Fail(
                    InvalidRequest(
                        "audio sent but config.input_audio was not set: declare the encoding, "
                        "sample rate and channel count in the first request"
                    )
                )
            ]
        data = request.audio.data
        try:
            if self._push_to_talk and not self._ptt_open:
                converter.input_format.frame_count(len(data))  # Still reject partial frames.
                return self._drop_outside_window(request.request_id, len(data), now)
            pcm = converter.convert(data)
        except AudioFormatError as exc:
            return [Fail(InvalidRequest(str(exc)))]
        return self._publish(pcm, now)

    def _drop_outside_window(self, rid: str, size: int, now: float) -> list[Action]:
        if self._drop is None:
            self._drop = _Drop(request_id=rid, since=now)
        self._drop.input_bytes += size
        return self._report_drop() if now >= self._drop.since + DROP_REPORT_MS / 1000 else []

    def _flush_audio(self, now: float) -> list[Action]:
        if self._converter is None or self._controller:
            return []
        return self._publish(self._converter.flush(), now)

    def _publish(self, pcm: bytes, now: float) -> list[Action]:
        if not pcm:
            return []
        self._play_end = max(self._play_end, now) + len(pcm) / (OUTPUT_BYTES_PER_MS * 1000)
        return [PublishAudio(pcm)]

    def _report_drop(self) -> list[Action]:
        drop, self._drop = self._drop, None
        if drop is None or not drop.input_bytes or self._converter is None:
            return []
        duration = self._converter.input_format.duration_ms(drop.input_bytes)
        return [
            emit(
                drop.request_id,
                audio_dropped=pb.AudioDropped(
                    utterance_id=drop.request_id,
                    input_byte_count=drop.input_bytes,
                    duration_ms=round(duration),
                    reason=pb.DROP_REASON_OUTSIDE_PUSH_TO_TALK,
                ),
            )
        ]

    def _command(self, event_type: str, rid: str, now: float) -> SendUpstream:
        event_id = self._new_id()
        self._remember(event_id, rid)
        return self._send({"event_id": event_id, "event_type": event_type}, now)

    def _send(self, message: dict[str, Any], now: float) -> SendUpstream:
        self._last_command = now
        return SendUpstream(message)

    def _remember(self, event_id: str, rid: str) -> None:
        if not rid:
            return
        self._requests[event_id] = rid
        if len(self._requests) > MAX_REMEMBERED_COMMANDS:
            del self._requests[next(iter(self._requests))]

    def _announce(self) -> list[Action]:
        if self._announced:
            return []
        self._announced = True
        return [
            emit(session_state_changed=pb.SessionStateChanged(state=pb.SESSION_STATE_CONNECTED))
        ]

    # LiveAvatar events.

    def _on_speak_started(self, event: dict[str, Any], now: float) -> list[Action]:
        turn = self._turn_for(event)
        if turn is None or turn.started:
            return []
        actions: list[Action] = []
        if self._playing is not None and self._playing is not turn:
            # LiveAvatar speaks one utterance at a time: a new start ends the previous one.
            actions += self._finish(self._playing, interrupted=False)
        turn.heard = turn.started = True
        self._playing = turn
        actions.append(
            emit(turn.request_id, avatar_speak_started=pb.AvatarSpeakStarted(utterance_id=turn.id))
        )
        return actions

    def _on_speak_ended(self, event: dict[str, Any], now: float) -> list[Action]:
        turn = self._turn_for(event)
        if turn is None:
            return []
        actions: list[Action] = []
        if not turn.started:
            actions += self._on_speak_started({"source_event_id": turn.source}, now)
        interrupted = bool(event.get("interrupted")) or turn.interrupt_requested
        return actions + self._finish(turn, interrupted=interrupted)

    def _on_user_speak(self, event: dict[str, Any], now: float) -> list[Action]:
        if event.get("event_type") == "user.speak_started":
            return [emit(user_speak_started=pb.UserSpeakStarted())]
        return [emit(user_speak_ended=pb.UserSpeakEnded())]

    def _on_session_stopped(self, event: dict[str, Any], now: float) -> list[Action]:
        reason = event.get("end_reason") or event.get("stop_reason") or "UNKNOWN"
        self._stopped_reason = str(reason)
        return [emit(session_state_changed=pb.SessionStateChanged(state=pb.SESSION_STATE_CLOSING))]

    def _on_transcription(self, kind: str, event: dict[str, Any]) -> list[Action]:
        speaker, final = _TRANSCRIPTIONS[kind]
        rid = ""
        source = _source(event)
        if speaker == pb.SPEAKER_AVATAR and source:
            rid = self._requests.get(source, "")
            if source in self._turns:
                self._turns[source].heard = True
        text = str(event.get("text") or "")
        return [
            emit(rid, transcription=pb.Transcription(speaker=speaker, text=text, is_final=final))
        ]

    def _on_push_to_talk(self, kind: str, event: dict[str, Any]) -> list[Action]:
        outcome, command = _PUSH_TO_TALK[kind]
        waiting = self._ptt_waiting[command]
        source = _source(event)
        if source:
            rid = self._requests.get(source, "")
            if rid in waiting:
                waiting.remove(rid)
        else:
            rid = waiting.popleft() if waiting else ""
        if outcome == pb.PUSH_TO_TALK_OUTCOME_STARTED:
            self._ptt_open = self._ptt_confirmed = True
        elif outcome == pb.PUSH_TO_TALK_OUTCOME_START_FAILED:
            self._ptt_open = self._ptt_confirmed  # Open only if an earlier start succeeded.
        else:
            self._ptt_open = self._ptt_confirmed = False
        message = str(event.get("reason") or event.get("message") or "")
        return [
            emit(rid, push_to_talk_result=pb.PushToTalkResult(outcome=outcome, message=message))
        ]

    # Turn bookkeeping.

    def _turn_for(self, event: dict[str, Any]) -> _Turn | None:
        """The turn an avatar speak event is about; None for a late duplicate."""
        source = _source(event)
        if source:
            if source in self._turns:
                return self._turns[source]
            if source in self._finished:
                return None
            # A command the bridge no longer tracks (interrupted, or sent by someone else).
            rid = self._requests.get(source, "")
            turn = _Turn(id=rid or source, request_id=rid, source=source)
        elif self._playing is not None and event.get("event_type") != "avatar.speak_started":
            return self._playing
        else:
            own_id = str(event.get("event_id") or self._new_id())
            turn = _Turn(id=own_id, request_id="", source=own_id)
        self._turns[turn.source] = turn
        return turn

    def _finish(self, turn: _Turn, *, interrupted: bool) -> list[Action]:
        self._turns.pop(turn.source, None)
        self._finished.append(turn.source)
        if self._playing is turn:
            self._playing = None
        if interrupted:
            return [
                emit(
                    turn.request_id,
                    avatar_speak_interrupted=pb.AvatarSpeakInterrupted(utterance_id=turn.id),
                )
            ]
        return [emit(turn.request_id, avatar_speak_ended=pb.AvatarSpeakEnded(utterance_id=turn.id))]

    def _outstanding(self) -> bool:
        """Something LiveAvatar still owes an answer to: a turn, or a push-to-talk command
        whose result has not come (a half-close waits for it, bounded by the drain timeout)."""
        return any(t.heard or t.sent_at is not None for t in self._turns.values()) or any(
            self._ptt_waiting.values()
        )


def _source(event: dict[str, Any]) -> str:
    source = event.get("source_event_id")
    return source if isinstance(source, str) else ""


_Handler = Callable[[FullCore, dict[str, Any], float], list[Action]]


def _on_bridge_warning(core: FullCore, event: dict[str, Any], now: float) -> list[Action]:
    code = str(event.get("code") or "UPSTREAM_WARNING")
    return [emit(warning=pb.Warning(code=code, message=str(event.get("message") or code)))]


_UPSTREAM_HANDLERS: dict[str, _Handler] = {
    BRIDGE_WARNING_EVENT: _on_bridge_warning,
    "avatar.speak_started": FullCore._on_speak_started,
    "avatar.speak_ended": FullCore._on_speak_ended,
    "user.speak_started": FullCore._on_user_speak,
    "user.speak_ended": FullCore._on_user_speak,
    "session.stopped": FullCore._on_session_stopped,
}

"""Sans-I/O core of a LITE conversation: client requests and LiveAvatar events in, actions out.

No sockets and no clock of its own: every method takes `now` (seconds, monotonic) and returns the
actions to take; `next_deadline()` says when to call `handle_timer` next. The gRPC handler and
the WebSocket transport only move bytes.

Decisions worth knowing:

* Readiness. LiveAvatar drops commands sent before `session.state_updated connected`, so until
  then the core holds every request (audio included) and replays them in order once ready. An
  interrupt while held drops the held audio. The service stops reading the client while held
  audio exceeds `max_pending_ms` (gRPC flow control does the rest).
* Utterances. All audio since the last speak_end or interrupt is one utterance, sent upstream
  under one event_id. Its client-facing id is the request_id of its first chunk, or
  "utterance-<n>". Packets: the first holds `first_packet_ms` (the avatar starts quickly), later
  ones up to `packet_ms`. Pacing: a packet of S ms goes once the avatar's estimated playback
  queue is at most `low_water_ms` + S; and when a chunk arrives while the queue is at most
  `low_water_ms` + `first_packet_ms`, it goes at once. A real-time client's chunks therefore go
  the moment they arrive (the queue stays at the first packet's length), and a faster client's
  audio goes in full packets no faster than real time plus a bounded lead: the queue stays
  below `low_water_ms` + `first_packet_ms` + `packet_ms` or `low_water_ms` + 2 x `packet_ms`,
  whichever is larger (2.3 s by default), except for the final flush at speak_end.
  The rest waits in the core, where the adapter's backpressure bounds it (`pending_audio_ms`).
  Every packet is far below LiveAvatar's 1 MB.
* Fast sources start sooner. Before the first packet is full, the core watches how fast the
  utterance's audio arrives: once at least FAST_START_MS has arrived over FAST_START_CHUNKS or
  more chunks, at FAST_START_RATE x real time or faster (the first chunk excluded, since it
  marks time zero), what is there goes at once: such a source stays ahead of playback, so a
  small first packet cannot starve the avatar. A real-time source never looks that fast and
  keeps the full first packet.
* Framing. An agent.speak message carries its audio as base64 *bytes*, encoded straight from
  the utterance buffer; the transport frames it with a template (base64 needs no escaping).
* Speak events. Real sessions report turns with `agent.speak_*`, with `agent.state_updated` plus
  `agent.audio_buffer_*`, or both. Each utterance yields at most one AvatarSpeakStarted and then
  exactly one AvatarSpeakEnded or AvatarSpeakInterrupted, whichever family arrives. A speak end
  before the client's speak_end is a starvation gap, not the end of the utterance. An utterance
  interrupted before the avatar started it yields no speak events.
* Liveness and loss (see the "Liveness" section below). Audio sent upstream is assumed to play
  at 48,000 B/s real time from an utterance's first send, one utterance after another. An
  interrupt reports as dropped both the unsent audio and the sent audio that had not played by
  that estimate. When the transport reconnects a dropped WebSocket it says so with a
  `bridge.upstream_reconnected` event: LiveAvatar lost its buffer, so every turn in flight ends
  (interrupted) and its unplayed audio is reported lost. No event from LiveAvatar for
  `silence_timeout_s` past the estimated end of playback, while a turn is in flight, means a
  silent upstream: the client is warned and the conversation ends as the upstream lost.
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from avatar_bridge.actions import (
    Action,
    Emit,
    Fail,
    SendUpstream,
    emit,
    error_event,
    passthrough_event,
)
from avatar_bridge.audio import OUTPUT_BYTES_PER_MS, AudioConverter, AudioFormatError
from avatar_bridge.errors import InvalidRequest, UpstreamClosed, UpstreamTimeout
from avatar_bridge.session_config import SessionOptions
from avatarbridge.v1 import avatar_bridge_pb2 as pb

RECONNECTED_EVENT = "bridge.upstream_reconnected"
"""Synthetic event from the LITE transport: it reconnected a dropped WebSocket."""
OUTPUT_BYTES_PER_S = OUTPUT_BYTES_PER_MS * 1000
INTERRUPT_CONFIRM_S = 3.0
"""How long to wait for LiveAvatar to confirm an interrupt before reporting it anyway."""
FINISHED_IDS_KEPT = 64
"""Ended utterances remembered so late speak events naming them are ignored (bounded memory)."""

_SESSION_STATES: dict[str, pb.SessionState.ValueType] = {
    "new": pb.SESSION_STATE_CONNECTING,
    "connecting": pb.SESSION_STATE_CONNECTING,
    "connected": pb.SESSION_STATE_CONNECTED,
    "closing": pb.SESSION_STATE_CLOSING,
    "closed": pb.SESSION_STATE_CLOSED,
    "disconnected": pb.SESSION_STATE_CLOSED,
}
_AVATAR_STATES: dict[str, pb.AvatarState.ValueType] = {
    "idle": pb.AVATAR_STATE_IDLE,
    "listening": pb.AVATAR_STATE_LISTENING,
    "talking": pb.AVATAR_STATE_TALKING,
}
_BUFFER_ACTIONS: dict[str, pb.AudioBufferAction.ValueType] = {
    "agent.audio_buffer_appended": pb.AUDIO_BUFFER_ACTION_APPENDED,
    "agent.audio_buffer_committed": pb.AUDIO_BUFFER_ACTION_COMMITTED,
    "agent.audio_buffer_cleared": pb.AUDIO_BUFFER_ACTION_CLEARED,
}
_COMMANDS = {
    "start_listening": "agent.start_listening",
    "stop_listening": "agent.stop_listening",
    "keep_alive": "session.keep_alive",
}
_FULL_ONLY = {
    "speak_text": "SpeakText",
    "speak_response": "SpeakResponse",
    "push_to_talk_start": "PushToTalkStart",
    "push_to_talk_stop": "PushToTalkStop",
}


FAST_START_MS = 120
"""Audio an utterance needs before a fast source may start it early: also what a real-time
source whose jitter fakes a fast start has in hand (it starves only with more jitter)."""
FAST_START_CHUNKS = 4
"""Chunks an utterance needs before its arrival rate is trusted."""
FAST_START_RATE = 1.3
"""Arrival rate (x real time) from which a source counts as fast."""


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class _Utterance:
    """One utterance's audio and its progress through LiveAvatar."""

    id: str
    upstream_id: str
    pending: bytearray = field(default_factory=bytearray)
    sent_bytes: int = 0
    committed: bool = False
    started: bool = False
    finished: bool = False
    interrupt_requested: bool = False
    gap: bool = False
    """LiveAvatar ended a speak before the client's speak_end (its buffer ran dry)."""
    sent_since_gap: bool = False
    first_sent_at: float | None = None
    """When its first packet went upstream: where the playback estimate starts."""
    first_arrival: float = 0.0
    first_chunk_bytes: int = 0
    arrived_bytes: int = 0
    chunks: int = 0


class LiteCore:
    """The decisions of one LITE conversation. See the module docstring."""

    def __init__(
        self,
        options: SessionOptions,
        converter: AudioConverter | None,
        *,
        now: float,
        new_id: Callable[[], str] = _new_id,
        silence_timeout_s: float | None = None,
    ) -> None:
        self._opts = options
        self._silence_s = silence_timeout_s
        self._last_event = now
        self._converter = converter
        self._new_id = new_id
        self._ready = False
        self._ready_deadline = now + options.ready_timeout_s
        self._held: list[pb.ConverseRequest] = []
        self._held_audio_bytes = 0
        self._last_send = now
        self._seq = 0
        self._open: _Utterance | None = None
        self._turns: list[_Utterance] = []
        """Utterances with audio sent upstream and no end event yet, oldest first."""
        self._by_upstream: dict[str, _Utterance] = {}
        self._finished_upstream: dict[str, None] = {}
        """Upstream ids of the last FINISHED_IDS_KEPT ended utterances, oldest first: a late or
        repeated speak event naming one must not be taken for the next utterance's."""
        self._request_for_upstream: dict[str, str] = {}
        self._play_end = now
        self._interrupt_deadline: float | None = None
        self._eof = False
        self._drain_deadline: float | None = None
        self._failed = False

    # Queries for the adapter.

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def drained(self) -> bool:
        """After the client half-closed: True once nothing more will play (or time ran out)."""
        if not self._eof:
            return False
        if not self._ready:
            return not self._held  # Held requests still wait for the session to be ready.
        return not self._turns and self._open is None

    def pending_audio_ms(self) -> float:
        """Audio held or buffered in the core, for backpressure on the client's stream."""
        held_ms = 0.0
        if self._held_audio_bytes and self._converter is not None:
            held_ms = self._converter.input_format.duration_ms(self._held_audio_bytes)
        open_ms = len(self._open.pending) / OUTPUT_BYTES_PER_MS if self._open else 0.0
        return held_ms + open_ms

    def next_deadline(self) -> float | None:
        if self._failed:
            return None
        candidates: list[float] = []
        if not self._ready:
            candidates.append(self._ready_deadline)
        else:
            candidates.append(self._last_send + self._opts.keep_alive_idle_s)
            u = self._open
            if u is not None and u.pending:
                size = self._next_packet_bytes(u)
                if size:
                    candidates.append(self._due_time(size))
            silence = self._silence_deadline()
            if silence is not None:
                candidates.append(silence)
        if self._interrupt_deadline is not None:
            candidates.append(self._interrupt_deadline)
        if self._drain_deadline is not None:
            candidates.append(self._drain_deadline)
        return min(candidates) if candidates else None

    # Inputs.

    def handle_request(self, request: pb.ConverseRequest, now: float) -> list[Action]:
        """A client request after the config."""
        kind = request.WhichOneof("request")
        rid = request.request_id
        if kind == "config":
            return [
                error_event(
                    rid, "INVALID_COMMAND", "config may only be sent in the first request; ignored"
                )
            ]
        if kind in _FULL_ONLY:
            return [
                error_event(
                    rid,
                    "UNSUPPORTED_IN_MODE",
                    f"{_FULL_ONLY[kind]} is a FULL-mode command; this is a LITE session, "
                    "where the client's audio is the avatar's speech",
                )
            ]
        if kind is None:
            return [error_event(rid, "INVALID_COMMAND", "request has no audio or command set")]
        if kind == "audio" and self._converter is None:
            return [
                Fail(
                    InvalidRequest(
                        "audio sent but config.input_audio was not set: declare the encoding, "
                        "sample rate and channel count in the first request"
                    )
                )
            ]
        if kind == "audio":
            # Checked on arrival, not when held audio is sent: an invalid chunk ends the call
            # whatever the session's state (an interrupt may drop held audio unconverted).
            assert self._converter is not None
            try:
                self._converter.input_format.frame_count(len(request.audio.data))
            except AudioFormatError as exc:
                return [Fail(InvalidRequest(str(exc)))]
        if not self._ready:
            return self._hold(request)
        if kind == "audio":
            return self._on_audio(request, now)
        if kind == "speak_end":
            return self._on_speak_end(rid, now)
        if kind == "interrupt":
            return self._on_interrupt(rid, now)
        if kind == "start_listening":
            return [
                self._send({"type": "agent.start_listening", "event_id": self._cmd_id(rid)}, now)
            ]
        if kind == "stop_listening":
            return [
                self._send({"type": "agent.stop_listening", "event_id": self._cmd_id(rid)}, now)
            ]
        if kind == "keep_alive":
            return [self._send({"type": "session.keep_alive", "event_id": self._cmd_id(rid)}, now)]
        return [error_event(rid, "INVALID_COMMAND", f"unknown request {kind}")]

    def handle_client_eof(self, now: float) -> list[Action]:
        """The client half-closed: finish the open utterance, then drain."""
        self._eof = True
        actions: list[Action] = []
        if self._ready and self._open is not None:
            actions += self._on_speak_end("", now)
        elif not self._ready and self._held_audio_bytes:
            self._held.append(pb.ConverseRequest(speak_end=pb.SpeakEnd()))
        remaining = max(self._play_end - now, 0.0)
        self._drain_deadline = now + min(self._opts.drain_timeout_s, remaining + 10.0)
        return actions

    def handle_upstream(self, event: dict[str, Any], now: float) -> list[Action]:
        """One JSON event from LiveAvatar's WebSocket."""
        kind = str(event.get("type", ""))
        self._last_event = now
        handler = _UPSTREAM_HANDLERS.get(kind)
        if handler is not None:
            return handler(self, event, now)
        if kind in _BUFFER_ACTIONS:
            return self._on_buffer_event(kind, event)
        return [passthrough_event(kind, event)]

    def handle_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if not self._ready:
            if now >= self._ready_deadline:
                self._failed = True
                actions.append(
                    Fail(
                        UpstreamTimeout(
                            "LiveAvatar session did not report state connected within "
                            f"{self._opts.ready_timeout_s:g} s"
                        )
                    )
                )
            return actions
        silence = self._silence_deadline()
        if silence is not None and now >= silence:
            return self._upstream_silent(now)
        if self._interrupt_deadline is not None and now >= self._interrupt_deadline:
            actions += self._finish_interrupted()
        actions += self._pump(now)
        if now >= self._last_send + self._opts.keep_alive_idle_s:
            actions.append(
                self._send({"type": "session.keep_alive", "event_id": self._new_id()}, now)
            )
        if self._drain_deadline is not None and now >= self._drain_deadline:
            # Give up waiting for the avatar: nothing more will be reported for these turns.
            self._turns.clear()
            self._open = None
        return actions

    def close(self) -> list[Action]:
        """The conversation is ending: account for audio that will never be sent."""
        actions: list[Action] = []
        actions += self._drop_held_audio(pb.DROP_REASON_SESSION_ENDED)
        self._held.clear()
        if self._open is not None:
            actions += self._drop_open(pb.DROP_REASON_SESSION_ENDED)
        return actions

    # Client requests once ready.

    def _hold(self, request: pb.ConverseRequest) -> list[Action]:
        kind = request.WhichOneof("request")
        if kind == "interrupt":
            actions = self._drop_held_audio()
            self._held = [r for r in self._held if r.WhichOneof("request") != "speak_end"]
            return actions
        if kind == "audio":
            self._held_audio_bytes += len(request.audio.data)
        self._held.append(request)
        return []

    def _drop_held_audio(
        self, reason: pb.DropReason.ValueType = pb.DROP_REASON_INTERRUPTED
    ) -> list[Action]:
        """Drop the audio held before `connected`: one AudioDropped per utterance, named as the
        utterance would have been (its first chunk's request_id, else utterance-N)."""
        if self._converter is None:
            return []
        # Empty chunks count too: they open the utterance being dropped, and kept they would
        # name the next one. Only utterances that carried audio are reported.
        fmt = self._converter.input_format
        groups: list[tuple[str, int]] = []
        current: str | None = None
        for request in self._held:
            kind = request.WhichOneof("request")
            if kind == "speak_end":
                current = None
            elif kind == "audio":
                if current is None:
                    self._seq += 1
                    current = request.request_id or f"utterance-{self._seq}"
                    groups.append((current, 0))
                name, size = groups[-1]
                groups[-1] = (name, size + len(request.audio.data))
        self._held = [r for r in self._held if r.WhichOneof("request") != "audio"]
        self._held_audio_bytes = 0
        return [
            emit(
                utterance_id,
                audio_dropped=pb.AudioDropped(
                    utterance_id=utterance_id,
                    input_byte_count=size,
                    duration_ms=round(fmt.duration_ms(size)),
                    reason=reason,
                ),
            )
            for utterance_id, size in groups
            if size
        ]

    def _on_audio(self, request: pb.ConverseRequest, now: float) -> list[Action]:
        assert self._converter is not None
        try:
            pcm = self._converter.convert(request.audio.data)
        except AudioFormatError as exc:
            return [Fail(InvalidRequest(str(exc)))]
        if self._open is None:
            self._seq += 1
            self._open = _Utterance(
                id=request.request_id or f"utterance-{self._seq}", upstream_id=self._new_id()
            )
            self._by_upstream[self._open.upstream_id] = self._open
            self._open.first_arrival, self._open.first_chunk_bytes = now, len(pcm)
        self._open.pending += pcm
        self._open.arrived_bytes += len(pcm)
        self._open.chunks += 1
        return self._pump(now, arrival=True)

    def _on_speak_end(self, rid: str, now: float) -> list[Action]:
        u = self._open
        if u is None:
            if self._eof:
                return []
            return [
                emit(
                    rid,
                    warning=pb.Warning(
                        code="EMPTY_UTTERANCE",
                        message="speak_end with no audio since the last speak_end or interrupt; "
                        "nothing to speak",
                    ),
                )
            ]
        if self._converter is not None:
            u.pending += self._converter.flush()
        actions = self._pump(now, final=True)
        u.committed = True
        self._open = None
        if u.sent_bytes == 0:
            return actions  # Nothing reached LiveAvatar; there is no turn to end.
        if rid:  # LiveAvatar's commit ack (source_event_id) answers this speak_end.
            self._request_for_upstream[u.upstream_id] = rid
        actions.append(self._send({"type": "agent.speak_end", "event_id": u.upstream_id}, now))
        if u.gap and not u.sent_since_gap and not u.finished:
            actions += self._finish(u, interrupted=False)
        return actions

    def _on_interrupt(self, rid: str, now: float) -> list[Action]:
        actions = self._drop_unplayed(now, pb.DROP_REASON_INTERRUPTED)
        interrupt_id = self._cmd_id(rid)
        actions.append(self._send({"type": "agent.interrupt", "event_id": interrupt_id}, now))
        self._play_end = now
        for u in list(self._turns):
            u.interrupt_requested = True
            if not u.started:
                # LiveAvatar clears its buffer: this utterance will never start.
                u.finished = True
                self._turns.remove(u)
        if self._turns:
            self._interrupt_deadline = now + INTERRUPT_CONFIRM_S
        return actions

    def _drop_open(self, reason: pb.DropReason.ValueType, unplayed: int = 0) -> list[Action]:
        """Drop the open utterance's unsent audio and report it, with `unplayed` output
        bytes it sent that will not play either."""
        u = self._open
        assert u is not None
        dropped_out = len(u.pending)
        if self._converter is not None:
            dropped_out += 2 * self._converter.reset()
        u.pending.clear()
        u.committed = True
        self._open = None
        if u.sent_bytes == 0:
            self._by_upstream.pop(u.upstream_id, None)
        return self._dropped(u, dropped_out + unplayed, reason)

    def _dropped(
        self, u: _Utterance, out_bytes: int, reason: pb.DropReason.ValueType
    ) -> list[Action]:
        if not out_bytes:
            return []
        input_bytes = (
            self._converter.input_bytes_for_output(out_bytes) if self._converter else out_bytes
        )
        return [
            emit(
                u.id,
                audio_dropped=pb.AudioDropped(
                    utterance_id=u.id,
                    input_byte_count=input_bytes,
                    duration_ms=out_bytes // OUTPUT_BYTES_PER_MS,
                    reason=reason,
                ),
            )
        ]

    def _unplayed(self, at: float) -> dict[str, int]:
        """Output bytes sent upstream but not played by `at`, by upstream id, by the
        playback estimate (real time from an utterance's first send, one after another)."""
        unplayed: dict[str, int] = {}
        free_at = float("-inf")
        for u in self._turns:  # Every turn has sent audio and none has finished.
            assert u.first_sent_at is not None
            start = max(u.first_sent_at, free_at)
            played = min(u.sent_bytes, max(0, int((at - start) * OUTPUT_BYTES_PER_S)))
            played -= played % 2
            free_at = start + u.sent_bytes / OUTPUT_BYTES_PER_S
            if u.sent_bytes > played:
                unplayed[u.upstream_id] = u.sent_bytes - played
        return unplayed

    def _drop_unplayed(self, at: float, reason: pb.DropReason.ValueType) -> list[Action]:
        """Report the open utterance's unsent audio and every turn's unplayed audio."""
        unplayed = self._unplayed(at)
        actions: list[Action] = []
        if self._open is not None:
            actions += self._drop_open(reason, unplayed.pop(self._open.upstream_id, 0))
        for u in self._turns:
            actions += self._dropped(u, unplayed.get(u.upstream_id, 0), reason)
        return actions

    # Sending audio.

    def _pump(self, now: float, *, final: bool = False, arrival: bool = False) -> list[Action]:
        """Send the open utterance's audio as the packet policy allows (module docstring);
        `arrival`: a chunk just arrived."""
        u = self._open
        if u is None or not u.pending:
            return []
        packet = self._opts.packet_ms * OUTPUT_BYTES_PER_MS
        opts = self._opts
        live_until = self._play_end - (opts.low_water_ms + opts.first_packet_ms) / 1000
        actions: list[Action] = []
        while u.pending:
            size = self._next_packet_bytes(u)
            if not size and arrival and _fast_source(u, now):
                size = len(u.pending)
            if final:
                size = size or min(len(u.pending), packet)
            elif not size:
                break  # The first packet is still filling.
            elif now < self._due_time(size) and not (arrival and now >= live_until):
                break
            actions.append(self._send_audio(u, size, now))
            live_until = self._play_end - (opts.low_water_ms + opts.first_packet_ms) / 1000
        return actions

    def _next_packet_bytes(self, u: _Utterance) -> int:
        """The next packet's size, or 0 while the first packet is still filling."""
        if u.sent_bytes == 0:
            first = self._opts.first_packet_ms * OUTPUT_BYTES_PER_MS
            return first if len(u.pending) >= first else 0
        return min(len(u.pending), self._opts.packet_ms * OUTPUT_BYTES_PER_MS)

    def _due_time(self, size: int) -> float:
        """When a packet of `size` bytes may go: the avatar's estimated queue is down to the
        low-water mark plus the packet. The deadline and the send test use this one expression,
        so a deadline always makes progress."""
        lead_ms = self._opts.low_water_ms + size / OUTPUT_BYTES_PER_MS
        return self._play_end - lead_ms / 1000

    def _send_audio(self, u: _Utterance, size: int, now: float) -> SendUpstream:
        size -= size % 2  # Whole PCM16 samples only.
        with memoryview(u.pending) as view:  # Encode in place: no copy of the PCM.
            audio = binascii.b2a_base64(view[:size], newline=False)
        del u.pending[:size]
        u.sent_bytes += size
        if u.first_sent_at is None:
            u.first_sent_at = now
        if u.gap:
            u.sent_since_gap = True
        # A turn LiveAvatar already ended (it interrupted the utterance by itself while the
        # client kept streaming it) stays ended: back in the queue it would play on for
        # `_playing`, be interrupted twice and hold the half-close.
        if u not in self._turns and not u.finished:
            self._turns.append(u)
        self._play_end = max(self._play_end, now) + size / (OUTPUT_BYTES_PER_MS * 1000)
        message = {"type": "agent.speak", "event_id": u.upstream_id, "audio": audio}
        return self._send(message, now)

    def _send(self, message: dict[str, Any], now: float) -> SendUpstream:
        self._last_send = now
        return SendUpstream(message)

    def _cmd_id(self, request_id: str) -> str:
        """A fresh upstream event_id for a command, remembered so replies map back."""
        event_id = self._new_id()
        if request_id:
            self._request_for_upstream[event_id] = request_id
        return event_id

    # LiveAvatar events.

    def _on_session_state(self, event: dict[str, Any], now: float) -> list[Action]:
        state = _SESSION_STATES.get(str(event.get("state", "")).lower())
        if state is None:
            return [passthrough_event("session.state_updated", event)]
        actions: list[Action] = [emit(session_state_changed=pb.SessionStateChanged(state=state))]
        if state == pb.SESSION_STATE_CONNECTED and not self._ready:
            self._ready = True
            self._last_send = now
            held, self._held, self._held_audio_bytes = self._held, [], 0
            for request in held:
                actions += self.handle_request(request, now)
            if self._eof and self._open is not None:
                actions += self._on_speak_end("", now)
        return actions

    def _on_speak_started(self, event: dict[str, Any], now: float) -> list[Action]:
        u = self._lookup(event)
        if u is None:
            if self._names_finished(event):
                return []
            u = self._next_to_start()
        return self._start(u) if u else []

    def _on_speak_ended(self, event: dict[str, Any], now: float) -> list[Action]:
        u = self._lookup(event)
        if u is None:
            if self._names_finished(event):
                return []
            u = self._playing()
        return self._speak_over(u) if u else []

    def _on_speak_interrupted(self, event: dict[str, Any], now: float) -> list[Action]:
        u = self._lookup(event)
        if u is None:
            if self._names_finished(event):
                return []
            u = self._playing()
        if u is None or u.finished:
            return []
        return self._finish(u, interrupted=True) if u.started else []

    def _on_agent_state(self, event: dict[str, Any], now: float) -> list[Action]:
        unknown = pb.AVATAR_STATE_UNSPECIFIED
        previous = _AVATAR_STATES.get(str(event.get("previous_state", "")).lower(), unknown)
        new_state = str(event.get("new_state", event.get("state", ""))).lower()
        state = _AVATAR_STATES.get(new_state, unknown)
        actions: list[Action] = [
            emit(avatar_state_changed=pb.AvatarStateChanged(previous_state=previous, state=state))
        ]
        if state == pb.AVATAR_STATE_TALKING:
            # Talking while a turn plays (a repeated talking) starts nothing: turns never overlap.
            u = self._next_to_start() if self._playing() is None else None
            if u is not None:
                actions += self._start(u)
        elif previous == pb.AVATAR_STATE_TALKING or state in (
            pb.AVATAR_STATE_IDLE,
            pb.AVATAR_STATE_LISTENING,
        ):
            u = self._playing()
            if u is not None:
                actions += self._speak_over(u)
        return actions

    def _on_buffer_event(self, kind: str, event: dict[str, Any]) -> list[Action]:
        u = self._lookup(event)
        rid = u.id if u else ""
        if kind != "agent.audio_buffer_appended":
            # Committed answers a speak_end, cleared an interrupt: echo that command's request_id.
            source = str(event.get("source_event_id", ""))
            rid = self._request_for_upstream.get(source, "") or rid
        actions: list[Action] = [
            emit(
                rid,
                audio_buffer_updated=pb.AudioBufferUpdated(
                    action=_BUFFER_ACTIONS[kind], utterance_id=u.id if u else ""
                ),
            )
        ]
        if kind == "agent.audio_buffer_cleared":
            actions += self._finish_interrupted()
        return actions

    def _on_error(self, event: dict[str, Any], now: float) -> list[Action]:
        body = event.get("error") if isinstance(event.get("error"), dict) else event
        assert isinstance(body, dict)
        kind = str(body.get("type") or "error")
        message = str(body.get("message") or kind)
        if kind == "video_starvation":
            # The avatar ran out of audio: worth knowing, nothing failed.
            return [emit(warning=pb.Warning(code="VIDEO_STARVATION", message=message))]
        rid = self._request_for_upstream.get(str(body.get("event_id", "")), "")
        return [error_event(rid, kind.upper(), f"LiveAvatar: {message}", upstream=True)]

    def _on_warning(self, event: dict[str, Any], now: float) -> list[Action]:
        body = event.get("warning") if isinstance(event.get("warning"), dict) else event
        assert isinstance(body, dict)
        kind = str(body.get("type") or "upstream_warning").upper()
        return [emit(warning=pb.Warning(code=kind, message=str(body.get("message") or kind)))]

    # Liveness: a reconnected or silent upstream (see the module docstring).

    def _on_upstream_reconnected(self, event: dict[str, Any], now: float) -> list[Action]:
        dropped_at = event.get("dropped_at")
        at = float(dropped_at) if isinstance(dropped_at, int | float) else now
        actions = self._drop_unplayed(at, pb.DROP_REASON_UPSTREAM_LOST)
        lost_ms = sum(
            a.response.audio_dropped.duration_ms
            for a in actions
            if isinstance(a, Emit) and a.response.HasField("audio_dropped")
        )
        for u in list(self._turns):
            if u.started and not u.finished:
                actions += self._finish(u, interrupted=True)
            else:
                u.finished = True
                self._turns.remove(u)
                self._by_upstream.pop(u.upstream_id, None)
        self._interrupt_deadline = None
        self._play_end = now
        attempts = event.get("attempts", 1)
        message = (
            f"the LiveAvatar WebSocket dropped and was reconnected after {attempts} attempt(s); "
            f"{lost_ms} ms of audio in flight were lost (see audio_dropped); the conversation "
            "goes on"
        )
        return [*actions, emit(warning=pb.Warning(code="UPSTREAM_RECONNECTED", message=message))]

    def _silence_deadline(self) -> float | None:
        if self._silence_s is None or not self._ready:
            return None
        # A turn that ran dry and got nothing since waits for the client, not for LiveAvatar.
        if all(u.gap and not u.sent_since_gap for u in self._turns):
            return None
        return max(self._last_event, self._play_end) + self._silence_s

    def _upstream_silent(self, now: float) -> list[Action]:
        self._failed = True
        quiet_s = now - self._last_event
        message = (
            f"LiveAvatar sent no event for {quiet_s:.1f} s while the avatar should be speaking "
            "(past the estimated end of its audio): the upstream is lost"
        )
        return [
            emit(warning=pb.Warning(code="UPSTREAM_SILENT", message=message)),
            Fail(UpstreamClosed(message)),
        ]

    # Turn bookkeeping.

    def _lookup(self, event: dict[str, Any]) -> _Utterance | None:
        for key in _event_ids(event):
            if isinstance(key, str) and key in self._by_upstream:
                return self._by_upstream[key]
        return None

    def _names_finished(self, event: dict[str, Any]) -> bool:
        """The event names an utterance that already ended (ask when `_lookup` found none)."""
        return any(
            isinstance(key, str) and key in self._finished_upstream for key in _event_ids(event)
        )

    def _next_to_start(self) -> _Utterance | None:
        return next((u for u in self._turns if not u.started or u.gap), None)

    def _playing(self) -> _Utterance | None:
        return next((u for u in self._turns if u.started and not u.gap), None)

    def _start(self, u: _Utterance) -> list[Action]:
        if u.finished:
            return []
        if u.gap:
            u.gap = False  # The avatar resumed this utterance after running dry.
            return []
        if u.started:
            return []
        u.started = True
        return [emit(u.id, avatar_speak_started=pb.AvatarSpeakStarted(utterance_id=u.id))]

    def _speak_over(self, u: _Utterance) -> list[Action]:
        """LiveAvatar says the avatar stopped speaking `u`."""
        if u.finished or u.gap:
            return []
        if u.interrupt_requested:
            return self._finish(u, interrupted=True) if u.started else []
        if not u.committed:
            u.gap, u.sent_since_gap = True, False
            return []
        actions = [] if u.started else self._start(u)
        return actions + self._finish(u, interrupted=False)

    def _finish(self, u: _Utterance, *, interrupted: bool) -> list[Action]:
        u.finished = True
        if u in self._turns:
            self._turns.remove(u)
        self._by_upstream.pop(u.upstream_id, None)
        self._finished_upstream[u.upstream_id] = None
        if len(self._finished_upstream) > FINISHED_IDS_KEPT:
            del self._finished_upstream[next(iter(self._finished_upstream))]
        if interrupted:
            event: Emit = emit(
                u.id, avatar_speak_interrupted=pb.AvatarSpeakInterrupted(utterance_id=u.id)
            )
        else:
            event = emit(u.id, avatar_speak_ended=pb.AvatarSpeakEnded(utterance_id=u.id))
        return [event]

    def _finish_interrupted(self) -> list[Action]:
        self._interrupt_deadline = None
        actions: list[Action] = []
        for u in [u for u in self._turns if u.interrupt_requested]:
            if u.started:
                actions += self._finish(u, interrupted=True)
            else:  # Never started: no speak events, just forget it.
                u.finished = True
                self._turns.remove(u)
        return actions


def _event_ids(event: dict[str, Any]) -> tuple[object, ...]:
    """The ids a LiveAvatar speak or buffer event may name its utterance by, in lookup order."""
    task = event.get("task")
    return (
        event.get("event_id"),
        task.get("id") if isinstance(task, dict) else None,
        event.get("source_event_id"),
    )


def _fast_source(u: _Utterance, now: float) -> bool:
    """The utterance's audio arrives fast enough to start before the first packet is full."""
    if u.chunks < FAST_START_CHUNKS or u.arrived_bytes < FAST_START_MS * OUTPUT_BYTES_PER_MS:
        return False
    after_first_ms = (u.arrived_bytes - u.first_chunk_bytes) / OUTPUT_BYTES_PER_MS
    return after_first_ms >= FAST_START_RATE * (now - u.first_arrival) * 1000


_Handler = Callable[[LiteCore, dict[str, Any], float], list[Action]]
_UPSTREAM_HANDLERS: dict[str, _Handler] = {
    "session.state_updated": LiteCore._on_session_state,
    "agent.speak_started": LiteCore._on_speak_started,
    "agent.speak_ended": LiteCore._on_speak_ended,
    "agent.speak_interrupted": LiteCore._on_speak_interrupted,
    "agent.state_updated": LiteCore._on_agent_state,
    "error": LiteCore._on_error,
    "warning": LiteCore._on_warning,
    RECONNECTED_EVENT: LiteCore._on_upstream_reconnected,
}

"""A hand-clocked driver for the LITE sans-I/O core, shared by the tests/core/test_lite_core_*.py.

It speaks only the core's public API (requests, upstream events, timers, close) and records what
comes out: messages for LiveAvatar (with the time each went), client events and failures.
Expected values in the tests are written from the spec (README, the .proto, the LITE protocol in
/work/shared/reference/liveavatar-api.md), never imported from the core.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from avatar_bridge.actions import Action, Emit, Fail, SendUpstream
from avatar_bridge.audio import AudioConverter, AudioEncoding, AudioFormat
from avatar_bridge.lite.core import LiteCore
from avatar_bridge.session_config import SessionOptions
from avatarbridge.v1 import avatar_bridge_pb2 as pb

BYTES_PER_MS = 48
"""24 kHz mono PCM16 by the spec: 24 samples/ms x 2 bytes (not imported from the code)."""
PCM24 = AudioFormat(AudioEncoding.LINEAR16, 24000, 1)


def options(**overrides: Any) -> SessionOptions:
    """The README's documented defaults, literally, with `overrides`."""
    base = SessionOptions(
        first_packet_ms=400,
        packet_ms=1000,
        low_water_ms=300,
        keep_alive_idle_s=60.0,
        ready_timeout_s=20.0,
        drain_timeout_s=30.0,
        max_pending_ms=10_000,
    )
    return replace(base, **overrides)


_PATTERN = bytes((i * 7) % 256 for i in range(256))


def tone(ms: int) -> bytes:
    """Deterministic non-silent 24 kHz mono PCM16, `ms` milliseconds of it."""
    n = ms * BYTES_PER_MS
    return (_PATTERN * (n // 256 + 1))[:n]


class Harness:
    """A core plus everything it asked for, in order, on a clock the test moves."""

    def __init__(
        self,
        fmt: AudioFormat | None = PCM24,
        *,
        start: float = 0.0,
        silence_timeout_s: float | None = None,
        **opts: Any,
    ) -> None:
        self.now = start
        self.counter = 0
        self.core = LiteCore(
            options(**opts),
            AudioConverter(fmt) if fmt is not None else None,
            now=start,
            new_id=self._id,
            silence_timeout_s=silence_timeout_s,
        )
        self.upstream: list[dict[str, Any]] = []
        self.sent_at: list[float] = []
        self.events: list[pb.ConverseResponse] = []
        self.failures: list[Fail] = []

    def _id(self) -> str:
        self.counter += 1
        return f"id{self.counter}"

    def take(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendUpstream):
                self.upstream.append(action.message)
                self.sent_at.append(self.now)
            elif isinstance(action, Emit):
                self.events.append(action.response)
            elif isinstance(action, Fail):
                self.failures.append(action)
            else:  # pragma: no cover - LITE has no other action
                raise AssertionError(f"unexpected action {action!r}")

    # Inputs.

    def request(self, rid: str = "", **member: Any) -> None:
        self.take(self.core.handle_request(pb.ConverseRequest(request_id=rid, **member), self.now))

    def audio(self, data: bytes, rid: str = "") -> None:
        self.request(rid, audio=pb.AudioChunk(data=data))

    def speak_end(self, rid: str = "") -> None:
        self.request(rid, speak_end=pb.SpeakEnd())

    def interrupt(self, rid: str = "") -> None:
        self.request(rid, interrupt=pb.Interrupt())

    def eof(self) -> None:
        self.take(self.core.handle_client_eof(self.now))

    def close(self) -> None:
        self.take(self.core.close())

    def up(self, **event: Any) -> None:
        self.take(self.core.handle_upstream(event, self.now))

    def connect(self) -> None:
        self.up(type="session.state_updated", state="connected")

    def timer(self) -> None:
        self.take(self.core.handle_timer(self.now))

    def advance(self, seconds: float) -> None:
        """Move the clock by `seconds`, firing every deadline on the way, at its exact time."""
        self.advance_to(self.now + seconds)

    def advance_to(self, end: float) -> None:
        fired: float | None = None
        while True:
            deadline = self.core.next_deadline()
            if deadline is None or deadline > end:
                break
            if fired is not None and deadline <= fired:
                # A deadline the last tick did not move (the drain deadline stays once it has
                # passed: the adapter ends the call when `drained`). Nothing more is due.
                break
            self.now = fired = max(self.now, deadline)
            self.take(self.core.handle_timer(self.now))
        self.now = end

    # What came out.

    def sent(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.upstream if m["type"] == kind]

    def kinds_up(self) -> list[str]:
        return [str(m["type"]) for m in self.upstream]

    def packets(self) -> list[bytes]:
        """The PCM of each agent.speak, in order. Strict base64: no newline, no padding junk."""
        return [base64.b64decode(m["audio"], validate=True) for m in self.sent("agent.speak")]

    def packet_ms(self) -> list[float]:
        return [len(p) / BYTES_PER_MS for p in self.packets()]

    def packet_times(self) -> list[float]:
        return [
            t
            for m, t in zip(self.upstream, self.sent_at, strict=True)
            if m["type"] == "agent.speak"
        ]

    def sent_audio(self) -> bytes:
        return b"".join(self.packets())

    def speak_id(self, index: int = 0) -> str:
        """The upstream event_id of the index-th agent.speak."""
        return str(self.sent("agent.speak")[index]["event_id"])

    def kinds(self) -> list[str]:
        return [str(e.WhichOneof("event")) for e in self.events]

    def of(self, kind: str) -> list[Any]:
        """The payloads of every client event of one kind, in order."""
        return [getattr(e, kind) for e in self.events if e.WhichOneof("event") == kind]

    def with_rid(self, kind: str) -> list[tuple[str, Any]]:
        return [
            (e.request_id, getattr(e, kind)) for e in self.events if e.WhichOneof("event") == kind
        ]

    def dropped(self) -> list[tuple[str, int, int, int]]:
        """(utterance_id, input_byte_count, duration_ms, reason) of every AudioDropped."""
        return [
            (d.utterance_id, d.input_byte_count, d.duration_ms, d.reason)
            for d in self.of("audio_dropped")
        ]

    def speak_events(self) -> list[tuple[str, str]]:
        """(kind, utterance_id) of every avatar speak event, in order."""
        out = []
        for e in self.events:
            kind = e.WhichOneof("event")
            if kind in ("avatar_speak_started", "avatar_speak_ended", "avatar_speak_interrupted"):
                out.append((kind.removeprefix("avatar_speak_"), getattr(e, kind).utterance_id))
        return out

    def clear(self) -> None:
        """Forget what came out so far (the core is untouched)."""
        self.upstream.clear()
        self.sent_at.clear()
        self.events.clear()
        self.failures.clear()

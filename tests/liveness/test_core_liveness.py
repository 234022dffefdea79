"""The LITE core's liveness decisions, driven directly with a hand-moved clock: the playback
estimate behind interrupts and reconnects, and the silent-upstream bound."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from avatar_bridge.actions import Action, Emit, Fail, SendUpstream
from avatar_bridge.audio import AudioConverter, AudioEncoding, AudioFormat
from avatar_bridge.config import SessionDefaults
from avatar_bridge.errors import UpstreamClosed
from avatar_bridge.lite.core import LiteCore
from avatar_bridge.session_config import SessionOptions
from avatarbridge.v1 import avatar_bridge_pb2 as pb

PCM24 = AudioFormat(AudioEncoding.LINEAR16, 24000, 1)
BYTES_PER_MS = 48
"""24 kHz mono PCM16, the spec's 48,000 B/s."""


def ms(n: int) -> bytes:
    return b"\x01\x00" * (24 * n)


class Core:
    """A LiteCore plus what it asked for."""

    def __init__(self, silence_s: float | None = 2.0) -> None:
        d = SessionDefaults()
        options = SessionOptions(
            first_packet_ms=400,
            packet_ms=1000,
            low_water_ms=300,
            keep_alive_idle_s=d.keep_alive_idle_s,
            ready_timeout_s=d.ready_timeout_s,
            drain_timeout_s=d.drain_timeout_s,
            max_pending_ms=d.max_pending_ms,
        )
        self.now = 0.0
        self.core = LiteCore(
            replace(options),
            AudioConverter(PCM24),
            now=0.0,
            silence_timeout_s=silence_s,
        )
        self.events: list[pb.ConverseResponse] = []
        self.sent: list[dict[str, Any]] = []
        self.failures: list[Exception] = []

    def take(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Emit):
                self.events.append(action.response)
            elif isinstance(action, SendUpstream):
                self.sent.append(action.message)
            elif isinstance(action, Fail):
                self.failures.append(action.error)

    def request(self, rid: str = "", **member: Any) -> None:
        self.take(self.core.handle_request(pb.ConverseRequest(request_id=rid, **member), self.now))

    def up(self, **event: Any) -> None:
        self.take(self.core.handle_upstream(event, self.now))

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while (deadline := self.core.next_deadline()) is not None and deadline <= end:
            self.now = max(self.now, deadline)
            self.take(self.core.handle_timer(self.now))
            if self.failures:
                return
        self.now = end

    def dropped(self) -> list[pb.AudioDropped]:
        return [e.audio_dropped for e in self.events if e.HasField("audio_dropped")]

    def warnings(self) -> list[pb.Warning]:
        return [e.warning for e in self.events if e.HasField("warning")]


def speaking(c: Core, audio_ms: int, rid: str = "u1") -> str:
    """Connect, send `audio_ms` as one utterance, and have LiveAvatar start it; returns its
    upstream id."""
    c.up(type="session.state_updated", state="connected")
    c.request(rid, audio=pb.AudioChunk(data=ms(audio_ms)))
    c.request(speak_end=pb.SpeakEnd())
    upstream_id = str(c.sent[0]["event_id"])
    c.up(type="agent.speak_started", event_id=upstream_id)
    return upstream_id


def test_reconnect_reports_the_audio_not_played_before_the_drop() -> None:
    c = Core()
    speaking(c, 2000)
    c.advance(0.5)  # 500 ms of the 2,000 ms played by the estimate; then the socket drops.
    dropped_at = c.now
    c.advance(0.7)  # Reconnecting took 700 ms: nothing played meanwhile.
    c.up(type="bridge.upstream_reconnected", dropped_at=dropped_at, attempts=2)

    [dropped] = c.dropped()
    assert dropped.utterance_id == "u1"
    assert dropped.reason == pb.DROP_REASON_UPSTREAM_LOST
    assert dropped.duration_ms == 1500
    assert dropped.input_byte_count == 1500 * BYTES_PER_MS
    [warning] = c.warnings()
    assert warning.code == "UPSTREAM_RECONNECTED"
    assert "after 2 attempt(s); 1500 ms of audio" in warning.message
    kinds = [e.WhichOneof("event") for e in c.events]
    assert kinds.count("avatar_speak_interrupted") == 1
    # The cut turn is over: a late speak end from the old socket changes nothing.
    c.up(type="agent.speak_ended", event_id=c.sent[0]["event_id"])
    assert "avatar_speak_ended" not in [e.WhichOneof("event") for e in c.events]


def test_reconnect_with_nothing_in_flight_loses_nothing() -> None:
    c = Core()
    c.up(type="session.state_updated", state="connected")
    c.up(type="bridge.upstream_reconnected", dropped_at=0.0, attempts=1)
    assert c.dropped() == []
    [warning] = c.warnings()
    assert "0 ms of audio" in warning.message


def test_interrupt_counts_sent_audio_not_yet_played() -> None:
    c = Core()
    speaking(c, 3000)
    c.advance(1.0)
    c.request("i1", interrupt=pb.Interrupt())
    [dropped] = c.dropped()
    assert dropped.reason == pb.DROP_REASON_INTERRUPTED
    assert dropped.duration_ms == 2000


def test_second_utterance_plays_after_the_first_in_the_estimate() -> None:
    c = Core()
    speaking(c, 1000, "u1")
    c.request("u2", audio=pb.AudioChunk(data=ms(1000)))
    c.request(speak_end=pb.SpeakEnd())
    c.advance(0.25)
    c.request(interrupt=pb.Interrupt())
    # u1: 750 ms unplayed; u2 starts only after u1's 1,000 ms: all of it unplayed.
    assert {d.utterance_id: d.duration_ms for d in c.dropped()} == {"u1": 750, "u2": 1000}


def test_silent_upstream_is_warned_then_failed_as_closed() -> None:
    c = Core(silence_s=2.0)
    speaking(c, 1000)
    c.advance(2.9)  # The audio ends at 1 s; the bound runs to 3 s.
    assert c.failures == [] and c.warnings() == []
    c.advance(0.2)
    [warning] = c.warnings()
    assert warning.code == "UPSTREAM_SILENT"
    [failure] = c.failures
    assert isinstance(failure, UpstreamClosed)
    assert "no event" in failure.message


def test_any_event_restarts_the_silence_bound() -> None:
    c = Core(silence_s=2.0)
    speaking(c, 1000)
    c.advance(2.5)
    c.up(type="agent.audio_buffer_appended")  # At 2.5 s: the bound now runs to 4.5 s.
    c.advance(1.9)
    assert c.failures == []
    c.advance(0.2)
    assert len(c.failures) == 1


def test_no_turn_in_flight_is_never_silent() -> None:
    c = Core(silence_s=2.0)
    c.up(type="session.state_updated", state="connected")
    c.advance(30.0)
    assert c.failures == [] and c.warnings() == []


def test_a_client_pausing_mid_utterance_is_not_an_upstream_fault() -> None:
    """LiveAvatar ran dry (speak ended before the client's speak_end) and the client is
    thinking: the wait is on the client, so no silence bound runs."""
    c = Core(silence_s=2.0)
    c.up(type="session.state_updated", state="connected")
    c.request("u1", audio=pb.AudioChunk(data=ms(500)))
    upstream_id = str(c.sent[0]["event_id"])
    c.up(type="agent.speak_started", event_id=upstream_id)
    c.advance(0.6)
    c.up(type="agent.speak_ended", event_id=upstream_id)  # A starvation gap, not the end.
    c.advance(30.0)
    assert c.failures == [] and c.warnings() == []
    # The client goes on: the avatar should speak again, so the bound runs again.
    c.request(audio=pb.AudioChunk(data=ms(500)))
    c.advance(3.0)
    assert [w.code for w in c.warnings()] == ["UPSTREAM_SILENT"]

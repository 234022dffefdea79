"""The LITE sans-I/O core, driven directly (tests/core/lite_harness.py): no sockets, a
hand-moved clock."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from avatar_bridge.audio import AudioEncoding, AudioFormat
from avatar_bridge.errors import UpstreamTimeout
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .lite_harness import Harness, tone

MAX_PACKET_B64 = 1_000_000
OUTPUT_BYTES_PER_MS = 48
"""24 kHz mono PCM16 by the spec: 24 samples/ms x 2 bytes = 48 bytes per ms (not imported)."""


def test_requests_before_connected_are_held_and_replayed_in_order() -> None:
    h = Harness()
    h.request("l1", start_listening=pb.StartListening())
    h.audio(tone(500), rid="u1")
    h.request("e1", speak_end=pb.SpeakEnd())
    assert h.upstream == []
    assert h.core.pending_audio_ms() == 500
    h.connect()
    kinds = [m["type"] for m in h.upstream]
    assert kinds == ["agent.start_listening", "agent.speak", "agent.speak", "agent.speak_end"]
    assert h.sent_audio() == tone(500)
    assert h.events[0].session_state_changed.state == pb.SESSION_STATE_CONNECTED


def test_ready_timeout_fails_with_deadline_exceeded() -> None:
    h = Harness(ready_timeout_s=5)
    h.advance(4.9)
    assert not h.failures
    h.advance(0.2)
    assert len(h.failures) == 1
    assert isinstance(h.failures[0].error, UpstreamTimeout)
    assert "connected within 5 s" in h.failures[0].error.message


def test_first_packet_then_one_second_packets_share_one_event_id() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(3000), rid="u1")
    h.request("e1", speak_end=pb.SpeakEnd())
    speaks = h.sent("agent.speak")
    sizes = [len(base64.b64decode(m["audio"])) for m in speaks]
    assert sizes == [
        400 * OUTPUT_BYTES_PER_MS,
        1000 * OUTPUT_BYTES_PER_MS,
        1000 * OUTPUT_BYTES_PER_MS,
        600 * OUTPUT_BYTES_PER_MS,
    ]
    ids = {m["event_id"] for m in speaks}
    assert len(ids) == 1
    assert h.sent("agent.speak_end")[0]["event_id"] in ids
    assert all(len(m["audio"]) < MAX_PACKET_B64 for m in speaks)


def test_audio_below_first_packet_waits_until_speak_end() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(100))
    h.advance(5)
    assert h.sent("agent.speak") == []
    h.request(speak_end=pb.SpeakEnd())
    assert h.sent_audio() == tone(100)


def test_real_time_input_is_flushed_before_the_avatar_runs_dry() -> None:
    """A client streaming 100 ms every 100 ms must never let the estimated queue empty."""
    h = Harness(first_packet_ms=400, low_water_ms=300)
    h.connect()
    for _ in range(40):
        h.audio(tone(100))
        h.advance(0.1)
    speaks = h.sent("agent.speak")
    assert len(h.sent_audio()) >= 3.5 * 1000 * OUTPUT_BYTES_PER_MS
    # Packets after the first are small (real-time), not held back for a full second.
    assert max(len(base64.b64decode(m["audio"])) for m in speaks[1:]) <= 200 * OUTPUT_BYTES_PER_MS


def test_interrupt_drops_pending_audio_and_reports_it() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(700), rid="u1")  # 400 ms sent, 300 ms pending
    h.advance(0.05)  # By the playback estimate, 50 ms of the 400 ms sent have played.
    h.request("i1", interrupt=pb.Interrupt())
    dropped = [e.audio_dropped for e in h.events if e.HasField("audio_dropped")]
    assert len(dropped) == 1
    assert dropped[0].utterance_id == "u1"
    # 300 ms never sent plus 350 ms sent but not played.
    assert dropped[0].input_byte_count == 650 * OUTPUT_BYTES_PER_MS
    assert dropped[0].duration_ms == 650
    assert dropped[0].reason == pb.DROP_REASON_INTERRUPTED
    assert h.upstream[-1]["type"] == "agent.interrupt"
    # Nothing of u1 is sent after the interrupt, even at speak_end.
    h.request(speak_end=pb.SpeakEnd())
    assert h.upstream[-1]["type"] == "agent.interrupt"


def test_interrupt_while_talking_yields_interrupted_once() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(400), rid="u1")
    uid = h.sent("agent.speak")[0]["event_id"]
    h.up(type="agent.speak_started", event_id=uid, task={"id": uid})
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.request("i1", interrupt=pb.Interrupt())
    h.up(type="agent.audio_buffer_cleared", source_event_id=h.upstream[-1]["event_id"])
    h.up(type="agent.speak_interrupted", event_id=uid)
    h.up(type="agent.state_updated", previous_state="talking", new_state="idle")
    kinds = h.kinds()
    assert kinds.count("avatar_speak_started") == 1
    assert kinds.count("avatar_speak_interrupted") == 1
    assert "avatar_speak_ended" not in kinds


def test_interrupt_before_avatar_started_yields_no_speak_events() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(400), rid="u1")
    h.request(interrupt=pb.Interrupt())
    h.advance(10)
    assert "avatar_speak_started" not in h.kinds()
    assert "avatar_speak_interrupted" not in h.kinds()


def test_unconfirmed_interrupt_is_reported_after_a_grace_period() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(400), rid="u1")
    h.up(type="agent.speak_started", event_id=h.sent("agent.speak")[0]["event_id"])
    h.request(interrupt=pb.Interrupt())
    assert "avatar_speak_interrupted" not in h.kinds()
    h.advance(5)
    assert h.kinds().count("avatar_speak_interrupted") == 1


def test_starvation_gap_is_not_the_end_of_the_utterance() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(400), rid="u1")
    uid = h.sent("agent.speak")[0]["event_id"]
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)  # Ran dry: the client is slow.
    h.up(type="error", error={"type": "video_starvation", "message": "audio too slow"})
    assert "avatar_speak_ended" not in h.kinds()
    assert any(e.warning.code == "VIDEO_STARVATION" for e in h.events)
    h.audio(tone(400))
    h.request(speak_end=pb.SpeakEnd())
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)
    assert h.kinds().count("avatar_speak_started") == 1
    assert h.kinds().count("avatar_speak_ended") == 1


def test_gap_then_speak_end_with_nothing_more_ends_at_once() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(400), rid="u1")
    uid = h.sent("agent.speak")[0]["event_id"]
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.up(type="agent.state_updated", previous_state="talking", new_state="idle")
    assert "avatar_speak_ended" not in h.kinds()
    h.request(speak_end=pb.SpeakEnd())
    ended = [e for e in h.events if e.HasField("avatar_speak_ended")]
    assert [e.avatar_speak_ended.utterance_id for e in ended] == ["u1"]
    assert h.sent("agent.speak_end")[0]["event_id"] == uid


def test_keep_alive_after_idle_and_not_while_busy() -> None:
    h = Harness(keep_alive_idle_s=60)
    h.connect()
    h.advance(59)
    assert h.sent("session.keep_alive") == []
    h.request(start_listening=pb.StartListening())
    h.advance(59)
    assert h.sent("session.keep_alive") == []
    h.advance(2)
    assert len(h.sent("session.keep_alive")) == 1
    h.advance(60)
    assert len(h.sent("session.keep_alive")) == 2


def test_client_keep_alive_goes_upstream_now() -> None:
    h = Harness()
    h.connect()
    h.request("k1", keep_alive=pb.KeepAlive())
    assert [m["type"] for m in h.upstream] == ["session.keep_alive"]


def test_full_only_commands_are_in_stream_errors_with_the_request_id() -> None:
    h = Harness()
    h.connect()
    h.request("t1", speak_text=pb.SpeakText(text="hi"))
    h.request("p1", push_to_talk_start=pb.PushToTalkStart())
    errors = [e for e in h.events if e.HasField("error")]
    assert [(e.request_id, e.error.code) for e in errors] == [
        ("t1", "UNSUPPORTED_IN_MODE"),
        ("p1", "UNSUPPORTED_IN_MODE"),
    ]
    assert "LITE" in errors[0].error.message
    assert not h.failures


def test_bad_frame_multiple_fails_naming_the_expected_multiple() -> None:
    h = Harness(AudioFormat(AudioEncoding.LINEAR16, 16000, 2))
    h.connect()
    h.audio(b"\x00" * 1001)
    assert len(h.failures) == 1
    assert "multiple of 4" in h.failures[0].error.message


def test_unknown_upstream_events_pass_through() -> None:
    h = Harness()
    h.up(type="agent.brand_new", value=3, nested={"a": "b"})
    event = h.events[-1].upstream_event
    assert event.type == "agent.brand_new"
    assert event.payload["nested"]["a"] == "b"


def test_upstream_error_maps_back_to_the_request() -> None:
    h = Harness()
    h.connect()
    h.request("l1", start_listening=pb.StartListening())
    event_id = h.upstream[-1]["event_id"]
    h.up(
        type="error", error={"type": "invalid_request_error", "message": "no", "event_id": event_id}
    )
    error = h.events[-1]
    assert error.request_id == "l1"
    assert error.error.code == "INVALID_REQUEST_ERROR"
    assert error.error.source == pb.ERROR_SOURCE_UPSTREAM


def test_client_eof_flushes_and_drains_after_the_avatar_finishes() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(200), rid="u1")
    h.take(h.core.handle_client_eof(h.now))
    assert h.sent_audio() == tone(200)
    assert h.sent("agent.speak_end")
    assert not h.core.drained
    uid = h.sent("agent.speak")[0]["event_id"]
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)
    assert h.core.drained


def test_eof_before_ready_waits_for_ready_then_sends_everything() -> None:
    h = Harness()
    h.audio(tone(300), rid="u1")
    h.take(h.core.handle_client_eof(h.now))
    assert not h.core.drained
    h.connect()
    assert h.sent_audio() == tone(300)
    assert h.sent("agent.speak_end")


# Properties over arbitrary inputs.

FAMILIES = ("documented", "observed", "both", "repeated")
"""`repeated`: the documented events with every start sent twice (a redelivered event), which
must not yield a second avatar_speak_started."""


def play_turn(h: Harness, uid: str, family: str, *, interrupted: bool = False) -> None:
    """What LiveAvatar sends for one turn, in one event family."""
    if family in ("documented", "both", "repeated"):
        h.up(type="agent.speak_started", event_id=uid, task={"id": uid})
    if family == "repeated":
        h.up(type="agent.speak_started", event_id=uid, task={"id": uid})
        h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    if family in ("observed", "both"):
        h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    end = "agent.speak_interrupted" if interrupted else "agent.speak_ended"
    if family in ("documented", "both", "repeated"):
        h.up(type=end, event_id=uid, task={"id": uid})
    if family in ("observed", "both"):
        h.up(type="agent.state_updated", previous_state="talking", new_state="idle")


@settings(max_examples=60, deadline=None)
@given(
    families=st.lists(st.sampled_from(FAMILIES), min_size=1, max_size=5),
    sizes=st.lists(st.integers(min_value=20, max_value=2500), min_size=1, max_size=5),
)
def test_each_turn_yields_one_started_and_one_ended_whatever_the_family(
    families: list[str], sizes: list[int]
) -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    played: list[str] = []
    for index, (family, ms) in enumerate(zip(families, sizes, strict=False)):
        rid = f"u{index}"
        h.audio(tone(ms), rid=rid)
        h.request(speak_end=pb.SpeakEnd())
        uid = h.sent("agent.speak")[-1]["event_id"]
        play_turn(h, uid, family)
        played.append(rid)
    starts = [
        e.avatar_speak_started.utterance_id for e in h.events if e.HasField("avatar_speak_started")
    ]
    ends = [e.avatar_speak_ended.utterance_id for e in h.events if e.HasField("avatar_speak_ended")]
    assert starts == played
    assert ends == played
    for e in h.events:
        if e.HasField("avatar_speak_started"):
            assert e.request_id == e.avatar_speak_started.utterance_id


@settings(max_examples=80, deadline=None)
@given(
    chunks=st.lists(st.integers(min_value=1, max_value=6000), min_size=1, max_size=30),
    first_ms=st.integers(min_value=20, max_value=2000),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=30, max_size=30),
)
def test_every_byte_is_sent_once_in_order_in_bounded_packets(
    chunks: list[int], first_ms: int, gaps: list[float]
) -> None:
    h = Harness(first_packet_ms=first_ms)
    h.connect()
    data = tone(sum(chunks) // 24 + 1)[: 2 * sum(chunks)]
    sent_in = b""
    offset = 0
    for samples, gap in zip(chunks, gaps, strict=False):
        piece = data[offset : offset + 2 * samples]
        offset += 2 * samples
        h.audio(piece)
        sent_in += piece
        h.advance(gap)
    h.request(speak_end=pb.SpeakEnd())
    assert h.sent_audio() == sent_in
    speaks = h.sent("agent.speak")
    assert len({m["event_id"] for m in speaks}) == 1
    largest = max(first_ms, 1000) * OUTPUT_BYTES_PER_MS  # The first packet may exceed later ones.
    assert all(len(base64.b64decode(m["audio"])) <= largest for m in speaks)
    assert all(len(m["audio"]) < MAX_PACKET_B64 for m in speaks)


@settings(max_examples=60, deadline=None)
@given(
    before=st.integers(min_value=0, max_value=3000),
    after=st.integers(min_value=0, max_value=3000),
)
def test_sent_plus_dropped_accounts_for_every_byte(before: int, after: int) -> None:
    """Interrupt mid-stream with no time passing: everything given before it is dropped (sent
    but not played, or never sent); after it, bytes sent plus bytes dropped = bytes given."""
    h = Harness(first_packet_ms=400)
    h.connect()
    if before:
        h.audio(tone(before))
    h.request(interrupt=pb.Interrupt())
    sent_before = len(h.sent_audio())
    at_interrupt = sum(
        e.audio_dropped.input_byte_count for e in h.events if e.HasField("audio_dropped")
    )
    assert at_interrupt == 2 * before * 24
    if after:
        h.audio(tone(after))
    h.take(h.core.close())
    dropped = sum(e.audio_dropped.input_byte_count for e in h.events if e.HasField("audio_dropped"))
    assert len(h.sent_audio()) - sent_before + dropped - at_interrupt == 2 * after * 24


def test_real_time_chunks_go_upstream_the_moment_they_arrive() -> None:
    """No chunk waits for the low-water timer: at 20 ms frames, one packet per frame on arrival."""
    h = Harness(first_packet_ms=400, low_water_ms=300)
    h.connect()
    for index in range(200):  # 4 s of 20 ms frames in real time
        before = len(h.sent("agent.speak"))
        h.audio(tone(20))
        if index >= 20:  # past the 400 ms first packet
            assert len(h.sent("agent.speak")) == before + 1, f"frame {index} was held back"
        h.advance(0.02)


def test_a_fast_client_goes_upstream_no_faster_than_real_time_plus_the_lead() -> None:
    """60 s of audio offered at once: upstream gets at most elapsed + low water + 2 packets."""
    h = Harness(first_packet_ms=400, low_water_ms=300, packet_ms=1000)
    h.connect()
    h.audio(tone(60_000))
    for step in range(1, 101):  # 10 s in 100 ms steps
        h.advance(0.1)
        sent_ms = len(h.sent_audio()) / OUTPUT_BYTES_PER_MS
        lead_ms = 300 + 2 * 1000
        assert sent_ms <= step * 100 + lead_ms, f"{sent_ms} ms upstream after {step / 10} s"
    # ... and the avatar never ran dry: the queue never fell below the low-water mark.
    assert len(h.sent_audio()) / OUTPUT_BYTES_PER_MS >= 10_000 + 300
    assert all(
        len(base64.b64decode(m["audio"])) <= 1000 * OUTPUT_BYTES_PER_MS
        for m in h.sent("agent.speak")
    )


def test_a_fast_source_starts_before_the_first_packet_is_full() -> None:
    """20 ms frames at 2x real time: speech starts with 120 ms in hand, not 400 ms."""
    h = Harness(first_packet_ms=400)
    h.connect()
    for _ in range(6):  # 120 ms of audio over 50 ms
        h.audio(tone(20))
        h.advance(0.01)
    assert len(h.sent_audio()) == 120 * OUTPUT_BYTES_PER_MS


def test_a_real_time_source_keeps_the_full_first_packet() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    for _ in range(19):  # 380 ms in real time
        h.audio(tone(20))
        h.advance(0.02)
    assert h.sent("agent.speak") == []
    h.audio(tone(20))
    assert len(h.sent_audio()) == 400 * OUTPUT_BYTES_PER_MS


def test_audio_held_before_connected_is_dropped_per_utterance_on_interrupt() -> None:
    """Each held utterance gets its own AudioDropped, named like an utterance that had played:
    its first chunk's request_id, else utterance-N."""
    h = Harness()
    h.audio(tone(100), rid="first")
    h.audio(tone(50))
    h.request(speak_end=pb.SpeakEnd())
    h.audio(tone(200))  # no request_id: a generated name
    h.request("stop", interrupt=pb.Interrupt())
    dropped = [e.audio_dropped for e in h.events if e.HasField("audio_dropped")]
    # 24 kHz PCM16 input: 48 bytes per millisecond.
    assert [(d.utterance_id, d.input_byte_count, d.duration_ms) for d in dropped] == [
        ("first", 150 * 48, 150),
        ("utterance-2", 200 * 48, 200),
    ]
    assert all(d.reason == pb.DROP_REASON_INTERRUPTED for d in dropped)
    h.connect()
    assert h.sent_audio() == b""  # Nothing of it goes upstream once connected.

"""LITE core: packet sizes and pacing, the fast start, keep-alive, readiness and drain deadlines.

The policy, from the README ("How LITE audio is sent") and the core's docstring: the first packet
holds `first_packet_ms`; later ones up to `packet_ms`; a packet of S ms goes once the avatar's
estimated queue (real time from the first send) is at most `low_water_ms` + S; a chunk arriving
while the queue is at most `low_water_ms` + `first_packet_ms` goes at once; a source arriving at
1.3x real time or faster (over its first 120 ms and 4 chunks) starts before the first packet is
full. Times are binary fractions where a boundary is tested, so "at most" is exact.
"""

from __future__ import annotations

import pytest

from avatar_bridge.audio import AudioEncoding, AudioFormat
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .lite_harness import BYTES_PER_MS, Harness, tone

# Packet sizes.


def test_the_first_packet_holds_exactly_first_packet_ms_then_packets_of_packet_ms() -> None:
    h = Harness(first_packet_ms=500, packet_ms=750, low_water_ms=250)
    h.connect()
    h.audio(tone(499))
    assert h.packets() == []  # One millisecond short of the first packet.
    h.audio(tone(1))
    assert h.packet_ms() == [500]
    h.audio(tone(2000))
    h.speak_end()
    assert h.packet_ms() == [500, 750, 750, 500]
    assert h.sent_audio() == tone(499) + tone(1) + tone(2000)


def test_speak_end_flushes_a_short_utterance_in_packets_no_larger_than_packet_ms() -> None:
    """A first packet larger than packet_ms never filled: the flush still cuts at packet_ms."""
    h = Harness(first_packet_ms=2000, packet_ms=1000)
    h.connect()
    h.audio(tone(1500))
    assert h.packets() == []
    h.speak_end()
    assert h.packet_ms() == [1000, 500]
    assert h.kinds_up() == ["agent.speak", "agent.speak", "agent.speak_end"]


def test_every_packet_of_an_utterance_and_its_speak_end_share_one_fresh_event_id() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(1500), rid="u1")
    h.speak_end()
    h.audio(tone(400), rid="u2")
    h.speak_end()
    assert [(m["type"], m["event_id"]) for m in h.upstream] == [
        ("agent.speak", "id1"),
        ("agent.speak", "id1"),
        ("agent.speak", "id1"),
        ("agent.speak_end", "id1"),
        ("agent.speak", "id2"),
        ("agent.speak_end", "id2"),
    ]
    assert all(set(m) == {"type", "event_id", "audio"} for m in h.sent("agent.speak"))
    assert h.sent("agent.speak_end") == [
        {"type": "agent.speak_end", "event_id": "id1"},
        {"type": "agent.speak_end", "event_id": "id2"},
    ]
    assert h.packet_ms() == [400, 1000, 100, 400]


def test_an_odd_byte_count_never_splits_a_sample() -> None:
    """Packets carry whole PCM16 samples (2 bytes) whatever the chunking."""
    h = Harness(AudioFormat(AudioEncoding.LINEAR16, 24000, 2), first_packet_ms=20, packet_ms=20)
    h.connect()
    for _ in range(7):
        h.audio(b"\x01\x00\x02\x00" * 333)  # 333 stereo frames -> 666 output bytes
    h.speak_end()
    assert all(len(p) % 2 == 0 for p in h.packets())
    assert len(h.sent_audio()) == 7 * 666


# Pacing by the estimated playback queue.


def test_a_burst_is_paced_so_each_packet_goes_when_the_queue_is_down_to_low_water_plus_it() -> None:
    """5 s offered at t=0 with first 400 ms, packets 1 s, low water 300 ms.

    t=0: 400 ms (queue 0) and 1000 ms (queue 0.4 s <= 0.3 + 1.0) go; queue now 1.4 s.
    Each next 1 s packet waits for the queue to fall to 1.3 s, so one per second from t=0.1;
    the last 600 ms goes when the queue is down to 0.9 s.
    """
    h = Harness(first_packet_ms=400, packet_ms=1000, low_water_ms=300)
    h.connect()
    h.audio(tone(5000))
    assert h.packet_ms() == [400, 1000]
    assert h.core.next_deadline() == pytest.approx(0.1)
    h.advance(10)
    assert h.packet_ms() == [400, 1000, 1000, 1000, 1000, 600]
    assert h.packet_times() == pytest.approx([0, 0, 0.1, 1.1, 2.1, 3.5])
    assert h.sent_audio() == tone(5000)


def test_a_chunk_arriving_while_the_queue_is_at_most_low_water_plus_first_packet_goes_at_once() -> (
    None
):
    """Low water 250 ms, first packet 500 ms: the arrival threshold is a 750 ms queue.

    125 ms chunks at t=0 after the first packet: each goes on arrival while the queue before it
    is <= 750 ms (500, 625, 750: the last exactly at the mark), although by the low-water rule a
    125 ms packet waits for a 375 ms queue. The next (queue 875 ms) waits for that: t=0.5.
    """
    h = Harness(first_packet_ms=500, packet_ms=1000, low_water_ms=250)
    h.connect()
    h.audio(tone(500))
    for _ in range(3):
        h.audio(tone(125))
    assert h.packet_ms() == [500, 125, 125, 125]
    h.audio(tone(125))
    assert h.packet_ms() == [500, 125, 125, 125]
    assert h.core.next_deadline() == 0.5
    h.advance_to(0.5 - 1 / 1024)
    assert len(h.packets()) == 4
    h.advance_to(0.5)
    assert h.packet_ms() == [500, 125, 125, 125, 125]
    assert h.packet_times() == [0, 0, 0, 0, 0.5]


def test_a_timer_tick_is_not_an_arrival() -> None:
    """Between arrivals only the low-water rule sends: at t=0.25 the queue (625 ms) is under the
    arrival threshold (750 ms) but a 125 ms packet waits for 375 ms."""
    h = Harness(first_packet_ms=500, packet_ms=1000, low_water_ms=250)
    h.connect()
    h.audio(tone(500))
    for _ in range(4):
        h.audio(tone(125))
    assert h.packet_ms() == [500, 125, 125, 125]
    h.now = 0.25
    h.timer()
    assert h.packet_ms() == [500, 125, 125, 125]


def test_one_chunk_can_fill_several_packets_each_judged_against_the_queue_it_leaves() -> None:
    """875 ms in one chunk, first 500, packets 250, low water 250: 500 goes (queue 0), 250 goes
    (queue 500 ms = 250 + 250), 125 goes because the queue is then exactly 750 ms, the
    arrival threshold."""
    h = Harness(first_packet_ms=500, packet_ms=250, low_water_ms=250)
    h.connect()
    h.audio(tone(875))
    assert h.packet_ms() == [500, 250, 125]


def test_a_short_remainder_goes_with_the_first_packet_while_the_queue_is_short() -> None:
    """450 ms: 400 ms, then the last 50 ms at once (queue 400 ms <= 300 + 400), although by the
    low-water rule alone a 50 ms packet would wait for a 350 ms queue."""
    h = Harness(first_packet_ms=400, packet_ms=1000, low_water_ms=300)
    h.connect()
    h.audio(tone(450))
    assert h.packet_ms() == [400, 50]


def test_a_timer_before_the_due_time_sends_nothing() -> None:
    h = Harness(first_packet_ms=500, packet_ms=1000, low_water_ms=250)
    h.connect()
    h.audio(tone(3000))  # 500 + 1000 go; queue 1.5 s; the next 1 s packet is due at 0.25
    assert h.packet_ms() == [500, 1000]
    h.now = 0.125
    h.timer()
    assert h.packet_ms() == [500, 1000]
    h.now = 0.25
    h.timer()
    assert h.packet_ms() == [500, 1000, 1000]


def test_the_queue_estimate_restarts_from_now_after_the_avatar_caught_up() -> None:
    """Playback is real time from each send: a packet sent after the queue ran dry is queued
    from now, not from the old end."""
    h = Harness(first_packet_ms=500, packet_ms=1000, low_water_ms=250)
    h.connect()
    h.audio(tone(500))
    h.speak_end()
    h.advance(4)  # The 500 ms played out long ago.
    h.audio(tone(500))
    h.audio(tone(1000))  # 1.0 s packet: queue 0.5 s <= 0.25 + 1.0: at once
    h.audio(tone(1000))  # queue 1.5 s: waits for 1.25 s, so 0.25 s after t=4
    assert h.packet_ms() == [500, 500, 1000]
    assert h.core.next_deadline() == 4.25


def test_real_time_chunks_after_the_first_packet_each_go_as_they_arrive() -> None:
    h = Harness(first_packet_ms=400, low_water_ms=300)
    h.connect()
    for _ in range(40):  # 100 ms every 100 ms
        h.audio(tone(100))
        h.advance(0.1)
    assert h.packet_ms() == [400] + [100] * 36
    assert h.sent_audio() == tone(100) * 40


# Fast sources start before the first packet is full.


def test_four_chunks_and_120_ms_arriving_fast_start_at_once() -> None:
    """30 ms chunks every 20 ms: 90 ms after the first chunk in 60 ms (1.5x real time)."""
    h = Harness(first_packet_ms=400)
    h.connect()
    for _ in range(3):
        h.audio(tone(30))
        h.advance(0.02)
    assert h.packets() == []
    h.audio(tone(30))
    assert h.packet_ms() == [120]


def test_three_fast_chunks_are_not_enough_to_trust_the_rate() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    for _ in range(3):
        h.audio(tone(60))  # 180 ms in 3 chunks at t=0: fast, but only 3 chunks
    assert h.packets() == []
    h.audio(tone(60))
    assert h.packet_ms() == [240]


def test_fast_chunks_under_120_ms_wait_for_more_audio() -> None:
    h = Harness(first_packet_ms=400)
    h.connect()
    for _ in range(5):
        h.audio(tone(23))  # 115 ms in 5 chunks at t=0
    assert h.packets() == []
    h.audio(tone(5))  # 120 ms
    assert h.packet_ms() == [120]


def test_the_rate_threshold_is_1_3_times_real_time_after_the_first_chunk() -> None:
    """90 ms arrived after the first chunk: over 69 ms that is 1.304x (fast), over 70 ms 1.286x."""
    fast = Harness(first_packet_ms=400)
    fast.connect()
    fast.audio(tone(30))
    fast.advance(0.069)
    for _ in range(3):
        fast.audio(tone(30))
    assert fast.packet_ms() == [120]

    slow = Harness(first_packet_ms=400)
    slow.connect()
    slow.audio(tone(30))
    slow.advance(0.070)
    for _ in range(3):
        slow.audio(tone(30))
    assert slow.packets() == []


def test_exactly_1_3_times_real_time_counts_as_fast_whenever_the_utterance_starts() -> None:
    """At t=8: 40 ms, then 81.25 ms in 3 chunks 62.5 ms later: 81.25 = 1.3 x 62.5, exactly."""
    h = Harness(first_packet_ms=400)
    h.connect()
    h.advance_to(8.0)
    h.audio(tone(40))
    h.advance_to(8.0625)
    for _ in range(3):
        h.audio(tone(40)[:1300])
    assert [len(p) for p in h.packets()] == [40 * BYTES_PER_MS + 3 * 1300]


def test_a_large_first_chunk_does_not_make_a_real_time_source_look_fast() -> None:
    """The first chunk marks time zero: 300 ms at once, then 20 ms every 20 ms, is real time."""
    h = Harness(first_packet_ms=400)
    h.connect()
    h.audio(tone(300))
    for _ in range(4):
        h.advance(0.02)
        h.audio(tone(20))
    assert h.packets() == []
    h.advance(0.02)
    h.audio(tone(20))
    assert h.packet_ms() == [400]


def test_the_fast_start_is_judged_only_when_a_chunk_arrives() -> None:
    """A fast source's timer tick sends nothing early; the next chunk does."""
    h = Harness(first_packet_ms=400)
    h.connect()
    for _ in range(4):
        h.audio(tone(20))  # 80 ms at t=0: not yet 120 ms
    h.advance(1)
    assert h.packets() == []


# Keep-alive, readiness, drain.


def test_keep_alive_goes_exactly_keep_alive_idle_s_after_the_last_message() -> None:
    h = Harness(keep_alive_idle_s=8.0)
    h.advance(3)
    h.connect()  # Connecting counts as traffic: the idle clock starts at t=3.
    assert h.core.next_deadline() == 11.0
    h.advance_to(11.0 - 1 / 256)
    assert h.sent("session.keep_alive") == []
    h.advance_to(11.0)
    assert h.upstream == [{"type": "session.keep_alive", "event_id": "id1"}]
    assert h.core.next_deadline() == 19.0


def test_every_command_resets_the_keep_alive_clock() -> None:
    h = Harness(keep_alive_idle_s=8.0)
    h.connect()
    h.advance(2)
    h.request("k", keep_alive=pb.KeepAlive())
    assert h.core.next_deadline() == 10.0
    h.advance(1)
    h.request("l", start_listening=pb.StartListening())
    assert h.core.next_deadline() == 11.0
    h.advance(2)
    h.request("s", stop_listening=pb.StopListening())
    assert h.core.next_deadline() == 13.0
    h.advance(6)
    h.audio(tone(400))
    assert h.core.next_deadline() == 19.0


def test_the_ready_deadline_is_ready_timeout_s_after_the_start() -> None:
    h = Harness(start=100.0, ready_timeout_s=7.5)
    assert h.core.next_deadline() == 107.5
    h.now = 107.25
    h.timer()
    assert h.failures == []
    h.now = 107.5
    h.timer()
    assert [f.error.message for f in h.failures] == [
        "LiveAvatar session did not report state connected within 7.5 s"
    ]
    assert h.core.next_deadline() is None


def test_a_timer_before_connected_sends_nothing_even_past_the_keep_alive_idle_time() -> None:
    h = Harness(keep_alive_idle_s=1.0, ready_timeout_s=20)
    h.audio(tone(500))
    h.now = 5.0
    h.timer()
    assert h.upstream == []
    assert h.failures == []


def test_once_connected_the_ready_deadline_no_longer_applies() -> None:
    h = Harness(ready_timeout_s=2.0, keep_alive_idle_s=60)
    h.connect()
    assert h.core.next_deadline() == 60.0
    h.advance(30)
    assert h.failures == []


def test_half_close_waits_for_the_avatar_at_most_ten_seconds_past_the_estimated_end() -> None:
    h = Harness(drain_timeout_s=30)
    h.connect()
    h.audio(tone(500), rid="u1")
    h.eof()  # The flush sends the last 100 ms: 500 ms queued from t=0.
    assert h.kinds_up() == ["agent.speak", "agent.speak", "agent.speak_end"]
    assert h.core.next_deadline() == 10.5
    h.advance_to(10.5 - 1 / 256)
    assert not h.core.drained
    h.advance_to(10.5)
    assert h.core.drained


def test_the_drain_wait_is_counted_from_the_half_close() -> None:
    h = Harness(drain_timeout_s=30)
    h.connect()
    h.advance_to(4.0)
    h.audio(tone(500), rid="u1")
    h.eof()  # 500 ms queued from t=4: wait until 4 + 0.5 + 10.
    assert h.core.next_deadline() == 14.5


def test_half_close_speak_end_is_acknowledged_under_the_utterance_id() -> None:
    """The flush at half-close has no request of its own: LiveAvatar's commit ack echoes the
    utterance's id."""
    h = Harness()
    h.connect()
    h.audio(tone(500), rid="u1")
    h.eof()
    h.up(type="agent.audio_buffer_committed", source_event_id=h.speak_id())
    assert [e.request_id for e in h.events if e.HasField("audio_buffer_updated")] == ["u1"]


def test_half_close_waits_no_longer_than_drain_timeout_s() -> None:
    h = Harness(drain_timeout_s=4)
    h.connect()
    h.audio(tone(400))
    h.eof()
    assert h.core.next_deadline() == 4.0
    h.advance_to(3.5)
    assert not h.core.drained
    h.advance_to(4.0)
    assert h.core.drained


def test_the_drain_wait_counts_all_audio_flushed_at_half_close() -> None:
    """25 s offered, then half-close: the final flush sends it all, so the wait is
    min(30 s, 25 s + 10 s) = 30 s."""
    h = Harness(drain_timeout_s=30)
    h.connect()
    h.audio(tone(25_000))
    h.eof()
    assert len(h.sent_audio()) == 25_000 * BYTES_PER_MS
    assert h.core.next_deadline() == 30.0


def test_half_close_with_nothing_in_flight_is_drained_at_once() -> None:
    h = Harness()
    h.connect()
    assert not h.core.drained  # The client has not half-closed.
    h.clear()
    h.eof()
    assert h.core.drained
    assert h.events == []  # No EMPTY_UTTERANCE warning: the client sent no speak_end.
    assert h.upstream == []


def test_half_close_before_connected_with_nothing_held_is_drained() -> None:
    h = Harness()
    h.eof()
    assert h.core.drained


def test_half_close_after_the_turn_ended_is_drained_without_waiting() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u1")
    h.speak_end()
    uid = h.speak_id()
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)
    h.eof()
    assert h.core.drained
    assert h.kinds_up() == ["agent.speak", "agent.speak_end"]

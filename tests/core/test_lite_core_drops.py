"""LITE core: every accepted byte is sent or reported dropped; interrupts, reconnects, silence.

From the README ("Nothing is lost silently", "Recovery and liveness") and the .proto's
AudioDropped/DropReason: audio_dropped names the utterance, counts the client's input bytes
(whole frames) and milliseconds, and says why. The playback estimate is 48,000 B/s of 24 kHz
PCM16 from an utterance's first send, utterances one after another.
"""

from __future__ import annotations

import pytest

from avatar_bridge.audio import AudioEncoding, AudioFormat
from avatar_bridge.errors import UpstreamClosed
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .lite_harness import BYTES_PER_MS, Harness, tone

INTERRUPTED = pb.DROP_REASON_INTERRUPTED
SESSION_ENDED = pb.DROP_REASON_SESSION_ENDED
UPSTREAM_LOST = pb.DROP_REASON_UPSTREAM_LOST
PCM16K_STEREO = AudioFormat(AudioEncoding.LINEAR16, 16000, 2)
"""64 bytes per millisecond: 16 frames/ms x 2 channels x 2 bytes."""
PCM16K = AudioFormat(AudioEncoding.LINEAR16, 16000, 1)
"""32 bytes per millisecond."""

# Held before connected.


def test_close_before_connected_drops_held_audio_per_utterance_as_session_ended() -> None:
    h = Harness()
    h.audio(tone(100), rid="a")
    h.audio(tone(50), rid="ignored: not the first chunk")
    h.speak_end()
    h.audio(tone(200))
    h.close()
    assert h.dropped() == [
        ("a", 150 * BYTES_PER_MS, 150, SESSION_ENDED),
        ("utterance-2", 200 * BYTES_PER_MS, 200, SESSION_ENDED),
    ]
    assert [e.request_id for e in h.events] == ["a", "utterance-2"]
    h.connect()
    assert h.upstream == []


def test_held_audio_is_counted_in_the_clients_format_and_rounded_to_milliseconds() -> None:
    h = Harness(PCM16K_STEREO)
    h.audio(b"\x01\x00" * 500, rid="s")  # 1,000 bytes: 15.625 ms
    assert h.core.pending_audio_ms() == 15.625
    h.interrupt()
    assert h.dropped() == [("s", 1000, 16, INTERRUPTED)]
    assert h.core.pending_audio_ms() == 0


def test_an_interrupt_while_held_keeps_the_other_commands_and_is_not_sent_itself() -> None:
    h = Harness()
    h.request("l1", start_listening=pb.StartListening())
    h.audio(tone(300), rid="u")
    h.speak_end("e")
    h.request("l2", stop_listening=pb.StopListening())
    h.interrupt("i")
    assert h.dropped() == [("u", 300 * BYTES_PER_MS, 300, INTERRUPTED)]
    h.connect()
    assert h.kinds_up() == ["agent.start_listening", "agent.stop_listening"]
    assert h.of("warning") == []  # The held speak_end went with its audio.


def test_held_audio_dropped_by_an_interrupt_is_never_sent() -> None:
    h = Harness()
    h.audio(tone(500), rid="u")
    h.interrupt()
    h.connect()
    assert h.upstream == []
    assert h.core.pending_audio_ms() == 0


def test_audio_held_after_an_interrupt_is_a_new_utterance() -> None:
    h = Harness()
    h.audio(tone(100), rid="a")
    h.audio(tone(100))
    assert h.core.pending_audio_ms() == 200
    h.interrupt()
    h.audio(tone(60), rid="b")
    h.audio(tone(40))
    assert h.core.pending_audio_ms() == 100
    h.close()
    assert h.dropped() == [
        ("a", 200 * BYTES_PER_MS, 200, INTERRUPTED),
        ("b", 100 * BYTES_PER_MS, 100, SESSION_ENDED),
    ]


def test_half_close_before_connected_ends_the_held_utterance_once_connected() -> None:
    h = Harness()
    h.audio(tone(300), rid="u1")
    h.eof()
    h.connect()
    assert h.kinds() == ["session_state_changed"]  # No error, no warning.
    assert h.kinds_up() == ["agent.speak", "agent.speak_end"]
    assert h.sent_audio() == tone(300)


def test_held_audio_without_speak_end_stays_open_once_connected() -> None:
    h = Harness()
    h.audio(tone(200), rid="u")
    h.connect()
    assert h.upstream == []  # Below the first packet, and the utterance is not over.
    h.audio(tone(200))
    assert h.kinds_up() == ["agent.speak"]
    assert h.sent_audio() == tone(200) * 2


def test_an_interrupt_with_no_held_audio_drops_nothing() -> None:
    h = Harness()
    h.request("l1", start_listening=pb.StartListening())
    h.interrupt()
    assert h.events == []
    h.close()
    assert h.events == []


def test_an_utterance_of_empty_chunks_held_is_not_reported() -> None:
    h = Harness()
    h.audio(b"", rid="empty")
    h.speak_end()
    h.audio(tone(100), rid="f")
    h.interrupt()
    assert h.dropped() == [("f", 100 * BYTES_PER_MS, 100, INTERRUPTED)]


def test_an_interrupt_while_held_ends_an_utterance_of_empty_chunks_too() -> None:
    """README: all audio since the last speak_end or interrupt is one utterance, named by its
    first chunk. An empty chunk held before an interrupt belongs to the interrupted utterance,
    not to the next one (it carried no audio, so nothing is reported dropped)."""
    h = Harness()
    h.audio(b"", rid="Z")
    h.interrupt()
    h.connect()
    h.audio(tone(400), rid="B")
    h.speak_end()
    h.up(type="agent.speak_started", event_id=h.speak_id())
    assert h.speak_events() == [("started", "B")]
    assert h.dropped() == []


def test_utterance_numbers_go_on_after_held_audio_was_dropped() -> None:
    h = Harness()
    h.audio(tone(100))
    h.interrupt()
    assert [d[0] for d in h.dropped()] == ["utterance-1"]
    h.connect()
    h.audio(tone(400))
    h.speak_end()
    h.up(type="agent.speak_started", event_id=h.speak_id())
    assert h.speak_events() == [("started", "utterance-2")]


def test_audio_held_then_sent_at_connected_is_not_dropped_at_close() -> None:
    h = Harness()
    h.audio(tone(400), rid="u")
    h.connect()
    h.close()
    assert h.sent_audio() == tone(400)
    assert h.kinds_up() == ["agent.speak"]  # No speak_end: the client did not end it.
    assert h.dropped() == []


def test_an_empty_chunk_held_then_half_close_is_drained_once_connected() -> None:
    h = Harness()
    h.audio(b"", rid="z")
    h.eof()
    assert not h.core.drained  # The chunk waits for the session.
    h.connect()
    assert h.core.drained
    assert h.upstream == []
    assert h.kinds() == ["session_state_changed"]


# Close once connected.


def test_close_drops_only_the_open_utterances_unsent_audio() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(2000), rid="u1")  # 400 + 1000 ms sent, 600 ms waiting for the queue
    assert h.packet_ms() == [400, 1000]
    h.close()
    assert h.dropped() == [("u1", 600 * BYTES_PER_MS, 600, SESSION_ENDED)]


def test_close_drops_an_utterance_still_below_its_first_packet() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(150), rid="u1")
    assert h.core.pending_audio_ms() == 150
    h.close()
    assert h.dropped() == [("u1", 150 * BYTES_PER_MS, 150, SESSION_ENDED)]
    assert [e.request_id for e in h.events if e.HasField("audio_dropped")] == ["u1"]


def test_close_after_speak_end_drops_nothing() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(150), rid="u1")
    h.speak_end()
    h.close()
    assert h.dropped() == []


def test_resampled_audio_dropped_at_close_counts_every_input_byte() -> None:
    """16 kHz input is resampled; what the resampler still holds is dropped too, in input bytes."""
    h = Harness(PCM16K)
    h.connect()
    h.audio(b"\x10\x00" * 1600, rid="r")  # 100 ms
    h.close()
    assert h.dropped() == [("r", 3200, 100, SESSION_ENDED)]


def test_resampled_audio_sent_at_speak_end_is_exactly_its_24_khz_length() -> None:
    """1 s of 16 kHz becomes 24,000 samples: the resampler's tail is flushed at speak_end."""
    h = Harness(PCM16K)
    h.connect()
    for _ in range(10):
        h.audio(b"\x10\x00" * 1600)
    h.speak_end()
    assert len(h.sent_audio()) == 1000 * BYTES_PER_MS


# Interrupt: unsent plus sent-but-unplayed audio.


def test_an_interrupt_counts_sent_audio_not_played_by_the_estimate() -> None:
    h = Harness(PCM16K_STEREO)
    h.connect()
    h.audio(b"\x01\x00" * 2 * 16 * 2000, rid="u")  # 2 s: 400 + 1000 ms go at once
    assert h.packet_ms() == [400, 1000]
    h.advance(0.25)
    h.interrupt("i")
    # 1150 ms sent and not played, plus the 600 ms not sent (some still in the resampler).
    assert h.dropped() == [("u", 1750 * 64, 1750, INTERRUPTED)]
    assert [e.request_id for e in h.events if e.HasField("audio_dropped")] == ["u"]


def test_utterances_play_one_after_another_in_the_estimate() -> None:
    """A (250 ms from t=0) then B (250 ms sent at t=0.125, playing from t=0.25): at t=0.375
    A has played, B 125 ms of its 250."""
    h = Harness(first_packet_ms=250)
    h.connect()
    h.audio(tone(250), rid="A")
    h.speak_end()
    h.advance(0.125)
    h.audio(tone(250), rid="B")
    h.speak_end()
    h.advance(0.25)
    h.interrupt()
    assert h.dropped() == [("B", 125 * BYTES_PER_MS, 125, INTERRUPTED)]


def test_played_audio_is_counted_in_whole_samples() -> None:
    """1/16,000 s is 3 bytes of 24 kHz PCM16: 1 sample (2 bytes) counts as played."""
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    h.advance(1 / 16000)
    h.interrupt()
    unplayed = 400 * BYTES_PER_MS - 2
    assert h.dropped() == [("u", unplayed, unplayed // BYTES_PER_MS, INTERRUPTED)]


def test_an_interrupt_after_the_estimate_ran_out_drops_nothing_sent() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    h.advance(5)
    h.interrupt()
    assert h.dropped() == []
    assert h.kinds_up() == ["agent.speak", "agent.interrupt"]


def test_an_interrupt_with_nothing_sent_or_open_drops_nothing() -> None:
    h = Harness()
    h.connect()
    h.interrupt("i")
    assert h.dropped() == []
    assert h.upstream == [{"type": "agent.interrupt", "event_id": "id1"}]


def test_an_interrupt_drops_unsent_and_unplayed_audio_of_the_open_utterance_together() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(3000), rid="u")  # 400 + 1000 sent at t=0, 1600 ms waiting
    assert h.packet_ms() == [400, 1000]
    h.advance(0.0625)  # The 1 s packet waits until t=0.1.
    h.interrupt()
    assert h.dropped() == [("u", (3000 - 62.5) * BYTES_PER_MS, 2937, INTERRUPTED)]


def test_audio_after_an_interrupt_is_a_new_utterance_paced_from_now() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(5000), rid="A")
    assert h.packet_ms() == [400, 1000]  # The estimated queue is 1.4 s.
    h.advance(0.0625)
    h.interrupt()
    h.audio(tone(5000), rid="B")
    # The queue was emptied by the interrupt: B's first packet and next 1 s go at once.
    assert h.packet_ms() == [400, 1000, 400, 1000]
    ids = [m["event_id"] for m in h.sent("agent.speak")]
    assert ids[0] == ids[1] != ids[2] == ids[3]


def test_speak_end_after_an_interrupt_sends_nothing_of_the_dropped_audio() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(200), rid="u")
    h.interrupt()
    h.speak_end("e")
    assert h.kinds_up() == ["agent.interrupt"]
    assert [w.code for w in h.of("warning")] == ["EMPTY_UTTERANCE"]


def test_resampled_audio_dropped_by_an_interrupt_counts_every_input_byte() -> None:
    h = Harness(PCM16K)
    h.connect()
    h.audio(b"\x10\x00" * 1600, rid="r")  # 100 ms, below the first packet
    h.interrupt()
    assert h.dropped() == [("r", 3200, 100, INTERRUPTED)]


# Interrupt confirmation.


def test_an_unconfirmed_interrupt_is_reported_three_seconds_later() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    h.up(type="agent.speak_started", event_id=h.speak_id())
    h.advance(1)
    h.interrupt()
    assert h.core.next_deadline() == 4.0
    h.advance_to(4.0 - 1 / 256)
    assert h.speak_events() == [("started", "u")]
    h.advance_to(4.0)
    assert h.speak_events() == [("started", "u"), ("interrupted", "u")]
    assert h.core.next_deadline() == 61.0  # Only the keep-alive is left.


def test_an_interrupt_of_turns_not_yet_started_sets_no_grace_period() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    h.speak_end()
    h.interrupt()
    assert h.core.next_deadline() == 60.0
    h.up(type="agent.speak_started", event_id=h.speak_id())  # Too late: cleared upstream.
    assert h.speak_events() == []


@pytest.mark.parametrize(
    "events",
    [
        [{"type": "agent.speak_ended"}],
        [{"type": "agent.state_updated", "previous_state": "talking", "new_state": "idle"}],
        [{"type": "agent.speak_interrupted"}],
    ],
)
def test_whatever_ends_an_interrupted_turn_reports_it_interrupted_once(
    events: list[dict[str, str]],
) -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="u")
    uid = h.speak_id()
    h.up(type="agent.speak_started", event_id=uid)
    h.interrupt()
    for event in events:
        h.up(**event, event_id=uid)
    assert h.speak_events() == [("started", "u"), ("interrupted", "u")]
    h.advance(5)
    assert h.speak_events() == [("started", "u"), ("interrupted", "u")]


def test_an_interrupt_ends_every_started_turn_and_forgets_the_rest() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="A")
    h.speak_end()
    h.audio(tone(400), rid="B")
    h.speak_end()
    h.up(type="agent.speak_started", event_id=h.speak_id(0))
    h.interrupt()
    h.advance(3)
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]
    h.up(type="agent.speak_started", event_id=h.speak_id(1))
    h.up(type="agent.speak_ended", event_id=h.speak_id(1))
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]


# A reconnected WebSocket.


def test_a_reconnect_reports_unplayed_audio_lost_and_interrupts_the_started_turn() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(1000), rid="A")  # 400 + 600 ms sent at t=0
    assert h.packet_ms() == [400, 600]
    h.up(type="agent.speak_started", event_id=h.speak_id())
    h.advance(0.5)
    h.up(type="bridge.upstream_reconnected", dropped_at=0.25, attempts=2)
    assert h.dropped() == [("A", 750 * BYTES_PER_MS, 750, UPSTREAM_LOST)]
    assert h.kinds()[-3:] == ["audio_dropped", "avatar_speak_interrupted", "warning"]
    assert h.of("warning") == [
        pb.Warning(
            code="UPSTREAM_RECONNECTED",
            message="the LiveAvatar WebSocket dropped and was reconnected after 2 attempt(s); "
            "750 ms of audio in flight were lost (see audio_dropped); the conversation goes on",
        )
    ]
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]


def test_a_reconnect_without_dropped_at_counts_from_now_and_one_attempt() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(400), rid="A")
    h.speak_end()
    h.advance(0.125)
    h.up(type="bridge.upstream_reconnected", dropped_at="soon")
    assert h.dropped() == [("A", 275 * BYTES_PER_MS, 275, UPSTREAM_LOST)]
    assert h.of("warning")[0].message.startswith(
        "the LiveAvatar WebSocket dropped and was reconnected after 1 attempt(s); "
        "275 ms of audio in flight were lost"
    )
    assert h.speak_events() == []  # A never started: it just ends, silently.
    h.up(type="agent.speak_started", event_id=h.speak_id())
    assert h.speak_events() == []


def test_a_reconnect_drops_the_open_utterances_waiting_audio_with_its_unplayed_audio() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(3000), rid="u")  # 1400 ms sent at t=0, 1600 ms waiting
    h.up(type="bridge.upstream_reconnected", dropped_at=0.0)
    assert h.dropped() == [("u", 3000 * BYTES_PER_MS, 3000, UPSTREAM_LOST)]
    assert "3000 ms of audio in flight were lost" in h.of("warning")[0].message


def test_after_a_reconnect_new_audio_goes_at_once_and_nothing_old_is_pending() -> None:
    h = Harness()
    h.connect()
    h.audio(tone(3000), rid="A")
    h.up(type="agent.speak_started", event_id=h.speak_id())
    h.interrupt()  # Its confirmation is lost with the socket.
    h.up(type="bridge.upstream_reconnected")
    assert h.core.next_deadline() == 60.0  # No interrupt grace left, no packet due.
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]
    h.audio(tone(1400), rid="B")
    assert h.packet_ms()[-2:] == [400, 1000]
    h.advance(10)
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]


def test_a_reconnect_with_nothing_in_flight_loses_nothing() -> None:
    h = Harness()
    h.connect()
    h.up(type="bridge.upstream_reconnected", attempts=3)
    assert h.dropped() == []
    assert h.of("warning")[0].message == (
        "the LiveAvatar WebSocket dropped and was reconnected after 3 attempt(s); "
        "0 ms of audio in flight were lost (see audio_dropped); the conversation goes on"
    )


# A silent upstream.


def test_no_event_for_silence_timeout_past_the_estimated_end_fails_as_upstream_lost() -> None:
    h = Harness(silence_timeout_s=8)
    h.connect()
    h.audio(tone(500), rid="u")
    h.speak_end()
    assert h.core.next_deadline() == 8.5
    h.advance_to(8.5 - 1 / 256)
    assert h.failures == []
    h.advance_to(8.5)
    message = (
        "LiveAvatar sent no event for 8.5 s while the avatar should be speaking "
        "(past the estimated end of its audio): the upstream is lost"
    )
    assert h.of("warning") == [pb.Warning(code="UPSTREAM_SILENT", message=message)]
    assert len(h.failures) == 1
    assert isinstance(h.failures[0].error, UpstreamClosed)
    assert h.failures[0].error.message == message
    assert h.core.next_deadline() is None


def test_any_event_from_liveavatar_restarts_the_silence_clock() -> None:
    h = Harness(silence_timeout_s=8)
    h.connect()
    h.audio(tone(500), rid="u")
    h.speak_end()
    h.advance(4)
    h.up(type="agent.audio_buffer_appended")
    assert h.core.next_deadline() == 12.0
    h.advance_to(12.0)
    assert "for 8.0 s" in h.failures[0].error.message


def test_silence_with_no_turn_in_flight_is_not_an_error() -> None:
    h = Harness(silence_timeout_s=1, keep_alive_idle_s=60)
    h.connect()
    assert h.core.next_deadline() == 60.0
    h.audio(tone(400), rid="u")
    h.speak_end()
    uid = h.speak_id()
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)
    h.advance(100)
    assert h.failures == []


def test_a_turn_that_ran_dry_waits_for_the_client_not_for_liveavatar() -> None:
    h = Harness(silence_timeout_s=2, keep_alive_idle_s=60)
    h.connect()
    h.audio(tone(400), rid="u")
    uid = h.speak_id()
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)  # Ran dry; the client is slow.
    h.advance(30)
    assert h.failures == []
    h.audio(tone(400))  # Audio again: LiveAvatar owes events now.
    assert h.core.next_deadline() == 32.4
    h.advance(5)
    assert len(h.failures) == 1


def test_no_silence_watch_before_connected_or_without_a_timeout() -> None:
    h = Harness(silence_timeout_s=1, ready_timeout_s=20)
    h.audio(tone(400))
    assert h.core.next_deadline() == 20.0
    h = Harness(keep_alive_idle_s=60)
    h.connect()
    h.audio(tone(400))
    h.speak_end()
    assert h.core.next_deadline() == 60.0

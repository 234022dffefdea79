"""LiveAvatar interrupting an utterance by itself while the client is still streaming it
(README "Utterances (LITE)": each utterance yields exactly one avatar_speak_ended or
avatar_speak_interrupted). The audio the client goes on sending for it still goes upstream, but
the utterance stays over: no second speak event, no hold on the next utterance, no hold on the
half-close. Found by the mutation work on lite/core.py (`_unplayed`'s skip of finished turns
survived because a finished utterance came back into the play queue)."""

from __future__ import annotations

from .lite_harness import Harness, tone


def _self_interrupted_while_streaming(h: Harness) -> None:
    """Utterance A streams; LiveAvatar starts it, interrupts it by itself, and the client goes on
    streaming A (600 ms more, sent upstream as it arrives)."""
    h.connect()
    h.audio(tone(500), rid="A")  # The 400 ms first packet goes at once.
    uid = h.speak_id()
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_interrupted", event_id=uid)
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]
    h.advance(1.0)
    h.audio(tone(500))
    h.advance(1.0)
    assert sum(h.packet_ms()) == 1000  # Every byte of A went upstream.


def test_a_client_interrupt_after_it_ends_the_utterance_no_second_time() -> None:
    h = Harness()
    _self_interrupted_while_streaming(h)
    h.interrupt("I")
    h.advance(5.0)  # Past any interrupt grace.
    assert h.speak_events() == [("started", "A"), ("interrupted", "A")]


def test_the_next_utterance_starts_when_the_avatar_talks_again() -> None:
    h = Harness()
    _self_interrupted_while_streaming(h)
    h.speak_end()  # A ends on the client's side too.
    h.audio(tone(500), rid="B")
    h.speak_end()
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    assert h.speak_events() == [("started", "A"), ("interrupted", "A"), ("started", "B")]


def test_the_half_close_does_not_wait_for_an_utterance_that_is_over() -> None:
    h = Harness()
    _self_interrupted_while_streaming(h)
    h.speak_end()
    h.eof()
    # Nothing more plays: LiveAvatar ended A and no other utterance exists. The drain deadline
    # (30 s by default) is not what ends the call.
    assert h.core.drained

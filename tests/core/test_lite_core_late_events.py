"""Late or repeated LiveAvatar speak events never end or start another utterance than the one
they name (found by the mutation work on lite/core.py: a second speak_ended for A ended B)."""

from __future__ import annotations

from .lite_harness import Harness
from .test_lite_core_events import _two_committed_turns


def test_a_repeated_speak_ended_for_a_finished_utterance_does_not_end_the_next() -> None:
    h = Harness()
    a, b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.speak_ended", event_id=a)
    h.up(type="agent.speak_started", event_id=b)
    h.up(type="agent.speak_ended", event_id=a)  # Late duplicate: B still plays.
    assert h.speak_events() == [("started", "A"), ("ended", "A"), ("started", "B")]
    h.up(type="agent.speak_ended", event_id=b)
    assert h.speak_events()[-1] == ("ended", "B")


def test_a_late_speak_started_for_a_finished_utterance_does_not_start_the_next() -> None:
    h = Harness()
    a, _ = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.speak_ended", event_id=a)
    h.up(type="agent.speak_started", task={"id": a})
    assert h.speak_events() == [("started", "A"), ("ended", "A")]


def test_a_late_speak_interrupted_for_a_finished_utterance_spares_the_playing_one() -> None:
    h = Harness()
    a, b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.speak_ended", event_id=a)
    h.up(type="agent.speak_started", event_id=b)
    h.up(type="agent.speak_interrupted", source_event_id=a)
    assert h.speak_events() == [("started", "A"), ("ended", "A"), ("started", "B")]


def test_talking_again_while_a_turn_plays_does_not_start_the_next() -> None:
    h = Harness()
    _two_committed_turns(h)
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    h.up(type="agent.state_updated", previous_state="talking", new_state="talking")
    assert h.speak_events() == [("started", "A")]
    h.up(type="agent.state_updated", previous_state="talking", new_state="idle")
    h.up(type="agent.state_updated", previous_state="idle", new_state="talking")
    assert h.speak_events() == [("started", "A"), ("ended", "A"), ("started", "B")]

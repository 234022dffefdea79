"""LiveAvatar speak events act on the utterance they name, not on whichever one plays (LITE
reference §3.4: speak events carry the utterance's ``event_id``, ``task.id`` and
``source_event_id``). Found by the mutation work on lite/core.py."""

from __future__ import annotations

from .lite_harness import Harness, tone
from .test_lite_core_events import _two_committed_turns


def test_a_speak_interrupted_naming_a_queued_turn_spares_the_playing_one() -> None:
    h = Harness()
    a, b = _two_committed_turns(h)
    h.up(type="agent.speak_started", event_id=a)
    h.up(type="agent.speak_interrupted", event_id=b)  # B never started: nothing to end.
    assert h.speak_events() == [("started", "A")]
    h.up(type="agent.speak_ended", event_id=a)
    h.up(type="agent.speak_started", event_id=b)
    assert h.speak_events() == [("started", "A"), ("ended", "A"), ("started", "B")]


def _played_turn(h: Harness, rid: str) -> str:
    """One committed utterance LiveAvatar starts and ends; returns its upstream id."""
    h.audio(tone(20), rid=rid)
    h.speak_end()
    uid = str(h.sent("agent.speak")[-1]["event_id"])
    h.up(type="agent.speak_started", event_id=uid)
    h.up(type="agent.speak_ended", event_id=uid)
    return uid


def test_the_last_64_ended_utterances_are_remembered() -> None:
    """The core keeps the ids of the last 64 ended utterances (FINISHED_IDS_KEPT, a bounded
    memory): a late speak_ended naming the 64th most recent still ends nothing else."""
    h = Harness()
    h.connect()
    ids = [_played_turn(h, f"R{i}") for i in range(65)]  # R0 is forgotten, R1..R64 kept
    h.audio(tone(20), rid="NEXT")
    h.speak_end()
    nxt = str(h.sent("agent.speak")[-1]["event_id"])
    h.up(type="agent.speak_started", event_id=nxt)
    h.up(type="agent.speak_ended", event_id=ids[1])  # late, for R1
    assert h.speak_events()[-1] == ("started", "NEXT")
    h.up(type="agent.speak_ended", event_id=nxt)
    assert h.speak_events()[-1] == ("ended", "NEXT")
    assert len(h.speak_events()) == 2 * 66

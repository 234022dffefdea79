"""The LITE playback model, driven directly on virtual time (reference §3.3, §3.4, §3.7).

The avatar plays PCM16LE 24 kHz mono, so 48,000 bytes are one second of audio (§3.5): every time
below follows from that figure, written literally. Events are the documented
``agent.speak_started`` / ``agent.speak_ended`` with ``event_id``, ``task.id`` and
``source_event_id`` = the utterance id (§3.4) and the observed ``agent.state_updated`` /
``agent.speak_interrupted`` (§3.3); which of them is sent follows the event profile
(``documented``, ``observed``, ``both``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from liveavatar_emulator import EmulatorConfig
from liveavatar_emulator.playback import Playback
from liveavatar_emulator.sessions import Session, SessionRegistry

from .virtual_time import run_virtual

BYTES_PER_S = 48_000  # PCM16 (2 bytes) x 24,000 samples/s x 1 channel
TOL = 1e-6  # float slack on virtual times; the clock itself never drifts


@dataclass
class Sink:
    """Records what the model tells the avatar's media."""

    scheduled: list[tuple[float, bytes]] = field(default_factory=list)
    cuts: list[float] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)

    def schedule(self, start: float, pcm: bytes) -> None:
        self.scheduled.append((start, pcm))

    def cut(self, at: float) -> None:
        self.cuts.append(at)

    def set_caption(self, text: str) -> None:
        self.captions.append(text)


@dataclass
class Rig:
    """One session's player with everything it emits, timestamped on the virtual clock."""

    session: Session
    player: Playback
    sink: Sink
    sent: list[tuple[float, dict[str, Any]]]

    def events(self) -> list[dict[str, Any]]:
        return [event for _, event in self.sent]

    def shapes(self) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for event in self.events():
            kind = event["type"]
            if kind == "agent.state_updated":
                out.append((kind, event["previous_state"], event["new_state"]))
            elif kind.startswith("agent.speak_"):
                out.append((kind, event["event_id"]))
            else:
                out.append((kind,))
        return out

    def at(self, shape: tuple[Any, ...]) -> float:
        """Virtual time of the first event with this shape."""
        return self.sent[self.shapes().index(shape)][0]

    def utterance(self, index: int = 0) -> dict[str, Any]:
        return vars(self.session.utterances[index])


def config(**overrides: Any) -> EmulatorConfig:
    """Real-time playback (scale 1) unless a test says otherwise."""
    return EmulatorConfig(**{"time_scale": 1.0, **overrides})


def scenario(
    cfg: EmulatorConfig,
    body: Callable[[Rig], Awaitable[None]],
    *,
    sink: bool = True,
    allow_errors: bool = False,
) -> None:
    """Run ``body`` against a fresh player on a virtual-time loop."""

    async def main() -> None:
        registry = SessionRegistry(cfg)
        session = registry.create(
            mode="LITE", token_request={}, is_sandbox=False, max_duration_s=1200
        )
        media = Sink()
        if sink:
            session.avatar_media = media
        loop = asyncio.get_running_loop()
        sent: list[tuple[float, dict[str, Any]]] = []

        async def emit(event: dict[str, Any]) -> None:
            sent.append((loop.time(), event))

        rig = Rig(session, Playback(session, cfg, emit), media, sent)
        try:
            await body(rig)
        finally:
            await rig.player.close()
            await registry.end_all()

    errors = _ErrorLog()
    logger = logging.getLogger("liveavatar_emulator.playback")
    logger.addHandler(errors)
    try:
        run_virtual(main())
    finally:
        logger.removeHandler(errors)
    if not allow_errors:
        assert errors.messages == [], "the player task failed"
    last_errors[:] = errors.messages


class _ErrorLog(logging.Handler):
    """Collects the player's error logs (a failed player task logs and dies)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


last_errors: list[str] = []


def speak_event(kind: str, utterance_id: str) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": utterance_id,
        "task": {"id": utterance_id},
        "source_event_id": utterance_id,
    }


def state(previous: str, new: str) -> tuple[str, str, str]:
    return ("agent.state_updated", previous, new)


def now() -> float:
    return asyncio.get_running_loop().time()


async def until(t: float) -> None:
    """Let virtual time run to ``t`` (every task due before it runs)."""
    await asyncio.sleep(t - now())


# -- one utterance, played out ---------------------------------------------------------------------


def test_one_second_of_audio_plays_for_one_second() -> None:
    audio = bytes(range(256)) * 187 + bytes(128)  # 48,000 bytes

    async def body(rig: Rig) -> None:
        await rig.player.speak("U", audio)
        await rig.player.speak_end()
        assert rig.player.state == "talking"
        assert rig.player.progress() == (0, 48_000)
        await until(0.25 + 0.5 / BYTES_PER_S)
        assert rig.player.progress() == (12_000, 36_000)
        await until(2.0)
        assert rig.player.progress() == (0, 0)
        assert str(rig.player.state) == "idle"

    def check(rig: Rig) -> None:
        assert rig.events() == [
            {"type": "agent.state_updated", "previous_state": "idle", "new_state": "talking"},
            speak_event("agent.speak_started", "U"),
            speak_event("agent.speak_ended", "U"),
            {"type": "agent.state_updated", "previous_state": "talking", "new_state": "idle"},
        ]
        assert rig.at(("agent.speak_started", "U")) == 0.0
        assert rig.at(("agent.speak_ended", "U")) == pytest.approx(1.0, abs=TOL)
        assert rig.utterance() == {
            "id": "U",
            "received_bytes": 48_000,
            "played_bytes": 48_000,
            "discarded_bytes": 0,
            "chunks": 1,
            "committed": True,
            "speaks": 1,
            "starvations": 0,
            "end": "played",
        }
        assert rig.sink.scheduled == [(0.0, audio)]
        assert rig.sink.captions == ["utterance U", ""]

    scenario_checked(config(), body, check)


def scenario_checked(
    cfg: EmulatorConfig, body: Callable[[Rig], Awaitable[None]], check: Callable[[Rig], None]
) -> None:
    """``scenario`` with a check run on the rig before teardown."""

    async def wrapped(rig: Rig) -> None:
        await body(rig)
        check(rig)

    scenario(cfg, wrapped)


def test_chunks_of_one_utterance_play_back_to_back() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 24_000)
        await until(0.25)
        await rig.player.speak("other-id", b"\x02" * 24_000)  # same utterance: id stays U
        await rig.player.speak_end()
        await until(0.75)
        assert rig.player.progress() == (36_000, 12_000)
        await until(3.0)
        assert rig.shapes() == [
            state("idle", "talking"),
            ("agent.speak_started", "U"),
            ("agent.speak_ended", "U"),
            state("talking", "idle"),
        ]
        assert rig.at(("agent.speak_ended", "U")) == pytest.approx(1.0, abs=TOL)
        # The second chunk is scheduled where the first one ends, not when it arrived.
        assert [start for start, _ in rig.sink.scheduled] == pytest.approx([0.0, 0.5], abs=TOL)
        assert [len(pcm) for _, pcm in rig.sink.scheduled] == [24_000, 24_000]
        utt = rig.utterance()
        assert (utt["received_bytes"], utt["played_bytes"], utt["chunks"]) == (48_000, 48_000, 2)
        assert len(rig.session.utterances) == 1

    scenario(config(), body)


def test_utterance_without_event_id_gets_a_generated_one() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak(None, b"\x00" * 480)
        generated = rig.events()[1]["event_id"]
        assert generated.startswith("utt-")
        uuid.UUID(generated.removeprefix("utt-"))
        assert rig.session.utterances[0].id == generated
        assert rig.events()[1] == speak_event("agent.speak_started", generated)

    scenario(config(), body)


# -- interrupt -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (
            "both",
            [
                ("agent.speak_interrupted", "U"),
                ("agent.speak_ended", "U"),
                state("talking", "idle"),
            ],
        ),
        ("observed", [("agent.speak_interrupted", "U"), state("talking", "idle")]),
        ("documented", [("agent.speak_ended", "U")]),
    ],
)
def test_interrupt_cuts_on_a_whole_sample(profile: str, expected: list[tuple[Any, ...]]) -> None:
    cut_at = 12_003.5 / BYTES_PER_S  # 12,003 bytes' worth of time: half a sample into the next

    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x05" * 48_000)
        await rig.player.speak_end()
        await until(cut_at)
        before = len(rig.sent)
        await rig.player.interrupt()
        assert rig.shapes()[before:] == expected
        assert all(t == pytest.approx(cut_at, abs=TOL) for t, _ in rig.sent[before:])
        if profile != "observed":
            assert rig.events()[-1 if profile == "documented" else -2] == speak_event(
                "agent.speak_ended", "U"
            )
        if profile != "documented":
            assert rig.events()[before] == speak_event("agent.speak_interrupted", "U")
        assert rig.player.progress() == (0, 0)
        utt = rig.utterance()
        assert (utt["played_bytes"], utt["discarded_bytes"]) == (12_002, 35_998)
        assert utt["end"] == "interrupted"
        assert rig.sink.cuts == pytest.approx([cut_at], abs=TOL)
        assert rig.sink.captions[-1] == ""
        assert rig.player.state == "idle"
        await until(5.0)  # nothing plays on after the cut
        assert len(rig.sent) == before + len(expected)

    scenario(config(lite_event_profile=profile), body)


def test_interrupt_drops_queued_utterances_and_reports_only_the_playing_one() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("A", b"\x01" * 48_000)
        await rig.player.speak_end()
        await rig.player.speak("B", b"\x02" * 9_600)
        await rig.player.speak("B2", b"\x03" * 4_800)
        assert rig.player.progress() == (0, 48_000 + 14_400)
        await until(0.5 + 0.5 / BYTES_PER_S)
        await rig.player.interrupt()
        assert rig.shapes()[-3:] == [
            ("agent.speak_interrupted", "A"),
            ("agent.speak_ended", "A"),
            state("talking", "idle"),
        ]
        a, b = rig.utterance(0), rig.utterance(1)
        assert (a["played_bytes"], a["discarded_bytes"]) == (24_000, 24_000)
        assert a["end"] == "interrupted"
        assert (b["id"], b["received_bytes"], b["chunks"]) == ("B", 14_400, 2)
        assert (b["played_bytes"], b["discarded_bytes"], b["end"]) == (0, 14_400, "interrupted")
        assert b["speaks"] == 0
        # The next speak is a new utterance and plays from now.
        await rig.player.speak("C", b"\x04" * 480)
        assert rig.shapes()[-1] == ("agent.speak_started", "C")
        assert rig.session.utterances[2].id == "C"

    scenario(config(), body)


def test_interrupt_when_idle_or_starved_sends_nothing() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.interrupt()
        assert rig.sent == []
        await rig.player.speak("U", b"\x01" * 4_800)  # 0.1 s, never committed: starves
        await until(1.0)
        before = len(rig.sent)
        await rig.player.interrupt()
        assert len(rig.sent) == before
        utt = rig.utterance()
        assert (utt["played_bytes"], utt["discarded_bytes"]) == (4_800, 0)
        assert utt["end"] == "interrupted"

    scenario(config(starvation_event="none"), body)


def test_close_loses_buffered_audio_without_events() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 48_000)
        await rig.player.speak("U", b"\x01" * 48_000)
        await until(1.5 + 0.5 / BYTES_PER_S)
        before = len(rig.sent)
        await rig.player.close()
        assert len(rig.sent) == before
        utt = rig.utterance()
        assert (utt["played_bytes"], utt["discarded_bytes"]) == (72_000, 24_000)
        assert utt["end"] == "disconnected"
        assert rig.sink.cuts == pytest.approx([1.5 + 0.5 / BYTES_PER_S], abs=TOL)

    scenario(config(), body)


# -- queueing ----------------------------------------------------------------------------------


def test_queued_utterance_starts_when_the_previous_one_ends() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("A", b"\x01" * 4_800)  # 0.1 s
        await rig.player.speak_end()
        await rig.player.speak("B", b"\x02" * 4_800)  # 0.2 s in two chunks, queued
        await rig.player.speak("B", b"\x03" * 4_800)
        await rig.player.speak_end()
        await until(0.2)
        assert rig.player.progress() == (4_800, 4_800)
        await until(1.0)
        assert rig.shapes() == [
            state("idle", "talking"),
            ("agent.speak_started", "A"),
            ("agent.speak_ended", "A"),
            state("talking", "idle"),
            state("idle", "talking"),
            ("agent.speak_started", "B"),
            ("agent.speak_ended", "B"),
            state("talking", "idle"),
        ]
        assert rig.at(("agent.speak_ended", "A")) == pytest.approx(0.1, abs=TOL)
        assert rig.at(("agent.speak_started", "B")) == pytest.approx(0.1, abs=TOL)
        assert rig.at(("agent.speak_ended", "B")) == pytest.approx(0.3, abs=TOL)
        assert [(round(t, 6), pcm) for t, pcm in rig.sink.scheduled] == [
            (0.0, b"\x01" * 4_800),
            (0.1, b"\x02" * 4_800 + b"\x03" * 4_800),
        ]
        assert rig.sink.captions == ["utterance A", "", "utterance B", ""]
        for index, (uid, size) in enumerate((("A", 4_800), ("B", 9_600))):
            utt = rig.utterance(index)
            assert (utt["id"], utt["played_bytes"], utt["speaks"], utt["end"]) == (
                uid,
                size,
                1,
                "played",
            )

    scenario(config(), body)


def test_queued_uncommitted_utterance_starts_then_starves() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("A", b"\x01" * 4_800)
        await rig.player.speak_end()
        await rig.player.speak("B", b"\x02" * 4_800)  # no speak_end for B
        await until(1.0)
        assert rig.shapes()[-4:] == [
            ("agent.speak_started", "B"),
            ("agent.speak_ended", "B"),
            state("talking", "idle"),
            ("error",),
        ]
        assert rig.at(("agent.speak_ended", "B")) == pytest.approx(0.2, abs=TOL)
        assert rig.utterance(1)["starvations"] == 1

    scenario(config(), body)


# -- starvation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["error", "warning"])
def test_starvation_ends_the_speak_and_is_reported(kind: str) -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 4_800)  # 0.1 s, no speak_end
        await until(1.0)
        assert rig.events() == [
            {"type": "agent.state_updated", "previous_state": "idle", "new_state": "talking"},
            speak_event("agent.speak_started", "U"),
            speak_event("agent.speak_ended", "U"),
            {"type": "agent.state_updated", "previous_state": "talking", "new_state": "idle"},
            {
                "type": kind,
                kind: {
                    "type": "video_starvation",
                    "message": (
                        "Audio arrived too slowly: the buffer ran dry before agent.speak_end"
                    ),
                    "event_id": "U",
                },
            },
        ]
        # No grace configured: the speak ends when the audio does.
        assert rig.at(("agent.speak_ended", "U")) == pytest.approx(0.1, abs=TOL)
        utt = rig.utterance()
        assert (utt["played_bytes"], utt["starvations"], utt["speaks"]) == (4_800, 1, 1)
        assert utt["end"] is None and utt["committed"] is False

        # Later audio of the same utterance: a new speak, same id, played on from now.
        await rig.player.speak("ignored", b"\x02" * 9_600)
        await rig.player.speak_end()
        await until(2.0)
        assert rig.shapes()[-4:] == [
            state("idle", "talking"),
            ("agent.speak_started", "U"),
            ("agent.speak_ended", "U"),
            state("talking", "idle"),
        ]
        assert rig.sent[-2][0] == pytest.approx(1.2, abs=TOL)
        utt = rig.utterance()
        assert (utt["played_bytes"], utt["speaks"], utt["starvations"]) == (14_400, 2, 1)
        assert (utt["end"], utt["chunks"], len(rig.session.utterances)) == ("played", 2, 1)

    scenario(config(starvation_event=kind), body)


def test_starvation_event_none_only_ends_the_speak() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 4_800)
        await until(1.0)
        assert rig.shapes() == [
            state("idle", "talking"),
            ("agent.speak_started", "U"),
            ("agent.speak_ended", "U"),
            state("talking", "idle"),
        ]
        assert rig.utterance()["starvations"] == 1

    scenario(config(starvation_event="none"), body)


def test_speak_end_after_starvation_closes_the_utterance() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 4_800)
        await until(1.0)
        count = len(rig.sent)
        await rig.player.speak_end()
        assert len(rig.sent) == count  # its speak already ended
        assert rig.utterance()["end"] == "played"
        assert rig.utterance()["committed"] is True
        await rig.player.speak_end()  # nothing open: a no-op
        await rig.player.speak("V", b"\x02" * 480)  # a new utterance
        assert [u.id for u in rig.session.utterances] == ["U", "V"]
        assert rig.shapes()[-1] == ("agent.speak_started", "V")

    scenario(config(starvation_event="none"), body)


def test_speak_end_with_nothing_received_is_a_no_op() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak_end()
        assert rig.sent == [] and rig.session.utterances == []

    scenario(config(), body)


def test_grace_waits_for_late_audio_and_counts_the_gap_as_silence() -> None:
    async def body(rig: Rig) -> None:
        await until(1.0)
        await rig.player.speak("U", b"\x01" * 4_800)  # ends at 1.1; grace until 1.2
        await until(1.15)
        assert rig.player.progress() == (4_800, 0)  # all played, waiting in the grace
        await rig.player.speak("U", b"\x02" * 4_800)  # 0.05 s late: a gap, not a starvation
        assert rig.player.progress() == (4_800, 4_800)
        await rig.player.speak_end()
        await until(3.0)
        assert rig.shapes() == [
            state("idle", "talking"),
            ("agent.speak_started", "U"),
            ("agent.speak_ended", "U"),
            state("talking", "idle"),
        ]
        # The late chunk plays from its arrival: 1.15 + 0.1 s.
        assert rig.at(("agent.speak_ended", "U")) == pytest.approx(1.25, abs=TOL)
        assert [start for start, _ in rig.sink.scheduled] == pytest.approx([1.0, 1.15], abs=TOL)
        assert rig.utterance()["played_bytes"] == 9_600

    scenario(config(starvation_grace_s=0.1), body)


def test_grace_expires_into_starvation() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 4_800)
        await until(1.0)
        assert rig.at(("agent.speak_ended", "U")) == pytest.approx(0.1 + 0.05, abs=TOL)
        assert rig.shapes()[-1] == ("error",)

    scenario(config(starvation_grace_s=0.05), body)


def test_committed_audio_ends_without_waiting_for_the_grace() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 4_800)
        await rig.player.speak_end()
        await until(1.0)
        assert rig.at(("agent.speak_ended", "U")) == pytest.approx(0.1, abs=TOL)

    scenario(config(starvation_grace_s=0.5), body)


# -- listening pose ----------------------------------------------------------------------------


def test_listening_pose_applies_when_the_speak_ends() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.start_listening()
        await rig.player.start_listening()  # already listening: no second event
        assert rig.shapes() == [state("idle", "listening")]
        await rig.player.speak("U", b"\x01" * 4_800)
        await rig.player.speak_end()
        await rig.player.start_listening()  # while talking: no event now
        assert rig.shapes()[-1] == ("agent.speak_started", "U")
        await until(1.0)
        assert rig.shapes()[1:] == [
            state("listening", "talking"),
            ("agent.speak_started", "U"),
            ("agent.speak_ended", "U"),
            state("talking", "listening"),
        ]
        await rig.player.stop_listening()
        assert rig.shapes()[-1] == state("listening", "idle")
        await rig.player.stop_listening()  # already idle: nothing
        assert len(rig.sent) == 6
        assert rig.player.listening is False and rig.player.state == "idle"

    scenario(config(), body)


def test_stop_listening_while_talking_returns_to_idle_after() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.start_listening()
        await rig.player.speak("U", b"\x01" * 48_000)
        await rig.player.speak_end()
        await rig.player.stop_listening()
        assert rig.player.state == "talking"
        assert rig.shapes()[-1] == ("agent.speak_started", "U")
        await until(0.5)
        await rig.player.interrupt()
        assert rig.shapes()[-1] == state("talking", "idle")

    scenario(config(), body)


def test_interrupt_returns_to_listening_when_listening() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.start_listening()
        await rig.player.speak("U", b"\x01" * 48_000)
        await rig.player.speak_end()
        await until(0.5)
        await rig.player.interrupt()
        assert rig.shapes()[-1] == state("talking", "listening")
        assert rig.player.state == "listening"

    scenario(config(), body)


@pytest.mark.parametrize("profile", ["documented", "observed"])
def test_profiles_choose_the_speaking_signals(profile: str) -> None:
    async def body(rig: Rig) -> None:
        await rig.player.start_listening()
        await rig.player.speak("U", b"\x01" * 4_800)
        await rig.player.speak_end()
        await until(1.0)
        if profile == "documented":
            assert rig.shapes() == [("agent.speak_started", "U"), ("agent.speak_ended", "U")]
        else:
            assert rig.shapes() == [
                state("idle", "listening"),
                state("listening", "talking"),
                state("talking", "listening"),
            ]

    scenario(config(lite_event_profile=profile), body)


# -- time scale and media --------------------------------------------------------------------------


def test_playback_time_scale_overrides_the_session_time_scale() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 48_000)
        await rig.player.speak_end()
        await until(10.0)
        assert rig.at(("agent.speak_ended", "U")) == pytest.approx(0.5, abs=TOL)

    scenario(config(time_scale=0.01, playback_time_scale=0.5), body)


def test_playback_follows_the_time_scale_by_default() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 48_000)
        await rig.player.speak_end()
        await until(10.0)
        assert rig.at(("agent.speak_ended", "U")) == pytest.approx(0.25, abs=TOL)

    scenario(config(time_scale=0.25), body)


def test_without_avatar_media_the_model_still_plays() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 4_800)
        await rig.player.speak_end()
        await until(1.0)
        await rig.player.speak("V", b"\x01" * 48_000)
        await until(1.5)
        await rig.player.interrupt()
        assert rig.sink.scheduled == [] and rig.sink.cuts == [] and rig.sink.captions == []
        assert rig.utterance(0)["end"] == "played"
        assert rig.utterance(1)["played_bytes"] == 24_000

    scenario(config(), body, sink=False)


def test_empty_audio_schedules_nothing() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 4_800)
        await rig.player.speak("U", b"")
        await rig.player.speak_end()
        await until(1.0)
        assert [len(pcm) for _, pcm in rig.sink.scheduled] == [4_800]
        assert rig.utterance()["chunks"] == 2

    scenario(config(), body)


def test_starving_twice_counts_twice_and_an_interrupt_adds_to_what_played() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("U", b"\x01" * 4_800)
        await until(1.0)
        await rig.player.speak("U", b"\x01" * 4_800)
        await until(2.0)
        assert rig.utterance()["starvations"] == 2
        await rig.player.speak("U", b"\x01" * 48_000)
        await until(2.5 + 0.5 / BYTES_PER_S)
        await rig.player.interrupt()
        utt = rig.utterance()
        assert (utt["played_bytes"], utt["discarded_bytes"]) == (9_600 + 24_000, 24_000)
        assert (utt["speaks"], utt["end"]) == (3, "interrupted")

    scenario(config(starvation_event="none"), body)


def test_a_queued_one_byte_utterance_still_plays() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("A", b"\x01" * 4_800)
        await rig.player.speak_end()
        await rig.player.speak("B", b"\x02")
        await rig.player.speak_end()
        await until(1.0)
        assert rig.shapes()[-2:] == [("agent.speak_ended", "B"), state("talking", "idle")]

    scenario(config(), body)


def test_speaking_again_after_an_interrupt_leaves_one_player() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("A", b"\x01" * 48_000)
        await rig.player.speak_end()
        await until(0.5)
        await rig.player.interrupt()
        await rig.player.speak("B", b"\x02" * 96_000)
        await rig.player.speak_end()
        await until(5.0)
        assert rig.shapes().count(("agent.speak_ended", "B")) == 1
        assert rig.at(("agent.speak_ended", "B")) == pytest.approx(2.5, abs=TOL)

    scenario(config(), body)  # the interrupted player's task must be gone: no error logged


def test_a_failing_player_logs_once_with_the_session() -> None:
    session_ids: list[str] = []

    async def body(rig: Rig) -> None:
        session_ids.append(rig.session.id)

        async def failing(event: dict[str, Any]) -> None:
            if event["type"] == "agent.speak_ended":
                raise RuntimeError("the socket broke")

        rig.player._emit = failing
        await rig.player.speak("U", b"\x01" * 480)
        await rig.player.speak_end()
        await until(1.0)

    scenario(config(), body, allow_errors=True)
    assert last_errors == [f"playback failed for session {session_ids[0]}"]


def test_two_interrupts_in_a_row_stop_both_players() -> None:
    async def body(rig: Rig) -> None:
        await rig.player.speak("A", b"\x01" * 48_000)
        await until(0.5)
        await rig.player.interrupt()
        await rig.player.speak("B", b"\x02" * 48_000)  # before the first player has unwound
        await until(0.75)
        await rig.player.interrupt()
        await until(5.0)
        assert rig.shapes().count(("agent.speak_ended", "B")) == 1
        assert rig.at(("agent.speak_ended", "B")) == pytest.approx(0.75, abs=TOL)

    scenario(config(), body)  # a player left running after its interrupt would log a failure

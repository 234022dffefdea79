"""Simulated real-time avatar playback for one LITE connection.

The avatar "plays" buffered PCM at ``playback_bytes_per_s`` (scaled by the playback time scale)
and reports its speaking state through events chosen by the event profile. Playback is tracked
by time, not by ticks: a segment started at ``t0`` holding ``n`` bytes has played
``min(n, (now - t0) / seconds_per_byte)`` bytes, so there is one wake-up per segment end.

Model (reference §3.4, §3.7):

* utterance = every ``agent.speak`` since the last ``speak_end``/``interrupt``; id = first
  chunk's ``event_id`` or a generated one. Utterances queue behind each other.
* a *speak* (``speak_started`` .. ``speak_ended``) is one continuous playback. If the buffer runs
  dry before ``speak_end`` the speak ends and a starvation event is sent; later audio of the same
  utterance starts a new speak with the same id.
* ``interrupt`` discards everything unplayed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import EmulatorConfig
from .sessions import Session, UtteranceRecord

logger = logging.getLogger(__name__)

AgentState = Literal["idle", "listening", "talking"]
Emit = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class _Utterance:
    rec: UtteranceRecord
    pending: int = 0
    """Bytes queued behind the currently playing utterance."""
    pending_pcm: bytearray = field(default_factory=bytearray)
    """Those bytes, for the avatar's audio track."""


class Playback:
    """The avatar's audio buffer and speaking state for one WS connection."""

    def __init__(self, session: Session, config: EmulatorConfig, emit: Emit) -> None:
        self._session = session
        self._emit = emit
        self._profile = config.lite_event_profile
        self._starvation_event = config.starvation_event
        self._grace = config.starvation_grace_s
        self._sec_per_byte = config.effective_playback_time_scale / config.playback_bytes_per_s
        self._loop = asyncio.get_running_loop()
        self._utts: deque[_Utterance] = deque()
        self._speaking = False
        self._seg_start = 0.0
        self._seg_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self.state: AgentState = "idle"
        self.listening = False

    # -- PlaybackProbe ------------------------------------------------------------------------

    def progress(self) -> tuple[int, int]:
        """(bytes of the current segment already played, bytes received but not played)."""
        in_flight = self._played_now() if self._speaking else 0
        unplayed = self._seg_bytes - in_flight if self._speaking else 0
        return in_flight, unplayed + sum(u.pending for u in self._utts)

    # -- commands -----------------------------------------------------------------------------

    async def speak(self, event_id: str | None, pcm: bytes) -> None:
        """Append ``pcm`` to the receiving utterance."""
        nbytes = len(pcm)
        tail = self._utts[-1] if self._utts and not self._utts[-1].rec.committed else None
        if tail is None:
            rec = UtteranceRecord(id=event_id or f"utt-{uuid.uuid4()}")
            self._session.utterances.append(rec)
            tail = _Utterance(rec)
            self._utts.append(tail)
        tail.rec.received_bytes += nbytes
        tail.rec.chunks += 1
        if tail is not self._utts[0]:
            tail.pending += nbytes
            tail.pending_pcm += pcm
        elif self._speaking:
            now = self._loop.time()
            deadline = self._deadline()
            if now > deadline:
                # Arrived during the starvation grace: the gap was silence, not playback.
                self._seg_start += now - deadline
            self._to_sink(self._deadline(), pcm)
            self._seg_bytes += nbytes
        else:
            await self._start_segment(tail, pcm)

    async def speak_end(self) -> None:
        """Commit the receiving utterance: once played, the speak ends normally."""
        if not self._utts or self._utts[-1].rec.committed:
            return
        tail = self._utts[-1]
        tail.rec.committed = True
        if tail is self._utts[0] and not self._speaking:
            # It already starved and its speak ended; nothing left to play.
            tail.rec.end = "played"
            self._utts.popleft()

    async def interrupt(self) -> None:
        """Drop all unplayed audio; end the current speak as interrupted."""
        head = self._utts[0] if self._utts else None
        was_speaking = self._speaking
        self._discard(end="interrupted")
        if was_speaking and head is not None:
            await self._emit_interrupted(head.rec.id)

    async def start_listening(self) -> None:
        """Listening pose; while talking it applies when the speak ends."""
        self.listening = True
        if self.state == "idle":
            await self._set_state("listening")

    async def stop_listening(self) -> None:
        """Leave the listening pose."""
        self.listening = False
        if self.state == "listening":
            await self._set_state("idle")

    async def close(self) -> None:
        """The connection is gone: buffered audio is lost (reference §3.6), no events."""
        self._discard(end="disconnected")

    # -- internals ----------------------------------------------------------------------------

    def _deadline(self) -> float:
        return self._seg_start + self._seg_bytes * self._sec_per_byte

    def _played_now(self) -> int:
        elapsed = self._loop.time() - self._seg_start
        played = max(0, min(self._seg_bytes, int(elapsed / self._sec_per_byte)))
        return played - played % 2  # Whole PCM16 samples: the avatar never plays half of one.

    def _to_sink(self, start: float, pcm: bytes | bytearray) -> None:
        """Tell the avatar's media what plays when (exactly this model's schedule)."""
        sink = self._session.avatar_media
        if sink is not None and pcm:
            sink.schedule(start, bytes(pcm))

    def _caption(self, text: str) -> None:
        sink = self._session.avatar_media
        if sink is not None:
            sink.set_caption(text)

    def _discard(self, *, end: str) -> None:
        sink = self._session.avatar_media
        if sink is not None:
            sink.cut(self._loop.time())
            sink.set_caption("")
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._task = None
        for index, utt in enumerate(self._utts):
            if index == 0 and self._speaking:
                played = self._played_now()
                utt.rec.played_bytes += played
                utt.rec.discarded_bytes += self._seg_bytes - played
            else:
                utt.rec.discarded_bytes += utt.pending
            utt.rec.end = end
        self._utts.clear()
        self._speaking = False
        self._seg_bytes = 0

    async def _start_segment(self, utt: _Utterance, pcm: bytes) -> None:
        self._speaking = True
        self._seg_start = self._loop.time()
        self._seg_bytes = len(pcm)
        self._to_sink(self._seg_start, pcm)
        self._caption(f"utterance {utt.rec.id}")
        utt.pending = 0
        utt.pending_pcm = bytearray()
        utt.rec.speaks += 1
        await self._emit_started(utt.rec.id)
        self._task = asyncio.create_task(self._run(), name=f"playback-{self._session.id}")

    async def _run(self) -> None:
        try:
            while True:
                now = self._loop.time()
                deadline = self._deadline()
                if now < deadline:
                    await asyncio.sleep(deadline - now)
                    continue
                head = self._utts[0]
                if not head.rec.committed and now < deadline + self._grace:
                    await asyncio.sleep(deadline + self._grace - now)
                    continue
                head.rec.played_bytes += self._seg_bytes
                self._speaking = False
                self._seg_bytes = 0
                if not head.rec.committed:
                    head.rec.starvations += 1
                    await self._emit_ended(head.rec.id)
                    await self._emit_starvation(head.rec.id)
                    return
                head.rec.end = "played"
                self._utts.popleft()
                await self._emit_ended(head.rec.id)
                nxt = self._utts[0] if self._utts else None
                if nxt is None or nxt.pending == 0:
                    return
                self._speaking = True
                self._seg_start = self._loop.time()
                self._seg_bytes = nxt.pending
                self._to_sink(self._seg_start, nxt.pending_pcm)
                self._caption(f"utterance {nxt.rec.id}")
                nxt.pending = 0
                nxt.pending_pcm = bytearray()
                nxt.rec.speaks += 1
                await self._emit_started(nxt.rec.id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("playback failed for session %s", self._session.id)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    # -- events per profile -------------------------------------------------------------------

    @property
    def _documented(self) -> bool:
        return self._profile in ("documented", "both")

    @property
    def _observed(self) -> bool:
        return self._profile in ("observed", "both")

    def _rest_state(self) -> AgentState:
        return "listening" if self.listening else "idle"

    async def _set_state(self, new: AgentState) -> None:
        previous, self.state = self.state, new
        if self._observed and previous != new:
            await self._emit(
                {"type": "agent.state_updated", "previous_state": previous, "new_state": new}
            )

    @staticmethod
    def _speak_event(kind: str, utterance_id: str) -> dict[str, Any]:
        return {
            "type": kind,
            "event_id": utterance_id,
            "task": {"id": utterance_id},
            "source_event_id": utterance_id,
        }

    async def _emit_started(self, utterance_id: str) -> None:
        await self._set_state("talking")
        if self._documented:
            await self._emit(self._speak_event("agent.speak_started", utterance_id))

    async def _emit_ended(self, utterance_id: str) -> None:
        self._caption("")
        if self._documented:
            await self._emit(self._speak_event("agent.speak_ended", utterance_id))
        await self._set_state(self._rest_state())

    async def _emit_interrupted(self, utterance_id: str) -> None:
        if self._observed:
            await self._emit(self._speak_event("agent.speak_interrupted", utterance_id))
        if self._documented:
            # The docs promise speak_ended always follows speak_started.
            await self._emit(self._speak_event("agent.speak_ended", utterance_id))
        await self._set_state(self._rest_state())

    async def _emit_starvation(self, utterance_id: str) -> None:
        if self._starvation_event == "none":
            return
        body = {
            "type": "video_starvation",
            "message": "Audio arrived too slowly: the buffer ran dry before agent.speak_end",
            "event_id": utterance_id,
        }
        kind = self._starvation_event
        await self._emit({"type": kind, kind: body})

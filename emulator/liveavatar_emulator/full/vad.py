"""Energy-based voice activity detection on decoded PCM.

The detector cuts the signal into fixed frames (default 20 ms), computes each frame's RMS level
in dBFS (full scale = 1.0) and calls a frame *voiced* when that level is at or above a threshold
(default -45 dBFS). Speech **starts** after ``onset`` consecutive voiced frames (default 60 ms);
its start time is the start of the first of those frames. Speech **ends** once ``hangover``
worth of consecutive unvoiced frames (default 500 ms) follow it; its end time is the end of the
last voiced frame. The measured duration is ``end - start``, on the audio's own timeline
(sample counts), not wall-clock time. :meth:`VoiceActivityDetector.flush` ends an open segment
at once (track ended, or no audio arrived for the hangover time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class SpeechSegment:
    """One detected stretch of speech, times in seconds from the start of the track."""

    start_s: float
    end_s: float
    peak_dbfs: float

    @property
    def duration_s(self) -> float:
        """Measured duration of the segment."""
        return self.end_s - self.start_s


@dataclass
class VadEvent:
    """Returned by :meth:`VoiceActivityDetector.feed`: ``kind`` is ``started`` or ``ended``."""

    kind: str
    time_s: float
    segment: SpeechSegment | None = None


@dataclass
class VoiceActivityDetector:
    """Streaming energy VAD; feed mono float samples in [-1, 1] at ``sample_rate``."""

    sample_rate: int
    frame_ms: int = 20
    threshold_dbfs: float = -45.0
    onset_ms: int = 60
    hangover_ms: int = 500

    frames: int = 0
    voiced_frames: int = 0
    energy_sum: float = 0.0
    in_speech: bool = False
    segments: list[SpeechSegment] = field(default_factory=list)
    _pending: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    _run_voiced: int = 0
    _run_unvoiced: int = 0
    _start_frame: int = 0
    _last_voiced_frame: int = 0
    _peak: float = -math.inf

    @property
    def frame_len(self) -> int:
        """Samples per analysis frame."""
        return max(1, self.sample_rate * self.frame_ms // 1000)

    @property
    def position_s(self) -> float:
        """Audio time analysed so far."""
        return self.frames * self.frame_ms / 1000.0

    @property
    def mean_dbfs(self) -> float:
        """Mean frame energy over the whole track, in dBFS."""
        if self.frames == 0:
            return -math.inf
        return _to_dbfs(math.sqrt(self.energy_sum / self.frames))

    def feed(self, samples: npt.NDArray[np.float64]) -> list[VadEvent]:
        """Analyse more samples; return the speech start/end events they complete."""
        events: list[VadEvent] = []
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n = self.frame_len
        whole = (data.size // n) * n
        for off in range(0, whole, n):
            events.extend(self._frame(data[off : off + n]))
        self._pending = data[whole:].copy()
        return events

    def flush(self) -> list[VadEvent]:
        """End an open speech segment now (no more audio is coming for a while)."""
        if not self.in_speech:
            return []
        return [self._end()]

    def _frame(self, frame: npt.NDArray[np.float64]) -> list[VadEvent]:
        ms = float(np.mean(frame * frame))
        self.energy_sum += ms
        level = _to_dbfs(math.sqrt(ms))
        index = self.frames
        self.frames += 1
        voiced = level >= self.threshold_dbfs
        events: list[VadEvent] = []
        if voiced:
            self.voiced_frames += 1
            self._run_voiced += 1
            self._run_unvoiced = 0
            self._last_voiced_frame = index
            self._peak = max(self._peak, level)
            onset_frames = max(1, math.ceil(self.onset_ms / self.frame_ms))
            if not self.in_speech and self._run_voiced >= onset_frames:
                self.in_speech = True
                self._start_frame = index - onset_frames + 1
                events.append(VadEvent("started", self._start_frame * self.frame_ms / 1000.0))
        else:
            self._run_voiced = 0
            self._run_unvoiced += 1
            hang_frames = max(1, math.ceil(self.hangover_ms / self.frame_ms))
            if self.in_speech and self._run_unvoiced >= hang_frames:
                events.append(self._end())
        return events

    def _end(self) -> VadEvent:
        start_s = self._start_frame * self.frame_ms / 1000.0
        end_s = (self._last_voiced_frame + 1) * self.frame_ms / 1000.0
        segment = SpeechSegment(start_s, end_s, self._peak)
        self.segments.append(segment)
        self.in_speech = False
        self._run_voiced = 0
        self._peak = -math.inf
        return VadEvent("ended", end_s, segment)


def _to_dbfs(rms: float) -> float:
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf

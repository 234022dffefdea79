"""Audio placed on the event loop's clock: what the avatar plays, and when."""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

#: The avatar's audio format, as LiveAvatar takes it: PCM16LE mono at 24 kHz.
SAMPLE_RATE = 24_000

Samples = npt.NDArray[np.int16]

_KEEP_PAST_S = 5.0


class AudioTimeline:
    """PCM chunks scheduled at absolute times (``loop.time()`` seconds).

    Scheduling follows the playback model exactly, so reading the window ``[t, t + n/rate)``
    gives what the avatar is playing at ``t``; silence where nothing is scheduled.
    """

    def __init__(self) -> None:
        self._chunks: deque[tuple[float, Samples]] = deque()

    def schedule(self, start: float, pcm: bytes) -> None:
        """Play ``pcm`` (PCM16LE, odd trailing byte ignored) from ``start``."""
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.int16)
        if samples.size:
            self._chunks.append((start, samples))

    def cut(self, at: float) -> None:
        """Drop everything scheduled from ``at`` on (an interrupt)."""
        kept: deque[tuple[float, Samples]] = deque()
        for start, samples in self._chunks:
            if start >= at:
                continue
            keep = round((at - start) * SAMPLE_RATE)
            kept.append((start, samples[:keep]))
        self._chunks = kept

    def end(self) -> float:
        """When the last scheduled sample ends (0.0 if nothing is scheduled)."""
        return max((s + len(c) / SAMPLE_RATE for s, c in self._chunks), default=0.0)

    def read(self, start: float, count: int) -> Samples:
        """The ``count`` samples playing from ``start`` (mixed where chunks overlap)."""
        out = np.zeros(count, dtype=np.int32)
        stop = start + count / SAMPLE_RATE
        for chunk_start, samples in self._chunks:
            chunk_stop = chunk_start + len(samples) / SAMPLE_RATE
            if chunk_stop <= start or chunk_start >= stop:
                continue
            offset = round((chunk_start - start) * SAMPLE_RATE)
            src_from = max(0, -offset)
            dst_from = max(0, offset)
            n = min(count - dst_from, len(samples) - src_from)
            if n > 0:
                out[dst_from : dst_from + n] += samples[src_from : src_from + n]
        self._prune(start - _KEEP_PAST_S)
        return np.clip(out, -32768, 32767).astype(np.int16)

    def level(self, at: float, window_s: float = 0.04) -> float:
        """RMS of the audio around ``at`` as a 0..1 loudness (drives the mouth)."""
        count = int(window_s * SAMPLE_RATE)
        block = self.read(at - window_s / 2, count).astype(np.float32) / 32768.0
        rms = float(np.sqrt(np.mean(block * block))) if block.size else 0.0
        return min(1.0, rms * 4.0)

    def _prune(self, before: float) -> None:
        while self._chunks:
            start, samples = self._chunks[0]
            if start + len(samples) / SAMPLE_RATE >= before:
                return
            self._chunks.popleft()

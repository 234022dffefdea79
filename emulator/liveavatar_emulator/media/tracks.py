"""aiortc tracks that stream an ``AvatarMedia`` in real time to one subscriber."""

from __future__ import annotations

import asyncio
import fractions
from typing import TYPE_CHECKING, Any

from aiortc import MediaStreamTrack
from av import AudioFrame, VideoFrame

from .timeline import SAMPLE_RATE

if TYPE_CHECKING:
    from .avatar import AvatarMedia

AUDIO_FRAME_S = 0.02
VIDEO_FPS = 10
_AUDIO_SAMPLES = int(SAMPLE_RATE * AUDIO_FRAME_S)
_VIDEO_CLOCK = 90_000


class _PacedTrack(MediaStreamTrack):
    """Emits frame ``n`` at ``t0 + n * period`` on the loop clock; never drifts."""

    def __init__(self, media: AvatarMedia, track_id: str, period_s: float) -> None:
        super().__init__()
        self.sid = track_id
        """The LiveKit track sid: clients map incoming media to the publication by it."""
        self._media = media
        self._period = period_s
        self._t0: float | None = None
        self._n = 0

    async def _next_slot(self) -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        at = self._t0 + self._n * self._period
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        n = self._n
        self._n += 1
        return n, at


class AvatarAudioTrack(_PacedTrack):
    """20 ms PCM16 mono 24 kHz frames of what the avatar plays (silence when idle)."""

    kind = "audio"

    def __init__(self, media: AvatarMedia, track_id: str) -> None:
        super().__init__(media, track_id, AUDIO_FRAME_S)

    async def recv(self) -> Any:
        n, at = await self._next_slot()
        samples = self._media.timeline.read(at, _AUDIO_SAMPLES)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = n * _AUDIO_SAMPLES
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


class AvatarVideoTrack(_PacedTrack):
    """The synthetic avatar at ``VIDEO_FPS`` frames per second."""

    kind = "video"

    def __init__(self, media: AvatarMedia, track_id: str) -> None:
        super().__init__(media, track_id, 1.0 / VIDEO_FPS)

    async def recv(self) -> Any:
        n, at = await self._next_slot()
        rgb = self._media.frame_at(at)
        frame = VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = n * (_VIDEO_CLOCK // VIDEO_FPS)
        frame.time_base = fractions.Fraction(1, _VIDEO_CLOCK)
        return frame

"""The avatar in a room on another LiveKit server (bring your own room, not the emulator's).

It joins with the real livekit SDK and the caller's ``livekit_client_token``, publishes a
microphone and a camera track, and feeds them from the session's ``AvatarMedia`` in real
time, exactly as the in-server avatar does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import numpy as np
from livekit import rtc

from .avatar import AvatarMedia
from .render import HEIGHT, WIDTH
from .timeline import SAMPLE_RATE
from .tracks import AUDIO_FRAME_S, VIDEO_FPS

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 30.0
_AUDIO_SAMPLES = int(SAMPLE_RATE * AUDIO_FRAME_S)


class RemotePublisher:
    """Publishes one session's avatar into a room on any reachable LiveKit server."""

    def __init__(self, media: AvatarMedia, url: str, token: str) -> None:
        self.media = media
        self.url = url
        self.token = token
        self.room: Any = None
        self.joined = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Join and publish in the background (start must not wait on a remote server)."""
        self._tasks.append(asyncio.create_task(self._run(), name="remote-avatar"))

    async def _run(self) -> None:
        room = rtc.Room()
        try:
            await asyncio.wait_for(room.connect(self.url, self.token), _CONNECT_TIMEOUT_S)
        except Exception as exc:
            log.warning(
                "session %s: avatar could not join %s: %s", self.media.session_id, self.url, exc
            )
            return
        self.room = room
        audio = rtc.AudioSource(SAMPLE_RATE, 1)
        video = rtc.VideoSource(WIDTH, HEIGHT)
        local = room.local_participant
        await local.publish_track(
            rtc.LocalAudioTrack.create_audio_track("avatar-audio", audio),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
        )
        await local.publish_track(
            rtc.LocalVideoTrack.create_video_track("avatar-video", video),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA),
        )
        log.info("session %s: avatar publishing in %s", self.media.session_id, self.url)
        self.joined.set()
        self._tasks.append(asyncio.create_task(self._feed_video(video)))
        await self._feed_audio(audio)

    async def _feed_audio(self, source: Any) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        n = 0
        while True:
            at = t0 + n * AUDIO_FRAME_S
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            samples = self.media.timeline.read(at, _AUDIO_SAMPLES)
            await source.capture_frame(
                rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, _AUDIO_SAMPLES)
            )
            n += 1

    async def _feed_video(self, source: Any) -> None:
        loop = asyncio.get_running_loop()
        alpha = np.full((HEIGHT, WIDTH, 1), 255, dtype=np.uint8)
        while True:
            rgba = np.concatenate([self.media.frame_at(loop.time()), alpha], axis=2)
            frame = rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, rgba.tobytes())
            source.capture_frame(frame)
            await asyncio.sleep(1.0 / VIDEO_FPS)

    async def close(self) -> None:
        """Stop publishing and leave the room."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.room is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.room.disconnect(), 10.0)

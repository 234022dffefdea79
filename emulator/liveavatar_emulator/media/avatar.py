"""``AvatarMedia``: one session's avatar as a media source, and its LiveKit track infos."""

from __future__ import annotations

import secrets
from typing import Any

from livekit.protocol import models

from .render import HEIGHT, WIDTH, AvatarRenderer, Frame
from .timeline import AudioTimeline


class AvatarMedia:
    """What the avatar of ``session_id`` plays and shows.

    The playback model (LITE) or the speech worker (FULL) calls :meth:`schedule`, :meth:`cut`
    and :meth:`set_caption`; subscribers get fresh tracks from :meth:`new_tracks`.
    """

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.timeline = AudioTimeline()
        self.caption = ""
        self.audio_sid = "TR_" + secrets.token_hex(6)
        self.video_sid = "TR_" + secrets.token_hex(6)
        self._renderer: AvatarRenderer | None = None
        self._tracks: list[Any] = []

    # -- AvatarSink (fed by the playback model) -------------------------------------------

    def schedule(self, start: float, pcm: bytes) -> None:
        """The avatar plays ``pcm`` from loop time ``start``."""
        self.timeline.schedule(start, pcm)

    def cut(self, at: float) -> None:
        """Nothing scheduled from ``at`` on is played (interrupt, disconnect)."""
        self.timeline.cut(at)

    def set_caption(self, text: str) -> None:
        """The utterance drawn under the face ('' when idle)."""
        self.caption = text

    # -- video --------------------------------------------------------------------------

    def frame_at(self, at: float) -> Frame:
        """The video frame for loop time ``at``."""
        if self._renderer is None:
            self._renderer = AvatarRenderer(self.session_id)
        return self._renderer.frame(self.timeline.level(at), self.caption)

    # -- publishing ---------------------------------------------------------------------

    def track_infos(self) -> list[models.TrackInfo]:
        """The two tracks as announced in ParticipantInfo (Opus microphone, VP8 camera)."""
        return [
            models.TrackInfo(
                sid=self.audio_sid,
                type=models.AUDIO,
                name="avatar-audio",
                source=models.TrackSource.MICROPHONE,
                mime_type="audio/opus",
            ),
            models.TrackInfo(
                sid=self.video_sid,
                type=models.VIDEO,
                name="avatar-video",
                source=models.TrackSource.CAMERA,
                mime_type="video/VP8",
                width=WIDTH,
                height=HEIGHT,
            ),
        ]

    def new_tracks(self) -> list[Any]:
        """A fresh (audio, video) aiortc track pair for one subscriber."""
        from .tracks import AvatarAudioTrack, AvatarVideoTrack

        pair: list[Any] = [
            AvatarAudioTrack(self, self.audio_sid),
            AvatarVideoTrack(self, self.video_sid),
        ]
        self._tracks.extend(pair)
        return pair

    def close(self) -> None:
        """Stop every subscriber track."""
        for track in self._tracks:
            track.stop()
        self._tracks.clear()

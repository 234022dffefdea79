"""The avatar as a room member that publishes media (``heygen``)."""

from __future__ import annotations

from ..full.sfu.participant import DataHandler, VirtualParticipant
from .avatar import AvatarMedia


class MediaParticipant(VirtualParticipant):
    """A server-side participant whose audio and video tracks subscribers receive.

    The server adds fresh tracks from :attr:`media` to each client's answer (see
    ``full/sfu/peer.py``); the track infos are announced with the participant.
    """

    def __init__(
        self, identity: str, media: AvatarMedia, on_data: DataHandler | None = None
    ) -> None:
        super().__init__(identity, on_data=on_data)
        self.media = media
        for info in media.track_infos():
            self.tracks[info.sid] = info

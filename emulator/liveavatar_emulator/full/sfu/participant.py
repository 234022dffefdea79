"""Room participants: the common base and server-side (virtual) participants."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from livekit.protocol import models, rtc

from .ids import new_sid


@dataclass(frozen=True)
class ReceivedData:
    """A user data packet as a virtual participant receives it."""

    sender: str
    topic: str
    payload: bytes
    destinations: tuple[str, ...]
    reliable: bool


class Participant:
    """A member of a room, as announced in JoinResponse / ParticipantUpdate."""

    virtual = False

    def __init__(
        self,
        identity: str,
        *,
        name: str = "",
        kind: models.ParticipantInfo.Kind = models.ParticipantInfo.STANDARD,
        metadata: str = "",
        attributes: dict[str, str] | None = None,
    ) -> None:
        self.identity = identity
        self.sid = new_sid("PA_")
        self.name = name
        self.kind = kind
        self.metadata = metadata
        self.attributes = dict(attributes or {})
        self.joined_at = time.time()
        self.version = 0
        self.tracks: dict[str, models.TrackInfo] = {}
        self.permission = models.ParticipantPermission(
            can_subscribe=True, can_publish=True, can_publish_data=True
        )

    def info(
        self, state: models.ParticipantInfo.State = models.ParticipantInfo.ACTIVE
    ) -> models.ParticipantInfo:
        """This participant's ParticipantInfo; each call bumps ``version``."""
        self.version += 1
        return models.ParticipantInfo(
            sid=self.sid,
            identity=self.identity,
            name=self.name,
            state=state,
            tracks=list(self.tracks.values()),
            metadata=self.metadata,
            attributes=self.attributes,
            joined_at=int(self.joined_at),
            joined_at_ms=int(self.joined_at * 1000),
            version=self.version,
            permission=self.permission,
            is_publisher=bool(self.tracks),
            kind=self.kind,
        )

    def send_signal(self, response: rtc.SignalResponse) -> None:
        """Queue a signalling message to this participant (virtual participants have none)."""

    def deliver(self, packet: models.DataPacket, reliable: bool) -> None:
        """Deliver a data packet routed to this participant."""
        raise NotImplementedError

    def replaced(self) -> None:
        """Called when a new participant with the same identity joined the room."""

    def to_json(self) -> dict[str, object]:
        """JSON view used by the inspection API."""
        return {
            "identity": self.identity,
            "sid": self.sid,
            "name": self.name,
            "virtual": self.virtual,
            "kind": models.ParticipantInfo.Kind.Name(self.kind),
            "joined_at": self.joined_at,
            "tracks": [
                {
                    "sid": t.sid,
                    "name": t.name,
                    "type": models.TrackType.Name(t.type),
                    "source": models.TrackSource.Name(t.source),
                    "muted": t.muted,
                }
                for t in self.tracks.values()
            ],
        }


DataHandler = Callable[[ReceivedData], None]


class VirtualParticipant(Participant):
    """A participant that lives inside the server (no WebRTC): the emulated avatar and agent.

    It shows up in other participants' room state, can send data through
    :meth:`Room.inject` and receives user packets routed to it through ``on_data``.
    """

    virtual = True

    def __init__(self, identity: str, on_data: DataHandler | None = None, **kw: object) -> None:
        super().__init__(identity, **kw)  # type: ignore[arg-type]
        self.on_data = on_data
        self.next_sequence = 1

    def deliver(self, packet: models.DataPacket, reliable: bool) -> None:
        """Hand user packets to ``on_data``; other packet kinds are ignored."""
        if self.on_data is None or packet.WhichOneof("value") != "user":
            return
        user = packet.user
        dests = tuple(packet.destination_identities) or tuple(user.destination_identities)
        self.on_data(
            ReceivedData(
                sender=packet.participant_identity,
                topic=user.topic,
                payload=user.payload,
                destinations=dests,
                reliable=reliable,
            )
        )

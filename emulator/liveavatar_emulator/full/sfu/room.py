"""A room: its participants, data routing and recordings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from livekit.protocol import models, rtc

from ..vad import SpeechSegment
from .ids import new_sid
from .participant import Participant, VirtualParticipant
from .records import RoomRecorder

log = logging.getLogger(__name__)


class RoomObserver(Protocol):
    """Callbacks a room makes to interested parties (the emulated agent)."""

    def on_speech_started(self, participant: str, track_sid: str, time_s: float) -> None:
        """A participant's audio track started carrying speech."""

    def on_speech_ended(self, participant: str, track_sid: str, segment: SpeechSegment) -> None:
        """A participant's speech segment ended."""


class Room:
    """One LiveKit room in the emulated server."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sid = new_sid("RM_")
        self.created_at = time.time()
        self.closed_at: float | None = None
        self.participants: dict[str, Participant] = {}
        self.departed: list[dict[str, object]] = []
        self.recorder = RoomRecorder()
        self.observers: list[RoomObserver] = []
        self.state_providers: dict[str, Callable[[], dict[str, Any]]] = {}

    @property
    def closed(self) -> bool:
        """True once the room was torn down."""
        return self.closed_at is not None

    def info(self) -> models.Room:
        """The Room message for JoinResponse."""
        return models.Room(
            sid=self.sid,
            name=self.name,
            empty_timeout=300,
            departure_timeout=20,
            creation_time=int(self.created_at),
            creation_time_ms=int(self.created_at * 1000),
            num_participants=len(self.participants),
        )

    def others(self, participant: Participant) -> list[Participant]:
        """Everybody in the room except ``participant``."""
        return [p for p in self.participants.values() if p is not participant]

    def add(self, participant: Participant) -> None:
        """Add a participant and announce it to everybody else."""
        old = self.participants.get(participant.identity)
        if old is not None:
            log.info("room %s: identity %s joined again, replacing", self.name, old.identity)
            self.remove(old)
            old.replaced()
        self.participants[participant.identity] = participant
        self.broadcast_update(participant)

    def remove(self, participant: Participant) -> None:
        """Remove a participant (if still present) and announce that it left."""
        if self.participants.get(participant.identity) is not participant:
            return
        del self.participants[participant.identity]
        self.departed.append({**participant.to_json(), "left_at": time.time()})
        self.broadcast_update(participant, models.ParticipantInfo.DISCONNECTED)

    def broadcast_update(
        self,
        participant: Participant,
        state: models.ParticipantInfo.State = models.ParticipantInfo.ACTIVE,
    ) -> None:
        """Send a ParticipantUpdate about ``participant`` to all others."""
        update = rtc.SignalResponse(
            update=rtc.ParticipantUpdate(participants=[participant.info(state)])
        )
        for other in self.others(participant):
            other.send_signal(update)

    def route(self, sender: Participant, packet: models.DataPacket, reliable: bool) -> None:
        """Record a data packet from ``sender`` and forward it to its destinations."""
        packet.participant_identity = sender.identity
        packet.participant_sid = sender.sid
        kind = packet.WhichOneof("value") or "unknown"
        dests = list(packet.destination_identities)
        topic = ""
        payload = b""
        if kind == "user":
            user = packet.user
            user.participant_identity = sender.identity
            user.participant_sid = sender.sid
            dests = dests or list(user.destination_identities)
            topic = user.topic
            payload = user.payload
        self.recorder.add_packet(
            sender=sender.identity,
            sender_sid=sender.sid,
            kind=kind,
            topic=topic,
            payload=payload,
            destinations=tuple(dests),
            reliable=reliable,
            virtual_sender=sender.virtual,
        )
        for other in self.others(sender):
            if dests and other.identity not in dests:
                continue
            try:
                other.deliver(packet, reliable)
            except Exception:
                log.exception("room %s: delivering to %s failed", self.name, other.identity)

    def inject(
        self,
        sender: VirtualParticipant,
        topic: str,
        payload: bytes,
        *,
        destinations: list[str] | None = None,
        reliable: bool = True,
    ) -> None:
        """Send a user data packet on behalf of a virtual participant."""
        packet = models.DataPacket(
            kind=models.DataPacket.RELIABLE if reliable else models.DataPacket.LOSSY,
            destination_identities=destinations or [],
            user=models.UserPacket(
                payload=payload, topic=topic, destination_identities=destinations or []
            ),
        )
        if reliable:
            packet.sequence = sender.next_sequence
            sender.next_sequence += 1
        self.route(sender, packet, reliable)

    def speech_started(self, participant: str, track_sid: str, time_s: float) -> None:
        """Tell observers that speech started on a track."""
        for obs in list(self.observers):
            obs.on_speech_started(participant, track_sid, time_s)

    def speech_ended(self, participant: str, track_sid: str, segment: SpeechSegment) -> None:
        """Tell observers that a speech segment ended on a track."""
        for obs in list(self.observers):
            obs.on_speech_ended(participant, track_sid, segment)

    def to_json(self) -> dict[str, object]:
        """JSON summary used by the inspection API."""
        return {
            "name": self.name,
            "sid": self.sid,
            "created_at": self.created_at,
            "closed_at": self.closed_at,
            "participants": [p.to_json() for p in self.participants.values()],
            "departed": self.departed,
            "packet_count": len(self.recorder.packets),
            "audio_tracks": len(self.recorder.audio),
            **{key: provider() for key, provider in self.state_providers.items()},
        }

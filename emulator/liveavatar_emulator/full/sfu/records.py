"""What the server saw in a room: data packets and per-track audio statistics."""

from __future__ import annotations

import base64
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from ..vad import VoiceActivityDetector


@dataclass(frozen=True)
class DataRecord:
    """One data packet the server routed (from a WebRTC client or a virtual participant)."""

    seq: int
    time: float
    sender: str
    sender_sid: str
    kind: str
    topic: str
    payload: bytes
    destinations: tuple[str, ...]
    reliable: bool
    virtual_sender: bool

    def payload_json(self) -> Any:
        """The payload decoded as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.payload)
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        """JSON view used by the inspection API."""
        try:
            text: str | None = self.payload.decode()
        except UnicodeDecodeError:
            text = None
        return {
            "seq": self.seq,
            "time": self.time,
            "sender": self.sender,
            "sender_sid": self.sender_sid,
            "virtual_sender": self.virtual_sender,
            "kind": self.kind,
            "topic": self.topic,
            "reliable": self.reliable,
            "destinations": list(self.destinations),
            "payload_text": text,
            "payload_b64": base64.b64encode(self.payload).decode(),
            "payload_json": self.payload_json(),
        }


@dataclass
class AudioTrackRecord:
    """Statistics of one received (decoded) audio track, with its voice activity."""

    participant: str
    track_sid: str
    cid: str
    vad: VoiceActivityDetector
    started_at: float = field(default_factory=time.time)
    decoded_frames: int = 0
    samples: int = 0
    sample_rate: int = 0
    channels: int = 0
    ended: bool = False

    @property
    def duration_s(self) -> float:
        """Decoded audio duration."""
        return self.samples / self.sample_rate if self.sample_rate else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON view used by the inspection API."""
        mean = self.vad.mean_dbfs
        return {
            "participant": self.participant,
            "track_sid": self.track_sid,
            "cid": self.cid,
            "started_at": self.started_at,
            "decoded_frames": self.decoded_frames,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "duration_s": round(self.duration_s, 3),
            "mean_dbfs": None if math.isinf(mean) else round(mean, 2),
            "voiced_frames": self.vad.voiced_frames,
            "in_speech": self.vad.in_speech,
            "ended": self.ended,
            "segments": [
                {
                    "start_s": round(s.start_s, 3),
                    "end_s": round(s.end_s, 3),
                    "duration_s": round(s.duration_s, 3),
                    "peak_dbfs": round(s.peak_dbfs, 2),
                }
                for s in self.vad.segments
            ],
        }


@dataclass
class RoomRecorder:
    """Everything recorded for one room."""

    packets: list[DataRecord] = field(default_factory=list)
    audio: list[AudioTrackRecord] = field(default_factory=list)
    max_packets: int = 10_000

    def add_packet(self, **fields: Any) -> DataRecord:
        """Append a packet record (oldest dropped beyond ``max_packets``)."""
        seq = self.packets[-1].seq + 1 if self.packets else 1
        record = DataRecord(seq=seq, time=time.time(), **fields)
        self.packets.append(record)
        if len(self.packets) > self.max_packets:
            del self.packets[0]
        return record

"""Consume a received WebRTC audio track (decoded by aiortc) and run voice activity on it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np

from ..config import FullModeConfig
from ..vad import VadEvent, VoiceActivityDetector
from .records import AudioTrackRecord
from .room import Room

log = logging.getLogger(__name__)

_RECV_POLL_S = 0.1


def frame_to_mono(frame: Any) -> tuple[np.ndarray[Any, np.dtype[np.float64]], int, int]:
    """Convert an ``av.AudioFrame`` to mono float samples in [-1, 1].

    Returns ``(samples, sample_rate, channels)``.
    """
    channels = len(frame.layout.channels)
    data = frame.to_ndarray()
    fmt = frame.format.name
    if frame.format.is_planar:
        mono = data.astype(np.float64).mean(axis=0)
    else:
        mono = data.reshape(-1, channels).astype(np.float64).mean(axis=1)
    if fmt.startswith("s16"):
        mono /= 32768.0
    elif fmt.startswith("s32"):
        mono /= 2147483648.0
    return mono, int(frame.sample_rate), channels


async def monitor_audio_track(
    track: Any, record: AudioTrackRecord, room: Room, config: FullModeConfig
) -> None:
    """Read frames from an aiortc track until it ends, updating ``record`` and the room.

    When no audio arrives for the VAD hangover time during speech (the sender stopped
    sending), the open speech segment is flushed.
    """
    from aiortc.mediastreams import MediaStreamError

    silent_for = 0.0
    hangover = config.vad_hangover_ms / 1000.0
    try:
        while True:
            try:
                frame = await asyncio.wait_for(track.recv(), timeout=_RECV_POLL_S)
            except TimeoutError:
                silent_for += _RECV_POLL_S
                if silent_for >= hangover:
                    _emit(room, record, record.vad.flush())
                continue
            silent_for = 0.0
            samples, rate, channels = frame_to_mono(frame)
            if record.sample_rate != rate:
                if record.sample_rate:
                    log.warning(
                        "track %s changed rate %d→%d", record.track_sid, record.sample_rate, rate
                    )
                record.sample_rate = rate
                record.vad = _rebuilt(record.vad, rate)
            record.channels = channels
            record.decoded_frames += 1
            record.samples += samples.size
            _emit(room, record, record.vad.feed(samples))
    except MediaStreamError:
        pass
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("audio monitor for %s failed", record.track_sid)
    finally:
        record.ended = True
        _emit(room, record, record.vad.flush())
        log.info(
            "room %s: audio track %s of %s ended: %.2f s decoded, %d speech segments",
            room.name,
            record.track_sid,
            record.participant,
            record.duration_s,
            len(record.vad.segments),
        )


def _rebuilt(vad: VoiceActivityDetector, rate: int) -> VoiceActivityDetector:
    if vad.frames == 0 or vad.sample_rate == rate:
        return VoiceActivityDetector(
            sample_rate=rate,
            frame_ms=vad.frame_ms,
            threshold_dbfs=vad.threshold_dbfs,
            onset_ms=vad.onset_ms,
            hangover_ms=vad.hangover_ms,
        )
    vad.sample_rate = rate
    return vad


def _emit(room: Room, record: AudioTrackRecord, events: list[VadEvent]) -> None:
    for ev in events:
        if ev.kind == "started":
            room.speech_started(record.participant, record.track_sid, ev.time_s)
        elif ev.segment is not None:
            room.speech_ended(record.participant, record.track_sid, ev.segment)

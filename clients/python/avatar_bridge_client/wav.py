"""Reading WAV files into audio the bridge takes (stdlib ``wave``; PCM only)."""

from __future__ import annotations

import asyncio
import wave
from dataclasses import dataclass
from pathlib import Path

from avatarbridge.v1 import avatar_bridge_pb2 as pb

__all__ = ["WavAudio", "WavError", "load_wav", "read_wav"]

_MIN_RATE, _MAX_RATE = 8_000, 48_000
# Unsigned 8-bit PCM to signed: flip the top bit (the sample becomes the high byte of PCM16).
_U8_TO_S8 = bytes((b ^ 0x80) for b in range(256))


class WavError(ValueError):
    """A WAV file the client cannot send: unreadable, or a format the bridge doesn't take."""


@dataclass(frozen=True, slots=True)
class WavAudio:
    """Headerless PCM16 little-endian audio read from a WAV file."""

    data: bytes
    """Interleaved PCM16 little-endian frames."""
    sample_rate_hz: int
    channels: int

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one frame (2 bytes x channels)."""
        return 2 * self.channels

    @property
    def frames(self) -> int:
        """Number of frames."""
        return len(self.data) // self.bytes_per_frame

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate_hz

    def audio_format(self) -> pb.AudioFormat:
        """The ``input_audio`` format to declare in the SessionConfig."""
        return pb.AudioFormat(
            encoding=pb.AUDIO_ENCODING_LINEAR16,
            sample_rate_hertz=self.sample_rate_hz,
            channel_count=self.channels,
        )


def read_wav(path: str | Path) -> WavAudio:
    """Read a 16-bit or 8-bit PCM WAV file, 8-48 kHz, mono or stereo (8-bit becomes 16-bit).

    Blocking: in async code use :func:`load_wav`.

    Raises:
        WavError: the file is not such a WAV file; the message says what is expected.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            width, rate, channels = wav.getsampwidth(), wav.getframerate(), wav.getnchannels()
            data = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as error:
        raise WavError(
            f"{path}: not a PCM WAV file ({error}): expected 8- or 16-bit integer PCM"
        ) from None
    except OSError as error:
        raise WavError(f"{path}: {error.strerror or error}") from None
    if width not in (1, 2):
        raise WavError(f"{path}: {8 * width}-bit samples: expected 8- or 16-bit PCM")
    if not _MIN_RATE <= rate <= _MAX_RATE:
        raise WavError(f"{path}: sample rate {rate} Hz: expected {_MIN_RATE} to {_MAX_RATE}")
    if channels not in (1, 2):
        raise WavError(f"{path}: {channels} channels: expected 1 or 2")
    if width == 1:
        pcm16 = bytearray(2 * len(data))
        pcm16[1::2] = data.translate(_U8_TO_S8)
        data = bytes(pcm16)
    # A truncated file may end mid-frame; the bridge takes whole frames only.
    data = data[: len(data) - len(data) % (2 * channels)]
    return WavAudio(data=data, sample_rate_hz=rate, channels=channels)


async def load_wav(path: str | Path) -> WavAudio:
    """:func:`read_wav` in a worker thread, keeping the event loop free."""
    return await asyncio.to_thread(read_wav, path)

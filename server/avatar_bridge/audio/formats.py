"""Audio formats the bridge accepts, their validation, and decoding to float samples.

Clients send headerless audio in one of four encodings at 8-48 kHz, mono or interleaved
stereo. Everything is decoded to float32 mono in [-1, 1] here; :mod:`.converter` resamples
that to the one format LiveAvatar takes (24 kHz mono PCM16 little-endian).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .g711 import ALAW_TO_INT16, MULAW_TO_INT16

__all__ = [
    "MAX_CHANNELS",
    "MAX_SAMPLE_RATE_HZ",
    "MIN_SAMPLE_RATE_HZ",
    "OUTPUT_BYTES_PER_MS",
    "OUTPUT_FORMAT",
    "OUTPUT_SAMPLE_RATE_HZ",
    "AudioEncoding",
    "AudioFormat",
    "AudioFormatError",
    "decode_to_float32_mono",
    "encode_pcm16",
]

MIN_SAMPLE_RATE_HZ: Final = 8_000
MAX_SAMPLE_RATE_HZ: Final = 48_000
MAX_CHANNELS: Final = 2
OUTPUT_SAMPLE_RATE_HZ: Final = 24_000
"""LiveAvatar LITE's only rate; also the rate of the FULL microphone track."""
OUTPUT_BYTES_PER_MS: Final = OUTPUT_SAMPLE_RATE_HZ * 2 // 1000
"""Bytes of 24 kHz mono PCM16 per millisecond (48)."""

# Full scale of a 16-bit sample: int16 / 32768 lands in [-1, 1).
_PCM16_SCALE: Final = 32768.0


class AudioFormatError(ValueError):
    """Audio or an audio format that the bridge cannot take (maps to INVALID_ARGUMENT)."""


class AudioEncoding(enum.IntEnum):
    """Headerless sample encodings; values equal the ``avatarbridge.v1.AudioEncoding`` numbers."""

    LINEAR16 = pb.AUDIO_ENCODING_LINEAR16
    """16-bit signed little-endian PCM."""
    FLOAT32 = pb.AUDIO_ENCODING_FLOAT32
    """32-bit IEEE float little-endian PCM, nominally in [-1, 1] (clipped beyond)."""
    MULAW = pb.AUDIO_ENCODING_MULAW
    """8-bit G.711 µ-law."""
    ALAW = pb.AUDIO_ENCODING_ALAW
    """8-bit G.711 A-law."""

    @property
    def bytes_per_sample(self) -> int:
        """Bytes of one sample of one channel."""
        return _BYTES_PER_SAMPLE[self]

    @property
    def proto_name(self) -> str:
        """The proto enum value's name, such as ``AUDIO_ENCODING_LINEAR16``."""
        return pb.AudioEncoding.Name(self.value)


_BYTES_PER_SAMPLE: Final = {
    AudioEncoding.LINEAR16: 2,
    AudioEncoding.FLOAT32: 4,
    AudioEncoding.MULAW: 1,
    AudioEncoding.ALAW: 1,
}

_SUPPORTED_NAMES: Final = ", ".join(e.proto_name for e in AudioEncoding)


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """A validated headerless audio format: encoding, rate and interleaved channel count.

    Construction validates, so every instance is one the converter can take.

    Raises:
        AudioFormatError: the rate or channel count is out of range.
    """

    encoding: AudioEncoding
    sample_rate_hz: int
    channels: int = 1

    def __post_init__(self) -> None:
        if not MIN_SAMPLE_RATE_HZ <= self.sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
            raise AudioFormatError(
                f"sample_rate_hertz {self.sample_rate_hz} is out of range: "
                f"expected {MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ}"
            )
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise AudioFormatError(
                f"channel_count {self.channels} is not supported: expected 1 or 2 (0 also means 1)"
            )

    @classmethod
    def from_proto(cls, message: pb.AudioFormat) -> AudioFormat:
        """Validate an ``avatarbridge.v1.AudioFormat``; a channel_count of 0 means 1.

        Raises:
            AudioFormatError: the encoding is unset or unknown, or the rate or channel count
                is out of range; the message names the field and what is expected.
        """
        if message.encoding == pb.AUDIO_ENCODING_UNSPECIFIED:
            raise AudioFormatError(
                f"encoding is not set (AUDIO_ENCODING_UNSPECIFIED): "
                f"expected one of {_SUPPORTED_NAMES}"
            )
        try:
            encoding = AudioEncoding(message.encoding)
        except ValueError:
            # Proto3 enums are open: a newer client may send a number this server doesn't know.
            raise AudioFormatError(
                f"encoding {message.encoding} is not supported: expected one of {_SUPPORTED_NAMES}"
            ) from None
        return cls(
            encoding=encoding,
            sample_rate_hz=message.sample_rate_hertz,
            channels=message.channel_count or 1,
        )

    def to_proto(self) -> pb.AudioFormat:
        """This format as an ``avatarbridge.v1.AudioFormat``."""
        return pb.AudioFormat(
            encoding=pb.AudioEncoding.ValueType(self.encoding.value),
            sample_rate_hertz=self.sample_rate_hz,
            channel_count=self.channels,
        )

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one frame: one sample of every channel."""
        return self.encoding.bytes_per_sample * self.channels

    @property
    def is_output_format(self) -> bool:
        """True for 24 kHz mono PCM16, which passes through the converter unchanged."""
        return self == OUTPUT_FORMAT

    def frame_count(self, n_bytes: int) -> int:
        """Frames in ``n_bytes`` of audio in this format.

        Raises:
            AudioFormatError: ``n_bytes`` is not a whole number of frames.
        """
        frames, rest = divmod(n_bytes, self.bytes_per_frame)
        if rest:
            raise AudioFormatError(
                f"audio chunk of {n_bytes} bytes is not a whole number of frames: "
                f"expected a multiple of {self.bytes_per_frame} bytes "
                f"({self.encoding.bytes_per_sample} bytes per sample × {self.channels} "  # noqa: RUF001
                f"channel{'s' if self.channels > 1 else ''})"
            )
        return frames

    def duration_ms(self, n_bytes: int) -> float:
        """Milliseconds of audio in ``n_bytes`` of this format (partial frames count)."""
        return n_bytes * 1000 / (self.bytes_per_frame * self.sample_rate_hz)

    def __str__(self) -> str:
        return f"{self.encoding.name} {self.sample_rate_hz} Hz, {self.channels} ch"


# G.711 tables pre-scaled to float so decoding is a single lookup.
_MULAW_TO_FLOAT32: Final = MULAW_TO_INT16.astype(np.float32) / np.float32(_PCM16_SCALE)
_ALAW_TO_FLOAT32: Final = ALAW_TO_INT16.astype(np.float32) / np.float32(_PCM16_SCALE)

OUTPUT_FORMAT: Final = AudioFormat(AudioEncoding.LINEAR16, OUTPUT_SAMPLE_RATE_HZ, 1)
"""What LiveAvatar takes: 24 kHz mono PCM16 little-endian."""


def decode_to_float32_mono(
    data: bytes | bytearray | memoryview, fmt: AudioFormat
) -> npt.NDArray[np.float32]:
    """Decode whole frames of ``fmt`` audio to float32 mono samples in [-1, 1].

    Stereo is downmixed by averaging the channels. FLOAT32 input is clipped to [-1, 1] and
    NaN becomes silence, since one NaN would poison the resampler's filter state for good.

    Raises:
        AudioFormatError: ``data`` is not a whole number of frames.
    """
    fmt.frame_count(len(data))
    samples: npt.NDArray[np.float32]
    match fmt.encoding:
        case AudioEncoding.LINEAR16:
            samples = np.frombuffer(data, dtype="<i2").astype(np.float32)
            samples *= 1.0 / _PCM16_SCALE
        case AudioEncoding.FLOAT32:
            samples = np.frombuffer(data, dtype="<f4").astype(np.float32)
            np.nan_to_num(samples, copy=False, nan=0.0)
            np.clip(samples, -1.0, 1.0, out=samples)
        case AudioEncoding.MULAW:
            samples = _MULAW_TO_FLOAT32[np.frombuffer(data, dtype=np.uint8)]
        case AudioEncoding.ALAW:
            samples = _ALAW_TO_FLOAT32[np.frombuffer(data, dtype=np.uint8)]
    if fmt.channels == 2:
        # Strided adds beat reshape().mean() by ~3x and stay in float32.
        samples = (samples[0::2] + samples[1::2]) * np.float32(0.5)
    return samples


def encode_pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    """Encode float samples as PCM16 little-endian, rounding to nearest and clipping.

    The resampler's filter can overshoot full scale slightly (Gibbs ringing), hence the clip.
    """
    scaled = np.rint(samples * np.float32(_PCM16_SCALE))
    np.clip(scaled, -_PCM16_SCALE, _PCM16_SCALE - 1, out=scaled)
    pcm: bytes = scaled.astype("<i2").tobytes()
    return pcm

"""Client audio → LiveAvatar audio (24 kHz mono PCM16 little-endian).

Public names:

- :class:`AudioFormat`, :class:`AudioEncoding`, :class:`AudioFormatError`: validated formats.
- :class:`AudioConverter`: stateful streaming conversion with flush/reset and accounting.
- :func:`decode_to_float32_mono`, :func:`encode_pcm16`: the stateless halves of conversion.
- :func:`input_bytes_for_output`, :func:`output_samples_for_input`,
  :func:`output_duration_ms`: byte/sample/duration accounting for ``AudioDropped``.
"""

from .accounting import input_bytes_for_output, output_duration_ms, output_samples_for_input
from .converter import AudioConverter, ResampleQuality
from .formats import (
    MAX_CHANNELS,
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    OUTPUT_BYTES_PER_MS,
    OUTPUT_FORMAT,
    OUTPUT_SAMPLE_RATE_HZ,
    AudioEncoding,
    AudioFormat,
    AudioFormatError,
    decode_to_float32_mono,
    encode_pcm16,
)

__all__ = [
    "MAX_CHANNELS",
    "MAX_SAMPLE_RATE_HZ",
    "MIN_SAMPLE_RATE_HZ",
    "OUTPUT_BYTES_PER_MS",
    "OUTPUT_FORMAT",
    "OUTPUT_SAMPLE_RATE_HZ",
    "AudioConverter",
    "AudioEncoding",
    "AudioFormat",
    "AudioFormatError",
    "ResampleQuality",
    "decode_to_float32_mono",
    "encode_pcm16",
    "input_bytes_for_output",
    "output_duration_ms",
    "output_samples_for_input",
]

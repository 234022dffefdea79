"""Conversions between client-format bytes and bridge-output (24 kHz mono PCM16) amounts.

Used to report audio that will never play (``AudioDropped``) in the client's own units.
"""

from __future__ import annotations

from .formats import OUTPUT_FORMAT, OUTPUT_SAMPLE_RATE_HZ, AudioFormat

__all__ = [
    "input_bytes_for_output",
    "output_duration_ms",
    "output_samples_for_input",
]


def output_samples_for_input(fmt: AudioFormat, n_frames: int) -> int:
    """Output samples that ``n_frames`` input frames become once the resampler is flushed.

    This is ``n_frames * 24000 / rate`` rounded half up, which is what libsoxr yields for a
    whole stream (checked against soxr 1.1.0 for many rates and lengths). Python's ``round``
    would be wrong here: it rounds halves to even.
    """
    rate = fmt.sample_rate_hz
    return (2 * n_frames * OUTPUT_SAMPLE_RATE_HZ + rate) // (2 * rate)


def input_bytes_for_output(fmt: AudioFormat, n_output_bytes: int) -> int:
    """Client-format bytes that ``n_output_bytes`` of bridge output came from.

    Rounded to the nearest whole frame (half up), so the figure is always a valid chunk size.
    """
    n_samples = n_output_bytes // OUTPUT_FORMAT.bytes_per_frame
    rate = fmt.sample_rate_hz
    frames = (2 * n_samples * rate + OUTPUT_SAMPLE_RATE_HZ) // (2 * OUTPUT_SAMPLE_RATE_HZ)
    return frames * fmt.bytes_per_frame


def output_duration_ms(n_output_bytes: int) -> int:
    """Whole milliseconds (rounded half up) of ``n_output_bytes`` of 24 kHz mono PCM16."""
    n_samples = n_output_bytes // OUTPUT_FORMAT.bytes_per_frame
    return (2 * n_samples * 1000 + OUTPUT_SAMPLE_RATE_HZ) // (2 * OUTPUT_SAMPLE_RATE_HZ)

"""Streaming conversion of client audio to LiveAvatar's 24 kHz mono PCM16.

One :class:`AudioConverter` per conversation. It keeps the resampler's state across chunks so
that chunk boundaries are inaudible, and its output over an utterance is the same whatever
the chunking (libsoxr's streaming mode matches its one-shot mode exactly).

Quality: libsoxr "HQ" (20-bit precision, passband to ~91 % of Nyquist, linear phase). It is
well past PCM16's noise floor and costs ~0.1 ms of CPU per second of audio. Its price is
buffering: with 100 ms chunks, 8-40 ms of output stays inside the resampler until more input
or :meth:`AudioConverter.flush` pushes it out. That is small next to the 400-1000 ms first packet
the bridge builds for LiveAvatar anyway, and ``flush()`` at the end of each utterance returns it.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import soxr

from .accounting import input_bytes_for_output, output_samples_for_input
from .formats import OUTPUT_SAMPLE_RATE_HZ, AudioFormat, decode_to_float32_mono, encode_pcm16

__all__ = ["AudioConverter", "ResampleQuality"]

ResampleQuality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
"""libsoxr quality presets, quickest to best."""

DEFAULT_QUALITY: Final[ResampleQuality] = "HQ"

_EMPTY: Final = np.zeros(0, dtype=np.float32)


class AudioConverter:
    """Converts a stream of client audio chunks to 24 kHz mono PCM16 little-endian.

    Typical use, per utterance: :meth:`convert` each chunk as it arrives, then :meth:`flush`
    at its end; :meth:`reset` on an interrupt to drop what the resampler holds.

    24 kHz mono LINEAR16 input is passed through byte for byte. Other 24 kHz input is only
    decoded and downmixed. Every other rate goes through a ``soxr.ResampleStream``.
    """

    def __init__(self, fmt: AudioFormat, *, quality: ResampleQuality = DEFAULT_QUALITY) -> None:
        """Start a converter for audio in ``fmt``.

        Args:
            fmt: the client's audio format.
            quality: libsoxr quality preset for resampling.
        """
        self._format = fmt
        self._passthrough = fmt.is_output_format
        self._resampler: soxr.ResampleStream | None = None
        if fmt.sample_rate_hz != OUTPUT_SAMPLE_RATE_HZ:
            self._resampler = soxr.ResampleStream(
                fmt.sample_rate_hz, OUTPUT_SAMPLE_RATE_HZ, 1, dtype="float32", quality=quality
            )
        self._input_frames = 0
        self._output_samples = 0
        # Per-utterance counters: what went in and came out since the last flush or reset.
        self._pending_input_frames = 0
        self._pending_output_samples = 0

    @property
    def input_format(self) -> AudioFormat:
        """The client's audio format."""
        return self._format

    @property
    def input_frames(self) -> int:
        """Input frames consumed since the converter was made."""
        return self._input_frames

    @property
    def output_samples(self) -> int:
        """Output samples (24 kHz mono) produced since the converter was made."""
        return self._output_samples

    @property
    def buffered_output_samples(self) -> int:
        """Output samples the current utterance still owes: held in the resampler until
        more input or :meth:`flush` arrives; what :meth:`reset` would drop."""
        expected = output_samples_for_input(self._format, self._pending_input_frames)
        return max(expected - self._pending_output_samples, 0)

    def convert(self, chunk: bytes | bytearray | memoryview) -> bytes:
        """Convert one chunk of whole frames; returns what the resampler has ready (maybe b"").

        Raises:
            AudioFormatError: ``chunk`` is not a whole number of frames.
        """
        frames = self._format.frame_count(len(chunk))
        if self._passthrough:
            out = bytes(chunk)
        else:
            samples = decode_to_float32_mono(chunk, self._format)
            if self._resampler is not None and frames:
                samples = self._resampler.resample_chunk(samples)
            out = encode_pcm16(samples)
        self._account(frames, len(out) // 2)
        return out

    def flush(self) -> bytes:
        """End the utterance: return the resampler's tail and start afresh for the next one.

        After ``flush()`` the utterance's output is exactly
        :func:`~.accounting.output_samples_for_input` samples long.
        """
        out = b""
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(_EMPTY, last=True)
            self._resampler.clear()
            out = encode_pcm16(tail)
        self._account(0, len(out) // 2)
        self._pending_input_frames = self._pending_output_samples = 0
        return out

    def reset(self) -> int:
        """Drop the resampler's state and buffered audio (an interrupt); start afresh.

        Returns:
            The output samples dropped, as :attr:`buffered_output_samples` was.
        """
        dropped = self.buffered_output_samples
        if self._resampler is not None:
            self._resampler.clear()
        self._pending_input_frames = self._pending_output_samples = 0
        return dropped

    def input_bytes_for_output(self, n_output_bytes: int) -> int:
        """Client-format bytes (whole frames) that ``n_output_bytes`` of output came from."""
        return input_bytes_for_output(self._format, n_output_bytes)

    def _account(self, frames: int, samples: int) -> None:
        self._input_frames += frames
        self._output_samples += samples
        self._pending_input_frames += frames
        self._pending_output_samples += samples

"""AudioConverter: every encoding x rate x channel count against an independent expectation."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
import soxr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatar_bridge.audio import (
    AudioConverter,
    AudioEncoding,
    AudioFormat,
    AudioFormatError,
    output_samples_for_input,
)

from .signals import encode, pcm16_to_float, random_chunks, reference_decode, snr_db, tone_mix

RATES = (8000, 16000, 22050, 24000, 44100, 48000)
MIN_SNR_DB = 60.0

# Encoded test signals by format, built once for the hypothesis test.
_SIGNALS: dict[AudioFormat, bytes] = {}

CASES = [
    AudioFormat(encoding, rate, channels)
    for encoding, rate, channels in itertools.product(AudioEncoding, RATES, (1, 2))
]


def _id(fmt: AudioFormat) -> str:
    return f"{fmt.encoding.name}-{fmt.sample_rate_hz}-{fmt.channels}ch"


def _stream(converter: AudioConverter, chunks: list[bytes]) -> bytes:
    return b"".join(converter.convert(c) for c in chunks) + converter.flush()


@pytest.mark.parametrize("fmt", CASES, ids=_id)
def test_streamed_conversion_matches_one_shot_reference(fmt: AudioFormat) -> None:
    # 0.7123 s: an odd frame count, so the half-up length rounding is exercised.
    data = encode(tone_mix(fmt.sample_rate_hz, fmt.channels, 0.7123), fmt.encoding)
    n_frames = len(data) // fmt.bytes_per_frame
    seed = zlib.crc32(_id(fmt).encode())

    out = _stream(AudioConverter(fmt), random_chunks(data, fmt.bytes_per_frame, seed))

    if fmt.sample_rate_hz == 24000 and fmt.channels == 1 and fmt.encoding is AudioEncoding.LINEAR16:
        assert out == data
        return
    reference = reference_decode(data, fmt)
    if fmt.sample_rate_hz != 24000:
        reference = soxr.resample(reference, fmt.sample_rate_hz, 24000, quality="HQ")
    assert len(out) // 2 == len(reference) == output_samples_for_input(fmt, n_frames)
    snr = snr_db(reference, pcm16_to_float(out))
    print(f"{_id(fmt)}: SNR {snr:.1f} dB")
    assert snr >= MIN_SNR_DB


@pytest.mark.parametrize("rate", RATES)
def test_output_length_is_exact_for_every_short_length(rate: int) -> None:
    fmt = AudioFormat(AudioEncoding.LINEAR16, rate, 1)
    converter = AudioConverter(fmt)
    for n in range(0, 40):
        out = converter.convert(b"\x01\x00" * n) + converter.flush()
        expected = round(n * 24000 / rate + 1e-9)  # half up; no exact halves below differ
        assert len(out) // 2 == output_samples_for_input(fmt, n) == expected


def test_passthrough_is_byte_identical_and_never_buffers() -> None:
    fmt = AudioFormat(AudioEncoding.LINEAR16, 24000, 1)
    converter = AudioConverter(fmt)
    chunk = bytes(range(256)) * 4
    assert converter.convert(chunk) == chunk
    assert converter.convert(memoryview(chunk)) == chunk
    assert converter.buffered_output_samples == 0
    assert converter.flush() == b""


def test_float32_is_clipped_and_nan_is_silence() -> None:
    fmt = AudioFormat(AudioEncoding.FLOAT32, 24000, 1)
    samples = np.array([2.0, -3.0, np.nan, 0.5, np.inf, -np.inf], dtype="<f4")
    out = np.frombuffer(AudioConverter(fmt).convert(samples.tobytes()), "<i2")
    assert out.tolist() == [32767, -32768, 0, 16384, 32767, -32768]


def test_nan_does_not_poison_the_resampler() -> None:
    fmt = AudioFormat(AudioEncoding.FLOAT32, 48000, 1)
    converter = AudioConverter(fmt)
    converter.convert(np.full(480, np.nan, dtype="<f4").tobytes())
    out = converter.convert(np.full(4800, 0.25, dtype="<f4").tobytes()) + converter.flush()
    assert np.isfinite(pcm16_to_float(out)).all()
    assert np.abs(pcm16_to_float(out)[-1000:-200] - 0.25).max() < 1e-3


def test_stereo_is_averaged() -> None:
    fmt = AudioFormat(AudioEncoding.LINEAR16, 24000, 2)
    frames = np.array([[1000, 3000], [-2000, 0], [32767, 32767]], dtype="<i2")
    out = np.frombuffer(AudioConverter(fmt).convert(frames.tobytes()), "<i2")
    assert out.tolist() == [2000, -1000, 32767]


def test_partial_frame_is_refused_with_the_expected_multiple() -> None:
    converter = AudioConverter(AudioFormat(AudioEncoding.LINEAR16, 16000, 2))
    with pytest.raises(AudioFormatError) as info:
        converter.convert(b"\x00" * 1001)
    assert str(info.value) == (
        "audio chunk of 1001 bytes is not a whole number of frames: "
        "expected a multiple of 4 bytes (2 bytes per sample × 2 channels)"  # noqa: RUF001
    )
    assert converter.input_frames == 0


@pytest.mark.parametrize(
    ("fmt", "size", "multiple"),
    [
        (AudioFormat(AudioEncoding.FLOAT32, 8000, 1), 6, 4),
        (AudioFormat(AudioEncoding.FLOAT32, 8000, 2), 12, 8),
        (AudioFormat(AudioEncoding.MULAW, 8000, 2), 3, 2),
        (AudioFormat(AudioEncoding.LINEAR16, 24000, 1), 3, 2),
    ],
)
def test_partial_frames_for_every_shape(fmt: AudioFormat, size: int, multiple: int) -> None:
    with pytest.raises(AudioFormatError, match=f"expected a multiple of {multiple} bytes"):
        AudioConverter(fmt).convert(b"\x00" * size)


def test_flush_starts_the_next_utterance_afresh() -> None:
    fmt = AudioFormat(AudioEncoding.LINEAR16, 44100, 1)
    first = encode(tone_mix(44100, 1, 0.3, seed=1), fmt.encoding)
    second = encode(tone_mix(44100, 1, 0.2, seed=2), fmt.encoding)
    converter = AudioConverter(fmt)
    _stream(converter, [first])
    assert converter.flush() == b""  # a second flush has nothing left
    assert _stream(converter, [second]) == _stream(AudioConverter(fmt), [second])


def test_reset_drops_buffered_audio_and_reports_it() -> None:
    fmt = AudioFormat(AudioEncoding.LINEAR16, 48000, 1)
    data = encode(tone_mix(48000, 1, 0.1), fmt.encoding)
    converter = AudioConverter(fmt)
    produced = len(converter.convert(data)) // 2
    buffered = converter.buffered_output_samples
    assert buffered > 0  # HQ holds part of the chunk back
    assert produced + buffered == output_samples_for_input(fmt, len(data) // 2)
    assert converter.reset() == buffered
    assert converter.buffered_output_samples == 0
    assert converter.flush() == b""  # nothing of the dropped utterance comes back
    assert _stream(converter, [data]) == _stream(AudioConverter(fmt), [data])


def test_accounting_counters() -> None:
    fmt = AudioFormat(AudioEncoding.MULAW, 8000, 1)
    converter = AudioConverter(fmt)
    out = converter.convert(b"\xff" * 800) + converter.convert(b"\xff" * 801) + converter.flush()
    assert converter.input_frames == 1601
    assert converter.output_samples == len(out) // 2 == 4803
    assert converter.input_bytes_for_output(len(out)) == 1601
    assert converter.input_format == fmt


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(
        [
            AudioFormat(AudioEncoding.LINEAR16, 44100, 2),
            AudioFormat(AudioEncoding.FLOAT32, 48000, 1),
            AudioFormat(AudioEncoding.MULAW, 8000, 1),
            AudioFormat(AudioEncoding.ALAW, 22050, 2),
            AudioFormat(AudioEncoding.LINEAR16, 16000, 1),
            AudioFormat(AudioEncoding.FLOAT32, 24000, 2),
        ]
    ),
    cuts=st.lists(st.floats(0.0, 1.0), max_size=30),
)
def test_any_chunking_gives_the_one_shot_output(fmt: AudioFormat, cuts: list[float]) -> None:
    data = _SIGNALS.setdefault(
        fmt, encode(tone_mix(fmt.sample_rate_hz, fmt.channels, 0.25, seed=3), fmt.encoding)
    )
    n_frames = len(data) // fmt.bytes_per_frame
    bounds = [0, *sorted(round(c * n_frames) for c in cuts), n_frames]
    chunks = [
        data[a * fmt.bytes_per_frame : b * fmt.bytes_per_frame]
        for a, b in itertools.pairwise(bounds)
    ]
    assert _stream(AudioConverter(fmt), chunks) == _stream(AudioConverter(fmt), [data])

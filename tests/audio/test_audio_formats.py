"""AudioFormat validation, from_proto, and the accounting helpers."""

from __future__ import annotations

import pytest

from avatar_bridge.audio import (
    OUTPUT_FORMAT,
    AudioEncoding,
    AudioFormat,
    AudioFormatError,
    input_bytes_for_output,
    output_duration_ms,
    output_samples_for_input,
)
from avatarbridge.v1 import avatar_bridge_pb2 as pb


def test_from_proto_defaults_channels_to_one() -> None:
    message = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000)
    fmt = AudioFormat.from_proto(message)
    assert fmt == AudioFormat(AudioEncoding.MULAW, 8000, 1)
    assert fmt.bytes_per_frame == 1
    assert fmt.to_proto() == pb.AudioFormat(
        encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000, channel_count=1
    )


@pytest.mark.parametrize(
    ("encoding", "bytes_per_frame"),
    [
        (pb.AUDIO_ENCODING_LINEAR16, 4),
        (pb.AUDIO_ENCODING_FLOAT32, 8),
        (pb.AUDIO_ENCODING_MULAW, 2),
        (pb.AUDIO_ENCODING_ALAW, 2),
    ],
)
def test_bytes_per_frame(encoding: pb.AudioEncoding.ValueType, bytes_per_frame: int) -> None:
    message = pb.AudioFormat(encoding=encoding, sample_rate_hertz=16000, channel_count=2)
    assert AudioFormat.from_proto(message).bytes_per_frame == bytes_per_frame


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            pb.AudioFormat(sample_rate_hertz=16000),
            "encoding is not set (AUDIO_ENCODING_UNSPECIFIED): expected one of "
            "AUDIO_ENCODING_LINEAR16, AUDIO_ENCODING_FLOAT32, AUDIO_ENCODING_MULAW, "
            "AUDIO_ENCODING_ALAW",
        ),
        (
            pb.AudioFormat(encoding=pb.AudioEncoding.ValueType(99), sample_rate_hertz=16000),
            "encoding 99 is not supported: expected one of AUDIO_ENCODING_LINEAR16, "
            "AUDIO_ENCODING_FLOAT32, AUDIO_ENCODING_MULAW, AUDIO_ENCODING_ALAW",
        ),
        (
            pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=96000),
            "sample_rate_hertz 96000 is out of range: expected 8000 to 48000",
        ),
        (
            pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16),
            "sample_rate_hertz 0 is out of range: expected 8000 to 48000",
        ),
        (
            pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=7999),
            "sample_rate_hertz 7999 is out of range: expected 8000 to 48000",
        ),
        (
            pb.AudioFormat(
                encoding=pb.AUDIO_ENCODING_ALAW, sample_rate_hertz=8000, channel_count=3
            ),
            "channel_count 3 is not supported: expected 1 or 2 (0 also means 1)",
        ),
        (
            pb.AudioFormat(
                encoding=pb.AUDIO_ENCODING_ALAW, sample_rate_hertz=8000, channel_count=-1
            ),
            "channel_count -1 is not supported: expected 1 or 2 (0 also means 1)",
        ),
    ],
)
def test_from_proto_rejects_with_a_message_naming_the_problem(
    message: pb.AudioFormat, error: str
) -> None:
    with pytest.raises(AudioFormatError) as info:
        AudioFormat.from_proto(message)
    assert str(info.value) == error
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("rate", [8000, 48000])
def test_bounds_are_inclusive(rate: int) -> None:
    # The .proto: "8,000 to 48,000" samples per second, both ends accepted.
    message = pb.AudioFormat(
        encoding=pb.AUDIO_ENCODING_FLOAT32, sample_rate_hertz=rate, channel_count=2
    )
    fmt = AudioFormat.from_proto(message)
    assert (fmt.sample_rate_hz, fmt.channels, fmt.bytes_per_frame) == (rate, 2, 8)


def test_output_format() -> None:
    assert OUTPUT_FORMAT.is_output_format
    assert OUTPUT_FORMAT.bytes_per_frame == 2
    assert not AudioFormat(AudioEncoding.LINEAR16, 24000, 2).is_output_format
    assert not AudioFormat(AudioEncoding.FLOAT32, 24000, 1).is_output_format


def test_duration_ms() -> None:
    assert AudioFormat(AudioEncoding.LINEAR16, 16000, 2).duration_ms(64000) == 1000.0


def test_output_samples_round_half_up() -> None:
    fmt = AudioFormat(AudioEncoding.LINEAR16, 48000, 1)
    assert output_samples_for_input(fmt, 1) == 1  # 0.5 -> 1 (Python's round() would say 0)
    assert output_samples_for_input(fmt, 3) == 2  # 1.5 -> 2
    assert output_samples_for_input(fmt, 5) == 3  # 2.5 -> 3 (round() would say 2)
    assert output_samples_for_input(AudioFormat(AudioEncoding.LINEAR16, 22050, 1), 1) == 1


def test_input_bytes_for_output_is_whole_frames() -> None:
    stereo_float = AudioFormat(AudioEncoding.FLOAT32, 44100, 2)
    # 100 ms of output = 4,800 bytes = 4,410 input frames of 8 bytes.
    assert input_bytes_for_output(stereo_float, 4800) == 4410 * 8
    # 1 output sample = 1.8375 input frames -> 2 frames.
    assert input_bytes_for_output(stereo_float, 2) == 16
    assert input_bytes_for_output(AudioFormat(AudioEncoding.MULAW, 8000, 1), 6) == 1
    assert input_bytes_for_output(stereo_float, 0) == 0


def test_output_duration_ms() -> None:
    assert output_duration_ms(48000) == 1000
    assert output_duration_ms(48) == 1
    assert output_duration_ms(24) == 1  # 0.5 ms rounds up
    assert output_duration_ms(22) == 0

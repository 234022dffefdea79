"""Audio conversion throughput: seconds of audio converted per CPU second, per input format.

Streams 60 s of noise through AudioConverter in 100 ms and 20 ms chunks (flush included) and
reports the best of 3 runs by process CPU time. Run: `make bench` or
`python -m benchmarks.audio_throughput`.
"""

from __future__ import annotations

import time

import numpy as np

from avatar_bridge.audio import AudioConverter, AudioEncoding, AudioFormat

SECONDS = 60
CASES = [
    ("48 kHz stereo FLOAT32", AudioFormat(AudioEncoding.FLOAT32, 48000, 2)),
    ("48 kHz stereo LINEAR16", AudioFormat(AudioEncoding.LINEAR16, 48000, 2)),
    ("16 kHz mono LINEAR16", AudioFormat(AudioEncoding.LINEAR16, 16000, 1)),
    ("8 kHz mono MULAW", AudioFormat(AudioEncoding.MULAW, 8000, 1)),
    ("24 kHz mono LINEAR16 (pass-through)", AudioFormat(AudioEncoding.LINEAR16, 24000, 1)),
]


def payload(fmt: AudioFormat) -> bytes:
    rng = np.random.default_rng(1)
    n = fmt.sample_rate_hz * fmt.channels * SECONDS
    if fmt.encoding == AudioEncoding.FLOAT32:
        return rng.uniform(-0.5, 0.5, n).astype("<f4").tobytes()
    if fmt.encoding == AudioEncoding.LINEAR16:
        return rng.integers(-16000, 16000, n).astype("<i2").tobytes()
    return rng.integers(0, 256, n).astype(np.uint8).tobytes()


def realtime_factor(fmt: AudioFormat, data: bytes, chunk_ms: int) -> float:
    step = fmt.bytes_per_frame * fmt.sample_rate_hz * chunk_ms // 1000
    best = float("inf")
    for _ in range(3):
        converter = AudioConverter(fmt)
        start = time.process_time()
        for offset in range(0, len(data), step):
            converter.convert(data[offset : offset + step])
        converter.flush()
        best = min(best, time.process_time() - start)
    return SECONDS / best


def main() -> None:
    print(f"{'input':<38} {'100 ms chunks':>14} {'20 ms chunks':>13}   (x real time, one core)")
    for name, fmt in CASES:
        data = payload(fmt)
        print(
            f"{name:<38} {realtime_factor(fmt, data, 100):>13,.0f}x "
            f"{realtime_factor(fmt, data, 20):>12,.0f}x"
        )


if __name__ == "__main__":
    main()

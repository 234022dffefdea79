"""Test signals and independent reference decoding for the audio tests.

The reference path never touches ``avatar_bridge.audio``: struct for PCM, the G.711 formulas
for the companded codes, float64 throughout, numpy ``mean`` for the downmix.
"""

from __future__ import annotations

import bisect
import struct

import numpy as np
import numpy.typing as npt

from avatar_bridge.audio import AudioEncoding, AudioFormat

from .g711_reference import ALAW_LEVELS, MULAW_LEVELS

Float64Array = npt.NDArray[np.float64]


def tone_mix(rate: int, channels: int, seconds: float, seed: int = 0) -> Float64Array:
    """A mix of tones (a different mix per channel) plus a little noise, shape (frames, channels).

    Peaks stay under 0.8 of full scale so that no encoding clips.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(round(rate * seconds)) / rate
    columns = []
    for ch in range(channels):
        freqs = (220.0, 997.0, 3150.0) if ch == 0 else (330.0, 1500.0, 2700.0)
        x = sum(0.22 * np.sin(2 * np.pi * f * t + ch) for f in freqs)
        columns.append(x + 0.01 * rng.standard_normal(t.size))
    return np.stack(columns, axis=1)


def _nearest_code(levels: list[int], value: float) -> int:
    ordered = sorted(range(256), key=lambda c: levels[c])
    sorted_levels = [levels[c] for c in ordered]
    i = bisect.bisect_left(sorted_levels, value)
    candidates = [j for j in (i - 1, i) if 0 <= j < 256]
    return ordered[min(candidates, key=lambda j: abs(sorted_levels[j] - value))]


def encode(signal: Float64Array, encoding: AudioEncoding) -> bytes:
    """Interleave and encode a (frames, channels) float signal."""
    flat = signal.reshape(-1)
    match encoding:
        case AudioEncoding.LINEAR16:
            return np.round(flat * 32767).astype("<i2").tobytes()
        case AudioEncoding.FLOAT32:
            return flat.astype("<f4").tobytes()
        case AudioEncoding.MULAW | AudioEncoding.ALAW:
            levels = MULAW_LEVELS if encoding is AudioEncoding.MULAW else ALAW_LEVELS
            # Quantise to the nearest level via a 1,024-entry lookup to keep this quick.
            grid = np.linspace(-1.0, 1.0, 1025)
            codes = np.array([_nearest_code(levels, g * 32768) for g in grid], dtype=np.uint8)
            return codes[np.round((flat + 1.0) * 512).astype(np.int64)].tobytes()
    raise AssertionError(encoding)


def reference_decode(data: bytes, fmt: AudioFormat) -> Float64Array:
    """Decode to float64 mono in [-1, 1] without the pipeline's code."""
    match fmt.encoding:
        case AudioEncoding.LINEAR16:
            values = np.array(struct.unpack(f"<{len(data) // 2}h", data), dtype=np.float64)
            values /= 32768
        case AudioEncoding.FLOAT32:
            values = np.array(struct.unpack(f"<{len(data) // 4}f", data), dtype=np.float64)
            values = np.clip(values, -1.0, 1.0)
        case AudioEncoding.MULAW:
            values = np.array([MULAW_LEVELS[b] for b in data], dtype=np.float64) / 32768
        case AudioEncoding.ALAW:
            values = np.array([ALAW_LEVELS[b] for b in data], dtype=np.float64) / 32768
    mono: Float64Array = values.reshape(-1, fmt.channels).mean(axis=1)
    return mono


def pcm16_to_float(data: bytes) -> Float64Array:
    """Decode 16-bit little-endian PCM to float64."""
    return np.array(struct.unpack(f"<{len(data) // 2}h", data), dtype=np.float64) / 32768


def snr_db(reference: Float64Array, actual: Float64Array) -> float:
    """Signal-to-noise ratio of ``actual`` against ``reference``, in dB."""
    noise = float(np.sum((actual - reference) ** 2))
    signal = float(np.sum(reference**2))
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


def random_chunks(data: bytes, frame: int, seed: int, max_frames: int = 4000) -> list[bytes]:
    """Split ``data`` into chunks of a random whole number of frames (some empty)."""
    rng = np.random.default_rng(seed)
    chunks, i = [], 0
    while i < len(data):
        n = int(rng.integers(0, max_frames)) * frame
        chunks.append(data[i : i + n])
        i += n
    return chunks

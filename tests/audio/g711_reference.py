"""Reference G.711 decoders written from the recommendation's formulas, one code at a time.

Deliberately independent of ``avatar_bridge.audio.g711`` (no bit-shifting tricks, no numpy):
these are what the pipeline's tables are checked against.
"""

from __future__ import annotations

import bisect


def mulaw_level(code: int) -> int:
    """Linear 16-bit level of a µ-law byte (ITU-T G.711 table 2, 14-bit levels scaled by 4)."""
    inverted = 255 - code  # µ-law codes are sent with every bit inverted
    negative = inverted >= 128
    segment = (inverted % 128) // 16
    step = inverted % 16
    scale: int = 2**segment
    level14 = (2 * step + 33) * scale - 33
    return -4 * level14 if negative else 4 * level14


def alaw_level(code: int) -> int:
    """Linear 16-bit level of an A-law byte (ITU-T G.711 table 1, 13-bit levels scaled by 8)."""
    toggled = code ^ 0b0101_0101  # the even bits are inverted on the line
    positive = toggled >= 128
    segment = (toggled % 128) // 16
    step = toggled % 16
    scale: int = 2 ** max(segment - 1, 0)
    level13 = 2 * step + 1 if segment == 0 else (2 * step + 33) * scale
    return 8 * level13 if positive else -8 * level13


MULAW_LEVELS = [mulaw_level(c) for c in range(256)]
ALAW_LEVELS = [alaw_level(c) for c in range(256)]


def encode_nearest(pcm16: list[int], levels: list[int]) -> bytes:
    """G.711-encode 16-bit samples as the code whose reference level is nearest.

    An encoder built on the reference decoders above (the stdlib's `audioop` is gone in Python
    3.13): what an end-to-end test needs is bytes whose meaning the reference decoders define.
    """
    by_level = sorted(range(256), key=lambda code: levels[code])
    ordered = [levels[code] for code in by_level]
    out = bytearray()
    for sample in pcm16:
        i = bisect.bisect_left(ordered, sample)
        if i == len(ordered) or (i > 0 and sample - ordered[i - 1] <= ordered[i] - sample):
            i -= 1
        out.append(by_level[i])
    return bytes(out)

"""Reference G.711 decoders written from the recommendation's formulas, one code at a time.

Deliberately independent of ``avatar_bridge.audio.g711`` (no bit-shifting tricks, no numpy):
these are what the pipeline's tables are checked against.
"""

from __future__ import annotations


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

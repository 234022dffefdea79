"""ITU-T G.711 µ-law and A-law decoding tables.

Each table maps the 256 byte codes to their reconstruction level on the 16-bit linear scale
(µ-law: 14-bit levels x 4, peak ±32,124; A-law: 13-bit levels x 8, peak ±32,256), the same
values as the reference decoders in ITU-T G.191 and in CPython's former ``audioop``.
Decoding a chunk is then one fancy-indexing lookup: ``TABLE[np.frombuffer(data, np.uint8)]``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["ALAW_TO_INT16", "MULAW_TO_INT16"]


def _build_mulaw_table() -> npt.NDArray[np.int16]:
    # Codes are transmitted bit-inverted; then sign (bit 7), segment (bits 6-4), step (bits 3-0).
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    segment = (code >> 4) & 0x07
    step = code & 0x0F
    # (2·step + 33)·2^segment - 33 on the 14-bit scale, i.e. x4 on the 16-bit one.
    magnitude = (((step << 3) + 0x84) << segment) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_alaw_table() -> npt.NDArray[np.int16]:
    # Even bits are inverted on the line (XOR 0x55); a set sign bit means positive.
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code >> 4) & 0x07
    step = code & 0x0F
    # Segment 0: 2·step + 1; segment s ≥ 1: (2·step + 33)·2^(s-1); on the 13-bit scale, x8.
    magnitude = np.where(
        segment == 0,
        (step << 4) + 8,
        ((step << 4) + 0x108) << np.maximum(segment - 1, 0),
    )
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


MULAW_TO_INT16: Final[npt.NDArray[np.int16]] = _build_mulaw_table()
"""µ-law byte code → linear 16-bit sample."""

ALAW_TO_INT16: Final[npt.NDArray[np.int16]] = _build_alaw_table()
"""A-law byte code → linear 16-bit sample."""

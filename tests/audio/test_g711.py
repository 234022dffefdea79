"""The G.711 tables against the recommendation's formulas (and CPython's audioop if present)."""

from __future__ import annotations

import importlib
import warnings

import pytest

from avatar_bridge.audio.g711 import ALAW_TO_INT16, MULAW_TO_INT16

from .g711_reference import ALAW_LEVELS, MULAW_LEVELS


def test_mulaw_table_matches_formula() -> None:
    assert MULAW_TO_INT16.tolist() == MULAW_LEVELS


def test_alaw_table_matches_formula() -> None:
    assert ALAW_TO_INT16.tolist() == ALAW_LEVELS


def test_known_levels() -> None:
    # Silence codes and full-scale codes from G.711's tables.
    assert MULAW_LEVELS[0xFF] == 0 and MULAW_LEVELS[0x7F] == 0
    assert MULAW_LEVELS[0x80] == 32124 and MULAW_LEVELS[0x00] == -32124
    assert ALAW_LEVELS[0xD5] == 8 and ALAW_LEVELS[0x55] == -8
    assert ALAW_LEVELS[0xAA] == 32256 and ALAW_LEVELS[0x2A] == -32256


def test_tables_match_audioop_when_available() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            audioop = importlib.import_module("audioop")
        except ImportError:  # removed in Python 3.13
            pytest.skip("audioop is not available")
    codes = bytes(range(256))
    assert audioop.ulaw2lin(codes, 2) == MULAW_TO_INT16.astype("<i2").tobytes()
    assert audioop.alaw2lin(codes, 2) == ALAW_TO_INT16.astype("<i2").tobytes()

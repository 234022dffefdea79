"""Fixtures for the platform tests (rolling deploys, rich errors, metrics, scale-out)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def emulator_settings() -> dict[str, Any]:
    """Audio plays 20 times faster than real time; session timers stay real."""
    return {"playback_time_scale": 0.05}

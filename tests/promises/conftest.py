"""Fixtures for the promise tests: the server tests' bridge + emulator environment, reused."""

from __future__ import annotations

from server.conftest import emulator_settings, env, inspector

__all__ = ["emulator_settings", "env", "inspector"]

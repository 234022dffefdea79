"""Fixtures for the promise tests: the server tests' bridge + emulator environment, reused."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from server.conftest import emulator_settings, env, inspector

__all__ = ["collect_garbage", "emulator_settings", "env", "inspector"]


@pytest.fixture(autouse=True)
def collect_garbage() -> Iterator[None]:
    """Finalize what a test leaves behind while it is still the current test.

    A shutdown that outlasts its grace leaves the bridge's stop tasks to fail after the test
    (their REST client is closed). Their "exception never retrieved" log, run by a later garbage
    collection inside pytest's assertion rewriter, crashes CPython 3.11's AST compiler
    ("recursion depth mismatch"): collecting here keeps it inside the test that caused it.
    """
    yield
    gc.collect()

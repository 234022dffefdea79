"""Which event loop runs the bridge: uvloop when installed (the default), else asyncio's own.

Measured with `python -m benchmarks.run --compare uvloop` (one pinned core, 300 real-time LITE
sessions, 100 ms chunks, alternated in one run): uvloop cut the bridge's CPU per audio-second by
8 to 10 %, from the loop's own bookkeeping and socket writes done in C. `--event-loop asyncio`
keeps asyncio's loop (a platform without uvloop, or to rule it out when debugging).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

CHOICES = ("auto", "uvloop", "asyncio")
T = TypeVar("T")


def resolve(choice: str) -> str:
    """The loop `choice` means here: "auto" is uvloop when it is installed."""
    if choice not in CHOICES:
        raise ValueError(f"event loop must be one of {', '.join(CHOICES)}: got {choice!r}")
    if choice == "auto":
        return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    return choice


def run(main: Coroutine[Any, Any, T], choice: str) -> T:
    """asyncio.run(main) on the loop `choice` resolves to."""
    if resolve(choice) == "uvloop":
        try:
            import uvloop
        except ImportError:
            main.close()
            raise SystemExit(
                "avatar-bridge: --event-loop uvloop, but uvloop is not installed "
                "(pip install uvloop, or --event-loop asyncio)"
            ) from None
        return uvloop.run(main)
    return asyncio.run(main)

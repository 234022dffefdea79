"""Give freed heap back to the OS: glibc's malloc_trim, run now and then in a worker thread.

gRPC's threads allocate from several malloc arenas; after a burst of calls (thousands of
cancelled streams, a wave of sessions ending) the freed memory stays in those arenas and RSS
stays up (measured: RSS +38 MiB and rising after 18,000 rapid resets; +6.7 MiB with a trim
every 5 s). A trim
every few seconds costs well under a millisecond when there is little to return, and runs off
the event loop. Without glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[], object] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


class MemoryTrimmer:
    """`start()` in the loop; `await stop()` when the server stops."""

    def __init__(self, interval_s: float = 5.0) -> None:
        self._interval_s = interval_s
        self._trim = _malloc_trim()
        self._task: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        return self._trim is not None

    def start(self) -> None:
        if self._trim is not None and self._task is None:
            self._task = asyncio.create_task(self._run(self._trim), name="malloc-trim")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, trim: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await asyncio.to_thread(trim)

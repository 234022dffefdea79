"""Streaming audio into a conversation at the pace of real time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from .conversation import Conversation

__all__ = ["Clock", "SystemClock", "send_paced_audio"]


class Clock(Protocol):
    """A monotonic clock and a sleep, injectable so tests run without real waiting."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        await asyncio.sleep(seconds)


async def send_paced_audio(
    conversation: Conversation,
    data: bytes,
    *,
    bytes_per_frame: int,
    sample_rate_hz: int,
    chunk_ms: int = 100,
    realtime: bool = True,
    lead_ms: int = 0,
    request_id: str | None = None,
    clock: Clock | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Send ``data`` in chunks of ``chunk_ms`` whole frames, paced at real time.

    Chunk *k* leaves when the audio before it has had time to play (less ``lead_ms``), so the
    stream neither starves the avatar nor runs far ahead of it; with ``realtime=False`` it
    goes as fast as the connection allows.

    Args:
        conversation: where to send.
        data: interleaved frames in the conversation's input format.
        bytes_per_frame: bytes of one frame of ``data``.
        sample_rate_hz: frames per second of ``data``.
        chunk_ms: milliseconds of audio per AudioChunk.
        realtime: pace sends at real time.
        lead_ms: how far ahead of real time sends may run.
        request_id: request_id of the first chunk (names the utterance in LITE).
        clock: time source; the system clock by default.
        on_progress: called with (bytes sent, total bytes) after each chunk.

    Returns:
        The number of chunks sent.
    """
    clock = clock or SystemClock()
    frames_per_chunk = max(1, sample_rate_hz * chunk_ms // 1000)
    chunk_bytes = frames_per_chunk * bytes_per_frame
    start = clock.monotonic()
    sent = chunks = 0
    while sent < len(data):
        if realtime:
            due = start + (sent // bytes_per_frame) / sample_rate_hz - lead_ms / 1000
            delay = due - clock.monotonic()
            if delay > 0:
                await clock.sleep(delay)
        chunk = data[sent : sent + chunk_bytes]
        await conversation.send_audio(chunk, request_id if chunks == 0 else None)
        sent += len(chunk)
        chunks += 1
        if on_progress is not None:
            on_progress(sent, len(data))
    return chunks

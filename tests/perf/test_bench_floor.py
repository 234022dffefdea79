"""The benchmark's CPU floor (benchmarks/floor.py) really is the job, minus the bridge: `relay`
forwards each client chunk as exactly one agent.speak packet the sink decodes, and ends each
call OK; `recv` receives the same calls and forwards nothing. Driven as `make bench` drives
them: benchmarks.run's step, a bridge_proc child, the Python generator and sink."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The repository root, appended (not prepended: tests/server must stay `server`), for benchmarks.
sys.path.append(str(Path(__file__).resolve().parents[2]))

from benchmarks.run import run_step
from benchmarks.sink import Sink

SESSIONS = 3
SECONDS = 1.0
CHUNK_MS = 100


@pytest.mark.parametrize(("mode", "packets"), [("relay", SESSIONS * 10), ("recv", 0)])
async def test_the_floor_serves_the_benchmark_sessions(mode: str, packets: int) -> None:
    sink = Sink()
    await sink.start()
    try:
        step = await run_step(sink, SESSIONS, CHUNK_MS, SECONDS, True, extra=(f"--floor={mode}",))
    finally:
        await sink.close()
    assert step.ok_calls == SESSIONS
    assert step.errors == 0
    # 1 s of 100 ms chunks per session: ten packets each through the relay, none without it.
    assert step.packets == packets
    # No CPU figure is asserted: 3 sessions for 1 s can stay under one clock tick (10 ms) of
    # /proc's accounting on a loaded machine.

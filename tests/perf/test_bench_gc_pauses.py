"""The benchmark's bridge process (benchmarks.bridge_proc) reports collector pauses per
generation and what a full collection frees: the figures that tell a latency tail from the
collector apart from one from queueing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from server.helpers import WAIT_S  # tests/server/helpers.py

ROOT = Path(__file__).resolve().parents[2]


def test_bridge_proc_reports_gc_pauses_and_collects() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bridge_proc", "--gc-threshold=700:10:10"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        assert proc.stdout.readline().startswith("port ")
        proc.stdin.write("reset\ncollect\nreport\nquit\n")
        proc.stdin.flush()
        collected = json.loads(proc.stdout.readline())
        report = json.loads(proc.stdout.readline())
        assert proc.wait(WAIT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # An idle bridge leaves little cyclic garbage; the count is an integer all the same.
    assert isinstance(collected["freed"], int) and collected["freed"] >= 0
    assert collected["ms"] > 0
    # The `collect` after `reset` is the one full pass counted; none of the younger ones is
    # guaranteed in that moment, but each generation has its three figures.
    assert report["gc2_count"] >= 1
    assert report["gc2_total_ms"] >= report["gc2_max_ms"] > 0
    for gen in (0, 1):
        assert report[f"gc{gen}_total_ms"] >= report[f"gc{gen}_max_ms"] >= 0
    assert report["lag_p99_ms"] >= report["lag_p50_ms"] >= 0

"""The Go load generator + LITE sink (benchmarks/go, GOPATH mode, Debian's Go packages) drives a
real bridge process: sessions attach to its own sink, stream, end OK, and its JSON report counts
every PCM byte the client sent as arriving at the sink."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from pathlib import Path

import pytest
from server.helpers import WAIT_S  # tests/server/helpers.py

from perf.bridge_process import bridge_process

ROOT = Path(__file__).resolve().parents[2]
# The first build compiles grpc-go from source: minutes on a busy 2-core machine, not seconds.
BUILD_S = 600
SESSIONS = 3
SECONDS = 1
PCM_BYTES_PER_SESSION = 48_000
"""One second of 24 kHz mono PCM16."""

pytestmark = pytest.mark.skipif(
    shutil.which("go") is None or not Path("/usr/share/gocode/src/google.golang.org/grpc").exists(),
    reason="needs golang-go and golang-google-grpc-dev (installed by .ci/run)",
)


async def _run(*args: str, within_s: float) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return out


@pytest.mark.timeout(BUILD_S + 4 * WAIT_S)
async def test_go_loadgen_streams_through_the_bridge(tmp_path: Path) -> None:
    binary = tmp_path / "loadgen"
    await _run("bash", str(ROOT / "benchmarks" / "go" / "build.sh"), str(binary), within_s=BUILD_S)
    async with bridge_process() as (_, port):
        out = await _run(
            str(binary),
            f"-target=127.0.0.1:{port}",
            f"-sessions={SESSIONS}",
            f"-seconds={SECONDS}",
            "-chunk-ms=100",
            within_s=3 * WAIT_S,
        )
    lines = out.decode().splitlines()
    assert lines[0] == "streaming"
    report = json.loads(lines[-1])
    assert report["sessions"] == 3
    assert report["connected"] == 3
    assert report["ok_calls"] == 3
    assert report["errors"] == 0, report["error_kinds"]
    assert report["error_kinds"] == {}
    assert isinstance(report["starvations"], int)
    # Every byte each session sent reached the sink, decoded from the packets' base64.
    assert report["received_bytes"] == SESSIONS * PCM_BYTES_PER_SESSION
    assert report["packets"] >= SESSIONS
    assert 0 < report["latency_p50_ms"] <= report["latency_p99_ms"] <= report["latency_max_ms"]
    assert report["cpu_s"] > 0
    # The timeline splits the same packets by 250 ms of arrival time: its windows ascend, hold
    # every timed packet, and the slowest window holds the run's slowest packet.
    timeline = report["timeline"]
    starts = [row[0] for row in timeline]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(starts))
    assert 0 < sum(row[1] for row in timeline) <= report["packets"]
    assert all(0 < row[2] <= row[3] for row in timeline)
    assert max(row[3] for row in timeline) == report["latency_max_ms"]
    # One second of audio leaves no window between the first and the last second.
    assert report["steady_p99_ms"] == 0

"""What every benchmark shares: the machine it ran on, per-process CPU and memory from /proc,
percentiles, stdin commands and the results files."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import AsyncIterator, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
TICKS = os.sysconf("SC_CLK_TCK")
GOAL_P99_MS, GOAL_LAG_MS = 20.0, 10.0
"""Issue 9's goals per LITE step: packet latency p99 and event-loop lag."""
LITE_PACKAGES = ("grpcio", "websockets", "protobuf")


def machine(packages: tuple[str, ...] = LITE_PACKAGES) -> dict[str, Any]:
    """The report header's facts: CPU, cores, versions, the load average as the run starts."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        **{name: metadata.version(name) for name in packages},
        "load_average_at_start": os.getloadavg(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def describe(m: dict[str, Any], *versions: str) -> str:
    """The header sentence: `CPU, N cores, Python x, grpcio y; load average at start a, b, c
    (date UTC).` with the `versions` named (keys of `machine()`), in order."""
    parts = [m["cpu"], f"{m['cores']} cores"]
    parts += [f"{'Python' if key == 'python' else key} {m[key]}" for key in versions]
    load = ", ".join(f"{x:.2f}" for x in m["load_average_at_start"])
    return f"{', '.join(parts)}; load average at start {load} ({m['date_utc']} UTC)."


def pct(values: list[float], q: float, empty: float = 0.0) -> float:
    """The nearest-rank `q` quantile; `empty` when nothing was measured."""
    if not values:
        return empty
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def self_cpu() -> float:
    """This process's user + system CPU seconds (the load generator's own cost)."""
    usage = os.times()
    return usage.user + usage.system


def cpu_s(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of a process and its threads, or of its thread `tid`."""
    stat = Path(f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ints(text: str) -> list[int]:
    """`100,500,1000` as a list (argparse type)."""
    return [int(x) for x in text.split(",") if x]


async def py_spy(pid: int, seconds: float, out: str, *flags: str) -> asyncio.subprocess.Process:
    """py-spy sampling `pid` for `seconds`, collapsed stacks (one per line) to `out`."""
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--format",
        "raw",
        *flags,
        "-o",
        out,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def stdin_lines() -> AsyncIterator[str]:
    """Command lines from stdin without blocking the loop, until an empty line or EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        yield line


def write_report(
    name: str, report: dict[str, Any], markdown: Callable[[dict[str, Any]], str]
) -> str:
    """results/NAME.json and results/NAME.md; prints and returns the Markdown."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / f"{name}.md").write_text(text)
    print(text)
    return text
